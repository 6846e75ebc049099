/*
 * The channel table: which numbers are in use and by which group.
 *
 * Numbers are assigned on app threads (post of a Hello/WelcomeRequest) and on
 * the I/O thread (accept), so assignment and release take the table's own
 * mutex. Lookups (post validation, once per post) only load the owner
 * atomically: the answer is the same as under the lock, since a post racing
 * with the channel's close is settled by the I/O thread anyway. Every
 * operation is O(1):
 *   - owner[] maps a number to its group (NULL = free);
 *   - numbers never used yet are handed out in order (fresh), which is the
 *     front of the conceptual free FIFO;
 *   - freed numbers go to the back of a ring, so a closed number is reused
 *     only after every other free number was used (its quarantine);
 *   - when neither has a number left, allocation fails (no endless search).
 * A number may also carry the record of its peer (peer[]), which app
 * threads read under the lock; it is freed when the number is released,
 * so there is at most one per open channel.
 */
#include <stdlib.h>

#include "engine/chantab.h"

tofu_status tofui_chantab_init(tofui_chantab *t) {
    /* calloc: the kernel hands out zero pages lazily, so an engine with few
     * channels touches only a few of these bytes. */
    t->owner = calloc(TOFUI_CHAN_SLOTS, sizeof *t->owner);
    t->former = calloc(TOFUI_CHAN_SLOTS, sizeof *t->former);
    t->peer = calloc(TOFUI_CHAN_SLOTS, sizeof *t->peer);
    t->ring = malloc(TOFUI_CHAN_MAX * sizeof *t->ring);
    if (t->owner == NULL || t->former == NULL || t->peer == NULL || t->ring == NULL) {
        free(t->owner);
        free(t->former);
        free(t->peer);
        free(t->ring);
        t->owner = NULL;
        t->former = NULL;
        t->peer = NULL;
        t->ring = NULL;
        return TOFU_ALLOCATION_FAILED;
    }
    t->peers = 0;
    t->ring_head = 0;
    t->ring_count = 0;
    t->fresh = 1;
    tofui_mutex_init(&t->lock);
    return TOFU_SUCCESS;
}

void tofui_chantab_fini(tofui_chantab *t) {
    if (t->owner == NULL)
        return;
    tofui_mutex_fini(&t->lock);
    /* Every channel gave its number back before: nothing is left unless
     * something went wrong, and only then is the array scanned. */
    for (size_t i = 0; t->peers > 0 && i < TOFUI_CHAN_SLOTS; i++) {
        if (t->peer[i] != NULL) {
            free(t->peer[i]);
            t->peers--;
        }
    }
    free(t->owner);
    free(t->former);
    free(t->peer);
    free(t->ring);
    t->owner = NULL;
    t->former = NULL;
    t->peer = NULL;
    t->ring = NULL;
}

/* The next free number in FIFO order, or 0; called with the lock held. */
static uint16_t chantab__take(tofui_chantab *t) {
    if (t->fresh <= TOFUI_CHAN_MAX)
        return (uint16_t)t->fresh++;
    if (t->ring_count == 0)
        return 0;
    uint16_t num = t->ring[t->ring_head];
    t->ring_head = (t->ring_head + 1) % TOFUI_CHAN_MAX;
    t->ring_count--;
    return num;
}

/* Takes num's peer record out of the table (freed by the caller after
 * unlocking); called with the lock held. */
static tofu_peer *chantab__take_peer(tofui_chantab *t, uint16_t num) {
    tofu_peer *rec = t->peer[num];
    if (rec != NULL) {
        t->peer[num] = NULL;
        t->peers--;
    }
    return rec;
}

uint16_t tofui_chantab_alloc(tofui_chantab *t, tofu_group *g) {
    tofui_mutex_lock(&t->lock);
    uint16_t num = chantab__take(t);
    if (num != 0) {
        atomic_store_explicit(&t->former[num], 0, memory_order_relaxed);
        atomic_store_explicit(&t->owner[num], g, memory_order_release);
    }
    tofui_mutex_unlock(&t->lock);
    return num;
}

void tofui_chantab_release(tofui_chantab *t, uint16_t num) {
    if (num == 0 || num > TOFUI_CHAN_MAX)
        return;
    tofui_mutex_lock(&t->lock);
    tofu_peer *rec = chantab__take_peer(t, num);
    tofu_group *was = atomic_load_explicit(&t->owner[num], memory_order_relaxed);
    if (was != NULL) {
        atomic_store_explicit(&t->former[num], (uintptr_t)was, memory_order_relaxed);
        atomic_store_explicit(&t->owner[num], NULL, memory_order_release);
        /* Cannot overflow: at most TOFUI_CHAN_MAX numbers are ever out. */
        size_t tail = (t->ring_head + t->ring_count) % TOFUI_CHAN_MAX;
        t->ring[tail] = num;
        t->ring_count++;
    }
    tofui_mutex_unlock(&t->lock);
    free(rec);
}

void tofui_chantab_set_peer(tofui_chantab *t, uint16_t num, tofu_peer *rec) {
    if (num == 0 || num > TOFUI_CHAN_MAX) {
        free(rec);
        return;
    }
    tofui_mutex_lock(&t->lock);
    tofu_peer *old = chantab__take_peer(t, num);
    if (atomic_load_explicit(&t->owner[num], memory_order_relaxed) != NULL) {
        t->peer[num] = rec;
        t->peers++;
        rec = NULL;
    }
    tofui_mutex_unlock(&t->lock);
    free(old);
    free(rec);
}

bool tofui_chantab_peer(tofui_chantab *t, uint16_t num, const tofu_group *g, tofu_peer *out) {
    if (num == 0 || num > TOFUI_CHAN_MAX)
        return false;
    tofui_mutex_lock(&t->lock);
    bool found = atomic_load_explicit(&t->owner[num], memory_order_relaxed) == g &&
                 t->peer[num] != NULL;
    if (found)
        *out = *t->peer[num];
    tofui_mutex_unlock(&t->lock);
    return found;
}

bool tofui_chantab_closed_for(tofui_chantab *t, uint16_t num, const tofu_group *g) {
    if (num == 0 || num > TOFUI_CHAN_MAX)
        return false;
    return atomic_load_explicit(&t->former[num], memory_order_relaxed) == (uintptr_t)g;
}

