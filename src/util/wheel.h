/*
 * A hierarchical timing wheel (wheel.c): many deadlines of any length, each
 * added and removed in O(1), and no periodic scan. Time is counted in ticks
 * (the caller chooses the unit; the engine uses milliseconds).
 *
 * Four levels of 256 slots: level L holds the timers due between 256^L and
 * 256^(L+1) ticks from now, a slot per 256^L ticks. When time reaches a
 * level-L slot, its timers move down to the finer levels (each timer moves
 * at most three times in its life) and level 0 hands them back in the tick
 * they are due. Four levels reach 2^32 ticks: 49.7 days of milliseconds,
 * the longest uint32 timeout; a longer deadline waits at the far end and is
 * placed again when it gets there.
 *
 * The caller advances the wheel to the present and takes what is due; the
 * wheel never reads a clock. The wait until the next possible event is at
 * most the time to the next occupied slot (a slot of an upper level holds
 * several ticks, so that wait may end before its timers are due: they then
 * move down, without being handed back).
 */
#ifndef TOFUI_UTIL_WHEEL_H
#define TOFUI_UTIL_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/list.h"

#define TOFUI_WHEEL_BITS 8
#define TOFUI_WHEEL_SLOTS (1u << TOFUI_WHEEL_BITS)
#define TOFUI_WHEEL_LEVELS 4

/* One deadline, embedded in what waits for it; zeroed, it is in no wheel. */
typedef struct tofui_wheel_timer {
    tofui_link link;
    uint64_t expiry;
    uint16_t where; /* level * TOFUI_WHEEL_SLOTS + slot, or the due list */
} tofui_wheel_timer;

typedef struct tofui_wheel {
    uint64_t now;   /* the last tick whose timers were handed over */
    size_t in_slots; /* timers in the slots (not counting the due list) */
    tofui_link due; /* expired, in the order they expired, not taken yet */
    tofui_link slots[TOFUI_WHEEL_LEVELS][TOFUI_WHEEL_SLOTS];
    uint64_t occupied[TOFUI_WHEEL_LEVELS][TOFUI_WHEEL_SLOTS / 64];
} tofui_wheel;

/* An empty wheel whose present is tick `now`. */
void tofui_wheel_init(tofui_wheel *w, uint64_t now);
/* Adds t, due at tick `expiry` (at once, on the due list, when that is not
 * after the wheel's present). t must be in no wheel. */
void tofui_wheel_add(tofui_wheel *w, tofui_wheel_timer *t, uint64_t expiry);
/* Takes t out of the wheel; nothing when it is in none. */
void tofui_wheel_remove(tofui_wheel *w, tofui_wheel_timer *t);
/* Moves the present to tick `now` (never backwards): every timer due by
 * then goes to the due list. */
void tofui_wheel_advance(tofui_wheel *w, uint64_t now);
/* The first timer of the due list, taken out of the wheel; NULL when none. */
tofui_wheel_timer *tofui_wheel_pop_due(tofui_wheel *w);
/* True when no timer is in the wheel (nothing due, nothing in the slots). */
static inline bool tofui_wheel_empty(const tofui_wheel *w) {
    return w->in_slots == 0 && tofui_list_empty(&w->due);
}
/* The tick by which the wheel must be advanced next: the present when
 * something is due, UINT64_MAX when the wheel is empty. */
uint64_t tofui_wheel_next(const tofui_wheel *w);

#endif
