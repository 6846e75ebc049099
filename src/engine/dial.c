/*
 * Opening channels (I/O thread only): HelloRequest (connect), WelcomeRequest
 * (listen) and accept.
 *
 * The address comes from the first header of the matching name only
 * (~connect_to for Hello, ~listen_on for Welcome). Literals and UDS paths
 * are resolved right here; host names go to the resolver thread and the
 * channel waits in RESOLVING. Every resolved address is tried in order.
 * Any failure closes the channel with the specific status: the close path
 * answers the pending Hello/Welcome with it (tofui_dial_answers), then sends
 * the close Signal. The channel's state changes through channel.c.
 *
 * A HelloRequest with a retry deadline (tofu_msg_set_connect_retry, or
 * tofu_options.connect_retry_ms) that found no server in a round of tries
 * waits and tries all the addresses again, until the deadline: the
 * channel keeps its number, its HelloRequest and what was posted to it,
 * and the application hears only the end (its HelloResponse, or the last
 * round's failure). The waits grow (DIAL__BACKOFF_*) and have jitter, so
 * that clients that found the server down together do not all come back
 * at the same moment.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/channel.h"
#include "msg/headers.h"

/* Longest header value an address can format to, with room to spare. */
#define DIAL__VALUE_MAX 512

/* The backoff between rounds of tries: the first wait is at most
 * DIAL__BACKOFF_FIRST_MS, each next one at most twice the last up to
 * DIAL__BACKOFF_MAX_MS, and each is drawn between half and all of its
 * maximum ("equal jitter": never a burst of immediate retries, yet spread
 * out). A server that comes up is found at most about a second late. */
#define DIAL__BACKOFF_FIRST_MS 10u
#define DIAL__BACKOFF_MAX_MS 1000u
#define DIAL__NS_PER_MS 1000000ull

/* The waits before trying a busy Unix listener again (its backlog full: it
 * is there, only behind): short, since a listener that accepts frees room
 * in microseconds, and growing, with the same jitter, so that a storm of
 * clients does not come back all at once. */
#define DIAL__BUSY_FIRST_MS 1u
#define DIAL__BUSY_MAX_MS 32u

static bool dial__address(const tofu_msg *m, const char *name, tofu_address *a) {
    tofu_header h;
    if (!tofu_msg_find_header(m, name, &h))
        return false;
    return tofu_address_parse(h.value, h.value_len, a) == TOFU_SUCCESS;
}

/* The channel record for a Hello/Welcome; without memory the request is
 * answered at once and its number given back. */
static tofui_chan *dial__open_record(tofui_chanset *set, tofu_msg *m, bool listen) {
    tofu_group *g = m->ctx;
    tofui_chan_open opened = listen ? TOFUI_OPEN_WELCOME : TOFUI_OPEN_HELLO;
    tofui_chan *ch = tofui_chan_create(set, g, m->bhdr.channel, opened, m->bhdr.message_id);
    if (ch == NULL) {
        tofui_chantab_release(set->chantab, m->bhdr.channel);
        m->bhdr.opcode = listen ? TOFU_OP_WELCOME_RESPONSE : TOFU_OP_HELLO_RESPONSE;
        tofui_chan_return_to(g, m, TOFU_ALLOCATION_FAILED);
        return NULL;
    }
    return ch;
}

/* ------------------------------------------------------------------------ */
/* connecting                                                               */
/* ------------------------------------------------------------------------ */

/* Keepalive and user timeout: on TCP only (a Unix socket's peer cannot
 * vanish behind a partition). Set once connected, so that the user
 * timeout does not cut the connect short (connect_timeout_ms does that). */
static void dial__liveness(tofui_chan *ch, const tofui_sockaddr *sa) {
    if (!sa->uds)
        tofui_sock_set_liveness(ch->sock, &ch->set->live);
}

/* Who is on the other end (tofu_channel_peer), noted once the socket is
 * connected: in the channel table, which app threads may read. The record
 * is taken before the channel is adopted or connected, so that no memory
 * later cannot leave a channel without one. */
