/*
 * Deadlines (timers.c), I/O thread only. The module keeps deadlines and
 * hands back the timers whose deadline passed; what a deadline means is the
 * caller's business (the channel code acts on it). Nothing here wakes the
 * engine when no timer runs.
 */
#ifndef TOFUI_TIMERS_H
#define TOFUI_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#include "tofu.h"
#include "util/list.h"
#include "util/wheel.h"

/* How long a listener stops accepting after the process ran out of
 * descriptors or memory: the refused connection stays queued and the
 * listener readable, so retrying at once would spin. */
#define TOFUI_ACCEPT_PAUSE_NS (100ull * 1000000ull)

/* The deadlines a channel can wait for: one at a time of the first four
 * (its `timer`), and besides one of the last two (the receive side's own
 * timer: the rest of a frame under way, or between frames the next one). */
typedef enum tofui_timer_kind {
    TOFUI_TIMER_LINGER = 0,   /* after our last Bye frame: the peer's close (bye_linger_ms) */
    TOFUI_TIMER_ACCEPT_PAUSE, /* a listener out of descriptors */
    TOFUI_TIMER_CONNECT,      /* one connect attempt (connect_timeout_ms) */
    TOFUI_TIMER_HANDSHAKE,    /* an accepted channel's first frame (handshake_timeout_ms) */
    TOFUI_TIMER_FRAME,        /* the rest of a frame under way (frame_timeout_ms) */
    TOFUI_TIMER_IDLE,         /* the next frame of a connected channel (idle_timeout_ms) */
    TOFUI_TIMER_KINDS
} tofui_timer_kind;

/* One deadline, embedded in what waits for it; zeroed, it runs not. */
typedef struct tofui_timer {
    tofui_link link; /* on its kind's list while it runs */
    uint64_t deadline;
    uint8_t kind;    /* tofui_timer_kind, while it runs */
} tofui_timer;

typedef struct tofui_timers {
    /* One list per kind: all timers of a kind are equally long and are
     * appended when they start, so each list is in deadline order. */
    tofui_link lists[TOFUI_TIMER_KINDS];
    uint64_t len_ns[TOFUI_TIMER_KINDS]; /* 0: that kind is off */
    /* Waits of any length (a connect's backoff before its next try, which
     * grows and has jitter), in milliseconds: a timing wheel, O(1) too. */
    tofui_wheel waits;
} tofui_timers;

/* Sets the length of each kind from the options (TOFU_TIMEOUT_NONE turns a
 * kind off, 0 takes the default). */
void tofui_timers_init(tofui_timers *t, const tofu_options *opt);
/* Starts tm as a timer of that kind (replacing whatever it ran); a kind
 * that is off starts nothing. */
void tofui_timer_start(tofui_timers *t, tofui_timer *tm, tofui_timer_kind kind);
/* Stops tm, if it runs. */
void tofui_timer_stop(tofui_timer *tm);
/* True while tm runs as a timer of that kind. */
bool tofui_timer_runs(const tofui_timer *tm, tofui_timer_kind kind);
/* Starts a wait of ms milliseconds (at least that: rounded up to the
 * wheel's millisecond); w must not be waiting. */
void tofui_wait_start(tofui_timers *t, tofui_wheel_timer *w, uint64_t ms);
/* Stops a wait, if it runs. */
void tofui_wait_stop(tofui_timers *t, tofui_wheel_timer *w);
/* A wait that is over, taken out; NULL when none. */
tofui_wheel_timer *tofui_waits_pop_expired(tofui_timers *t);
/* Wait timeout for the next deadline or wait, in ms: -1 when none. */
int tofui_timers_timeout(const tofui_timers *t);

/* Timing wheels of milliseconds on the engine's clock: the connect waits
 * above, and the Request deadlines (requests.c). */
void tofui_ms_wheel_init(tofui_wheel *w);
/* Adds wt, due at least ms milliseconds from now; wt must be in no wheel. */
void tofui_ms_wheel_start(tofui_wheel *w, tofui_wheel_timer *wt, uint64_t ms);
/* A timer whose time came, taken out; NULL when none. */
tofui_wheel_timer *tofui_ms_wheel_pop_expired(tofui_wheel *w);
/* When the wheel must be looked at next, on the clock (ns); UINT64_MAX:
 * nothing runs. */
uint64_t tofui_ms_wheel_next_ns(const tofui_wheel *w);
/* A wait timeout in ms (at most 60 s) until the clock reaches deadline_ns;
 * -1 for UINT64_MAX. */
int tofui_timeout_until(uint64_t deadline_ns);
/* A timer whose deadline passed, taken off its list, and its kind; NULL
 * when there is none. *now is 0 on the first call of a round (the clock is
 * then read once, and only if some timer runs). */
tofui_timer *tofui_timers_pop_expired(tofui_timers *t, uint64_t *now, tofui_timer_kind *kind);

#endif
