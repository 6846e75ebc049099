/*
 * Fuzz target: a live engine against a fake peer. Arbitrary bytes go from a
 * raw socket of the platform layer into a real engine over a real loopback
 * connection (TCP or a Unix socket), and after every input the engine's
 * promises are checked:
 *
 *   - a channel that delivered anything (a frame, a pool_empty Signal, or a
 *     HelloRequest the application posted) gets exactly one close Signal,
 *     and nothing of that channel comes after it; an accepted channel that
 *     delivered nothing closes silently;
 *   - a HelloRequest of the application gets a HelloResponse with its id
 *     (the peer's, or the engine's when the channel closes first), at most
 *     one of them from the engine;
 *   - the close reason is a status name and tells a reset from an orderly
 *     end (a peer that reset over TCP is never "peer_disconnected", one that
 *     ended with a FIN and kept reading is never "communication_failed");
 *   - the connection is finished within FZ_BOUND_MS of the peer's end;
 *   - open sockets and live messages are back to where they were.
 *
 * Input: byte 0 chooses the run (FZ_* bits below: transport, how the peer
 * ends, whether the application holds every pool message while the peer
 * sends, whether it answers, which side connects, whether it sends a
 * ByeRequest, whether the peer writes in pieces, whether the peer reads
 * before a reset), byte 1 seeds the piece sizes, the rest is what the peer
 * sends. Ids 1 and 2 are the ids of the application's own HelloRequest and
 * ByeRequest (client side), so inputs can answer them.
 *
 * One engine for the whole process (creating one per input is slow): its
 * baselines are taken once it is quiet, and checked after every input.
 * Short timeouts keep every input short. Violations abort() with a line on
 * stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "platform/poller.h"
#include "tofu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_FAIL(...)                                                                \
    do {                                                                            \
        fprintf(stderr, "fuzz_engine: violation: ");                                \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
        abort();                                                                    \
    } while (0)
#define FZ_CHECK(c)                                                                 \
    do {                                                                            \
        if (!(c))                                                                   \
            FZ_FAIL("%s:%d: %s", __FILE__, __LINE__, #c);                           \
    } while (0)

/* byte 0 of an input */
#define FZ_UDS 0x01u         /* a Unix socket, else TCP over 127.0.0.1 */
#define FZ_RESET 0x02u       /* the peer ends with a reset, else with a FIN */
#define FZ_HOLD 0x04u        /* the application holds every pool message */
#define FZ_ANSWER 0x08u      /* it answers Hello/Requests/ByeRequests */
#define FZ_CLIENT 0x10u      /* the engine connects, else the peer does */
#define FZ_BYE 0x20u         /* the application sends a ByeRequest */
#define FZ_PIECES 0x40u      /* the peer writes in pieces */
#define FZ_READ_FIRST 0x80u  /* before a reset, the peer reads what came */

#define FZ_POOL 4u
#define FZ_BOUND_MS 5000u
#define FZ_TIMEOUT_MS 500u
#define FZ_HELLO_ID 1u
#define FZ_BYE_ID 2u
#define FZ_PING_ID 0x5049u
#define FZ_HELD_CAP 256u
#define FZ_ADDR_CAP 200

/* ------------------------------------------------------------------------ */
/* the engine and the listeners, once per process                           */
/* ------------------------------------------------------------------------ */

typedef struct fz_world {
    tofu_engine *e;
    tofu_group *g;
    uint16_t listener;              /* a listener channel: pings go there */
    bool has[2];                    /* [0] TCP, [1] Unix socket */
    tofu_address reach[2];          /* where a peer reaches the engine */
    tofui_socket raw_listener[2];   /* where the engine reaches a peer */
    tofui_sockaddr raw_bound[2];
    char raw_reach[2][FZ_ADDR_CAP]; /* ~connect_to values for those */
    uint64_t base_msgs, base_socks;
} fz_world;

static fz_world fz_w;

static tofu_msg *fz_wait_msg(unsigned ms) {
    tofu_msg *m = NULL;
    tofu_status st = tofu_wait_receive(fz_w.g, (uint64_t)ms * 1000000u, &m);
    if (st != TOFU_SUCCESS)
        FZ_FAIL("wait_receive: %s", tofu_status_name(st));
    return m;
}

