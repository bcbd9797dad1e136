/*
 * facts.h - what the provider token says of one policy id (its binding
 * and committed version, hsm/provider_state.h; its purge tombstone,
 * hsm/provider.h), remembered per process behind the provider token's
 * change mark (hsm/provider_mark.h). A remembered answer is used only while
 * the mark has the value it had before the answer was searched, no flush
 * of the whole cache or (re)configuration came in between (cache.h), and
 * for at most the policy-key cache's lifetime (cache-seconds; 0: nothing is
 * remembered). docs/ARCHITECTURE.md "Caches and memos" gives the argument.
 */
#ifndef DEP11_HIER_FACTS_H
#define DEP11_HIER_FACTS_H

#include <stdint.h>
#include "hier/hier.h"
#include "hsm/provider_mark.h"
#include "hsm/provider_state.h"

struct dep11_policy_facts {
    struct dep11_tag_state st; /* binding and committed version */
    int purged;                /* a purge tombstone exists */
};

/* One look-up of @policy_id's facts, in two steps so the caller can refuse
 * between them in DESIGN section 5's order: dep11_facts_begin fills f->st
 * (the mark read, then a remembered answer or one search of the records);
 * when it answered from memory (*@known = 1) f->purged is set too,
 * otherwise dep11_facts_end searches the tombstone and remembers both.
 * @seconds is the memo's lifetime. CKR_OK; backend codes (fail closed). */
struct dep11_facts_look {
    uint8_t mark[DEP11_MARK_LEN];
    int have_mark;
    unsigned long gen;
    unsigned seconds;
};
CK_RV dep11_facts_begin(const uint8_t policy_id[DEP11_ID_LEN], unsigned seconds,
                        struct dep11_facts_look *lk, struct dep11_policy_facts *f, int *known);
CK_RV dep11_facts_end(const uint8_t policy_id[DEP11_ID_LEN], const struct dep11_facts_look *lk,
                      struct dep11_policy_facts *f);

/* Drops every remembered answer; in a forked child first forgets the
 * parent's lock state. Called at every C_Initialize, after dep11_cache_init. */
void dep11_facts_reset(void);

#endif
