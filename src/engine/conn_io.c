/*
 * Moving bytes for connected channels (I/O thread only).
 *
 * Sending gathers the queued frames into one writev, built by the wire
 * codec's batch (msg/wire.h): small parts are copied into the engine's send
 * buffer, so a run of small frames becomes a single iovec (the kernel copies
 * one block instead of three pieces per frame, and one call carries up to
 * TOFUI_BATCH_STAGE bytes of them rather than TOFUI_BATCH_IOV / 3 frames);
 * bigger parts are sent from the message in place. Nothing points into a
 * message or the buffer between writes: a partial write is remembered as
 * (head message, bytes already sent) and the batch is rebuilt from that
 * before the next write.
 *
 * Receiving reads big chunks into the engine's buffer and decodes every
 * complete frame in them. A pool message is taken only when a whole frame is
 * at hand: a frame that arrives in pieces waits in a buffer of the channel's
 * own (at most one frame), so a peer that announces a big frame and then
 * trickles or stops pins no pool message, and an idle channel holds none.
 * When the pool is empty while a complete frame waits, the channel stalls:
 * it keeps what it could not decode (at most one chunk), stops reading,
 * tells its group once, and resumes when a message is put back.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* Writes / reads per channel and event: bounded so one busy channel cannot
 * starve the others; the level-triggered poller brings it back. */
#define IO__WRITE_ROUNDS 16
/* Sent messages returned to the pool per lock acquisition. */
#define IO__DONE_BATCH 256
#define IO__READ_ROUNDS 4

/* ------------------------------------------------------------------------ */
/* sending                                                                  */
/* ------------------------------------------------------------------------ */

/* The frames of the send queue after what was written already, as far as
 * one batch takes them (msg/wire.h). */
static void io__build(const tofui_chan *ch, tofui_batch *b) {
    tofui_batch_init(b, ch->eng->wbuf);
    size_t skip = ch->sent_off;
    for (const tofu_msg *m = ch->sendq.head; m != NULL; m = m->next) {
        if (!tofui_batch_add(b, m, &skip))
            break;
    }
}

/* Messages whose frames are on the wire, returned to the pool together. */
typedef struct io__done {
    tofu_msg *v[IO__DONE_BATCH];
    size_t n;
} io__done;

static void io__done_flush(tofu_engine *e, io__done *d) {
    tofui_pool_put_many(&e->pool, d->v, d->n);
    d->n = 0;
}

static void io__done_add(tofu_engine *e, io__done *d, tofu_msg *m) {
    if (d->n == IO__DONE_BATCH)
        io__done_flush(e, d);
    d->v[d->n++] = m;
}

/* A frame is on the wire: the message joins `done`, which goes back to the
 * pool in one piece when the write ends. After the channel's last frame (a
 * ByeResponse, or a ByeSignal without bit 6) it lingers until the peer
 * closes, unless the peer's own ByeResponse came already: then the Bye is
 * complete and nothing is left to read or to write. */
static void io__sent(tofui_chan *ch, tofu_msg *m, io__done *done) {
    uint8_t op = m->bhdr.opcode;
    if (m == ch->hello) {
        ch->hello = NULL;
        ch->hello_unanswered = true;
    }
    io__done_add(ch->eng, done, m);
    if (op != TOFU_OP_BYE_RESPONSE && op != TOFU_OP_BYE_SIGNAL)
        return;
    if (ch->read_done)
        tofui_chan_close(ch, TOFU_CHANNEL_CLOSED, TOFUI_CLOSE_GRACEFUL);
    else
        tofui_chan_start_linger(ch);
}

/* Pops every frame the write completed; a partly written head is
 * remembered by its offset. */
static void io__consume(tofui_chan *ch, size_t written, io__done *done) {
    while (written > 0 && ch->sendq.head != NULL) {
        size_t left = tofui_frame_len(ch->sendq.head) - ch->sent_off;
        if (written < left) {
            ch->sent_off += written;
            return;
        }
        written -= left;
        ch->sent_off = 0;
        io__sent(ch, tofui_chan_sendq_pop(ch), done);
        if (ch->state != TOFUI_CH_OPEN)
            return;
    }
}

static void io__park(tofui_chan *ch);