/* A fresh Unix-socket path in the temporary directory ("" when none fits). */
static void fz_uds_path(char *buf, size_t cap, const char *tag) {
    const char *dir = getenv("TMPDIR");
    if (dir == NULL)
        dir = getenv("TEMP");
    if (dir == NULL || strlen(dir) > 60)
        dir = "/tmp";
    int n = snprintf(buf, cap, "%s/tofu_fz_%s_%llx.sock", dir, tag,
                     (unsigned long long)(tofui_clock_ns() & 0xFFFFFFFFFFull));
    if (n <= 0 || (size_t)n >= cap)
        buf[0] = '\0';
}

/* The engine listens on `value`; false when it cannot (no Unix sockets). */
static bool fz_engine_listen(const char *value, tofu_address *reach) {
    tofu_msg *m = tofu_get(fz_w.e, TOFU_ALWAYS);
    tofu_address a;
    if (tofu_address_parse(value, strlen(value), &a) != TOFU_SUCCESS ||
        tofu_msg_listen(m, &a) != TOFU_SUCCESS) {
        tofu_put(fz_w.e, &m);
        return false;
    }
    tofu_bhdr h;
    FZ_CHECK(tofu_post(fz_w.g, &m, &h) == TOFU_SUCCESS);
    m = fz_wait_msg(FZ_BOUND_MS);
    FZ_CHECK(m != NULL && tofu_msg_opcode(m) == TOFU_OP_WELCOME_RESPONSE);
    bool ok = tofu_msg_status(m) == TOFU_SUCCESS;
    tofu_header lh;
    if (ok) {
        FZ_CHECK(tofu_msg_find_header(m, TOFU_HDR_LISTEN_ON, &lh));
        FZ_CHECK(tofu_address_parse(lh.value, lh.value_len, reach) == TOFU_SUCCESS);
        if (reach->transport == TOFU_TRANSPORT_TCP)
            snprintf(reach->host, sizeof reach->host, "127.0.0.1");
        fz_w.listener = h.channel;
    }
    tofu_put(fz_w.e, &m);
    if (!ok) { /* its close Signal */
        m = fz_wait_msg(FZ_BOUND_MS);
        tofu_put(fz_w.e, &m);
    }
    return ok;
}

/* A raw listener of the platform layer; false when it cannot. */
static bool fz_raw_listen(int t, const char *value) {
    tofu_address a, bound;
    size_t n = 0;
    if (tofu_address_parse(value, strlen(value), &a) != TOFU_SUCCESS ||
        tofui_sock_resolve(&a, true, &fz_w.raw_bound[t], 1, &n) != TOFU_SUCCESS ||
        tofui_sock_listen(&fz_w.raw_bound[t], &fz_w.raw_listener[t]) != TOFU_SUCCESS)
        return false;
    memset(&bound, 0, sizeof bound);
    FZ_CHECK(tofui_sock_local_address(fz_w.raw_listener[t], &fz_w.raw_bound[t], &bound) ==
             TOFU_SUCCESS);
    if (bound.transport == TOFU_TRANSPORT_TCP)
        snprintf(bound.host, sizeof bound.host, "127.0.0.1");
    return tofu_address_format(&bound, fz_w.raw_reach[t], FZ_ADDR_CAP, NULL) == TOFU_SUCCESS;
}

static void fz_world_fini(void) {
    for (int t = 0; t < 2; t++)
        if (fz_w.raw_listener[t] != TOFUI_INVALID_SOCKET)
            tofui_sock_close_listener(fz_w.raw_listener[t], &fz_w.raw_bound[t]);
    tofu_group_destroy(fz_w.e, fz_w.g);
    tofu_engine_destroy(fz_w.e);
}

/* The pool makes its messages on first need: take them all once, so that
 * the baseline counts them and an input that needs them changes nothing. */
static void fz_fill_pool(void) {
    tofu_msg *v[FZ_POOL];
    size_t n = 0;
    while (n < FZ_POOL && (v[n] = tofu_get(fz_w.e, TOFU_POOL_ONLY)) != NULL)
        n++;
    FZ_CHECK(n == FZ_POOL);
    for (size_t i = 0; i < n; i++)
        tofu_put(fz_w.e, &v[i]);
}

