/*
 * Channel deadlines (I/O thread only): the linger after a ByeResponse, the
 * accept pause of a listener out of descriptors, one connect attempt, and
 * the first frame of an accepted connection.
 *
 * A channel waits for at most one deadline at a time (its timer_link). All
 * timers of one kind are equally long and are appended when they start, so
 * each kind's list is in deadline order: the next deadline is the first of
 * some list, and expiring one costs O(1). Nothing here wakes the engine
 * when no timer runs.
 */
#include "engine/engine_int.h"

#define TIMERS__NS_PER_MS 1000000ull

/* An option's milliseconds as a timer length: 0 is the default,
 * TOFU_TIMEOUT_NONE turns the kind off (length 0). */
static uint64_t timers__option_ns(uint32_t ms, uint32_t default_ms) {
    if (ms == TOFU_TIMEOUT_NONE)
        return 0;
    return (uint64_t)(ms == 0 ? default_ms : ms) * TIMERS__NS_PER_MS;
}

void tofui_timers_init(tofu_engine *e, const tofu_options *opt) {
    for (int k = 0; k < TOFUI_TIMER_KINDS; k++)
        tofui_list_init(&e->timers[k]);
    e->timer_len_ns[TOFUI_TIMER_LINGER] =
        timers__option_ns(opt->bye_linger_ms, TOFU_DEFAULT_BYE_LINGER_MS);
    e->timer_len_ns[TOFUI_TIMER_ACCEPT_PAUSE] = TOFUI_ACCEPT_PAUSE_NS;
    e->timer_len_ns[TOFUI_TIMER_CONNECT] =
        timers__option_ns(opt->connect_timeout_ms, TOFU_DEFAULT_CONNECT_TIMEOUT_MS);
    e->timer_len_ns[TOFUI_TIMER_HANDSHAKE] =
        timers__option_ns(opt->handshake_timeout_ms, TOFU_DEFAULT_HANDSHAKE_TIMEOUT_MS);
}

void tofui_timer_start(tofui_chan *ch, tofui_timer_kind kind) {
    tofu_engine *e = ch->eng;
    tofui_list_remove(&ch->timer_link);
    if (e->timer_len_ns[kind] == 0)
        return;
    ch->deadline = tofui_clock_ns() + e->timer_len_ns[kind];
    tofui_list_push_back(&e->timers[kind], &ch->timer_link);
}

void tofui_timer_stop(tofui_chan *ch) {
    tofui_list_remove(&ch->timer_link);
}

/* The first channel of a list, or NULL. */
static tofui_chan *timers__first(const tofui_link *list) {
    if (tofui_list_empty(list))
        return NULL;
    return TOFUI_CONTAINER(list->next, tofui_chan, timer_link);
}

int tofui_timers_timeout(tofu_engine *e) {
    uint64_t next = UINT64_MAX;
    for (int k = 0; k < TOFUI_TIMER_KINDS; k++) {
        const tofui_chan *ch = timers__first(&e->timers[k]);
        if (ch != NULL && ch->deadline < next)
            next = ch->deadline;
    }
    if (next == UINT64_MAX)
        return -1;
    uint64_t now = tofui_clock_ns();
    if (next <= now)
        return 0;
    uint64_t ms = (next - now + TIMERS__NS_PER_MS - 1) / TIMERS__NS_PER_MS;
    return ms > 60000u ? 60000 : (int)ms;
}

/* What a deadline does. Each action takes the channel off its list. */
static void timers__fire(tofui_chan *ch, tofui_timer_kind kind) {
    switch (kind) {
    case TOFUI_TIMER_LINGER: /* the peer never closed: close anyway */
        tofui_chan_close(ch, TOFU_CHANNEL_CLOSED, TOFUI_CLOSE_GRACEFUL);
        return;
    case TOFUI_TIMER_ACCEPT_PAUSE:
        tofui_timer_stop(ch);
        ch->accept_paused = false;
        tofui_chan_touch(ch); /* watch the listener again */
        return;
    case TOFUI_TIMER_CONNECT:
        tofui_conn_attempt_timed_out(ch);
        return;
    case TOFUI_TIMER_HANDSHAKE: /* unseen by the application: closes silently */
        tofui_chan_close(ch, TOFU_COMMUNICATION_FAILED, TOFUI_CLOSE_ABORT);
        return;
    default:
        tofui_timer_stop(ch);
        return;
    }
}

void tofui_timers_expire(tofu_engine *e) {
    uint64_t now = 0;
    for (int k = 0; k < TOFUI_TIMER_KINDS; k++) {
        tofui_chan *ch;
        while ((ch = timers__first(&e->timers[k])) != NULL) {
            if (now == 0)
                now = tofui_clock_ns();
            if (ch->deadline > now)
                break;
            timers__fire(ch, (tofui_timer_kind)k);
        }
    }
}
