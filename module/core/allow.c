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

/* A power of two. A fork takes every shard lock (with the core's own):
 * ThreadSanitizer follows at most 64 locks held at once. */
#define ALLOW_SHARDS 32

/* One slot a handle is listed for. */
struct allow_node {
    CK_SLOT_ID slot;
    uint64_t creator;           /* the session that made it, or 0 */
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

    return &shards[(x >> 59) & (ALLOW_SHARDS - 1)];
}

static struct allow_node *find_slot(struct allow_node *n, CK_SLOT_ID slot)
{
    while (n != NULL && n->slot != slot)
        n = n->next;
    return n;
}

/**
 * dep11_allow_add - see allow.h.
 */
CK_RV dep11_allow_add(CK_SLOT_ID slot, CK_OBJECT_HANDLE h, uint64_t creator)
{
    struct allow_shard *sh = shard_of(h);
    struct allow_node *head = NULL, *n = NULL;
    CK_RV rv = CKR_OK;

    if (h == CK_INVALID_HANDLE)
        return CKR_ARGUMENTS_BAD;
    /* --- shard lock --- */
    dep11_lock(&sh->lock);
    head = dep11_ulmap_get(&sh->map, h);
    n = find_slot(head, slot);
    if (n != NULL && creator != 0) {
        n->creator = creator; /* a new object under a number seen before */
    } else if (n == NULL) {
        n = malloc(sizeof *n);
        rv = n == NULL ? CKR_HOST_MEMORY : CKR_OK;
        if (n != NULL) {
            n->slot = slot;
            n->creator = creator;
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
        head->creator = gone->creator;
        head->next = gone->next;
    } else if (gone != NULL) {
        (void)dep11_ulmap_del(&sh->map, h);
    }
    if (gone != NULL)
        sh->count--;
    dep11_unlock(&sh->lock);
    free(gone);
}

/* Drops the nodes of @sh that @creator made. Shard lock held. The map
 * must not change under a walk: handles whose list empties are collected
 * (up to 64 a pass) and deleted after it; passes repeat until none is left. */
static void shard_drop_creator(struct allow_shard *sh, uint64_t creator)
{
    CK_OBJECT_HANDLE empty[64];
    size_t n_empty = 0;

    do {
        n_empty = 0;
        for (size_t i = 0; i < sh->map.cap; i++) {
            struct allow_node **pp = NULL, *head = NULL;

            if (sh->map.keys[i] == 0)
                continue;
            head = sh->map.vals[i];
            for (pp = &head; *pp != NULL;) {
                struct allow_node *n = *pp;
                if (n->creator == creator) {
                    *pp = n->next;
                    free(n);
                    sh->count--;
                } else {
                    pp = &n->next;
                }
            }
            sh->map.vals[i] = head; /* in place: no rehash */
            if (head == NULL && n_empty < sizeof empty / sizeof empty[0])
                empty[n_empty++] = sh->map.keys[i];
        }
        for (size_t i = 0; i < n_empty; i++)
            (void)dep11_ulmap_del(&sh->map, empty[i]);
    } while (n_empty == sizeof empty / sizeof empty[0]);
}

/**
 * dep11_allow_drop_creator - see allow.h.
 */
void dep11_allow_drop_creator(uint64_t creator)
{
    if (creator == 0)
        return;
    for (size_t i = 0; i < ALLOW_SHARDS; i++) {
        dep11_lock(&shards[i].lock);
        shard_drop_creator(&shards[i], creator);
        dep11_unlock(&shards[i].lock);
    }
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