static void fz_world_init(void) {
    tofu_options opt;
    tofu_options_init(&opt);
    opt.initial_pool_msgs = FZ_POOL;
    opt.max_pool_msgs = FZ_POOL; /* full from the start: a baseline to come back to */
    opt.connect_timeout_ms = FZ_TIMEOUT_MS;
    opt.handshake_timeout_ms = FZ_TIMEOUT_MS;
    opt.bye_linger_ms = FZ_TIMEOUT_MS;
    FZ_CHECK(tofu_engine_create(&opt, &fz_w.e) == TOFU_SUCCESS);
    FZ_CHECK(tofu_group_create(fz_w.e, &fz_w.g) == TOFU_SUCCESS);
    fz_w.raw_listener[0] = fz_w.raw_listener[1] = TOFUI_INVALID_SOCKET;
    char path[120], value[FZ_ADDR_CAP];
    fz_w.has[0] = fz_engine_listen("tcp|127.0.0.1|0", &fz_w.reach[0]) &&
                  fz_raw_listen(0, "tcp|127.0.0.1|0");
    FZ_CHECK(fz_w.has[0]);
    fz_uds_path(path, sizeof path, "e");
    snprintf(value, sizeof value, "uds|%s", path);
    bool uds = path[0] != '\0' && fz_engine_listen(value, &fz_w.reach[1]);
    fz_uds_path(path, sizeof path, "p");
    snprintf(value, sizeof value, "uds|%s", path);
    fz_w.has[1] = uds && path[0] != '\0' && fz_raw_listen(1, value);
    fz_fill_pool();
    fz_w.base_msgs = tofu_live_messages();
    fz_w.base_socks = tofu_open_sockets();
    atexit(fz_world_fini);
}

/* ------------------------------------------------------------------------ */
/* one input                                                                */
/* ------------------------------------------------------------------------ */

typedef struct fz_run {
    unsigned flags;
    uint32_t rng;
    const uint8_t *stream;
    size_t len;
    int t;             /* 0 TCP, 1 Unix socket */
    tofui_socket peer; /* the fake peer's end; invalid once it is gone */
    bool peer_ended;   /* it wrote its FIN, or reset */
    bool peer_saw_end; /* it read the engine's end of the connection */
    uint16_t ch;       /* the channel under test, 0 until known */
    bool delivered;    /* it delivered something: its close Signal is due */
    bool closed;       /* its close Signal came */
    tofu_status reason;
    bool bye_posted;
    unsigned hello_answers, engine_hello_answers, pings;
    unsigned own_id_answers; /* HelloResponses with id FZ_HELLO_ID the
                                application posted (a peer's HelloRequest
                                may have that id): they may come back */
    tofu_msg *late_bye; /* a ByeRequest not answered at once, see fz_answer */
    bool holding;
    tofu_msg *held[FZ_HELD_CAP];
    size_t nheld;
} fz_run;

static void fz_dispose(fz_run *r, tofu_msg **m) {
    if (r->holding && r->nheld < FZ_HELD_CAP) {
        r->held[r->nheld++] = *m; /* a put would feed the pool it keeps empty */
        *m = NULL;
        return;
    }
    tofu_put(fz_w.e, m);
}

static void fz_release(fz_run *r) {
    r->holding = false;
    for (size_t i = 0; i < r->nheld; i++)
        tofu_put(fz_w.e, &r->held[i]);
    r->nheld = 0;
}

/* Posts m on the channel under test as `op`; disposes of it when refused
 * (the channel closed meanwhile). */
static void fz_post(fz_run *r, tofu_msg *m, tofu_opcode op, uint64_t id) {
    tofu_msg_set_opcode(m, op);
    tofu_msg_set_channel(m, r->ch);
    if (id != 0)
        tofu_msg_set_id(m, id);
    if (tofu_post(fz_w.g, &m, NULL) != TOFU_SUCCESS)
        fz_dispose(r, &m);
}

static tofu_status fz_reason(const tofu_msg *m) {
    tofu_header h;
    char name[64];
    tofu_status st = TOFU_UNKNOWN_ERROR;
    FZ_CHECK(tofu_msg_find_header(m, TOFU_HDR_REASON, &h) && h.value_len < sizeof name);
    memcpy(name, h.value, h.value_len);
    name[h.value_len] = '\0';
    if (!tofu_status_from_name(name, &st))
        FZ_FAIL("close Signal with ~reason:%s", name);
    return st;
}

