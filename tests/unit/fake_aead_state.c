/*
 * fake_aead_state.c - the op-state query of hier/aead.c for unit tests that
 * link core/session.c without hier (test_object): any op in a slot runs.
 */
#include "core/core.h"
#include "hier/hier.h"

int dep11_aead_active(const struct dep11_aead_op *op)
{
    return op != NULL;
}

/* No message-based operation is ever started here: a session has none to
 * free (core/message.c). */
void dep11_msg_free(struct dep11_msg *m)
{
    (void)m;
}

int dep11_msg_active(const struct dep11_msg *m)
{
    return m != NULL;
}