/* A write failed: the peer is gone. What it sent before it left may still
 * wait unread, in the kernel or in the stash of a stalled channel, and
 * closing now would throw it away. So the channel only stops writing (its
 * unsent messages come back when it closes) and reading ends it as for any
 * peer that left: the end of stream or the reset after the data. A stalled
 * channel leaves the poller (the hang-up it would report cannot be acted on
 * yet) and reads on when it resumes. */
static void io__write_failed(tofui_chan *ch) {
    ch->send_dead = true;
    if (!ch->stalled)
        tofui_io_read(ch, true);
    else if (ch->registered)
        io__park(ch);
}

/* One write of what the queue holds; false when writing stops for now
 * (channel closed, queue empty, socket full). */
static bool io__write_round(tofui_chan *ch, tofui_batch *b, io__done *done) {
    if (ch->state != TOFUI_CH_OPEN || ch->sendq.head == NULL || ch->send_dead)
        return false;
    io__build(ch, b);
    size_t written = 0;
    if (tofui_sock_writev(ch->sock, b->iov, b->n_iov, &written) != TOFU_SUCCESS) {
        io__write_failed(ch);
        return false;
    }
    io__consume(ch, written, done);
    if (written < b->total) {
        ch->write_blocked = true; /* the socket is full: wait for writable */
        return false;
    }
    return true;
}

void tofui_io_write(tofui_chan *ch) {
    tofui_batch b;
    io__done done;
    done.n = 0;
    int round = 0;
    while (round < IO__WRITE_ROUNDS && io__write_round(ch, &b, &done))
        round++;
    /* Out of rounds with more to send: writable comes back at once. */
    if (round == IO__WRITE_ROUNDS && ch->state == TOFUI_CH_OPEN && ch->sendq.head != NULL)
        ch->write_blocked = true;
    io__done_flush(ch->eng, &done);
}

/* ------------------------------------------------------------------------ */
/* receiving                                                                */
/* ------------------------------------------------------------------------ */

/* Takes the pool message for a complete frame. The pool is asked for as
 * many as the bytes at hand seem to hold (`want`), under one lock, instead
 * of once per frame while the application's puts contend for the same
 * lock; io__decode gives back what it did not use before it returns, so no
 * message is held between reads. */
static bool io__attach(tofui_chan *ch, size_t want) {
    tofu_engine *e = ch->eng;
    if (e->rstock_next == e->rstock_n) {
        e->rstock_next = 0;
        e->rstock_n = tofui_pool_get_many(&e->pool, e->rstock, want);
    }
    if (e->rstock_next == e->rstock_n)
        return false;
    ch->rmsg = e->rstock[e->rstock_next++];
    return true;
}

/* What a read took from the pool and did not use goes back in one step. */
static void io__return_stock(tofu_engine *e) {
    tofui_pool_put_many(&e->pool, e->rstock + e->rstock_next, e->rstock_n - e->rstock_next);
    e->rstock_next = e->rstock_n = 0;
}

/* An unseen channel's first frame is in: the handshake timer stops, and
 * from now on the application knows of the channel. */
static void io__first_frame_seen(tofui_chan *ch) {
    if (tofui_chan_unseen(ch))
        tofui_timer_stop(&ch->timer);
}

static void io__pool_empty_signal(tofui_chan *ch) {
    tofu_msg *m = tofui_msg_engine(TOFU_OP_SIGNAL, TOFU_POOL_EMPTY, ch->num, 0);
    if (m == NULL)
        return;
    io__first_frame_seen(ch);
    ch->announced = true; /* the Signal names the channel */
    tofui_group_deliver(ch->group, m);
}

/* Arms the episode's pool_empty Signal with its own grace deadline: each
 * stalled channel waits for its own, so stalls that keep coming never
 * postpone the Signal of an earlier one. */
static void io__arm_pool_empty_signal(tofui_chan *ch) {
    ch->signal_due = true;
    ch->signal_at = tofui_clock_ns() + TOFUI_POOL_EMPTY_GRACE_NS;
    ch->eng->signals_due = true;
}

/* The pool is empty: keeps the unconsumed bytes data[0..n) in the channel's
 * stash (at most one read), stops reading until a put refills the pool, and
 * arms one pool_empty Signal per episode (from the stall until a put lets the
 * channel go on), sent by tofui_io_signal_stalls. Returns false: the caller
 * stops decoding. */