static void fz_on_close(fz_run *r, const tofu_msg *m) {
    r->closed = true;
    r->reason = fz_reason(m);
    FZ_CHECK(tofu_msg_channel(m) == r->ch);
}

/* The received m goes back as `reply`, the same message with the opcode
 * changed, made postable: a peer may send what post refuses in an answer
 * (id 0, "more" on a Hello or Bye), and an application that means to
 * answer a ByeRequest must get its ByeResponse out, or the channel waits
 * for it. */
static void fz_reply(fz_run *r, tofu_msg *m, tofu_opcode reply) {
    tofu_bhdr *h = tofu_msg_bhdr(m);
    if (tofu_op_type(reply) != TOFU_TYPE_REGULAR)
        h->more = false;
    r->own_id_answers += reply == TOFU_OP_HELLO_RESPONSE && h->message_id == FZ_HELLO_ID;
    fz_post(r, m, reply, h->message_id == 0 ? 7 : 0);
}

/* The application's answer to what the peer sent, if it answers. One that
 * does not answer still answers a ByeRequest once the peer has ended
 * (fz_answer_late): a channel that got the peer's ByeResponse while it owes
 * its own waits for it, unbounded while the peer may still read
 * (docs/semantics.md, simultaneous ByeRequest). */
static bool fz_answer(fz_run *r, tofu_msg *m) {
    tofu_opcode reply;
    uint8_t op = tofu_msg_opcode(m);
    if (!(r->flags & FZ_ANSWER) && !tofu_msg_from_engine(m) && op == TOFU_OP_BYE_REQUEST) {
        if (r->late_bye != NULL)
            fz_dispose(r, &r->late_bye);
        r->late_bye = m;
        return true;
    }
    if (!(r->flags & FZ_ANSWER) || tofu_msg_from_engine(m) || op == TOFU_OP_SIGNAL ||
        op == TOFU_OP_BYE_SIGNAL || tofu_op_echo(op, &reply) != TOFU_SUCCESS)
        return false;
    fz_reply(r, m, reply);
    return true;
}

/* Everything that reaches the application goes through here. */
static void fz_take(fz_run *r, tofu_msg *m) {
    const tofu_bhdr *h = tofu_msg_bhdr_const(m);
    if (getenv("FZ_TRACE"))
        fprintf(stderr, "  %s ch=%u id=%llu origin=%u status=%s\n", tofu_op_name(h->opcode),
                h->channel, (unsigned long long)h->message_id, h->origin,
                tofu_status_name(tofu_status_from_byte(h->status)));
    if (h->message_id == FZ_PING_ID && h->opcode == TOFU_OP_WELCOME_RESPONSE &&
        h->channel == fz_w.listener) {
        FZ_CHECK(tofu_msg_status(m) == TOFU_NOT_ALLOWED);
        r->pings++;
        tofu_msg_destroy(m);
        return;
    }
    bool close = h->opcode == TOFU_OP_SIGNAL && h->origin == TOFU_ORIGIN_ENGINE &&
                 tofu_msg_status(m) == TOFU_CHANNEL_CLOSED;
    if (r->ch == 0) { /* an accepted channel: its first message names it */
        if (close)
            FZ_FAIL("close Signal of channel %u, which delivered nothing", h->channel);
        r->ch = h->channel;
    }
    if (h->channel != r->ch)
        FZ_FAIL("a message of channel %u; the one under test is %u", h->channel, r->ch);
    if (r->closed)
        FZ_FAIL("%s after the close Signal of channel %u", tofu_op_name(h->opcode), r->ch);
    r->delivered = true;
    if (close)
        fz_on_close(r, m);
    if (h->opcode == TOFU_OP_HELLO_RESPONSE && h->message_id == FZ_HELLO_ID &&
        (r->flags & FZ_CLIENT)) {
        r->hello_answers++;
        r->engine_hello_answers += h->origin == TOFU_ORIGIN_ENGINE;
    }
    if (!close && !r->bye_posted && (r->flags & FZ_BYE)) {
        r->bye_posted = true;
        fz_post(r, tofu_get(fz_w.e, TOFU_ALWAYS), TOFU_OP_BYE_REQUEST, 0);
    }
    if (!close && fz_answer(r, m))
        return;
    fz_dispose(r, &m);
}

