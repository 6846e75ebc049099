/*
 * The hierarchical timing wheel (wheel.h explains the levels).
 *
 * Where a timer goes: with d = expiry - now, the lowest level L whose reach
 * 256^(L+1) is above d, in the slot of the expiry's digit L (base 256).
 * Slots are named by absolute time, so they need no shifting as time
 * passes: level L's slot s comes round again every 256^(L+1) ticks, and the
 * reach rule makes sure that the next time it comes round is the timer's.
 * A level-L slot is emptied (its timers placed again, now lower) at the
 * tick where its span starts, a multiple of 256^L; level 0's slot at its
 * one tick, when its timers are due.
 *
 * Advancing jumps from one occupied slot to the next, never tick by tick:
 * the occupied bitmaps find the next one in a few word operations.
 */
#include "util/wheel.h"

#define WHEEL__MASK (TOFUI_WHEEL_SLOTS - 1u)
#define WHEEL__DUE 0xffffu
#define WHEEL__WORDS (TOFUI_WHEEL_SLOTS / 64)

static unsigned wheel__shift(int level) {
    return (unsigned)level * TOFUI_WHEEL_BITS;
}

/* Ticks a level reaches from now: 256^(level+1). */
static uint64_t wheel__reach(int level) {
    return 1ull << wheel__shift(level + 1);
}

void tofui_wheel_init(tofui_wheel *w, uint64_t now) {
    w->now = now;
    w->in_slots = 0;
    tofui_list_init(&w->due);
    for (int l = 0; l < TOFUI_WHEEL_LEVELS; l++) {
        for (unsigned s = 0; s < TOFUI_WHEEL_SLOTS; s++)
            tofui_list_init(&w->slots[l][s]);
        for (unsigned i = 0; i < WHEEL__WORDS; i++)
            w->occupied[l][i] = 0;
    }
}

static void wheel__mark(tofui_wheel *w, int level, unsigned slot) {
    w->occupied[level][slot / 64] |= 1ull << (slot % 64);
}

static void wheel__unmark(tofui_wheel *w, int level, unsigned slot) {
    w->occupied[level][slot / 64] &= ~(1ull << (slot % 64));
}

/* Places t by its expiry relative to the present (see the file comment).
 * An expiry beyond the last level's reach waits in the last level's slot
 * at the far end; it is placed again from there. */
static void wheel__place(tofui_wheel *w, tofui_wheel_timer *t) {
    if (t->expiry <= w->now) {
        t->where = WHEEL__DUE;
        tofui_list_push_back(&w->due, &t->link);
        return;
    }
    uint64_t d = t->expiry - w->now;
    uint64_t at = t->expiry;
    int level = 0;
    while (level < TOFUI_WHEEL_LEVELS - 1 && d >= wheel__reach(level))
        level++;
    if (d >= wheel__reach(level))
        at = w->now + wheel__reach(level) - 1;
    unsigned slot = (unsigned)(at >> wheel__shift(level)) & WHEEL__MASK;
    t->where = (uint16_t)(level * TOFUI_WHEEL_SLOTS + slot);
    tofui_list_push_back(&w->slots[level][slot], &t->link);
    wheel__mark(w, level, slot);
    w->in_slots++;
}

void tofui_wheel_add(tofui_wheel *w, tofui_wheel_timer *t, uint64_t expiry) {
    t->expiry = expiry;
    wheel__place(w, t);
}

void tofui_wheel_remove(tofui_wheel *w, tofui_wheel_timer *t) {
    if (!tofui_list_linked(&t->link))
        return;
    tofui_list_remove(&t->link);
    if (t->where == WHEEL__DUE)
        return;
    int level = t->where / TOFUI_WHEEL_SLOTS;
    unsigned slot = t->where % TOFUI_WHEEL_SLOTS;
    w->in_slots--;
    if (tofui_list_empty(&w->slots[level][slot]))
        wheel__unmark(w, level, slot);
}

/* Empties one slot: its timers are placed again against the present (a
 * level-0 slot's are all due now). */
static void wheel__spill(tofui_wheel *w, int level, unsigned slot) {
    tofui_link *head = &w->slots[level][slot];
    tofui_link batch;
    tofui_list_init(&batch);
    while (!tofui_list_empty(head)) {
        tofui_link *n = head->next;
        tofui_list_remove(n);
        tofui_list_push_back(&batch, n);
    }
    wheel__unmark(w, level, slot);
    while (!tofui_list_empty(&batch)) {
        tofui_wheel_timer *t = TOFUI_CONTAINER(batch.next, tofui_wheel_timer, link);
        tofui_list_remove(&t->link);
        w->in_slots--;
        wheel__place(w, t);
    }
}

/* Steps, counted from slot `from` (excluded) round the level, to its next
 * occupied slot: 1..256 (256 is `from` itself); 0 when the level is empty. */
static unsigned wheel__steps_to_occupied(const tofui_wheel *w, int level, unsigned from) {
    for (unsigned step = 1; step <= TOFUI_WHEEL_SLOTS;) {
        unsigned s = (from + step) & WHEEL__MASK;
        uint64_t word = w->occupied[level][s / 64] >> (s % 64);
        if (word != 0) {
            unsigned skip = (unsigned)__builtin_ctzll(word);
            return step + skip <= TOFUI_WHEEL_SLOTS ? step + skip : 0;
        }
        step += 64 - s % 64; /* the rest of this word is empty */
    }
    return 0;
}

/* The next tick at which some slot must be emptied; UINT64_MAX when the
 * slots are empty. Level L's slot k steps ahead starts its span at
 * ((now >> 8L) + k) << 8L. */
static uint64_t wheel__next_slot_tick(const tofui_wheel *w) {
    uint64_t best = UINT64_MAX;
    for (int l = 0; l < TOFUI_WHEEL_LEVELS; l++) {
        unsigned sh = wheel__shift(l);
        unsigned pos = (unsigned)(w->now >> sh) & WHEEL__MASK;
        unsigned steps = wheel__steps_to_occupied(w, l, pos);
        if (steps == 0)
            continue;
        uint64_t tick = ((w->now >> sh) + steps) << sh;
        if (tick < best)
            best = tick;
    }
    return best;
}

/* The present becomes `tick`, where some slot's span starts: the upper
 * levels' slots starting here move down first, then level 0's is due. */
static void wheel__enter_tick(tofui_wheel *w, uint64_t tick) {
    w->now = tick;
    for (int l = TOFUI_WHEEL_LEVELS - 1; l >= 0; l--) {
        unsigned sh = wheel__shift(l);
        if ((tick & ((1ull << sh) - 1)) != 0)
            continue;
        wheel__spill(w, l, (unsigned)(tick >> sh) & WHEEL__MASK);
    }
}

void tofui_wheel_advance(tofui_wheel *w, uint64_t now) {
    while (w->now < now) {
        uint64_t next = w->in_slots == 0 ? UINT64_MAX : wheel__next_slot_tick(w);
        if (next > now) {
            w->now = now;
            return;
        }
        wheel__enter_tick(w, next);
    }
}

tofui_wheel_timer *tofui_wheel_pop_due(tofui_wheel *w) {
    if (tofui_list_empty(&w->due))
        return NULL;
    tofui_wheel_timer *t = TOFUI_CONTAINER(w->due.next, tofui_wheel_timer, link);
    tofui_list_remove(&t->link);
    return t;
}

uint64_t tofui_wheel_next(const tofui_wheel *w) {
    if (!tofui_list_empty(&w->due))
        return w->now;
    return w->in_slots == 0 ? UINT64_MAX : wheel__next_slot_tick(w);
}
