/*
 * Channel records and their state machine (I/O thread only); this file is
 * the only one that changes a channel's state or socket (channel.h shows the
 * diagram).
 *
 * Records live at stable heap addresses (the poller hands them back as event
 * data) and are freed only before the next wait, after every event of the
 * batch that may still name them was handled.
 *
 * Interest is not recomputed for every channel on every pass: a channel
 * whose wishes may have changed puts itself on the ready list (touch), and
 * the list is worked off just before the wait, applying only real changes.
 */
#include <stdlib.h>

#include "engine/channel.h"
#include "msg/headers.h"

/* ------------------------------------------------------------------------ */
/* records                                                                  */
/* ------------------------------------------------------------------------ */

/* tofu_options.max_partial_bytes: 0 is the default; never less than one
 * largest frame, which must always be able to come in. */
static size_t chan__partial_budget(uint32_t opt) {
    size_t max = opt == 0 ? TOFU_DEFAULT_MAX_PARTIAL_BYTES : opt;
    return max < 2u * TOFU_MAX_PART_LEN ? 2u * TOFU_MAX_PART_LEN : max;
}

/* An option with a default: 0 (and TOFU_TIMEOUT_NONE, which means nothing
 * for a length that is not a timeout) take it. */
static uint32_t chan__or_default(uint32_t v, uint32_t def) {
    return v == 0 || v == TOFU_TIMEOUT_NONE ? def : v;
}

/* The ~limit of a connection the system gave up on names the option that
 * bounded the wait: on Linux the user timeout decides for keepalive too. */
#define CHAN__LIMIT_USER_TIMEOUT "user_timeout_ms"
#define CHAN__LIMIT_KEEPALIVE "keepalive_count"

/* Keepalive and user timeout of TCP connections from the options. The
 * user timeout's default is the keepalive's whole span (idle + interval x
 * count), so that a peer that stops acknowledging is given up on when a
 * silent one would be. */
static void chan__liveness(tofui_chanset *set, const tofu_options *opt) {
    bool keepalive = opt->keepalive_idle_ms != TOFU_TIMEOUT_NONE;
    uint32_t idle = chan__or_default(opt->keepalive_idle_ms, TOFU_DEFAULT_KEEPALIVE_IDLE_MS);
    uint32_t interval =
        chan__or_default(opt->keepalive_interval_ms, TOFU_DEFAULT_KEEPALIVE_INTERVAL_MS);
    uint32_t count = chan__or_default(opt->keepalive_count, TOFU_DEFAULT_KEEPALIVE_COUNT);
    uint64_t span = (uint64_t)idle + (uint64_t)interval * count;
    uint32_t user = opt->user_timeout_ms;
    if (user == 0)
        user = span > INT32_MAX ? INT32_MAX : (uint32_t)span;
    else if (user == TOFU_TIMEOUT_NONE)
        user = 0;
    set->live.keepalive_idle_ms = keepalive ? idle : 0;
    set->live.keepalive_interval_ms = interval;
    set->live.keepalive_count = count;
    set->live.user_timeout_ms = user;
    set->live_limit = user != 0 ? CHAN__LIMIT_USER_TIMEOUT
                                : keepalive ? CHAN__LIMIT_KEEPALIVE : NULL;
}