static void dial__note_peer(tofui_chan *ch, tofu_peer *rec, bool uds) {
    tofui_sock_peer(ch->sock, uds, rec);
    tofui_chantab_set_peer(ch->set->chantab, ch->num, rec);
}

static void dial__connected(tofui_chan *ch) {
    tofu_peer *rec = malloc(sizeof *rec);
    if (rec == NULL) {
        tofui_chan_close(ch, TOFU_ALLOCATION_FAILED, TOFUI_CLOSE_ABORT);
        return;
    }
    const tofui_sockaddr *sa = &ch->dial.addrs[ch->dial.next - 1];
    tofui_timer_stop(&ch->timer);
    dial__liveness(ch, sa);
    dial__note_peer(ch, rec, sa->uds);
    tofui_dial_release(ch);
    tofui_chan_connected(ch);
}

/* What is worth trying again: nobody answered at the address (refused, no
 * socket file, a Unix listener's backlog full, no answer in time...).
 * The rest (no memory, no poller) would fail again the same way. */
static bool dial__retryable(tofu_status st) {
    return st == TOFU_CONNECT_FAILED || st == TOFU_UDS_PATH_NOT_FOUND;
}

/* xorshift64: jitter needs no quality, only to differ between channels. */
static uint64_t dial__random(tofui_chanset *set) {
    uint64_t x = set->jitter;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    set->jitter = x;
    return x;
}

/* A wait drawn between half and all of cap ("equal jitter"). */
static uint64_t dial__jitter(tofui_chanset *set, uint32_t cap) {
    return cap / 2 + dial__random(set) % (cap - cap / 2 + 1);
}

/* The retry deadline of a HelloRequest: its own, else the engine's. */
static uint32_t dial__retry_ms(const tofui_chanset *set, const tofu_msg *m) {
    uint32_t ms = m->local.retry.set ? m->local.retry.ms : set->retry_ms;
    return ms == TOFU_TIMEOUT_NONE ? 0 : ms;
}

/* Every address failed: with time left before the retry deadline, the
 * channel waits (without a socket) and starts over; else it closes with
 * the failure, which answers the HelloRequest. The last wait ends at the
 * deadline, for one last round. */
static void dial__round_failed(tofui_chan *ch, tofu_status last) {
    uint64_t now = tofui_clock_ns();
    if (!dial__retryable(last) || ch->dial.retry_until == 0 || now >= ch->dial.retry_until) {
        tofui_chan_close(ch, last, TOFUI_CLOSE_ABORT);
        return;
    }
    uint32_t cap = ch->dial.backoff_ms;
    uint64_t wait = dial__jitter(ch->set, cap);
    uint64_t left = (ch->dial.retry_until - now + DIAL__NS_PER_MS - 1) / DIAL__NS_PER_MS;
    ch->dial.backoff_ms = cap >= DIAL__BACKOFF_MAX_MS / 2 ? DIAL__BACKOFF_MAX_MS : 2 * cap;
    ch->dial.last = last;
    ch->dial.next = 0;
    tofui_wait_start(&ch->set->timers, &ch->dial.wait, wait < left ? wait : left);
}

/* How long a busy listener is tried again: as long as one connect attempt
 * may take (connect_timeout_ms; its default when that is off), as a TCP
 * connect waits while its SYN finds the queue full. */
static uint64_t dial__busy_span_ns(const tofui_chanset *set) {
    uint64_t ns = set->timers.len_ns[TOFUI_TIMER_CONNECT];
    return ns != 0 ? ns : (uint64_t)TOFU_DEFAULT_CONNECT_TIMEOUT_MS * DIAL__NS_PER_MS;
}

/* The listener of the address just tried is there but its backlog is full
 * (a Unix socket on Linux says so at once, EAGAIN): the same address is
 * tried again after a short wait, which connect_retry_ms has no part in.
 * False once that went on for a connect attempt's time: the address
 * failed. */