/* ------------------------------------------------------------------------ */
/* the fake peer                                                            */
/* ------------------------------------------------------------------------ */

/* Waits up to ms for s to report interest (or an error). */
static bool fz_sock_wait(tofui_socket s, unsigned interest, unsigned ms) {
    tofui_poller *p = NULL;
    FZ_CHECK(tofui_poller_create(&p) == TOFU_SUCCESS);
    FZ_CHECK(tofui_poller_add(p, s, NULL, interest) == TOFU_SUCCESS);
    tofui_event ev[2];
    bool woken = false;
    int n = tofui_poller_wait(p, ev, 2, (int)ms, &woken);
    tofui_poller_remove(p, s);
    tofui_poller_destroy(p);
    return n > 0;
}

static void fz_peer_close(fz_run *r) {
    tofui_sock_close(r->peer);
    r->peer = TOFUI_INVALID_SOCKET;
}

/* Reads what the engine sent; notes the end of the connection. */
static void fz_peer_drain(fz_run *r) {
    static unsigned char buf[65536];
    for (int i = 0; i < 16 && r->peer != TOFUI_INVALID_SOCKET && !r->peer_saw_end; i++) {
        size_t got = 0;
        if (tofui_sock_read(r->peer, buf, sizeof buf, &got) != TOFU_SUCCESS)
            r->peer_saw_end = true;
        else if (got == 0)
            return;
    }
    /* After its FIN the peer has nothing left to do once the engine is
     * gone; closing then leaves nothing unread, so no reset either way. */
    if (r->peer_saw_end && r->peer_ended && r->peer != TOFUI_INVALID_SOCKET)
        fz_peer_close(r);
}

/* One turn of the application and the peer: up to ms for a message. */
static void fz_service(fz_run *r, unsigned ms) {
    tofu_msg *m = fz_wait_msg(ms);
    if (m != NULL)
        fz_take(r, m);
    while ((m = fz_wait_msg(0)) != NULL)
        fz_take(r, m);
    if (r->peer != TOFUI_INVALID_SOCKET && !(r->flags & FZ_RESET))
        fz_peer_drain(r);
}

static uint64_t fz_deadline(void) {
    return tofui_clock_ns() + (uint64_t)FZ_BOUND_MS * 1000000u;
}

/* Writes n bytes; false when the connection is gone (the engine may close
 * it for what came earlier). A pool held while the socket stays full is
 * given back: the peer cannot finish otherwise. */
static bool fz_peer_write(fz_run *r, const uint8_t *p, size_t n) {
    uint64_t give_back = tofui_clock_ns() + 50000000u, deadline = fz_deadline();
    while (n > 0) {
        tofui_iov iov = {p, n};
        size_t w = 0;
        if (tofui_sock_writev(r->peer, &iov, 1, &w) != TOFU_SUCCESS)
            return false;
        p += w;
        n -= w;
        if (w > 0)
            continue;
        if (tofui_clock_ns() > deadline)
            FZ_FAIL("the engine took no byte for %u ms", FZ_BOUND_MS);
        if (r->holding && tofui_clock_ns() > give_back)
            fz_release(r);
        fz_service(r, 1);
    }
    return true;
}

static uint32_t fz_next(fz_run *r) {
    r->rng = r->rng * 1664525u + 1013904223u;
    return r->rng >> 8;
}

/* The stream, in one write or in pieces with a turn of the application
 * between them. */
static void fz_peer_send(fz_run *r) {
    size_t off = 0;
    while (off < r->len) {
        size_t n = r->len - off;
        if (r->flags & FZ_PIECES)
            n = 1 + fz_next(r) % (n < 64 ? n : 64);
        if (!fz_peer_write(r, r->stream + off, n))
            return;
        off += n;
        if (r->flags & FZ_PIECES)
            fz_service(r, 0);
    }
}

