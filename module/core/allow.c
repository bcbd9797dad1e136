/*
 * allow.c - the handle allow-list: per shard, a map from backend object
 * handle to the slots it was handed out for (almost always one; a backend
 * that numbers objects per token may hand out the same number on two).
 * See allow.h.
 */
#include <stdlib.h>

#include "core/allow.h"
#include "core/ulmap.h"
#include "util/lock.h"

#define ALLOW_SHARDS 64 /* a power of two */

/* One slot a handle is listed for. */
struct allow_node {
    CK_SLOT_ID slot;
    struct allow_node *next;
};

/* One shard, on its own cache line(s) so that shards do not share one. */
struct allow_shard {
    dep11_mutex_t lock;         /* a leaf */
    struct dep11_ulmap map;     /* backend handle -> struct allow_node list */
    unsigned long count;        /* (slot, handle) pairs in this shard */
} __attribute__((aligned(64)));

static struct allow_shard shards[ALLOW_SHARDS] = {
    [0 ... ALLOW_SHARDS - 1] = { .lock = DEP11_MUTEX_INIT },
};

/* The shard of @h: a multiplicative hash (handles are often consecutive). */
static struct allow_shard *shard_of(CK_OBJECT_HANDLE h)
{
    unsigned long long x = (unsigned long long)h * 0x9E3779B97F4A7C15ULL;

    return &shards[(x >> 58) & (ALLOW_SHARDS - 1)];
}

static const struct allow_node *find_slot(const struct allow_node *n, CK_SLOT_ID slot)
{
    while (n != NULL && n->slot != slot)
        n = n->next;
    return n;
}

/**
 * dep11_allow_add - see allow.h.
 */
CK_RV dep11_allow_add(CK_SLOT_ID slot, CK_OBJECT_HANDLE h)
{
    struct allow_shard *sh = shard_of(h);
    struct allow_node *head = NULL, *n = NULL;
    CK_RV rv = CKR_OK;

    if (h == CK_INVALID_HANDLE)
        return CKR_ARGUMENTS_BAD;
    /* --- shard lock --- */
    dep11_lock(&sh->lock);
    head = dep11_ulmap_get(&sh->map, h);
    if (find_slot(head, slot) == NULL) {
        n = malloc(sizeof *n);
        rv = n == NULL ? CKR_HOST_MEMORY : CKR_OK;
        if (n != NULL) {
            n->slot = slot;
            n->next = head;
            rv = dep11_ulmap_put(&sh->map, h, n);
        }
        if (rv == CKR_OK)
            sh->count++;
        else
            free(n);
    }
    dep11_unlock(&sh->lock);
    return rv;
}

/**
 * dep11_allow_has - see allow.h.
 */
int dep11_allow_has(CK_SLOT_ID slot, CK_OBJECT_HANDLE h)
{
    struct allow_shard *sh = shard_of(h);
    int yes = 0;

    if (h == CK_INVALID_HANDLE)
        return 0;
    dep11_lock(&sh->lock);
    yes = find_slot(dep11_ulmap_get(&sh->map, h), slot) != NULL;
    dep11_unlock(&sh->lock);
    return yes;
}

/**
 * dep11_allow_del - see allow.h.
 */
void dep11_allow_del(CK_SLOT_ID slot, CK_OBJECT_HANDLE h)
{
    struct allow_shard *sh = shard_of(h);
    struct allow_node *head = NULL, *prev = NULL, *gone = NULL;

    if (h == CK_INVALID_HANDLE)
        return;
    dep11_lock(&sh->lock);
    head = dep11_ulmap_get(&sh->map, h);
    for (gone = head; gone != NULL && gone->slot != slot; gone = gone->next)
        prev = gone;
    if (gone != NULL && prev != NULL) {
        prev->next = gone->next;
    } else if (gone != NULL && gone->next != NULL) {
        /* The head stays where the map points: it takes the next one's
         * slot, and the next node goes. */
        gone = head->next;
        head->slot = gone->slot;
        head->next = gone->next;
    } else if (gone != NULL) {
        (void)dep11_ulmap_del(&sh->map, h);
    }
    if (gone != NULL)
        sh->count--;
    dep11_unlock(&sh->lock);
    free(gone);
}

/* Frees every node of @sh and its map. Shard lock held. */
static void shard_clear(struct allow_shard *sh)
{
    for (size_t i = 0; i < sh->map.cap; i++) {
        struct allow_node *n = sh->map.keys[i] != 0 ? sh->map.vals[i] : NULL;
        while (n != NULL) {
            struct allow_node *next = n->next;
            free(n);
            n = next;
        }
    }
    dep11_ulmap_free(&sh->map);
    sh->count = 0;
}

/**
 * dep11_allow_fini - see allow.h.
 */
void dep11_allow_fini(void)
{
    for (size_t i = 0; i < ALLOW_SHARDS; i++) {
        dep11_lock(&shards[i].lock);
        shard_clear(&shards[i]);
        dep11_unlock(&shards[i].lock);
    }
}

void dep11_allow_fork_lock(void)
{
    for (size_t i = 0; i < ALLOW_SHARDS; i++)
        dep11_lock(&shards[i].lock);
}

void dep11_allow_fork_unlock(void)
{
    for (size_t i = ALLOW_SHARDS; i > 0; i--)
        dep11_unlock(&shards[i - 1].lock);
}

/**
 * dep11_allow_count - see allow.h.
 */
unsigned long dep11_allow_count(void)
{
    unsigned long n = 0;

    for (size_t i = 0; i < ALLOW_SHARDS; i++) {
        dep11_lock(&shards[i].lock);
        n += shards[i].count;
        dep11_unlock(&shards[i].lock);
    }
    return n;
}