tofu_status tofui_chanset_init(tofui_chanset *set, tofui_pool *pool, tofui_poller *poller,
                               tofui_chantab *chantab, tofui_resolver *resolver,
                               tofui_submit *sub, const tofu_options *opt) {
    set->pool = pool;
    set->sub = sub;
    set->poller = poller;
    set->chantab = chantab;
    set->resolver = resolver;
    set->max_send_queue =
        opt->max_send_queue == 0 ? TOFU_DEFAULT_MAX_SEND_QUEUE : opt->max_send_queue;
    set->max_partial_bytes = chan__partial_budget(opt->max_partial_bytes);
    chan__liveness(set, opt);
    set->retry_ms = opt->connect_retry_ms == TOFU_TIMEOUT_NONE ? 0 : opt->connect_retry_ms;
    set->listen_backlog = opt->listen_backlog;
    /* Jitter only has to differ between engines and runs, not be secret. */
    set->jitter = tofui_clock_ns() ^ (uint64_t)(uintptr_t)set ^ 0x9e3779b97f4a7c15ull;
    tofui_timers_init(&set->timers, opt);
    if (tofui_reqs_init(&set->reqs, opt) != TOFU_SUCCESS)
        return TOFU_ALLOCATION_FAILED;
    tofui_list_init(&set->all);
    tofui_list_init(&set->partial);
    tofui_list_init(&set->stalled);
    tofui_list_init(&set->signals_due);
    set->by_num = calloc(TOFUI_CHAN_SLOTS, sizeof *set->by_num);
    set->rbuf = malloc(TOFUI_READ_CHUNK);
    set->wbuf = malloc(TOFUI_BATCH_STAGE);
    if (set->by_num == NULL || set->rbuf == NULL || set->wbuf == NULL)
        return TOFU_ALLOCATION_FAILED;
    return TOFU_SUCCESS;
}

void tofui_chanset_fini(tofui_chanset *set) {
    tofui_reqs_fini(&set->reqs);
    free(set->by_num);
    free(set->rbuf);
    free(set->wbuf);
    set->by_num = NULL;
    set->rbuf = NULL;
    set->wbuf = NULL;
}

tofui_chan *tofui_chan_create(tofui_chanset *set, tofu_group *g, uint16_t num,
                              tofui_chan_open opened, uint64_t id) {
    tofui_chan *ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return NULL;
    ch->set = set;
    ch->group = g;
    ch->num = num;
    ch->state = TOFUI_CH_RESOLVING;
    ch->opened = (uint8_t)opened;
    ch->remembered_id = id;
    ch->serial = ++set->next_serial;
    ch->sock = TOFUI_INVALID_SOCKET;
    tofui_recv_init(ch);
    tofui_list_init(&ch->track.waiting);
    tofui_list_push_back(&set->all, &ch->all);
    tofui_list_push_back(&g->chans, &ch->glink);
    set->by_num[num] = ch;
    return ch;
}

/* The open channel num of group g, or NULL. */
static tofui_chan *chan__find(tofui_chanset *set, uint16_t num, tofu_group *g) {
    if (num == 0 || num > TOFUI_CHAN_MAX)
        return NULL;
    tofui_chan *ch = set->by_num[num];
    /* Another group's channel means the number was recycled after the post:
     * the channel it was meant for is gone. */
    return ch != NULL && ch->group == g ? ch : NULL;
}

/* The application hears of an unseen accepted channel: the handshake timer
 * has done its job. */
static void chan__seen(tofui_chan *ch) {
    if (tofui_chan_unseen(ch))
        tofui_timer_stop(&ch->timer);
}

void tofui_chan_learn_id(tofui_chan *ch, uint64_t id) {
    chan__seen(ch);
    ch->remembered_id = id;
    ch->id_learned = true;
}

void tofui_chan_announce(tofui_chan *ch) {
    chan__seen(ch);
    ch->announced = true;
}

void tofui_chan_free_dead(tofui_chanset *set) {
    while (set->dead != NULL) {
        tofui_chan *ch = set->dead;
        set->dead = ch->dead_next;
        free(ch);
    }
}

/* ------------------------------------------------------------------------ */
/* messages handed back to the application                                  */
/* ------------------------------------------------------------------------ */

static void chan__mark_returned(tofu_msg *m, tofu_status st) {
    m->bhdr.origin = TOFU_ORIGIN_ENGINE;
    m->bhdr.status = tofu_status_to_byte(st);
}

void tofui_chan_return_to(tofu_group *g, tofu_msg *m, tofu_status st) {
    chan__mark_returned(m, st);
    tofui_group_deliver(g, m);
}

void tofui_chan_return(tofui_chan *ch, tofu_msg *m, tofu_status st) {
    m->bhdr.channel = ch->num;
    tofui_chan_return_to(ch->group, m, st);
}

