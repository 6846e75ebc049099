/*
 * Pool stalls (I/O thread only): when the pool is empty while a complete
 * frame waits, the channel keeps what it could not decode (at most one
 * chunk), stops reading, tells its group once, and resumes when a message is
 * put back.
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
 * postpone the Signal of an earlier one. */
static void stall__arm(tofui_chan *ch) {
    ch->stall.signal_due = true;
    ch->stall.signal_at = tofui_clock_ns() + TOFUI_POOL_EMPTY_GRACE_NS;
    ch->set->signals_due = true;
}

/* The pool is empty: keeps the unconsumed bytes data[0..n) in the channel's
 * stash (at most one read), stops reading until a put refills the pool, and
 * arms one pool_empty Signal per episode (from the stall until a put lets the
 * channel go on), sent by tofui_stall_signal_due. Returns false: the caller
 * stops decoding. */
bool tofui_stall_begin(tofui_chan *ch, const unsigned char *data, size_t n) {
    /* Exactly n: a stall that begins again while the stash is decoded
     * keeps a tail of it, and a stalled channel reads nothing more. */
    if (n > 0 && ch->stall.stash == NULL && (ch->stall.stash = malloc(n)) == NULL) {
        tofui_chan_close(ch, TOFU_ALLOCATION_FAILED, TOFUI_CLOSE_ABORT);
        return false;
    }
    if (n > 0)
        memmove(ch->stall.stash, data, n);
    ch->stall.stash_len = n;
    if (!ch->stall.on) {
        ch->stall.on = true;
        tofui_list_push_back(&ch->set->stalled, &ch->stall.link);
        tofui_chan_touch(ch);
    }
    if (!ch->stall.signalled && !ch->stall.signal_due)
        stall__arm(ch);
    return false;
}

/* The Signal waits for a short grace period and for the thread to be about
 * to sleep: a stall that the application's own puts end at once (it is
 * returning its messages one by one) is no episode worth telling. */
int tofui_stall_signal_due(tofui_chanset *set) {
    if (!set->signals_due)
        return -1;
    uint64_t now = tofui_clock_ns(), next = UINT64_MAX;
    for (tofui_link *l = set->stalled.next; l != &set->stalled; l = l->next) {
        tofui_chan *ch = TOFUI_CONTAINER(l, tofui_chan, stall.link);
        if (!ch->stall.signal_due)
            continue;
        if (now < ch->stall.signal_at) {
            next = ch->stall.signal_at < next ? ch->stall.signal_at : next;
            continue;
        }
        ch->stall.signal_due = false;
        ch->stall.signalled = true;
        stall__signal(ch);
    }
    set->signals_due = next != UINT64_MAX;
    return set->signals_due ? (int)((next - now + 999999u) / 1000000u) : -1;
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
    ch->stall.on = false;
    ch->stall.signalled = false;
    ch->stall.signal_due = false;
    size_t len = ch->stall.stash_len;
    ch->stall.stash_len = 0;
    tofui_recv_decode(ch, ch->stall.stash, len);
    /* Stalled again (the stash keeps the rest) or closed: nothing to do.
     * Otherwise it reads on, or its reading is done (the peer's ByeResponse
     * came, ours is still owed): either way it goes back into the poller,
     * which reports what becomes of the connection; a parked channel left
     * out would never hear of it again. */
    if (ch->state == TOFUI_CH_CLOSED || ch->stall.on)
        return;
    free(ch->stall.stash);
    ch->stall.stash = NULL;
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
    free(ch->stall.stash);
    ch->stall.stash = NULL;
    ch->stall.stash_len = 0;
    tofui_list_remove(&ch->stall.link);
    ch->stall.on = false;
}