static bool dial__busy_wait(tofui_chan *ch) {
    uint64_t now = tofui_clock_ns();
    if (ch->dial.busy_until == 0) {
        ch->dial.busy_until = now + dial__busy_span_ns(ch->set);
        ch->dial.busy_ms = DIAL__BUSY_FIRST_MS;
    }
    if (now >= ch->dial.busy_until) {
        ch->dial.busy_until = 0;
        return false;
    }
    uint32_t cap = ch->dial.busy_ms;
    ch->dial.busy_ms = cap >= DIAL__BUSY_MAX_MS / 2 ? DIAL__BUSY_MAX_MS : 2 * cap;
    ch->dial.next--; /* the same address */
    tofui_wait_start(&ch->set->timers, &ch->dial.wait, dial__jitter(ch->set, cap));
    return true;
}

/* Tries the remaining addresses; `last` is the failure so far. */
static void dial__try_next(tofui_chan *ch, tofu_status last) {
    while (ch->dial.next < ch->dial.naddrs) {
        const tofui_sockaddr *sa = &ch->dial.addrs[ch->dial.next++];
        bool in_progress = false;
        tofui_socket s;
        tofu_status st = tofui_sock_connect(sa, &s, &in_progress);
        if (st == TOFUI_SOCK_BUSY && dial__busy_wait(ch))
            return;
        ch->dial.busy_until = 0;
        if (st != TOFU_SUCCESS) {
            tofui_chan_os_error(ch, tofui_sock_last_error());
            last = st == TOFUI_SOCK_BUSY ? TOFU_CONNECT_FAILED : st;
            continue;
        }
        if (tofui_chan_attach(ch, s, in_progress ? TOFUI_CH_CONNECTING : TOFUI_CH_OPEN) !=
            TOFU_SUCCESS) {
            last = TOFU_CONNECT_FAILED;
            continue;
        }
        if (in_progress)
            tofui_timer_start(&ch->set->timers, &ch->timer, TOFUI_TIMER_CONNECT);
        else
            dial__connected(ch);
        return;
    }
    dial__round_failed(ch, last);
}

void tofui_dial_wait_over(tofui_wheel_timer *w) {
    tofui_chan *ch = TOFUI_CONTAINER(w, tofui_chan, dial.wait);
    dial__try_next(ch, ch->dial.last);
}

static void dial__start_connect(tofui_chan *ch, const tofui_sockaddr *addrs, size_t n) {
    ch->dial.addrs = malloc(n * sizeof *addrs);
    if (ch->dial.addrs == NULL) {
        tofui_chan_close(ch, TOFU_ALLOCATION_FAILED, TOFUI_CLOSE_ABORT);
        return;
    }
    memcpy(ch->dial.addrs, addrs, n * sizeof *addrs);
    ch->dial.naddrs = n;
    ch->dial.next = 0;
    dial__try_next(ch, TOFU_CONNECT_FAILED);
}

/* Gives up the socket of a connect attempt and tries the next address. */
static void dial__attempt_failed(tofui_chan *ch) {
    tofui_timer_stop(&ch->timer);
    tofui_chan_detach(ch);
    dial__try_next(ch, TOFU_CONNECT_FAILED);
}

void tofui_dial_on_connect_event(tofui_chan *ch) {
    if (tofui_sock_connect_result(ch->sock) == TOFU_SUCCESS) {
        dial__connected(ch);
        return;
    }
    tofui_chan_os_error(ch, tofui_sock_last_error());
    dial__attempt_failed(ch);
}

/* connect_timeout_ms is the engine's limit, no error of the system. */
void tofui_dial_attempt_timed_out(tofui_chan *ch) {
    tofui_chan_os_error(ch, 0);
    dial__attempt_failed(ch);
}

/* ------------------------------------------------------------------------ */
/* listening                                                                */
/* ------------------------------------------------------------------------ */

/* The value of the first ~listen_on header becomes what was really bound
 * (the port the OS chose for port 0); thl follows, as post validation set
 * it. */