/* The last message of every channel: the close Signal with its ~reason,
 * a status name, and after a protocol violation of the peer the rule it
 * broke in ~violation (violation NULL: none). The reason stays a bare
 * status name that applications can look up; the rule says which of the
 * violations that share a status it was. */
static tofu_msg *chan__close_signal(uint16_t num, uint64_t id, tofu_status reason,
                                    const char *violation) {
    tofu_msg *m = tofui_msg_engine(TOFU_OP_SIGNAL, TOFU_CHANNEL_CLOSED, num, id);
    if (m == NULL)
        return NULL;
    tofui_msg_set_header(m, TOFU_HDR_REASON, tofu_status_name(reason));
    if (violation != NULL)
        tofui_msg_set_header(m, TOFU_HDR_VIOLATION, violation);
    return m;
}

/* Unsent messages come back with the close reason, except a Request
 * answered already (its deadline passed while it was queued). */
static void chan__mark_unsent(tofui_chan *ch, tofui_mq *unsent, tofu_status reason,
                              tofui_mq *out) {
    tofu_msg *m;
    while ((m = tofui_mq_pop(unsent)) != NULL) {
        if (!tofui_track_hand_back(ch, m)) {
            tofui_pool_put(ch->set->pool, &m);
            continue;
        }
        m->bhdr.channel = ch->num;
        chan__mark_returned(m, reason);
        tofui_mq_push(out, m);
    }
}

/* A channel closed by a limit of the options says which, next to the
 * status in ~reason: a status alone could not tell a frame that timed out
 * from a read that failed. */
static void chan__add_limit(tofu_msg *closed, const char *limit) {
    if (limit != NULL)
        tofui_msg_set_header(closed, TOFU_HDR_LIMIT, limit);
}

/* ------------------------------------------------------------------------ */
/* the operating system's error (~error)                                   */
/* ------------------------------------------------------------------------ */

void tofui_chan_os_error(tofui_chan *ch, int err) {
    bool connected = ch->state == TOFUI_CH_OPEN || ch->state == TOFUI_CH_LINGER;
    if (!connected || ch->os_error == 0)
        ch->os_error = err;
}

/* The header replaces one the application may have put on its own Hello
 * or WelcomeRequest: an engine-made answer carries the engine's word. Out
 * of memory the message goes without it; the status says the essential. */
void tofui_chan_add_error(const tofui_chan *ch, tofu_msg *m) {
    char text[TOFUI_OS_ERROR_TEXT_MAX];
    if (ch->os_error == 0)
        return;
    tofui_os_error_text(ch->os_error, text, sizeof text);
    tofui_msg_set_header(m, TOFU_HDR_ERROR, text);
}

/* Every request of the application gets its answer (the pending
 * Hello/Welcome's Response, tofui_dial_answers; the engine's Responses for
 * the written Requests still waiting, tofui_track_answer_all), then the
 * unsent messages come back in posting order, then the close Signal. One
 * delivery for all. */
static void chan__return_all(tofui_chan *ch, tofu_status reason) {
    tofui_mq out = {NULL, NULL};
    tofui_mq unsent = {NULL, NULL};
    tofui_dial_answers(ch, &out, reason);
    for (tofu_msg *m = out.head; m != NULL; m = m->next) {
        m->bhdr.channel = ch->num;
        chan__mark_returned(m, reason);
    }
    tofui_track_answer_all(ch, &out, reason);
    tofui_send_take_all(ch, &unsent);
    /* Posts made before the number was given back but not handled yet
     * come back too, so the close Signal is the channel's last message. */
    tofui_submit_take_back(ch->set->sub, ch->group, ch->num, &unsent);
    chan__mark_unsent(ch, &unsent, reason, &out);
    /* An accepted channel the application never heard of ends as it began:
     * unseen (a port scan does not flood the server with Signals). */
    tofu_msg *closed = tofui_chan_unseen(ch) ? NULL
                                             : chan__close_signal(ch->num, ch->remembered_id,
                                                                  reason, ch->recv.violation);
    if (closed != NULL) {
        chan__add_limit(closed, ch->close_limit);
        tofui_chan_add_error(ch, closed);
        tofui_mq_push(&out, closed);
    }
    tofui_group_deliver_list(ch->group, &out);
}

