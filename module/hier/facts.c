/*
 * facts.c - a policy's provider-token facts, remembered behind the change
 * mark (facts.h). A table of MEMO_SLOTS entries, one per policy id at most
 * (a hash collision replaces the older entry), under one mutex: this is
 * the path of an unwrap that missed the policy-key cache, never the data
 * path.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hier/cache.h"
#include "hier/facts.h"
#include "hsm/provider.h"
#include "util/lock.h"
#include "util/log.h"

#define MEMO_SLOTS 1024 /* the policy-key cache's default cache-entries */

struct memo {
    int used;
    uint8_t id[DEP11_ID_LEN];
    uint8_t mark[DEP11_MARK_LEN];
    unsigned long gen; /* dep11_cache_generation() before the search */
    uint64_t expires_ns;
    struct dep11_policy_facts f;
};

static struct {
    dep11_mutex_t lock;
    pid_t pid;
    struct memo slot[MEMO_SLOTS];
} memo = { .lock = DEP11_MUTEX_INIT };

static uint64_t now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return UINT64_MAX; /* no clock: every entry has expired */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct memo *slot_of(const uint8_t id[DEP11_ID_LEN])
{
    /* policy ids are random: their first bytes spread evenly */
    return &memo.slot[((unsigned)id[0] | (unsigned)id[1] << 8) % MEMO_SLOTS];
}

/** See facts.h. */
void dep11_facts_reset(void)
{
    if (memo.pid != 0 && memo.pid != getpid()) {
        static const dep11_mutex_t fresh = DEP11_MUTEX_INIT;
        memo.lock = fresh; /* a parent's thread may have held it at fork */
    }
    dep11_lock(&memo.lock);
    memset(memo.slot, 0, sizeof memo.slot);
    memo.pid = getpid();
    dep11_unlock(&memo.lock);
}

/* A live entry of @id taken under @lk's mark: copied to @f. */
static int recall(const uint8_t id[DEP11_ID_LEN], const struct dep11_facts_look *lk,
                  struct dep11_policy_facts *f)
{
    struct memo *m = slot_of(id);
    unsigned long gen = dep11_cache_generation();
    uint64_t t = now_ns();
    int hit = 0;

    dep11_lock(&memo.lock);
    hit = m->used && memcmp(m->id, id, DEP11_ID_LEN) == 0 && m->gen == gen &&
          t < m->expires_ns && memcmp(m->mark, lk->mark, DEP11_MARK_LEN) == 0;
    if (hit)
        *f = m->f;
    dep11_unlock(&memo.lock);
    return hit;
}

static void store(const uint8_t id[DEP11_ID_LEN], const struct dep11_facts_look *lk,
                  const struct dep11_policy_facts *f)
{
    struct memo *m = slot_of(id);
    uint64_t t = now_ns();

    if (t == UINT64_MAX)
        return;
    dep11_lock(&memo.lock);
    m->used = 1;
    memcpy(m->id, id, DEP11_ID_LEN);
    memcpy(m->mark, lk->mark, DEP11_MARK_LEN);
    m->gen = lk->gen;
    m->expires_ns = t + (uint64_t)lk->seconds * 1000000000u;
    m->f = *f;
    dep11_unlock(&memo.lock);
}

/**
 * dep11_facts_begin - see facts.h. @policy_id [in]; @seconds [in] the
 * memo's lifetime; @lk [out] what dep11_facts_end needs; @f [out];
 * *@known [out] 1 when @f is whole (from memory).
 */
CK_RV dep11_facts_begin(const uint8_t policy_id[DEP11_ID_LEN], unsigned seconds,
                        struct dep11_facts_look *lk, struct dep11_policy_facts *f, int *known)
{
    CK_RV rv = CKR_OK;

    memset(lk, 0, sizeof *lk);
    memset(f, 0, sizeof *f);
    *known = 0;
    lk->seconds = seconds;
    if (seconds > 0) {
        /* The mark first: a record written after it was read is either
         * found by the search below or changes the mark. */
        rv = dep11_provider_mark_read(lk->mark, &lk->have_mark);
        if (rv != CKR_OK)
            return rv;
        if (lk->have_mark && recall(policy_id, lk, f)) {
            *known = 1;
            LOG_DEBUG("provider facts of the policy remembered (change mark unchanged)");
            return CKR_OK;
        }
    }
    lk->gen = dep11_cache_generation();
    return dep11_provider_state_get(policy_id, &f->st);
}

/** dep11_facts_end - see facts.h. */
CK_RV dep11_facts_end(const uint8_t policy_id[DEP11_ID_LEN], const struct dep11_facts_look *lk,
                      struct dep11_policy_facts *f)
{
    CK_RV rv = dep11_provider_tombstone_find(policy_id, NULL, NULL, &f->purged);

    if (rv == CKR_OK && lk->have_mark)
        store(policy_id, lk, f);
    return rv;
}
