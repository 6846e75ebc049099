/*
 * The receive side of a connected channel (I/O thread only): reads and the
 * frames decoded from them.
 *
 * Reading takes big chunks into the engine's buffer and decodes every
 * complete frame in them: a frame that lies whole there, after a frame
 * boundary, straight into its pool message (tofui_dec_whole), anything
 * else through the streaming decoder. A pool message is taken only when a whole frame is
 * at hand: a frame that arrives in pieces waits in a buffer of the channel's
 * own (at most one frame), so a peer that announces a big frame and then
 * trickles or stops pins no pool message, and an idle channel holds none.
 * When the pool has no message for a complete frame, the channel stalls
 * (stall.c).
 *
 * What a peer can hold this way is bounded three ways. The buffer grows
 * with what actually came (at most twice that), not with what the header
 * announced, so a bare header pins almost nothing. A frame must arrive
 * whole within frame_timeout_ms of the read that brought its first byte:
 * a deadline for the whole frame rather than for each piece, because a
 * peer that sends one byte now and then always "makes progress" and
 * would hold its buffer forever. And all the partial buffers of the engine
 * together stay under max_partial_bytes: the channels whose frames started
 * first are closed to make room (their frames had the longest to arrive).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/channel.h"

/* Reads per channel and event: bounded so one busy channel cannot starve
 * the others; the level-triggered poller brings it back. */
#define RECV__ROUNDS 4

/* The smallest partial buffer: pieces of a few bytes do not each grow it. */
#define RECV__PART_MIN 4096u

/* The options' names in a close Signal's ~limit. */
#define RECV__LIMIT_TIMEOUT "frame_timeout_ms"
#define RECV__LIMIT_BYTES "max_partial_bytes"
#define RECV__LIMIT_IDLE "idle_timeout_ms"

/* Takes the pool message for a complete frame. The pool is asked for as
 * many as the bytes at hand seem to hold (`want`), under one lock, instead
 * of once per frame while the application's puts contend for the same
 * lock; tofui_recv_decode gives back what it did not use before it
 * returns, so no message is held between reads. */
bool tofui_recv_take_msg(tofui_chan *ch, size_t want) {
    tofui_chanset *set = ch->set;
    if (set->rstock_next == set->rstock_n) {
        set->rstock_next = 0;
        set->rstock_n = tofui_pool_get_many(set->pool, set->rstock, want);
    }
    if (set->rstock_next == set->rstock_n)
        return false;
    ch->recv.msg = set->rstock[set->rstock_next++];
    return true;
}

/* What a read took from the pool and did not use goes back in one step. */
static void recv__return_stock(tofui_chanset *set) {
    tofui_pool_put_many(set->pool, set->rstock + set->rstock_next, set->rstock_n - set->rstock_next);
    set->rstock_next = set->rstock_n = 0;
}

/* The opcodes whose arrival the channel notes (recv__note). */
#define RECV__OPS_NOTED                                                                        \
    (TOFUI_OP_BIT(TOFU_OP_BYE_REQUEST) | TOFUI_OP_BIT(TOFU_OP_HELLO_RESPONSE) |                \
     TOFUI_OP_BIT(TOFU_OP_RESPONSE) | TOFUI_OP_BIT(TOFU_OP_BYE_RESPONSE))

static void recv__note(tofui_chan *ch, tofu_msg *m) {
    if (m->bhdr.opcode == TOFU_OP_BYE_REQUEST)
        ch->recv.peer_bye_req = true;
    else if (m->bhdr.opcode == TOFU_OP_HELLO_RESPONSE)
        tofui_dial_hello_response(ch, m->bhdr.message_id);
    else
        tofui_track_received(ch, m); /* a Response or a ByeResponse */
}

/* A received frame carries the local number; an accepted channel learns
 * the id of its first message for its close Signal. */
static void recv__received(tofui_chan *ch, tofu_msg *m) {
    m->bhdr.channel = ch->num;
    if (tofui_op_in(RECV__OPS_NOTED, m->bhdr.opcode)) /* Signals and Requests: one test */
        recv__note(ch, m);
    if (ch->opened == TOFUI_OPEN_ACCEPT && !ch->id_learned)
        tofui_chan_learn_id(ch, m->bhdr.message_id);
}