static void chan__free_all(tofui_chan *ch) {
    tofui_mq out = {NULL, NULL};
    tofui_dial_drop(ch);
    tofui_track_forget_all(ch);
    tofui_send_take_all(ch, &out);
    tofu_msg *m;
    while ((m = tofui_mq_pop(&out)) != NULL)
        tofui_pool_put(ch->set->pool, &m);
}

/* ------------------------------------------------------------------------ */
/* close                                                                    */
/* ------------------------------------------------------------------------ */

void tofui_chan_unregister(tofui_chan *ch) {
    if (!ch->registered)
        return;
    tofui_poller_remove(ch->set->poller, ch->sock);
    ch->registered = false;
}

static void chan__drop_socket(tofui_chan *ch, tofui_close_mode mode) {
    if (ch->sock == TOFUI_INVALID_SOCKET)
        return;
    tofui_chan_unregister(ch);
    /* Only an abort resets: after any other close, what was written still
     * reaches a peer that reads it (a group or engine destroyed right after
     * its last posts loses nothing that was on the wire). */
    if (ch->state == TOFUI_CH_LISTENER)
        tofui_sock_close_listener(ch->sock, &ch->listen.bound);
    else if (mode == TOFUI_CLOSE_ABORT)
        tofui_sock_abort(ch->sock);
    else
        tofui_sock_close(ch->sock);
    ch->sock = TOFUI_INVALID_SOCKET;
}

/* The number leaves the table before the close Signal is delivered, so an
 * application reacting to the Signal can never reach the old channel. */
static void chan__forget(tofui_chan *ch) {
    tofui_chanset *set = ch->set;
    if (set->by_num[ch->num] == ch)
        set->by_num[ch->num] = NULL;
    tofui_chantab_release(set->chantab, ch->num);
    tofui_list_remove(&ch->all);
    tofui_list_remove(&ch->glink);
    tofui_timer_stop(&ch->timer);
}

void tofui_chan_close_group(tofu_group *g) {
    while (!tofui_list_empty(&g->chans)) {
        tofui_chan *ch = TOFUI_CONTAINER(g->chans.next, tofui_chan, glink);
        tofui_chan_close(ch, TOFU_SHUTDOWN_STARTED, TOFUI_CLOSE_SILENT);
    }
}

/* At engine destroy the channels go silently; after a fatal error their
 * groups still live and get everything back (no silent loss). */
void tofui_chan_close_all(tofui_chanset *set, bool failed) {
    tofui_close_mode mode = failed ? TOFUI_CLOSE_ABORT : TOFUI_CLOSE_SILENT;
    tofu_status why = failed ? TOFU_NOTIFICATION_FAILED : TOFU_SHUTDOWN_STARTED;
    while (!tofui_list_empty(&set->all)) {
        tofui_chan *ch = TOFUI_CONTAINER(set->all.next, tofui_chan, all);
        tofui_chan_close(ch, why, mode);
    }
    /* A closed channel may still sit on the ready list: empty it first. */
    tofui_chan_flush_ready(set);
    tofui_chan_free_dead(set);
}

void tofui_chan_close(tofui_chan *ch, tofu_status reason, tofui_close_mode mode) {
    if (ch->state == TOFUI_CH_CLOSED)
        return;
    tofui_chanset *set = ch->set;
    /* A close that completed (the Bye done, the application's abort, the
     * linger over) names no error, whatever a last read met. */
    if (reason == TOFU_CHANNEL_CLOSED)
        ch->os_error = 0;
    chan__drop_socket(ch, mode);
    chan__forget(ch);
    ch->state = TOFUI_CH_CLOSED;
    tofui_recv_release(ch);
    tofui_stall_release(ch);
    if (mode == TOFUI_CLOSE_SILENT)
        chan__free_all(ch);
    else
        chan__return_all(ch, reason);
    tofui_dial_release(ch);
    ch->dead_next = set->dead;
    set->dead = ch;
}