static void fz_peer_end(fz_run *r) {
    r->peer_ended = true;
    if (!(r->flags & FZ_RESET)) {
        tofui_sock_shutdown_write(r->peer);
        return;
    }
    if (r->flags & FZ_READ_FIRST) {
        static unsigned char buf[65536];
        size_t got = 0;
        while (tofui_sock_read(r->peer, buf, sizeof buf, &got) == TOFU_SUCCESS && got > 0)
            got = 0;
    }
    tofui_sock_abort(r->peer);
    r->peer = TOFUI_INVALID_SOCKET;
}

/* The peer connects to the engine's listener. */
static void fz_peer_connect(fz_run *r) {
    tofui_sockaddr sa;
    size_t n = 0;
    bool in_progress = false;
    FZ_CHECK(tofui_sock_resolve(&fz_w.reach[r->t], false, &sa, 1, &n) == TOFU_SUCCESS);
    FZ_CHECK(tofui_sock_connect(&sa, &r->peer, &in_progress) == TOFU_SUCCESS);
    if (in_progress) {
        FZ_CHECK(fz_sock_wait(r->peer, TOFUI_POLL_OUT, FZ_BOUND_MS));
        FZ_CHECK(tofui_sock_connect_result(r->peer) == TOFU_SUCCESS);
    }
    /* Until the engine has accepted it, the connection waits in the
     * listener's backlog, where no socket count sees it: the end of the
     * input is told by the count coming back (an accepted channel that
     * delivers nothing closes silently). */
    uint64_t deadline = fz_deadline();
    while (tofu_open_sockets() < fz_w.base_socks + 2) {
        if (tofui_clock_ns() > deadline)
            FZ_FAIL("the engine did not accept within %u ms", FZ_BOUND_MS);
        fz_service(r, 1);
    }
}

/* The application connects to the peer (HelloRequest id FZ_HELLO_ID, and
 * a ByeRequest right behind it with FZ_BYE); the peer accepts. */
static void fz_engine_connect(fz_run *r) {
    tofu_msg *m = tofu_get(fz_w.e, TOFU_ALWAYS);
    tofu_address a;
    const char *v = fz_w.raw_reach[r->t];
    FZ_CHECK(tofu_address_parse(v, strlen(v), &a) == TOFU_SUCCESS);
    FZ_CHECK(tofu_msg_connect(m, &a) == TOFU_SUCCESS);
    tofu_msg_set_id(m, FZ_HELLO_ID);
    tofu_bhdr h;
    FZ_CHECK(tofu_post(fz_w.g, &m, &h) == TOFU_SUCCESS);
    r->ch = h.channel;
    r->delivered = true; /* the application knows the channel */
    if (r->flags & FZ_BYE) {
        r->bye_posted = true;
        fz_post(r, tofu_get(fz_w.e, TOFU_ALWAYS), TOFU_OP_BYE_REQUEST, FZ_BYE_ID);
    }
    uint64_t deadline = fz_deadline();
    while (r->peer == TOFUI_INVALID_SOCKET) {
        FZ_CHECK(tofui_sock_accept(fz_w.raw_listener[r->t], &r->peer) == TOFU_SUCCESS);
        if (r->peer != TOFUI_INVALID_SOCKET)
            break;
        if (tofui_clock_ns() > deadline)
            FZ_FAIL("the engine did not connect within %u ms", FZ_BOUND_MS);
        fz_sock_wait(fz_w.raw_listener[r->t], TOFUI_POLL_IN, 10);
    }
}

/* ------------------------------------------------------------------------ */
/* the checks                                                               */
/* ------------------------------------------------------------------------ */

/* Returns once the I/O thread handled everything posted and every event
 * seen before the call: the first ping comes back from a batch of posts
 * the thread took after those, the second from a later pass of its loop. */
static void fz_pings(fz_run *r) {
    for (unsigned want = r->pings + 1, i = 0; i < 2; i++, want++) {
        tofu_msg *m = NULL;
        FZ_CHECK(tofu_msg_create(&m) == TOFU_SUCCESS);
        tofu_msg_set_opcode(m, TOFU_OP_WELCOME_RESPONSE);
        tofu_msg_set_channel(m, fz_w.listener);
        tofu_msg_set_id(m, FZ_PING_ID);
        FZ_CHECK(tofu_post(fz_w.g, &m, NULL) == TOFU_SUCCESS);
        uint64_t deadline = fz_deadline();
        while (r->pings < want) {
            if (tofui_clock_ns() > deadline)
                FZ_FAIL("a ping of the I/O thread did not come back");
            fz_service(r, 10);
        }
    }
}