static bool io__stall(tofui_chan *ch, const unsigned char *data, size_t n) {
    if (n > 0 && ch->stash == NULL && (ch->stash = malloc(TOFUI_READ_CHUNK)) == NULL) {
        tofui_chan_close(ch, TOFU_ALLOCATION_FAILED, TOFUI_CLOSE_ABORT);
        return false;
    }
    if (n > 0)
        memmove(ch->stash, data, n);
    ch->stash_len = n;
    if (!ch->stalled) {
        ch->stalled = true;
        tofui_list_push_back(&ch->eng->stalled, &ch->stall_link);
        tofui_chan_touch(ch);
    }
    if (!ch->pool_signalled && !ch->signal_due)
        io__arm_pool_empty_signal(ch);
    return false;
}

/* The Signal waits for a short grace period and for the thread to be about
 * to sleep: a stall that the application's own puts end at once (it is
 * returning its messages one by one) is no episode worth telling. */
int tofui_io_signal_stalls(tofu_engine *e) {
    if (!e->signals_due)
        return -1;
    uint64_t now = tofui_clock_ns(), next = UINT64_MAX;
    for (tofui_link *l = e->stalled.next; l != &e->stalled; l = l->next) {
        tofui_chan *ch = TOFUI_CONTAINER(l, tofui_chan, stall_link);
        if (!ch->signal_due)
            continue;
        if (now < ch->signal_at) {
            next = ch->signal_at < next ? ch->signal_at : next;
            continue;
        }
        ch->signal_due = false;
        ch->pool_signalled = true;
        io__pool_empty_signal(ch);
    }
    e->signals_due = next != UINT64_MAX;
    return e->signals_due ? (int)((next - now + 999999u) / 1000000u) : -1;
}

/* A received frame carries the local number; an accepted channel remembers
 * the id of its first message for its close Signal. */
static void io__received(tofui_chan *ch, tofu_msg *m) {
    m->bhdr.channel = ch->num;
    if (m->bhdr.opcode == TOFU_OP_BYE_REQUEST)
        ch->peer_bye_req = true;
    else if (m->bhdr.opcode == TOFU_OP_HELLO_RESPONSE)
        ch->hello_unanswered = false;
    if (ch->accepted && !ch->id_learned) {
        io__first_frame_seen(ch);
        ch->remembered_id = m->bhdr.message_id;
        ch->id_learned = true;
    }
}

/* The peer answered our ByeRequest. If it also sent one that our application
 * has not answered on the wire yet (simultaneous Bye), the channel stops
 * reading and closes once our ByeResponse is written; otherwise at once. */
static void io__bye_response_received(tofui_chan *ch) {
    if (ch->peer_bye_req && ch->state == TOFUI_CH_OPEN) {
        ch->read_done = true;
        tofui_chan_touch(ch);
        return;
    }
    tofui_chan_close(ch, TOFU_CHANNEL_CLOSED, TOFUI_CLOSE_GRACEFUL);
}

/* How decoding a span of bytes goes on or ends. */
typedef enum io__next {
    IO__GO_ON = 0, /* more bytes to decode */
    IO__CONSUMED,  /* every byte is decoded or kept: read on */
    IO__STALL,     /* a complete frame waits for a pool message */
    IO__FAILED,    /* the stream is dead: close with the span's error */
    IO__BYE        /* a ByeResponse came: nothing after it is read */
} io__next;

/* The bytes being decoded and the frames decoded from them, delivered
 * together before anything that follows them. */
typedef struct io__span {
    const unsigned char *data;
    size_t n;
    tofui_mq got;
    tofu_status error; /* with IO__FAILED */
} io__span;

/* An empty span may have no buffer at all (a stall at a frame boundary):
 * pointer arithmetic on NULL is undefined even by zero. */
static void io__advance(io__span *s, size_t used) {
    if (used == 0)
        return;
    s->data += used;
    s->n -= used;
}

/* The decoder completed a frame in ch->rmsg. */
static io__next io__frame(tofui_chan *ch, io__span *s) {
    tofu_msg *m = ch->rmsg;
    ch->rmsg = NULL;
    io__received(ch, m);
    tofui_mq_push(&s->got, m);
    return m->bhdr.opcode == TOFU_OP_BYE_RESPONSE ? IO__BYE : IO__GO_ON;
}