void tofui_chan_close_limit(tofui_chan *ch, tofu_status reason, const char *limit) {
    if (ch->state == TOFUI_CH_CLOSED)
        return;
    ch->close_limit = limit;
    tofui_chan_close(ch, reason, TOFUI_CLOSE_ABORT);
}

void tofui_chan_dead_peer(tofui_chan *ch) {
    tofui_chan_close_limit(ch, TOFU_COMMUNICATION_FAILED, ch->set->live_limit);
}

/* ------------------------------------------------------------------------ */
/* posts                                                                    */
/* ------------------------------------------------------------------------ */

/* A ByeSignal with bit 6 (internal_a): abort now, never transmitted. On a
 * listener every ByeSignal stops listening (it has nothing to transmit). */
static bool chan__is_abort(const tofui_chan *ch, const tofu_msg *m) {
    return m->bhdr.opcode == TOFU_OP_BYE_SIGNAL &&
           (m->bhdr.internal_a || ch->opened == TOFUI_OPEN_WELCOME);
}

static void chan__abort(tofui_chan *ch, tofu_msg *m) {
    tofui_chan_return(ch, m, TOFU_CHANNEL_CLOSED);
    tofui_chan_close(ch, TOFU_CHANNEL_CLOSED, TOFUI_CLOSE_ABORT);
}

/* A Hello/WelcomeRequest the I/O thread never saw is answered as a failed
 * connect or listen is: the Response, its number given back, the close
 * Signal. */
static void chan__fail_open(tofui_chanset *set, tofu_group *g, tofu_msg *m, tofu_status st) {
    bool hello = m->bhdr.opcode == TOFU_OP_HELLO_REQUEST;
    uint16_t num = m->bhdr.channel;
    uint64_t id = m->bhdr.message_id;
    m->bhdr.opcode = hello ? TOFU_OP_HELLO_RESPONSE : TOFU_OP_WELCOME_RESPONSE;
    tofui_chantab_release(set->chantab, num);
    tofui_chan_return_to(g, m, st);
    tofu_msg *closed = chan__close_signal(num, id, st, NULL);
    if (closed != NULL)
        tofui_group_deliver(g, closed);
}

void tofui_chan_post_unhandled(tofui_chanset *set, tofu_msg *m, tofu_status st) {
    tofu_group *g = m->ctx;
    if (tofui_op_opens_channel(m->bhdr.opcode))
        chan__fail_open(set, g, m, st);
    else
        tofui_chan_return_to(g, m, st);
}

void tofui_chan_on_post(tofui_chanset *set, tofu_msg *m) {
    tofu_group *g = m->ctx;
    switch (m->bhdr.opcode) {
    case TOFU_OP_HELLO_REQUEST:
        tofui_dial_hello(set, m);
        return;
    case TOFU_OP_WELCOME_REQUEST:
        tofui_dial_welcome(set, m);
        return;
    case TOFU_OP_WELCOME_RESPONSE: /* only the engine answers a Welcome */
        tofui_chan_return_to(g, m, TOFU_NOT_ALLOWED);
        return;
    default:
        break;
    }
    tofui_chan *ch = chan__find(set, m->bhdr.channel, g);
    if (ch == NULL)
        tofui_chan_return_to(g, m, TOFU_CHANNEL_CLOSED); /* closed after the post */
    else if (chan__is_abort(ch, m))
        chan__abort(ch, m);
    else if (ch->opened == TOFUI_OPEN_WELCOME)
        tofui_chan_return(ch, m, TOFU_NOT_ALLOWED);
    else
        tofui_send_post(ch, m);
}

/* ------------------------------------------------------------------------ */
/* interest                                                                 */
/* ------------------------------------------------------------------------ */

