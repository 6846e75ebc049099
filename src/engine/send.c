/*
 * The send side of a connected channel (I/O thread only): the send queue
 * with its Bye rules and bound, and the writes.
 *
 * Each write gathers the queued frames into one writev, built by the wire
 * codec's batch (msg/wire.h): small parts are copied into the engine's send
 * buffer, so a run of small frames becomes a single iovec (the kernel copies
 * one block instead of three pieces per frame, and one call carries up to
 * TOFUI_BATCH_STAGE bytes of them rather than TOFUI_BATCH_IOV / 3 frames);
 * bigger parts are sent from the message in place. Nothing points into a
 * message or the buffer between writes: a partial write is remembered as
 * (head message, bytes already sent) and the batch is rebuilt from that
 * before the next write.
 */
#include "engine/channel.h"

/* Writes per channel and event: bounded so one busy channel cannot starve
 * the others; the level-triggered poller brings it back. */
#define SEND__ROUNDS 16
/* Sent messages returned to the pool per lock acquisition. */
#define SEND__DONE_BATCH 256

void tofui_send_push(tofui_chan *ch, tofu_msg *m) {
    tofui_mq_push(&ch->send.q, m);
    ch->send.queued++;
    if (m->bhdr.opcode == TOFU_OP_REQUEST) /* it waits for its answer from now */
        tofui_track_queued(ch, m);
}

static tofu_msg *send__pop(tofui_chan *ch) {
    tofu_msg *m = tofui_mq_pop(&ch->send.q);
    if (m != NULL)
        ch->send.queued--;
    return m;
}

/* tofu_options.max_send_queue: a full queue refuses data, never a Bye, so
 * that a channel whose peer stopped reading can always still be closed. The
 * bound is on by default: without it an application that answers what it
 * receives queues its whole pool, and every message the pool_empty Signals
 * add, for a peer that sends and never reads. */
static bool send__queue_full(const tofui_chan *ch, uint8_t op) {
    uint32_t max = ch->set->max_send_queue;
    return max != TOFU_SEND_QUEUE_UNLIMITED && ch->send.queued >= max &&
           !tofui_op_in(TOFUI_OPS_BYE, op);
}

/* As the original: nothing goes out after a Bye-type frame, with one
 * exception, the ByeResponse that answers a peer's ByeRequest crossing our
 * own (simultaneous Bye: without it two libtofu peers would wait for each
 * other; the original, which never sends it, reads it and closes). What is
 * held back comes back with the close reason when the channel closes. */
static bool send__bye_blocks(const tofui_chan *ch, uint8_t op) {
    return ch->send.bye_last_queued || (ch->send.bye_req_queued && op != TOFU_OP_BYE_RESPONSE);
}

/* A post found the queue full. Posts are dispatched in batches and written
 * before the next wait, so a burst posted faster than that fills the queue
 * although the socket would take it: the queue is written first, and only
 * what the socket does not take counts. m waits at the tail meanwhile, so
 * that if the channel closes during the write (a failed write reads what
 * the peer sent, which may end the channel) m comes back with the other
 * unsent messages, before the close Signal. True when m was taken (queued,
 * or returned by the close); false: m is back with the caller, unwritten. */
static bool send__make_room(tofui_chan *ch, tofu_msg *m) {
    if (ch->state != TOFUI_CH_OPEN || ch->send.blocked || ch->send.dead)
        return false;
    tofu_msg *before = ch->send.q.tail; /* not NULL: the queue is full */
    tofui_send_push(ch, m);
    tofui_send_write(ch);
    if (ch->state == TOFUI_CH_CLOSED)
        return true;
    tofui_chan_touch(ch); /* the write may have stopped short */
    if (ch->send.queued <= ch->set->max_send_queue)
        return true;
    /* Still full, so `before` was not written either (else m would be the
     * head, alone): m leaves the tail unwritten. */
    before->next = NULL;
    ch->send.q.tail = before;
    ch->send.queued--;
    tofui_track_unqueued(ch, m);
    return false;
}

void tofui_send_post(tofui_chan *ch, tofu_msg *m) {
    uint8_t op = m->bhdr.opcode;
    if (send__bye_blocks(ch, op)) {
        tofui_mq_push(&ch->send.held, m);
        return;
    }
    if (send__queue_full(ch, op)) {
        if (!send__make_room(ch, m))
            tofui_chan_return(ch, m, TOFU_NOT_ALLOWED);
        return;
    }
    if (op == TOFU_OP_BYE_REQUEST)
        ch->send.bye_req_queued = true;
    else if (op == TOFU_OP_BYE_RESPONSE || op == TOFU_OP_BYE_SIGNAL)
        ch->send.bye_last_queued = true;
    tofui_send_push(ch, m);
    if (ch->state == TOFUI_CH_OPEN && !ch->send.blocked)
        tofui_chan_touch(ch); /* written just before the next wait */
}

/* The frames of the send queue after what was written already, as far as
 * one batch takes them (msg/wire.h). */
static void send__build(const tofui_chan *ch, tofui_batch *b) {
    tofui_batch_init(b, ch->set->wbuf);
    size_t skip = ch->send.sent_off;
    for (const tofu_msg *m = ch->send.q.head; m != NULL; m = m->next) {
        if (!tofui_batch_add(b, m, &skip))
            break;
    }
}