static void recv__finish(tofui_chan *ch);

/* The peer answered our ByeRequest. If it also sent one that our application
 * has not answered on the wire yet (simultaneous Bye), the channel stops
 * reading and closes once our ByeResponse is written; otherwise at once.
 * When that ByeResponse can no longer be written (a write failed, or the
 * socket hung up while the channel was stalled and parked), nothing more
 * can happen on the channel: it closes now, for the reason the connection
 * ended. */
static void recv__bye_response(tofui_chan *ch) {
    if (ch->recv.peer_bye_req && ch->state == TOFUI_CH_OPEN) {
        ch->recv.done = true;
        if (ch->send.dead || ch->stall.parked)
            recv__finish(ch);
        else
            tofui_chan_touch(ch);
        return;
    }
    tofui_chan_close(ch, TOFU_CHANNEL_CLOSED, TOFUI_CLOSE_GRACEFUL);
}

/* How decoding a span of bytes goes on or ends. */
typedef enum recv__next {
    RECV__GO_ON = 0, /* more bytes to decode */
    RECV__CONSUMED,  /* every byte is decoded or kept: read on */
    RECV__STALL,     /* a complete frame waits for a pool message */
    RECV__FAILED,    /* the stream is dead: close with the span's error */
    RECV__BYE        /* a ByeResponse came: nothing after it is read */
} recv__next;

/* The bytes being decoded and the frames decoded from them, delivered
 * together before anything that follows them. */
typedef struct recv__span {
    const unsigned char *data;
    size_t n;
    tofui_mq got;
    tofu_status error; /* with RECV__FAILED */
} recv__span;

/* An empty span may have no buffer at all (a stall at a frame boundary):
 * pointer arithmetic on NULL is undefined even by zero. */
static void recv__advance(recv__span *s, size_t used) {
    if (used == 0)
        return;
    s->data += used;
    s->n -= used;
}

static recv__next recv__fail(recv__span *s, tofu_status why) {
    s->error = why;
    return RECV__FAILED;
}

/* The peer broke a rule of the protocol: the channel closes (with a reset,
 * as for any hostile peer) for `why`, an existing status, and the close
 * Signal names the rule in ~violation, since one status covers several. */
static recv__next recv__violation(tofui_chan *ch, recv__span *s, tofu_status why,
                                  const char *rule) {
    ch->recv.violation = rule;
    return recv__fail(s, why);
}

/* The decoder refused a header: an opcode the wire never carries. */
static recv__next recv__bad_header(tofui_chan *ch, recv__span *s) {
    tofu_status why = ch->recv.dec.error;
    if (why == TOFU_INVALID_OP_CODE)
        return recv__violation(ch, s, why, TOFUI_VIOLATION_OPCODE);
    if (why == TOFU_INVALID_MESSAGE)
        return recv__violation(ch, s, why, TOFUI_VIOLATION_WELCOME);
    return recv__fail(s, why); /* allocation_failed: ours, not the peer's */
}

/* A ByeResponse ends a close of ours: it answers our ByeRequest, which is
 * on the wire, or it comes after our own last Bye frame (a ByeResponse or
 * a ByeSignal), when the channel is only waiting for the peer to go. The
 * original closes on any ByeResponse; one that answers nothing is no
 * graceful close but a broken peer (or one of the original's releases up
 * to v0.0.9, whose HelloRequest reads as a ByeResponse), and says so. */
static bool recv__bye_response_expected(const tofui_chan *ch) {
    return ch->send.bye_req_sent || ch->state == TOFUI_CH_LINGER;
}

/* The decoder completed a frame in ch->recv.msg. */
static recv__next recv__frame(tofui_chan *ch, recv__span *s) {
    tofu_msg *m = ch->recv.msg;
    ch->recv.msg = NULL;
    tofui_timer_stop(&ch->recv.frame_timer); /* the next frame has its own */
    bool bye = m->bhdr.opcode == TOFU_OP_BYE_RESPONSE;
    if (bye && !recv__bye_response_expected(ch)) {
        tofui_pool_put(ch->set->pool, &m);
        return recv__violation(ch, s, TOFU_INVALID_MESSAGE, TOFUI_VIOLATION_BYE_RESPONSE);
    }
    recv__received(ch, m);
    tofui_mq_push(&s->got, m);
    return bye ? RECV__BYE : RECV__GO_ON;
}