static unsigned chan__wanted(const tofui_chan *ch) {
    unsigned in = ch->stall.on || ch->recv.done ? 0 : TOFUI_POLL_IN;
    switch (ch->state) {
    case TOFUI_CH_CONNECTING:
        return TOFUI_POLL_OUT;
    case TOFUI_CH_LISTENER:
        return ch->listen.paused ? 0 : TOFUI_POLL_IN;
    case TOFUI_CH_OPEN:
        /* Writes are tried directly; OUT only after one stopped short. */
        return in | (ch->send.q.head != NULL && ch->send.blocked ? TOFUI_POLL_OUT : 0);
    case TOFUI_CH_LINGER:
        return in; /* to see the peer close */
    default:
        return 0;
    }
}

tofu_status tofui_chan_register(tofui_chan *ch) {
    unsigned want = chan__wanted(ch);
    tofu_status st = tofui_poller_add(ch->set->poller, ch->sock, ch, want);
    if (st == TOFU_SUCCESS) {
        ch->registered = true;
        ch->interest = want;
    }
    return st;
}

/* On failure s goes as the state requires (a listener's socket file is
 * removed) and the channel is left without a socket. */
tofu_status tofui_chan_attach(tofui_chan *ch, tofui_socket s, tofui_chan_state st) {
    ch->sock = s;
    ch->state = (uint8_t)st;
    tofu_status r = tofui_chan_register(ch);
    if (r != TOFU_SUCCESS)
        chan__drop_socket(ch, TOFUI_CLOSE_ABORT);
    else if (st == TOFUI_CH_OPEN)
        tofui_recv_start(ch);
    return r;
}

void tofui_chan_detach(tofui_chan *ch) {
    chan__drop_socket(ch, TOFUI_CLOSE_ABORT);
}

void tofui_chan_connected(tofui_chan *ch) {
    ch->state = TOFUI_CH_OPEN;
    ch->os_error = 0; /* an earlier address's failure is history */
    tofui_recv_start(ch);
    tofui_chan_touch(ch); /* the HelloRequest goes out before the next wait */
}

static void chan__apply_interest(tofui_chan *ch) {
    if (!ch->registered)
        return;
    unsigned want = chan__wanted(ch);
    if (want == ch->interest)
        return;
    if (tofui_poller_modify(ch->set->poller, ch->sock, ch, want) != TOFU_SUCCESS) {
        tofui_chan_close(ch, TOFU_COMMUNICATION_FAILED, TOFUI_CLOSE_ABORT);
        return;
    }
    ch->interest = want;
}

void tofui_chan_touch(tofui_chan *ch) {
    tofui_chanset *set = ch->set;
    if (ch->in_ready || ch->state == TOFUI_CH_CLOSED)
        return;
    ch->in_ready = true;
    ch->ready_next = NULL;
    if (set->ready_tail != NULL)
        set->ready_tail->ready_next = ch;
    else
        set->ready_head = ch;
    set->ready_tail = ch;
}

static tofui_chan *chan__pop_ready(tofui_chanset *set) {
    tofui_chan *ch = set->ready_head;
    if (ch != NULL) {
        set->ready_head = ch->ready_next;
        if (set->ready_head == NULL)
            set->ready_tail = NULL;
        ch->in_ready = false;
    }
    return ch;
}

void tofui_chan_flush_ready(tofui_chanset *set) {
    tofui_chan *ch;
    while ((ch = chan__pop_ready(set)) != NULL) {
        if (ch->state == TOFUI_CH_OPEN && ch->send.q.head != NULL && !ch->send.blocked)
            tofui_send_write(ch);
        if (ch->state != TOFUI_CH_CLOSED)
            chan__apply_interest(ch);
    }
}

/* ------------------------------------------------------------------------ */
/* the wait and the events                                                  */
/* ------------------------------------------------------------------------ */