static io__next io__fail(io__span *s, tofu_status why) {
    s->error = why;
    return IO__FAILED;
}

/* Bytes of the frame in progress after its binary header. */
static size_t io__frame_rest(const tofui_chan *ch) {
    return (size_t)ch->dec.bhdr.thl + ch->dec.bhdr.bl;
}

/* Appends what the span holds of the partial frame; true once complete. */
static bool io__part_fill(tofui_chan *ch, io__span *s) {
    size_t take = ch->part_len - ch->part_got;
    take = take < s->n ? take : s->n;
    if (take > 0) { /* data may be NULL when n is 0 */
        memcpy(ch->part + ch->part_got, s->data, take);
        ch->part_got += take;
        io__advance(s, take);
    }
    return ch->part_got == ch->part_len;
}

/* The decoder has a header but the span ends inside the frame: the rest of
 * the frame collects outside the pool until it is complete. */
static io__next io__part_start(tofui_chan *ch, io__span *s) {
    ch->part_len = io__frame_rest(ch);
    if ((ch->part = malloc(ch->part_len)) == NULL)
        return io__fail(s, TOFU_ALLOCATION_FAILED);
    ch->part_got = 0;
    io__part_fill(ch, s);
    return IO__CONSUMED;
}

static void io__part_free(tofui_chan *ch) {
    free(ch->part);
    ch->part = NULL;
    ch->part_len = 0;
    ch->part_got = 0;
}

/* Goes on with a partial frame: once complete (and a pool message is at
 * hand) the decoder gets it whole. */
static io__next io__part_decode(tofui_chan *ch, io__span *s) {
    if (!io__part_fill(ch, s))
        return IO__CONSUMED;
    if (ch->rmsg == NULL && !io__attach(ch, 1))
        return IO__STALL;
    size_t used = 0;
    tofui_dec_rc rc = tofui_dec_feed(&ch->dec, ch->rmsg, ch->part, ch->part_len, &used);
    io__part_free(ch);
    if (rc != TOFUI_DEC_FRAME) /* only allocation fails on a validated header */
        return io__fail(s, ch->dec.error);
    return io__frame(ch, s);
}

/* Frames the span may still hold, counting the current one, if all were
 * as long as it: a guess that is exact for a stream of equal frames. */
static size_t io__frames_ahead(const tofui_chan *ch, size_t avail) {
    size_t rest = io__frame_rest(ch);
    size_t n = 1 + (avail - rest) / (TOFUI_BHDR_SIZE + rest);
    return n < TOFUI_RECV_BATCH ? n : TOFUI_RECV_BATCH;
}

/* A header is complete: a pool message is taken only when the span holds
 * the whole frame. */
static io__next io__need_msg(tofui_chan *ch, io__span *s) {
    if (s->n < io__frame_rest(ch))
        return io__part_start(ch, s);
    return io__attach(ch, io__frames_ahead(ch, s->n)) ? IO__GO_ON : IO__STALL;
}

static io__next io__decode_step(tofui_chan *ch, io__span *s) {
    size_t used = 0;
    tofui_dec_rc rc = tofui_dec_feed(&ch->dec, ch->rmsg, s->data, s->n, &used);
    io__advance(s, used);
    if (rc == TOFUI_DEC_MORE)
        return IO__CONSUMED;
    if (rc == TOFUI_DEC_NEED_MSG)
        return io__need_msg(ch, s);
    if (rc == TOFUI_DEC_ERROR)
        return io__fail(s, ch->dec.error);
    return io__frame(ch, s);
}

/* Decodes data[0..n). Returns true when everything was consumed and the
 * channel still reads; false when it closed or stalled. */
static bool io__decode(tofui_chan *ch, const unsigned char *data, size_t n) {
    io__span s = {data, n, {NULL, NULL}, TOFU_SUCCESS};
    io__next next = ch->part != NULL ? io__part_decode(ch, &s) : IO__GO_ON;
    while (next == IO__GO_ON)
        next = io__decode_step(ch, &s);
    io__return_stock(ch->eng);
    tofui_group_deliver_list(ch->group, &s.got);
    if (next == IO__STALL)
        return io__stall(ch, s.data, s.n);
    if (next == IO__FAILED) { /* a hostile or broken peer loses its channel */
        tofui_chan_close(ch, s.error, TOFUI_CLOSE_ABORT);
        return false;
    }
    if (next == IO__BYE) {
        io__bye_response_received(ch);
        return false;
    }
    return true;
}