/* Bytes of the frame in progress after its binary header. */
static size_t recv__frame_rest(const tofui_chan *ch) {
    return (size_t)ch->recv.dec.bhdr.thl + ch->recv.dec.bhdr.bl;
}

/* Makes room for max_partial_bytes: the channels whose partial frames
 * started first (the head of the set's list) are closed, never ch itself.
 * False when only ch is left and it still does not fit (the budget is at
 * least one largest frame, so this does not happen). */
static bool recv__part_budget(tofui_chan *ch, size_t more) {
    tofui_chanset *set = ch->set;
    while (set->partial_bytes + more > set->max_partial_bytes) {
        tofui_link *oldest = set->partial.next;
        if (oldest == &ch->recv.part_link)
            oldest = oldest->next;
        if (oldest == &set->partial)
            return false;
        tofui_chan *victim = TOFUI_CONTAINER(oldest, tofui_chan, recv.part_link);
        /* its release takes it off the list and gives its bytes back */
        tofui_chan_close_limit(victim, TOFU_ALLOCATION_FAILED, RECV__LIMIT_BYTES);
    }
    return true;
}

/* Room for `need` bytes of the partial frame: the buffer grows to twice
 * what came (at least RECV__PART_MIN, at most the frame), so a frame that
 * comes in pieces is copied O(1) times over, and a peer holds at most twice
 * what it sent. */
static tofu_status recv__part_reserve(tofui_chan *ch, size_t need) {
    tofui_chan_recv *r = &ch->recv;
    if (need <= r->part_cap)
        return TOFU_SUCCESS;
    size_t cap = need < RECV__PART_MIN / 2 ? RECV__PART_MIN : 2 * need;
    cap = cap < r->part_len ? cap : r->part_len;
    if (!recv__part_budget(ch, cap - r->part_cap))
        return TOFU_ALLOCATION_FAILED;
    unsigned char *p = realloc(r->part, cap);
    if (p == NULL)
        return TOFU_ALLOCATION_FAILED;
    ch->set->partial_bytes += cap - r->part_cap;
    r->part = p;
    r->part_cap = cap;
    return TOFU_SUCCESS;
}

/* Appends what the span holds of the partial frame: RECV__GO_ON once it is
 * complete, RECV__CONSUMED while more is to come, RECV__FAILED when there
 * is no room for it. */
static recv__next recv__part_fill(tofui_chan *ch, recv__span *s) {
    tofui_chan_recv *r = &ch->recv;
    size_t take = r->part_len - r->part_got;
    take = take < s->n ? take : s->n;
    if (take > 0) { /* data may be NULL when n is 0 */
        tofu_status st = recv__part_reserve(ch, r->part_got + take);
        if (st != TOFU_SUCCESS)
            return recv__fail(s, st);
        memcpy(r->part + r->part_got, s->data, take);
        r->part_got += take;
        recv__advance(s, take);
    }
    return r->part_got == r->part_len ? RECV__GO_ON : RECV__CONSUMED;
}

/* The decoder has a header but the span ends inside the frame: the rest of
 * the frame collects outside the pool until it is complete. The channel
 * joins the set's partial list, behind the frames that started before. */
static recv__next recv__part_start(tofui_chan *ch, recv__span *s) {
    ch->recv.part_len = recv__frame_rest(ch);
    ch->recv.part_got = 0;
    tofui_list_push_back(&ch->set->partial, &ch->recv.part_link);
    return recv__part_fill(ch, s);
}

static void recv__part_free(tofui_chan *ch) {
    tofui_chan_recv *r = &ch->recv;
    free(r->part);
    ch->set->partial_bytes -= r->part_cap;
    tofui_list_remove(&r->part_link);
    r->part = NULL;
    r->part_len = 0;
    r->part_got = 0;
    r->part_cap = 0;
}

/* Goes on with a partial frame: once complete (and a pool message is at
 * hand) the decoder gets it whole. */
