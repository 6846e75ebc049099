/*
 * Pool stalls (I/O thread only): when the pool is empty while a complete
 * frame waits, the channel stops reading, tells its group once, and resumes
 * when a message is put back. What it could not decode stays in the socket
 * (read with a peek while other channels are stalled), or, for the first
 * stall of a shortage, in a buffer sized to it: the stalled channels of an
 * engine keep at most one read together, whatever their number.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/channel.h"

static void stall__signal(tofui_chan *ch) {
    tofu_msg *m = tofui_msg_engine(TOFU_OP_SIGNAL, TOFU_POOL_EMPTY, ch->num, 0);
    if (m == NULL)
        return;
    tofui_chan_announce(ch); /* the Signal names the channel */
    tofui_group_deliver(ch->group, m);
}

/* Arms the episode's pool_empty Signal with its own grace deadline: each
 * stalled channel waits for its own, so stalls that keep coming never
 * postpone the Signal of an earlier one. The deadlines are armed in time
 * order, so the list of those due is sorted and is read from its head
 * only: a pass costs the Signals it sends, not the stalled channels. */
static void stall__arm(tofui_chan *ch) {
    ch->stall.signal_at = tofui_clock_ns() + TOFUI_POOL_EMPTY_GRACE_NS;
    tofui_list_push_back(&ch->set->signals_due, &ch->stall.due_link);
}

static void stall__count(tofui_chanset *set, size_t add, size_t sub) {
    set->stash_bytes = set->stash_bytes + add - sub;
    if (set->stash_bytes > atomic_load_explicit(&set->stash_peak, memory_order_relaxed))
        atomic_store_explicit(&set->stash_peak, set->stash_bytes, memory_order_relaxed);
}

static void stall__free_stash(tofui_chan *ch) {
    stall__count(ch->set, 0, ch->stall.stash_cap);
    free(ch->stall.stash);
    ch->stall.stash = NULL;
    ch->stall.stash_len = 0;
    ch->stall.stash_cap = 0;
}

/* Keeps data[0..n), bytes already taken from the socket, in a buffer of
 * exactly that size; a stall that begins again while the stash is decoded
 * keeps a tail of it in place. */
static bool stall__keep(tofui_chan *ch, const unsigned char *data, size_t n) {
    if (n > 0 && ch->stall.stash == NULL) {
        if ((ch->stall.stash = malloc(n)) == NULL) {
            tofui_chan_close(ch, TOFU_ALLOCATION_FAILED, TOFUI_CLOSE_ABORT);
            return false;
        }
        ch->stall.stash_cap = n;
        stall__count(ch->set, n, 0);
    }
    if (n > 0)
        memmove(ch->stall.stash, data, n);
    ch->stall.stash_len = n;
    return true;
}

/* The pool is empty: the bytes not decoded yet, data[0..n), stay where they
 * are: in the socket when they were peeked (recv.c reads back only what was
 * used), else in the channel's stash. A channel reads with a peek whenever
 * another is stalled already (tofui_stall_pressure), so only the first
 * stall of a pool shortage keeps bytes of its own, at most one read: the
 * channels stalled behind it hold none, however many they are. Reading
 * stops until a put refills the pool, and one pool_empty Signal per episode
 * (from the stall until a put lets the channel go on) is armed, sent by
 * tofui_stall_signal_due. Returns false: the caller stops decoding. */
bool tofui_stall_begin(tofui_chan *ch, const unsigned char *data, size_t n) {
    if (ch->set->peeking)
        ch->set->peek_left = ch->stall.left = n;
    else if (!stall__keep(ch, data, n))
        return false;
    if (!ch->stall.on) {
        ch->stall.on = true;
        tofui_list_push_back(&ch->set->stalled, &ch->stall.link);
        tofui_chan_touch(ch);
    }
    if (!ch->stall.signalled && !tofui_list_linked(&ch->stall.due_link))
        stall__arm(ch);
    return false;
}

bool tofui_stall_pressure(const tofui_chanset *set) {
    return !tofui_list_empty(&set->stalled);
}

/* The Signal waits for a short grace period and for the thread to be about
 * to sleep: a stall that the application's own puts end at once (it is
 * returning its messages one by one) is no episode worth telling. */
int tofui_stall_signal_due(tofui_chanset *set) {
    uint64_t now = tofui_clock_ns();
    while (!tofui_list_empty(&set->signals_due)) {
        tofui_chan *ch = TOFUI_CONTAINER(set->signals_due.next, tofui_chan, stall.due_link);
        if (now < ch->stall.signal_at)
            return (int)((ch->stall.signal_at - now + 999999u) / 1000000u);
        tofui_list_remove(&ch->stall.due_link);
        ch->stall.signalled = true;
        stall__signal(ch);
    }
    return -1;
}

/* A stalled channel whose socket reports an error or hang-up (a Unix
 * socket does so for a plain close of the peer). Closing now would lose
 * what the peer sent before it left, and the poller reports the condition
 * whatever the interest, so the socket leaves the poller until the channel
 * resumes; then reading finds the data, then the end of stream or error. */
void tofui_stall_park(tofui_chan *ch) {
    tofui_chan_unregister(ch);
    ch->stall.parked = true;
}

static void stall__unpark(tofui_chan *ch) {
    ch->stall.parked = false;
    if (tofui_chan_register(ch) != TOFU_SUCCESS)
        tofui_chan_close(ch, TOFU_COMMUNICATION_FAILED, TOFUI_CLOSE_ABORT);
}

/* One stalled channel got its message: the episode is over (the next stall
 * is a new one, with its own Signal); decode what it kept. */
static void stall__resume(tofui_chan *ch) {
    tofui_list_remove(&ch->stall.link);
    tofui_list_remove(&ch->stall.due_link);
    ch->stall.on = false;
    ch->stall.signalled = false;
    size_t len = ch->stall.stash_len;
    ch->stall.stash_len = 0;
    tofui_recv_decode(ch, ch->stall.stash, len);
    if (ch->state == TOFUI_CH_CLOSED || ch->stall.on)
        return; /* stalled again (the stash keeps the rest) or closed */
    stall__free_stash(ch);
    /* What the stall left in the socket is read now, in the channel's turn
     * and with the message that turn gave it (and what else the pool has),
     * rather than after the next wait, when the channels behind it have
     * taken the rest. Only those bytes: what follows them (more data, an
     * end or an error) the poller reports as usual. */
    size_t left = ch->stall.left;
    ch->stall.left = 0;
    tofui_recv_read_left(ch, left);
    if (ch->state == TOFUI_CH_CLOSED || ch->stall.on)
        return;
    /* It reads on, or its reading is done (the peer's ByeResponse came, ours
     * is still owed): either way it goes back into the poller, which reports
     * what becomes of the connection; a parked channel left out would never
     * hear of it again. */
    if (ch->stall.parked)
        stall__unpark(ch);
    tofui_chan_touch(ch); /* read again */
}

void tofui_stall_resume(tofui_chanset *set) {
    while (!tofui_list_empty(&set->stalled)) {
        tofui_chan *ch = TOFUI_CONTAINER(set->stalled.next, tofui_chan, stall.link);
        /* A failed get re-arms the pool's refill alert: no lost wake-up. */
        if (!tofui_recv_take_msg(ch, 1))
            return;
        stall__resume(ch);
    }
}

void tofui_stall_release(tofui_chan *ch) {
    stall__free_stash(ch);
    tofui_list_remove(&ch->stall.due_link);
    tofui_list_remove(&ch->stall.link);
    ch->stall.on = false;
}