static bool fz_finished(const fz_run *r) {
    return r->peer == TOFUI_INVALID_SOCKET && (!r->delivered || r->closed) &&
           tofu_open_sockets() == fz_w.base_socks;
}

static void fz_answer_late(fz_run *r) {
    if (r->late_bye != NULL) {
        tofu_msg *m = r->late_bye;
        r->late_bye = NULL;
        fz_reply(r, m, TOFU_OP_BYE_RESPONSE);
    }
}

/* Waits until the connection is over on both ends and the channel has
 * said so, at most FZ_BOUND_MS. */
static void fz_wait_finished(fz_run *r) {
    uint64_t deadline = fz_deadline();
    while (!fz_finished(r)) {
        fz_answer_late(r);
        if (tofui_clock_ns() > deadline)
            FZ_FAIL("channel %u not finished %u ms after the peer's end (close Signal %s, "
                    "peer %s, %llu sockets over the baseline)",
                    r->ch, FZ_BOUND_MS, r->closed ? "came" : "missing",
                    r->peer == TOFUI_INVALID_SOCKET ? "gone" : "still there",
                    (unsigned long long)(tofu_open_sockets() - fz_w.base_socks));
        fz_service(r, 1);
    }
}

/* What a close reason may be, given how the peer ended. */
static void fz_check_reason(const fz_run *r) {
    if (!r->closed || r->t != 0)
        return;
    if ((r->flags & FZ_RESET) && r->reason == TOFU_PEER_DISCONNECTED)
        FZ_FAIL("the peer reset (TCP), the channel says peer_disconnected");
    if (!(r->flags & FZ_RESET) && r->reason == TOFU_COMMUNICATION_FAILED)
        FZ_FAIL("the peer ended with a FIN and read on, the channel says communication_failed");
}

static void fz_check_end(fz_run *r) {
    fz_pings(r); /* anything of the channel still to come is in the queue now */
    fz_answer_late(r); /* to a closed channel: refused, put back */
    if (r->delivered && !r->closed)
        FZ_FAIL("channel %u delivered messages but got no close Signal", r->ch);
    if (r->flags & FZ_CLIENT) {
        if (r->hello_answers == 0)
            FZ_FAIL("no HelloResponse with the HelloRequest's id");
        if (r->engine_hello_answers > 1 + r->own_id_answers)
            FZ_FAIL("%u HelloResponses from the engine (%u posted by the application)",
                    r->engine_hello_answers, r->own_id_answers);
    }
    fz_check_reason(r);
    if (tofu_live_messages() != fz_w.base_msgs)
        FZ_FAIL("%llu live messages, %llu before the input",
                (unsigned long long)tofu_live_messages(), (unsigned long long)fz_w.base_msgs);
    if (tofu_open_sockets() != fz_w.base_socks)
        FZ_FAIL("%llu open sockets, %llu before the input",
                (unsigned long long)tofu_open_sockets(), (unsigned long long)fz_w.base_socks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    if (fz_w.e == NULL)
        fz_world_init();
    fz_run r;
    memset(&r, 0, sizeof r);
    r.flags = data[0];
    r.rng = 0x9E3779B9u ^ data[1];
    r.stream = data + 2;
    r.len = size - 2;
    r.t = (r.flags & FZ_UDS) && fz_w.has[1] ? 1 : 0;
    r.peer = TOFUI_INVALID_SOCKET;

    if (r.flags & FZ_HOLD) {
        r.holding = true;
        tofu_msg *m;
        while (r.nheld < FZ_HELD_CAP && (m = tofu_get(fz_w.e, TOFU_POOL_ONLY)) != NULL)
            r.held[r.nheld++] = m;
    }
    if (r.flags & FZ_CLIENT)
        fz_engine_connect(&r);
    else
        fz_peer_connect(&r);
    fz_peer_send(&r);
    fz_peer_end(&r);
    if (r.holding) { /* the engine has seen the end while stalled */
        fz_pings(&r);
        fz_release(&r);
    }
    fz_wait_finished(&r);
    fz_check_end(&r);
    return 0;
}