static recv__next recv__part_decode(tofui_chan *ch, recv__span *s) {
    recv__next next = recv__part_fill(ch, s);
    if (next != RECV__GO_ON)
        return next;
    if (ch->recv.msg == NULL && !tofui_recv_take_msg(ch, 1))
        return RECV__STALL;
    size_t used = 0;
    tofui_chan_recv *r = &ch->recv;
    tofui_dec_rc rc = tofui_dec_feed(&r->dec, r->msg, r->part, r->part_len, &used);
    recv__part_free(ch);
    if (rc != TOFUI_DEC_FRAME) /* only allocation fails on a validated header */
        return recv__fail(s, ch->recv.dec.error);
    return recv__frame(ch, s);
}

/* Frames the span may still hold, counting the current one, if all were
 * as long as it: a guess that is exact for a stream of equal frames. */
static size_t recv__frames_ahead(size_t rest, size_t avail) {
    size_t n = 1 + (avail - rest) / (TOFUI_BHDR_SIZE + rest);
    return n < TOFUI_RECV_BATCH ? n : TOFUI_RECV_BATCH;
}

/* The decoder has a header (tofui_dec_take): a pool message is taken only
 * when the span holds the whole frame. */
static tofu_msg *recv__take(void *ctx, size_t rest, size_t avail) {
    tofui_chan *ch = ctx;
    tofui_chanset *set = ch->set;
    if (avail < rest)
        return NULL;
    if (set->rstock_next < set->rstock_n) /* most frames: the read's stock has one */
        return ch->recv.msg = set->rstock[set->rstock_next++];
    return tofui_recv_take_msg(ch, recv__frames_ahead(rest, avail)) ? ch->recv.msg : NULL;
}

/* The decoder has a header and no message for its frame: either the span
 * ends inside the frame, or the pool had none. */
static recv__next recv__need_msg(tofui_chan *ch, recv__span *s) {
    if (s->n < recv__frame_rest(ch))
        return recv__part_start(ch, s);
    return RECV__STALL;
}

/* A frame that lies whole in the span, with a pool message at hand for it,
 * decoded in one call (tofui_dec_whole_len); RECV__GO_ON with nothing
 * consumed when not, and the decoder's general path goes on. */
static recv__next recv__decode_whole(tofui_chan *ch, recv__span *s, bool *done) {
    size_t len = tofui_dec_whole_len(&ch->recv.dec, s->data, s->n);
    tofui_chanset *set = ch->set;
    if (len != 0 && set->rstock_next < set->rstock_n) /* most frames: the stock has one */
        ch->recv.msg = set->rstock[set->rstock_next++];
    else if (len == 0 || recv__take(ch, len - TOFUI_BHDR_SIZE, s->n - TOFUI_BHDR_SIZE) == NULL) {
        *done = false;
        return RECV__GO_ON;
    }
    *done = true;
    tofui_dec_rc rc = tofui_dec_whole(&ch->recv.dec, ch->recv.msg, s->data);
    recv__advance(s, len);
    return rc == TOFUI_DEC_FRAME ? recv__frame(ch, s) : recv__bad_header(ch, s);
}

static recv__next recv__decode_step(tofui_chan *ch, recv__span *s) {
    bool done;
    recv__next next = recv__decode_whole(ch, s, &done);
    if (done)
        return next;
    size_t used = 0;
    tofui_dec_rc rc = tofui_dec_feed_take(&ch->recv.dec, &ch->recv.msg, recv__take, ch, s->data,
                                          s->n, &used);
    recv__advance(s, used);
    if (rc == TOFUI_DEC_FRAME)
        return recv__frame(ch, s);
    if (rc == TOFUI_DEC_MORE)
        return RECV__CONSUMED;
    if (rc == TOFUI_DEC_NEED_MSG)
        return recv__need_msg(ch, s);
    return recv__bad_header(ch, s);
}

/* After a span: a frame that is under way when the bytes ran out has until
 * its deadline, counted from the read that brought its first byte (the
 * timer keeps running across reads, and recv__frame stops it); between
 * frames the next one has idle_timeout_ms from now. Nothing runs when
 * reading stops here: a stalled channel waits for the pool, not for its
 * peer, and resuming decodes what it kept again. */