/* The connection ended or failed. A responder that already sent its
 * ByeResponse was only waiting for exactly that: the Bye completed. */
static void io__ended(tofui_chan *ch, tofu_status reason) {
    if (ch->state == TOFUI_CH_LINGER)
        tofui_chan_close(ch, TOFU_CHANNEL_CLOSED, TOFUI_CLOSE_GRACEFUL);
    else if (reason == TOFU_PEER_DISCONNECTED)
        tofui_chan_close(ch, reason, TOFUI_CLOSE_GRACEFUL);
    else
        tofui_chan_close(ch, reason, TOFUI_CLOSE_ABORT);
}

/* A stalled channel whose socket reports an error or hang-up (a Unix
 * socket does so for a plain close of the peer). Closing now would lose
 * what the peer sent before it left, and the poller reports the condition
 * whatever the interest, so the socket leaves the poller until the channel
 * resumes; then reading finds the data, then the end of stream or error. */
static void io__park(tofui_chan *ch) {
    tofui_poller_remove(ch->eng->poller, ch->sock);
    ch->registered = false;
    ch->parked = true;
}

static void io__unpark(tofui_chan *ch) {
    ch->parked = false;
    if (tofui_chan_register(ch) != TOFU_SUCCESS)
        tofui_chan_close(ch, TOFU_COMMUNICATION_FAILED, TOFUI_CLOSE_ABORT);
}

void tofui_io_read(tofui_chan *ch, bool err_event) {
    unsigned char *buf = ch->eng->rbuf;
    if (ch->stalled) {
        if (err_event)
            io__park(ch);
        return;
    }
    if (ch->read_done) { /* nothing more is read: a dead connection just ends */
        if (err_event)
            io__ended(ch, TOFU_COMMUNICATION_FAILED);
        return;
    }
    for (int round = 0; round < IO__READ_ROUNDS; round++) {
        size_t got = 0;
        tofu_status st = tofui_sock_read(ch->sock, buf, TOFUI_READ_CHUNK, &got);
        if (st == TOFU_PEER_DISCONNECTED) {
            io__ended(ch, st);
            return;
        }
        if (st != TOFU_SUCCESS) {
            io__ended(ch, err_event ? TOFU_COMMUNICATION_FAILED : TOFU_RECV_FAILED);
            return;
        }
        if (got == 0) {
            /* Nothing to read yet an error flag: close rather than spin on a
             * level-triggered error. After a failed write with the read
             * side quiet, that write is all there is to tell. */
            if (err_event)
                io__ended(ch, ch->send_dead ? TOFU_SEND_FAILED : TOFU_COMMUNICATION_FAILED);
            return;
        }
        if (!io__decode(ch, buf, got) || got < TOFUI_READ_CHUNK)
            return;
    }
}

/* One stalled channel got its message: the episode is over (the next stall
 * is a new one, with its own Signal); decode what it kept. */
static void io__resume(tofui_chan *ch) {
    tofui_list_remove(&ch->stall_link);
    ch->stalled = false;
    ch->pool_signalled = false;
    ch->signal_due = false;
    size_t len = ch->stash_len;
    ch->stash_len = 0;
    if (!io__decode(ch, ch->stash, len))
        return; /* stalled again or closed */
    free(ch->stash);
    ch->stash = NULL;
    if (ch->parked)
        io__unpark(ch);
    tofui_chan_touch(ch); /* read again */
}

void tofui_io_resume_stalled(tofu_engine *e) {
    while (!tofui_list_empty(&e->stalled)) {
        tofui_chan *ch = TOFUI_CONTAINER(e->stalled.next, tofui_chan, stall_link);
        /* A failed get re-arms the pool's refill alert: no lost wake-up. */
        if (!io__attach(ch, 1))
            return;
        io__resume(ch);
    }
}

void tofui_io_release_recv(tofui_chan *ch) {
    tofui_pool_put(&ch->eng->pool, &ch->rmsg);
    io__part_free(ch);
    free(ch->stash);
    ch->stash = NULL;
    ch->stash_len = 0;
    tofui_list_remove(&ch->stall_link);
    ch->stalled = false;
}