static tofu_status dial__write_bound_address(tofui_chan *ch, tofu_msg *m) {
    tofu_address a;
    char v[DIAL__VALUE_MAX];
    size_t vlen = 0;
    memset(&a, 0, sizeof a);
    if (tofui_sock_local_address(ch->sock, &ch->listen.bound, &a) != TOFU_SUCCESS ||
        tofu_address_format(&a, v, sizeof v, &vlen) != TOFU_SUCCESS)
        return TOFU_LISTEN_FAILED;
    tofu_status st = tofui_msg_replace_header(m, TOFU_HDR_LISTEN_ON, v, vlen);
    if (st == TOFU_SUCCESS)
        m->bhdr.thl = (uint16_t)m->thdrs.len;
    return st;
}

/* A WelcomeResponse that cannot say where the listener is reports the
 * failure, never success with the port asked for (0): the listener closes,
 * and the close path answers the WelcomeRequest with that status. */
static void dial__answer_welcome(tofui_chan *ch) {
    tofu_status st = dial__write_bound_address(ch, ch->listen.welcome);
    if (st != TOFU_SUCCESS) {
        tofui_chan_close(ch, st, TOFUI_CLOSE_ABORT);
        return;
    }
    tofu_msg *m = ch->listen.welcome;
    ch->listen.welcome = NULL;
    m->bhdr.opcode = TOFU_OP_WELCOME_RESPONSE;
    tofui_chan_return(ch, m, TOFU_SUCCESS);
}

static void dial__start_listen(tofui_chan *ch, const tofui_sockaddr *addrs, size_t n) {
    tofu_status st = TOFU_LISTEN_FAILED;
    tofui_socket s = TOFUI_INVALID_SOCKET;
    for (size_t i = 0; i < n; i++) {
        st = tofui_sock_listen_backlog(&addrs[i], ch->set->listen_backlog, &s);
        if (st == TOFU_SUCCESS) {
            ch->listen.bound = addrs[i];
            break;
        }
        tofui_chan_os_error(ch, tofui_sock_last_error());
    }
    if (st != TOFU_SUCCESS) {
        tofui_chan_close(ch, st, TOFUI_CLOSE_ABORT);
        return;
    }
    if (tofui_chan_attach(ch, s, TOFUI_CH_LISTENER) != TOFU_SUCCESS) {
        tofui_chan_close(ch, TOFU_LISTEN_FAILED, TOFUI_CLOSE_ABORT);
        return;
    }
    dial__answer_welcome(ch);
}

/* ------------------------------------------------------------------------ */
/* resolving                                                                */
/* ------------------------------------------------------------------------ */

static void dial__with_addresses(tofui_chan *ch, tofu_status st, const tofui_sockaddr *addrs,
                                 size_t n) {
    if (st != TOFU_SUCCESS || n == 0)
        tofui_chan_close(ch, TOFU_INVALID_ADDRESS, TOFUI_CLOSE_ABORT);
    else if (ch->opened == TOFUI_OPEN_WELCOME)
        dial__start_listen(ch, addrs, n);
    else
        dial__start_connect(ch, addrs, n);
}

/* Host names block in getaddrinfo: they go to the resolver thread. */
static void dial__resolve_async(tofui_chan *ch, const tofu_address *a, bool passive) {
    tofui_resolve_req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        tofui_chan_close(ch, TOFU_ALLOCATION_FAILED, TOFUI_CLOSE_ABORT);
        return;
    }
    r->addr = *a;
    r->passive = passive;
    r->num = ch->num;
    r->serial = ch->serial;
    tofu_status st = tofui_resolver_submit(ch->set->resolver, r);
    if (st != TOFU_SUCCESS) {
        free(r);
        tofui_chan_close(ch, st, TOFUI_CLOSE_ABORT);
    }
}