/* Messages whose frames are on the wire, returned to the pool together. */
typedef struct send__done {
    tofu_msg *v[SEND__DONE_BATCH];
    size_t n;
} send__done;

static void send__done_flush(tofui_chanset *set, send__done *d) {
    tofui_pool_put_many(set->pool, d->v, d->n);
    d->n = 0;
}

static void send__done_add(tofui_chanset *set, send__done *d, tofu_msg *m) {
    if (d->n == SEND__DONE_BATCH)
        send__done_flush(set, d);
    d->v[d->n++] = m;
}

/* A frame is on the wire: the message joins `done`, which goes back to the
 * pool in one piece when the write ends. After the channel's last frame (a
 * ByeResponse, or a ByeSignal without bit 6) it lingers until the peer
 * closes, unless the peer's own ByeResponse came already: then the Bye is
 * complete and nothing is left to read or to write. */
static void send__sent(tofui_chan *ch, tofu_msg *m, send__done *done) {
    uint8_t op = m->bhdr.opcode;
    if (m->track == NULL && m != ch->dial.hello && !tofui_op_in(TOFUI_OPS_BYE, op)) {
        send__done_add(ch->set, done, m); /* most frames: nothing to note */
        return;
    }
    if (m == ch->dial.hello)
        tofui_dial_hello_sent(ch);
    if (op == TOFU_OP_BYE_REQUEST)
        ch->send.bye_req_sent = true;
    if (m->track != NULL || op == TOFU_OP_BYE_REQUEST)
        tofui_track_sent(ch, m);
    send__done_add(ch->set, done, m);
    if (op != TOFU_OP_BYE_RESPONSE && op != TOFU_OP_BYE_SIGNAL)
        return;
    if (ch->recv.done)
        tofui_chan_close(ch, TOFU_CHANNEL_CLOSED, TOFUI_CLOSE_GRACEFUL);
    else
        tofui_chan_start_linger(ch);
}

/* Pops every frame the write completed; a partly written head is
 * remembered by its offset. */
static void send__consume(tofui_chan *ch, size_t written, send__done *done) {
    while (written > 0 && ch->send.q.head != NULL) {
        size_t left = tofui_frame_len(ch->send.q.head) - ch->send.sent_off;
        if (written < left) {
            ch->send.sent_off += written;
            return;
        }
        written -= left;
        ch->send.sent_off = 0;
        send__sent(ch, send__pop(ch), done);
        if (ch->state != TOFUI_CH_OPEN)
            return;
    }
}

/* A write failed: the peer is gone. What it sent before it left may still
 * wait unread, in the kernel or in the stash of a stalled channel, and
 * closing now would throw it away. So the channel only stops writing (its
 * unsent messages come back when it closes) and reading ends it as for any
 * peer that left: the end of stream or the reset after the data. A stalled
 * channel parks instead (the read does that: the hang-up it would report
 * cannot be acted on yet) and reads on when it resumes. */
static void send__failed(tofui_chan *ch, tofu_status st) {
    ch->send.dead = true;
    ch->send.reset = st == TOFU_COMMUNICATION_FAILED;
    ch->send.timed_out = st == TOFUI_SOCK_TIMED_OUT;
    tofui_recv_read(ch, true);
}

/* One write of what the queue holds; false when writing stops for now
 * (channel closed, queue empty, socket full). */
static bool send__round(tofui_chan *ch, tofui_batch *b, send__done *done) {
    if (ch->state != TOFUI_CH_OPEN || ch->send.q.head == NULL || ch->send.dead)
        return false;
    send__build(ch, b);
    size_t written = 0;
    tofu_status st = tofui_sock_writev(ch->sock, b->iov, b->n_iov, &written);
    if (st != TOFU_SUCCESS) {
        tofui_chan_os_error(ch, tofui_sock_last_error());
        send__failed(ch, st);
        return false;
    }
    send__consume(ch, written, done);
    if (written < b->total) {
        ch->send.blocked = true; /* the socket is full: wait for writable */
        return false;
    }
    return true;
}

void tofui_send_write(tofui_chan *ch) {
    tofui_batch b;
    send__done done;
    done.n = 0;
    int round = 0;
    while (round < SEND__ROUNDS && send__round(ch, &b, &done))
        round++;
    /* Out of rounds with more to send: writable comes back at once. */
    if (round == SEND__ROUNDS && ch->state == TOFUI_CH_OPEN && ch->send.q.head != NULL)
        ch->send.blocked = true;
    send__done_flush(ch->set, &done);
}

/* The socket took everything it had after a write stopped short. */
void tofui_send_on_writable(tofui_chan *ch) {
    ch->send.blocked = false;
    tofui_send_write(ch);
    tofui_chan_touch(ch);
}

void tofui_send_take_all(tofui_chan *ch, tofui_mq *out) {
    tofu_msg *m;
    while ((m = send__pop(ch)) != NULL)
        tofui_mq_push(out, m);
    tofui_mq_append(out, &ch->send.held);
}