static int chan__min_timeout(int a, int b) {
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int tofui_chan_wait_timeout(tofui_chanset *set) {
    int timeout = chan__min_timeout(tofui_timers_timeout(&set->timers),
                                    tofui_reqs_timeout(&set->reqs));
    if (tofui_list_empty(&set->stalled))
        return timeout;
    if (tofui_pool_refill_noted(set->pool))
        return 0;
    return chan__min_timeout(timeout, tofui_stall_signal_due(set));
}

static void chan__on_io_event(tofui_chan *ch, unsigned events) {
    bool err = (events & (TOFUI_POLL_ERR | TOFUI_POLL_HUP)) != 0;
    /* Read first: data that arrived before an error or a FIN is delivered,
     * and the read tells EOF from reset. */
    if (err || (events & TOFUI_POLL_IN))
        tofui_recv_read(ch, err);
    if (ch->state == TOFUI_CH_OPEN && (events & TOFUI_POLL_OUT))
        tofui_send_on_writable(ch);
}

void tofui_chan_on_event(tofui_chan *ch, unsigned events) {
    switch (ch->state) {
    case TOFUI_CH_LISTENER:
        if (events & (TOFUI_POLL_ERR | TOFUI_POLL_HUP))
            tofui_chan_close(ch, TOFU_ACCEPT_FAILED, TOFUI_CLOSE_ABORT);
        else if (events & TOFUI_POLL_IN)
            tofui_dial_accept(ch);
        return;
    case TOFUI_CH_CONNECTING:
        tofui_dial_on_connect_event(ch);
        return;
    case TOFUI_CH_OPEN:
    case TOFUI_CH_LINGER:
        chan__on_io_event(ch, events);
        return;
    default: /* closed earlier in this batch */
        return;
    }
}

/* ------------------------------------------------------------------------ */
/* linger after the last Bye frame, and the other deadlines                 */
/* ------------------------------------------------------------------------ */

/* No shutdown(): the original treats a FIN (stdposix) or a hang-up (posixnet
 * over a Unix socket) as an error and never reads what came with it, so the
 * connection stays whole until the peer, having read everything, closes. */
void tofui_chan_start_linger(tofui_chan *ch) {
    ch->state = TOFUI_CH_LINGER;
    tofui_timer_start(&ch->set->timers, &ch->timer, TOFUI_TIMER_LINGER);
    tofui_chan_touch(ch);
}

/* What a deadline means for the channel that waited for it. */
static void chan__on_timer(tofui_chan *ch, tofui_timer_kind kind) {
    switch (kind) {
    case TOFUI_TIMER_LINGER: /* the peer never closed: close anyway */
        tofui_chan_close(ch, TOFU_CHANNEL_CLOSED, TOFUI_CLOSE_GRACEFUL);
        return;
    case TOFUI_TIMER_ACCEPT_PAUSE:
        tofui_dial_resume_accepts(ch);
        return;
    case TOFUI_TIMER_CONNECT:
        tofui_dial_attempt_timed_out(ch);
        return;
    case TOFUI_TIMER_HANDSHAKE: /* unseen by the application: closes silently */
        tofui_chan_close(ch, TOFU_COMMUNICATION_FAILED, TOFUI_CLOSE_ABORT);
        return;
    default:
        return;
    }
}

void tofui_chan_expire_timers(tofui_chanset *set) {
    uint64_t now = 0;
    tofui_timer_kind kind;
    tofui_timer *tm;
    while ((tm = tofui_timers_pop_expired(&set->timers, &now, &kind)) != NULL) {
        if (kind == TOFUI_TIMER_FRAME) /* the receive side's own timer */
            tofui_recv_frame_timed_out(TOFUI_CONTAINER(tm, tofui_chan, recv.frame_timer));
        else if (kind == TOFUI_TIMER_IDLE) /* the same timer, between frames */
            tofui_recv_idle_timed_out(TOFUI_CONTAINER(tm, tofui_chan, recv.frame_timer));
        else
            chan__on_timer(TOFUI_CONTAINER(tm, tofui_chan, timer), kind);
    }
    tofui_wheel_timer *w;
    while ((w = tofui_waits_pop_expired(&set->timers)) != NULL)
        tofui_dial_wait_over(w);
    tofui_track_expire(set);
}