static void dial__resolve(tofui_chan *ch, const tofu_address *a, bool passive) {
    if (!tofui_sock_is_literal(a)) {
        dial__resolve_async(ch, a, passive);
        return;
    }
    tofui_sockaddr addrs[2];
    size_t n = 0;
    tofu_status st = tofui_sock_resolve(a, passive, addrs, 2, &n);
    dial__with_addresses(ch, st, addrs, n);
}

void tofui_dial_resolved(tofui_chanset *set, tofui_resolve_req *r) {
    tofui_chan *ch = r->num != 0 ? set->by_num[r->num] : NULL;
    /* The channel may have been aborted or its group destroyed meanwhile. */
    if (ch != NULL && ch->serial == r->serial && ch->state == TOFUI_CH_RESOLVING &&
        ch->sock == TOFUI_INVALID_SOCKET && ch->dial.addrs == NULL)
        dial__with_addresses(ch, r->status, r->addrs, r->n);
    free(r);
}

/* ------------------------------------------------------------------------ */
/* the two requests                                                         */
/* ------------------------------------------------------------------------ */

void tofui_dial_hello(tofui_chanset *set, tofu_msg *m) {
    tofui_chan *ch = dial__open_record(set, m, false);
    if (ch == NULL)
        return;
    /* First in the queue: whatever is posted meanwhile goes out after it. */
    ch->dial.hello = m;
    tofui_send_push(ch, m);
    uint32_t retry = dial__retry_ms(set, m);
    if (retry != 0) {
        ch->dial.retry_until = tofui_clock_ns() + (uint64_t)retry * DIAL__NS_PER_MS;
        ch->dial.backoff_ms = DIAL__BACKOFF_FIRST_MS;
    }
    tofu_address a;
    if (!dial__address(m, TOFU_HDR_CONNECT_TO, &a)) {
        tofui_chan_close(ch, TOFU_INVALID_ADDRESS, TOFUI_CLOSE_ABORT);
        return;
    }
    dial__resolve(ch, &a, false);
}

void tofui_dial_welcome(tofui_chanset *set, tofu_msg *m) {
    tofui_chan *ch = dial__open_record(set, m, true);
    if (ch == NULL)
        return;
    ch->listen.welcome = m;
    tofu_address a;
    if (!dial__address(m, TOFU_HDR_LISTEN_ON, &a)) {
        tofui_chan_close(ch, TOFU_INVALID_ADDRESS, TOFUI_CLOSE_ABORT);
        return;
    }
    dial__resolve(ch, &a, true);
}

/* ------------------------------------------------------------------------ */
/* accepting                                                                */
/* ------------------------------------------------------------------------ */

/* Accepted channels belong to the listener's group; the application hears
 * of them with their first message. */
static void dial__adopt(tofui_chan *l, tofui_socket s) {
    tofui_chanset *set = l->set;
    uint16_t num = tofui_chantab_alloc(set->chantab, l->group);
    if (num == 0) { /* all numbers in use: refuse the connection */
        tofui_sock_abort(s);
        return;
    }
    tofu_peer *rec = malloc(sizeof *rec);
    tofui_chan *ch = rec != NULL ? tofui_chan_create(set, l->group, num, TOFUI_OPEN_ACCEPT, 0)
                                 : NULL;
    if (ch == NULL) {
        free(rec);
        tofui_chantab_release(set->chantab, num);
        tofui_sock_abort(s);
        return;
    }
    if (tofui_chan_attach(ch, s, TOFUI_CH_OPEN) != TOFU_SUCCESS) {
        free(rec);
        tofui_chan_close(ch, TOFU_COMMUNICATION_FAILED, TOFUI_CLOSE_ABORT);
        return;
    }
    dial__liveness(ch, &l->listen.bound);
    dial__note_peer(ch, rec, l->listen.bound.uds);
    /* Its first frame, or it goes. */
    tofui_timer_start(&set->timers, &ch->timer, TOFUI_TIMER_HANDSHAKE);
}

