/*
 * The channel table (chantab.c): which channel numbers are in use and by
 * which group. Shared by app threads (post) and the I/O thread (accept,
 * close), with a lock of its own; lookups take no lock.
 */
#ifndef TOFUI_CHANTAB_H
#define TOFUI_CHANTAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/platform.h"

/* Channel numbers 1..65534; 0 = unassigned, 65535 never used. */
#define TOFUI_CHAN_SLOTS 65536u
#define TOFUI_CHAN_MAX 65534u

typedef struct tofui_chantab {
    tofui_mutex lock;
    /* [TOFUI_CHAN_SLOTS]; NULL = number free. Written under lock, read
     * without it: post validation is one atomic load, not a lock round. */
    _Atomic(tofu_group *) *owner;
    /* [TOFUI_CHAN_SLOTS]: the group whose channel had the number, from its
     * close until the number is taken again (an address only compared,
     * never followed): a late post is told "closed", not "invalid". */
    _Atomic(uintptr_t) *former;
    /* [TOFUI_CHAN_SLOTS]: what the system told about the peer of an
     * accepted or connected channel (tofu_channel_peer), NULL before; read
     * and written under lock only (the call is rare), freed with the
     * number. */
    tofu_peer **peer;
    size_t peers; /* records held: fini looks for leftovers only then */
    uint16_t *ring; /* freed numbers, FIFO: reused only after all others */
    size_t ring_head;
    size_t ring_count;
    uint32_t fresh; /* next never-used number (numbers start in order) */
} tofui_chantab;

tofu_status tofui_chantab_init(tofui_chantab *t);
/* Safe on a zeroed table and after a failed init. */
void tofui_chantab_fini(tofui_chantab *t);
/* A free number now owned by g, or 0 when all 65534 are in use. */
uint16_t tofui_chantab_alloc(tofui_chantab *t, tofu_group *g);
/* Gives a number back (and frees its peer record); it goes to the back of
 * the free FIFO. */
void tofui_chantab_release(tofui_chantab *t, uint16_t num);
/* True when num was a channel of g that closed and the number has not
 * been taken since. */
bool tofui_chantab_closed_for(tofui_chantab *t, uint16_t num, const tofu_group *g);
/* Hands the peer record of num (malloc'ed) to the table, which frees it
 * with the number; freed at once when num is no longer owned. */
void tofui_chantab_set_peer(tofui_chantab *t, uint16_t num, tofu_peer *rec);
/* Copies num's peer record when num belongs to g and has one. */
bool tofui_chantab_peer(tofui_chantab *t, uint16_t num, const tofu_group *g, tofu_peer *out);
/* The group owning num, or NULL. Inline: every post asks it twice (before
 * and under the submission lock). */
static inline tofu_group *tofui_chantab_owner(tofui_chantab *t, uint16_t num) {
    if (num == 0 || num > TOFUI_CHAN_MAX)
        return NULL;
    return atomic_load_explicit(&t->owner[num], memory_order_acquire);
}

#endif
