/*
 * Deadlines (I/O thread only): the linger after a ByeResponse, the accept
 * pause of a listener out of descriptors, one connect attempt, the first
 * frame of an accepted connection, the rest of a frame under way, the next
 * frame of a connected channel (idle), and the backoff of a connect before
 * it tries again.
 *
 * This module only keeps deadlines and hands back the timers whose deadline
 * passed; what a deadline means is the channel code's business. A timer is
 * on at most one list at a time. All timers of one kind are equally long and
 * are appended when they start, so each kind's list is in deadline order:
 * the next deadline is the first of some list, and taking an expired timer
 * costs O(1). The backoff waits differ in length (they grow, and have
 * jitter): they go into a timing wheel (util/wheel.h), O(1) as well.
 * Nothing here wakes the engine when no timer runs.
 */
#include "engine/timers.h"
#include "platform/platform.h"

#define TIMERS__NS_PER_MS 1000000ull

/* An option's milliseconds as a timer length: 0 is the default,
 * TOFU_TIMEOUT_NONE turns the kind off (length 0). */
static uint64_t timers__option_ns(uint32_t ms, uint32_t default_ms) {
    if (ms == TOFU_TIMEOUT_NONE)
        return 0;
    return (uint64_t)(ms == 0 ? default_ms : ms) * TIMERS__NS_PER_MS;
}

void tofui_timers_init(tofui_timers *t, const tofu_options *opt) {
    for (int k = 0; k < TOFUI_TIMER_KINDS; k++)
        tofui_list_init(&t->lists[k]);
    t->len_ns[TOFUI_TIMER_LINGER] = timers__option_ns(opt->bye_linger_ms, TOFU_DEFAULT_BYE_LINGER_MS);
    t->len_ns[TOFUI_TIMER_ACCEPT_PAUSE] = TOFUI_ACCEPT_PAUSE_NS;
    t->len_ns[TOFUI_TIMER_CONNECT] =
        timers__option_ns(opt->connect_timeout_ms, TOFU_DEFAULT_CONNECT_TIMEOUT_MS);
    t->len_ns[TOFUI_TIMER_HANDSHAKE] =
        timers__option_ns(opt->handshake_timeout_ms, TOFU_DEFAULT_HANDSHAKE_TIMEOUT_MS);
    t->len_ns[TOFUI_TIMER_FRAME] =
        timers__option_ns(opt->frame_timeout_ms, TOFU_DEFAULT_FRAME_TIMEOUT_MS);
    /* No default: 0 is off, as TOFU_TIMEOUT_NONE. */
    t->len_ns[TOFUI_TIMER_IDLE] =
        opt->idle_timeout_ms == 0 ? 0 : timers__option_ns(opt->idle_timeout_ms, 0);
    tofui_ms_wheel_init(&t->waits);
}

void tofui_timer_start(tofui_timers *t, tofui_timer *tm, tofui_timer_kind kind) {
    tofui_list_remove(&tm->link);
    if (t->len_ns[kind] == 0)
        return;
    tm->deadline = tofui_clock_ns() + t->len_ns[kind];
    tm->kind = (uint8_t)kind;
    tofui_list_push_back(&t->lists[kind], &tm->link);
}

void tofui_timer_stop(tofui_timer *tm) {
    tofui_list_remove(&tm->link);
}

bool tofui_timer_runs(const tofui_timer *tm, tofui_timer_kind kind) {
    return tofui_list_linked(&tm->link) && tm->kind == (uint8_t)kind;
}

/* ---- millisecond wheels on the engine's clock ---- */

void tofui_ms_wheel_init(tofui_wheel *w) {
    tofui_wheel_init(w, tofui_clock_ns() / TIMERS__NS_PER_MS);
}

/* Rounded up to the next whole millisecond (the wheel's tick), so that a
 * timer never expires early. */
void tofui_ms_wheel_start(tofui_wheel *w, tofui_wheel_timer *wt, uint64_t ms) {
    uint64_t at_ns = tofui_clock_ns() + ms * TIMERS__NS_PER_MS;
    tofui_wheel_add(w, wt, (at_ns + TIMERS__NS_PER_MS - 1) / TIMERS__NS_PER_MS);
}

/* The clock is read only when nothing is due yet and some timer runs. */
tofui_wheel_timer *tofui_ms_wheel_pop_expired(tofui_wheel *w) {
    tofui_wheel_timer *wt = tofui_wheel_pop_due(w);
    if (wt == NULL && tofui_wheel_next(w) != UINT64_MAX) {
        tofui_wheel_advance(w, tofui_clock_ns() / TIMERS__NS_PER_MS);
        wt = tofui_wheel_pop_due(w);
    }
    return wt;
}

uint64_t tofui_ms_wheel_next_ns(const tofui_wheel *w) {
    uint64_t tick = tofui_wheel_next(w);
    return tick == UINT64_MAX ? UINT64_MAX : tick * TIMERS__NS_PER_MS;
}

int tofui_timeout_until(uint64_t deadline_ns) {
    if (deadline_ns == UINT64_MAX)
        return -1;
    uint64_t now = tofui_clock_ns();
    if (deadline_ns <= now)
        return 0;
    uint64_t ms = (deadline_ns - now + TIMERS__NS_PER_MS - 1) / TIMERS__NS_PER_MS;
    return ms > 60000u ? 60000 : (int)ms;
}

/* ---- the connect waits ---- */

void tofui_wait_start(tofui_timers *t, tofui_wheel_timer *w, uint64_t ms) {
    tofui_ms_wheel_start(&t->waits, w, ms);
}

void tofui_wait_stop(tofui_timers *t, tofui_wheel_timer *w) {
    tofui_wheel_remove(&t->waits, w);
}

tofui_wheel_timer *tofui_waits_pop_expired(tofui_timers *t) {
    return tofui_ms_wheel_pop_expired(&t->waits);
}

/* The first timer of a list, or NULL. */
static tofui_timer *timers__first(const tofui_link *list) {
    if (tofui_list_empty(list))
        return NULL;
    return TOFUI_CONTAINER(list->next, tofui_timer, link);
}

int tofui_timers_timeout(const tofui_timers *t) {
    uint64_t next = UINT64_MAX;
    for (int k = 0; k < TOFUI_TIMER_KINDS; k++) {
        const tofui_timer *tm = timers__first(&t->lists[k]);
        if (tm != NULL && tm->deadline < next)
            next = tm->deadline;
    }
    uint64_t wait = tofui_ms_wheel_next_ns(&t->waits);
    return tofui_timeout_until(wait < next ? wait : next);
}

/* Kinds are looked at in order; the clock is read once, and only when some
 * timer runs. */
tofui_timer *tofui_timers_pop_expired(tofui_timers *t, uint64_t *now, tofui_timer_kind *kind) {
    for (int k = 0; k < TOFUI_TIMER_KINDS; k++) {
        tofui_timer *tm = timers__first(&t->lists[k]);
        if (tm == NULL)
            continue;
        if (*now == 0)
            *now = tofui_clock_ns();
        if (tm->deadline > *now)
            continue;
        tofui_list_remove(&tm->link);
        *kind = (tofui_timer_kind)k;
        return tm;
    }
    return NULL;
}