static void recv__frame_deadline(tofui_chan *ch, recv__next next) {
    tofui_chan_recv *r = &ch->recv;
    bool under_way = next == RECV__CONSUMED && (r->part_len != 0 || tofui_dec_mid_frame(&r->dec));
    if (under_way) {
        if (!tofui_timer_runs(&r->frame_timer, TOFUI_TIMER_FRAME))
            tofui_timer_start(&ch->set->timers, &r->frame_timer, TOFUI_TIMER_FRAME);
    } else if (next == RECV__CONSUMED) {
        tofui_recv_start(ch);
    } else {
        tofui_timer_stop(&r->frame_timer);
    }
}

/* Decodes data[0..n). Returns true when everything was consumed and the
 * channel still reads; false when it closed or stalled. */
bool tofui_recv_decode(tofui_chan *ch, const unsigned char *data, size_t n) {
    recv__span s = {data, n, {NULL, NULL}, TOFU_SUCCESS};
    recv__next next = ch->recv.part_len != 0 ? recv__part_decode(ch, &s) : RECV__GO_ON;
    while (next == RECV__GO_ON)
        next = recv__decode_step(ch, &s);
    recv__frame_deadline(ch, next);
    recv__return_stock(ch->set);
    tofui_group_deliver_list(ch->group, &s.got);
    if (next == RECV__STALL)
        return tofui_stall_begin(ch, s.data, s.n);
    if (next == RECV__FAILED) { /* a hostile or broken peer loses its channel */
        tofui_chan_close(ch, s.error, TOFUI_CLOSE_ABORT);
        return false;
    }
    if (next == RECV__BYE) {
        recv__bye_response(ch);
        return false;
    }
    return true;
}

/* The connection ended or failed. A responder that already sent its
 * ByeResponse was only waiting for exactly that: the Bye completed. */
static void recv__ended(tofui_chan *ch, tofu_status reason) {
    if (ch->state == TOFUI_CH_LINGER)
        tofui_chan_close(ch, TOFU_CHANNEL_CLOSED, TOFUI_CLOSE_GRACEFUL);
    else if (reason == TOFUI_SOCK_TIMED_OUT) /* keepalive, user timeout */
        tofui_chan_dead_peer(ch);
    else if (reason == TOFU_PEER_DISCONNECTED)
        tofui_chan_close(ch, reason, TOFUI_CLOSE_GRACEFUL);
    else
        tofui_chan_close(ch, reason, TOFUI_CLOSE_ABORT);
}

/* A read that failed (not the peer's orderly end) tells the system's
 * error, for the close Signal's ~error. */
static void recv__note_error(tofui_chan *ch, tofu_status st) {
    if (st != TOFU_SUCCESS && st != TOFU_PEER_DISCONNECTED)
        tofui_chan_os_error(ch, tofui_sock_last_error());
}

/* Why the connection ended, from the read that stopped the reading: st
 * is its status, err_event whether the poller reported an error or
 * hang-up. */
static tofu_status recv__end_reason(const tofui_chan *ch, tofu_status st, bool err_event) {
    /* The system gave up on the peer (keepalive, user timeout): a write
     * that met it took its report, as it does a reset's. */
    if (st == TOFUI_SOCK_TIMED_OUT || ch->send.timed_out)
        return TOFUI_SOCK_TIMED_OUT;
    /* A write that met the reset took its report: the read sees only the
     * end of the stream. */
    if (st == TOFU_PEER_DISCONNECTED)
        return ch->send.reset ? TOFU_COMMUNICATION_FAILED : st;
    if (st != TOFU_SUCCESS)
        return err_event ? TOFU_COMMUNICATION_FAILED : TOFU_RECV_FAILED;
    /* Nothing to read yet an error flag. After a failed write with the read
     * side quiet, that write is all there is to tell. */
    return ch->send.dead && !ch->send.reset ? TOFU_SEND_FAILED : TOFU_COMMUNICATION_FAILED;
}

/* Reading is done (the peer's ByeResponse came, ours is still owed) and the
 * connection failed or the peer left: nothing that still comes is
 * delivered, and the socket is read only to tell how the connection ended,
 * with the reasons of tofui_recv_read. Always closes the channel. */