/* Stops accepting for TOFUI_ACCEPT_PAUSE_NS. */
static void dial__pause_accepts(tofui_chan *l) {
    if (l->listen.paused)
        return;
    l->listen.paused = true;
    tofui_timer_start(&l->set->timers, &l->timer, TOFUI_TIMER_ACCEPT_PAUSE);
    tofui_chan_touch(l); /* stop watching the listener */
}

void tofui_dial_resume_accepts(tofui_chan *l) {
    l->listen.paused = false;
    tofui_chan_touch(l); /* watch the listener again */
}

/* Several per event: a burst of connections costs one wake-up. */
#define DIAL__ACCEPTS_PER_EVENT 64

void tofui_dial_accept(tofui_chan *l) {
    for (int i = 0; i < DIAL__ACCEPTS_PER_EVENT; i++) {
        tofui_socket s = TOFUI_INVALID_SOCKET;
        tofu_status st = tofui_sock_accept(l->sock, &s);
        if (st == TOFU_ALLOCATION_FAILED) { /* out of descriptors: back off */
            dial__pause_accepts(l);
            return;
        }
        if (st != TOFU_SUCCESS) {
            tofui_chan_os_error(l, tofui_sock_last_error());
            tofui_chan_close(l, TOFU_ACCEPT_FAILED, TOFUI_CLOSE_ABORT);
            return;
        }
        if (s == TOFUI_INVALID_SOCKET)
            return;
        dial__adopt(l, s);
    }
}

/* ------------------------------------------------------------------------ */
/* what a closing channel still holds                                       */
/* ------------------------------------------------------------------------ */

void tofui_dial_hello_sent(tofui_chan *ch) {
    ch->dial.hello = NULL;
    ch->dial.hello_unanswered = true;
}

/* Only the answer with the request's id answers it. The peer's application
 * makes its HelloResponse and may give it any id (the original checks
 * nothing): one with another id is delivered as it came, and the request
 * stays unanswered, as if the peer had not answered at all (the engine
 * answers it if the channel closes first). The application thus always
 * gets one HelloResponse with its own id. */
void tofui_dial_hello_response(tofui_chan *ch, uint64_t id) {
    if (id == ch->remembered_id)
        ch->dial.hello_unanswered = false;
}

/* Every request of the application gets its answer: a pending Welcome as
 * its WelcomeResponse; a Hello still in the send queue becomes the
 * HelloResponse there; one that went out unanswered gets a HelloResponse
 * from the engine, with the close reason, as for a connect that failed.
 * Each carries the system's error of the failure (~error), when one is
 * known. */
void tofui_dial_answers(tofui_chan *ch, tofui_mq *out, tofu_status reason) {
    if (ch->listen.welcome != NULL) {
        ch->listen.welcome->bhdr.opcode = TOFU_OP_WELCOME_RESPONSE;
        tofui_chan_add_error(ch, ch->listen.welcome);
        tofui_mq_push(out, ch->listen.welcome);
        ch->listen.welcome = NULL;
    }
    if (ch->dial.hello != NULL) {
        ch->dial.hello->bhdr.opcode = TOFU_OP_HELLO_RESPONSE;
        tofui_chan_add_error(ch, ch->dial.hello);
        ch->dial.hello = NULL;
    } else if (ch->dial.hello_unanswered) {
        tofu_msg *m = tofui_msg_engine(TOFU_OP_HELLO_RESPONSE, reason, ch->num, ch->remembered_id);
        if (m != NULL) {
            tofui_chan_add_error(ch, m);
            tofui_mq_push(out, m);
        }
    }
}

void tofui_dial_drop(tofui_chan *ch) {
    tofui_pool_put(ch->set->pool, &ch->listen.welcome);
    ch->dial.hello = NULL; /* it is in the send queue */
}

void tofui_dial_release(tofui_chan *ch) {
    tofui_wait_stop(&ch->set->timers, &ch->dial.wait);
    free(ch->dial.addrs);
    ch->dial.addrs = NULL;
    ch->dial.naddrs = 0;
}