static void recv__finish(tofui_chan *ch) {
    tofu_status st = TOFU_SUCCESS;
    size_t got = 1;
    for (int round = 0; round < RECV__ROUNDS && st == TOFU_SUCCESS && got > 0; round++)
        st = tofui_sock_read(ch->sock, ch->set->rbuf, TOFUI_READ_CHUNK, &got);
    recv__note_error(ch, st);
    recv__ended(ch, recv__end_reason(ch, st, true));
}

/* Decodes what a peek brought, data[0..n), then reads back from the
 * socket what was used: what a stall left (stall.c notes it in peek_left)
 * stays in the kernel's buffer. False when the channel stops reading. */
static bool recv__decode_peeked(tofui_chan *ch, unsigned char *data, size_t n) {
    tofui_chanset *set = ch->set;
    set->peeking = true;
    set->peek_left = 0;
    bool more = tofui_recv_decode(ch, data, n);
    set->peeking = false;
    if (ch->state == TOFUI_CH_CLOSED)
        return false;
    size_t used = n - set->peek_left, got = 0;
    /* One reader, and the bytes are in the socket: the read gets them all. */
    tofu_status st = tofui_sock_read(ch->sock, data, used, &got);
    if (st != TOFU_SUCCESS || got != used) {
        recv__note_error(ch, st);
        recv__ended(ch, recv__end_reason(ch, st == TOFU_SUCCESS ? TOFU_RECV_FAILED : st, true));
        return false;
    }
    return more;
}

/* Up to `rounds` reads of at most cap bytes, each decoded before the next. */
static void recv__read(tofui_chan *ch, size_t cap, bool err_event, int rounds) {
    unsigned char *buf = ch->set->rbuf;
    for (int round = 0; round < rounds; round++) {
        size_t got = 0;
        /* Channels stalled already: this one may stall too, and for long. */
        bool peek = tofui_stall_pressure(ch->set);
        tofu_status st = peek ? tofui_sock_peek(ch->sock, buf, cap, &got)
                              : tofui_sock_read(ch->sock, buf, cap, &got);
        if (st != TOFU_SUCCESS || got == 0) {
            recv__note_error(ch, st);
            /* Nothing to read yet an error flag: close rather than spin on
             * a level-triggered error. */
            if (st != TOFU_SUCCESS || err_event)
                recv__ended(ch, recv__end_reason(ch, st, err_event));
            return;
        }
        bool more = peek ? recv__decode_peeked(ch, buf, got) : tofui_recv_decode(ch, buf, got);
        if (!more || got < cap)
            return;
    }
}

void tofui_recv_read(tofui_chan *ch, bool err_event) {
    if (ch->stall.on) {
        if (err_event)
            tofui_stall_park(ch);
        return;
    }
    if (ch->recv.done) { /* nothing more is read: a dead connection just ends */
        if (err_event)
            recv__finish(ch);
        return;
    }
    recv__read(ch, TOFUI_READ_CHUNK, err_event, RECV__ROUNDS);
}

void tofui_recv_read_left(tofui_chan *ch, size_t n) {
    if (n > 0 && !ch->recv.done)
        recv__read(ch, n, false, 1);
}

/* The peer started a frame and did not finish it in time: whatever it is
 * doing (stopped, or trickling), its channel goes, and with it the bytes
 * it held. */
void tofui_recv_frame_timed_out(tofui_chan *ch) {
    tofui_chan_close_limit(ch, TOFU_RECV_FAILED, RECV__LIMIT_TIMEOUT);
}

void tofui_recv_start(tofui_chan *ch) {
    tofui_timer_start(&ch->set->timers, &ch->recv.frame_timer, TOFUI_TIMER_IDLE);
}

/* Not in linger: there the peer's close is awaited, bye_linger_ms long. */
void tofui_recv_idle_timed_out(tofui_chan *ch) {
    if (ch->state == TOFUI_CH_OPEN)
        tofui_chan_close_limit(ch, TOFU_COMMUNICATION_FAILED, RECV__LIMIT_IDLE);
}

void tofui_recv_init(tofui_chan *ch) {
    tofui_dec_init(&ch->recv.dec);
}

void tofui_recv_release(tofui_chan *ch) {
    tofui_pool_put(ch->set->pool, &ch->recv.msg);
    recv__part_free(ch);
    tofui_timer_stop(&ch->recv.frame_timer);
}
