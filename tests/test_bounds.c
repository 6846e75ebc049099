/*
 * What a hostile peer can pin with the default options, and for how long
 * (docs/semantics.md, "Memory bounds"): a peer that sends and never reads
 * fills only its own channel's send queue (max_send_queue), a frame that
 * stalls half-way is closed after frame_timeout_ms, and the bytes of all
 * unfinished frames together stay under max_partial_bytes. Every case also
 * checks that a well-behaved channel of the same engine keeps working. Run
 * over TCP and a socket file ("bounds.<transport>.<case>").
 *
 * The bounds checked are counts (messages alive, bytes held), never
 * durations: a slow machine only makes a case take longer.
 */
#include "engine/engine_int.h" /* TOFUI_RECV_BATCH */
#include "engine_util.h"

#define BOUNDS_HELLO_ID 777u

/* ======================================================================== */
/* a server with an echo thread of its own                                  */
/* ======================================================================== */

/* An echo service like tofu_t_echo, counting what the engine hands back:
 * posts refused by a full send queue (not_allowed), close Signals (and
 * their reasons), and the most messages alive in the process it saw. */
typedef struct bounds_echo {
    tofu_engine *e;
    tofu_group *g;
    tofu_t_thread thread;
    _Atomic uint64_t refused;   /* posts back with not_allowed */
    _Atomic uint64_t echoed;    /* Responses posted */
    _Atomic uint64_t closes;    /* close Signals */
    _Atomic uint64_t live_max;  /* tofu_live_messages(), the most seen */
    _Atomic int last_reason;    /* ~reason of the last close Signal */
    _Atomic unsigned last_channel; /* and its channel */
    _Atomic bool last_limit_ok; /* and whether its ~limit was the one expected */
    const char *expect_limit;   /* ~limit the close Signals must carry (NULL: none) */
} bounds_echo;

static void bounds_note_live(bounds_echo *s) {
    uint64_t live = tofu_live_messages();
    uint64_t max = atomic_load(&s->live_max);
    while (live > max && !atomic_compare_exchange_weak(&s->live_max, &max, live))
        ;
}

/* True when the close Signal m carries ~limit:<want> (or none when want is
 * NULL). */
static bool bounds_limit_is(const tofu_msg *m, const char *want) {
    tofu_header h;
    if (!tofu_msg_find_header(m, TOFU_HDR_LIMIT, &h))
        return want == NULL;
    return want != NULL && h.value_len == strlen(want) && memcmp(h.value, want, h.value_len) == 0;
}

static void bounds_engine_msg(bounds_echo *s, tofu_msg *m) {
    if (tofu_t_is_close_signal(m)) {
        atomic_store(&s->last_reason, (int)tofu_t_reason(m));
        atomic_store(&s->last_channel, (unsigned)tofu_msg_channel(m));
        atomic_store(&s->last_limit_ok, bounds_limit_is(m, s->expect_limit));
        atomic_fetch_add(&s->closes, 1);
    } else if (tofu_msg_status(m) == TOFU_NOT_ALLOWED) {
        atomic_fetch_add(&s->refused, 1);
    }
}

static tofu_opcode bounds_reply_op(tofu_opcode op) {
    switch (op) {
    case TOFU_OP_HELLO_REQUEST:
        return TOFU_OP_HELLO_RESPONSE;
    case TOFU_OP_BYE_REQUEST:
        return TOFU_OP_BYE_RESPONSE;
    default:
        return TOFU_OP_RESPONSE;
    }
}

static void bounds_echo_main(void *arg) {
    bounds_echo *s = arg;
    for (;;) {
        tofu_msg *m = NULL;
        if (tofu_wait_receive(s->g, TOFU_WAIT_INFINITE, &m) != TOFU_SUCCESS)
            return;
        bounds_note_live(s);
        if (tofu_msg_from_engine(m)) {
            bool stop = tofu_msg_status(m) == TOFU_RECEIVER_UPDATE;
            bounds_engine_msg(s, m);
            tofu_put(s->e, &m); /* pool_empty Signals too: they refill the pool */
            if (stop)
                return;
            continue;
        }
        tofu_opcode op = tofu_msg_opcode(m);
        if (op == TOFU_OP_REQUEST || op == TOFU_OP_HELLO_REQUEST || op == TOFU_OP_BYE_REQUEST) {
            tofu_msg_set_opcode(m, bounds_reply_op(op));
            if (tofu_post(s->g, &m, NULL) == TOFU_SUCCESS) {
                atomic_fetch_add(&s->echoed, 1);
                continue;
            }
        }
        tofu_put(s->e, &m);
    }
}

typedef struct bounds_server {
    tofu_engine *e;
    tofu_group *g;
    tofu_address reach;
    bounds_echo echo;
} bounds_server;

/* A server engine with `opt` (NULL: the defaults) listening on the case's
 * transport, served by a bounds_echo thread. */
static void bounds_server_open(bounds_server *s, const tofu_options *opt, const char *limit) {
    s->e = opt != NULL ? tofu_t_engine_with(opt) : tofu_t_engine(0, 0);
    s->g = tofu_t_group(s->e);
    char value[TOFU_T_ADDR_CAP];
    tofu_t_listen_value(tofu_t_transport_arg(), value, sizeof value);
    tofu_address bound;
    LISTEN(s->e, s->g, value, &bound);
    char v[TOFU_T_ADDR_CAP];
    tofu_t_connect_value(&bound, v, sizeof v);
    ASSERT_OK(tofu_address_parse(v, strlen(v), &s->reach));
    memset(&s->echo, 0, sizeof s->echo); /* zero is a valid value of every atomic here */
    s->echo.e = s->e;
    s->echo.g = s->g;
    s->echo.expect_limit = limit;
    tofu_t_thread_start(&s->echo.thread, bounds_echo_main, &s->echo);
}

static void bounds_server_close(bounds_server *s) {
    ASSERT_OK(tofu_update_receiver(s->g, NULL));
    tofu_t_thread_join(&s->echo.thread);
    ASSERT_OK(tofu_group_destroy(s->e, s->g));
    tofu_engine_destroy(s->e);
}

/* Waits until the echo thread saw n close Signals. */
static void bounds_wait_closes_at(bounds_server *s, uint64_t n, const char *file, int line) {
    uint64_t deadline = tofui_clock_ns() + TOFU_T_WAIT_S * 1000000000ull;
    while (atomic_load(&s->echo.closes) < n) {
        if (tofui_clock_ns() > deadline)
            tofu_t_fail(file, line, "the server saw %" PRIu64 " close Signals, not %" PRIu64,
                        atomic_load(&s->echo.closes), n);
        tofui_sleep_ms(1);
    }
}
#define WAIT_CLOSES(s, n) bounds_wait_closes_at((s), (n), __FILE__, __LINE__)

/* ======================================================================== */
/* raw peers and a well-behaved client                                      */
/* ======================================================================== */

/* The server's channel number in the header of a frame it sent. */
static uint16_t bounds_sender_channel(const uint8_t *frame) {
    return (uint16_t)(frame[0] << 8 | frame[1]);
}

/* A raw peer's HelloRequest (hello_len bytes) followed in the same write by
 * `extra` (may be NULL); with *sch non-NULL, the peer reads the echoed
 * HelloResponse, so the server has read the write, and *sch receives the
 * server's number of the channel. */
static tofui_socket bounds_raw_hello_then(const bounds_server *s, const void *extra, size_t n_extra,
                                          uint16_t *sch) {
    tofui_socket raw = RAW_CONNECT(&s->reach);
    char v[TOFU_T_ADDR_CAP];
    ASSERT_OK(tofu_address_format(&s->reach, v, sizeof v, NULL));
    char th[TOFU_T_ADDR_CAP + 32];
    int thl = snprintf(th, sizeof th, "%s:%s\r\n", TOFU_HDR_CONNECT_TO, v);
    ASSERT_TRUE(thl > 0 && (size_t)thl < sizeof th);
    static uint8_t frame[16 + sizeof th + 16 + TOFU_MAX_PART_LEN];
    size_t n = tofu_t_raw_frame(frame, 1, TOFU_OP_HELLO_REQUEST, BOUNDS_HELLO_ID, th,
                                (uint16_t)thl, NULL, 0);
    ASSERT_TRUE(n + n_extra <= sizeof frame);
    if (n_extra > 0)
        memcpy(frame + n, extra, n_extra);
    RAW_SEND(raw, frame, n + n_extra);
    if (sch != NULL) {
        uint8_t answer[16 + sizeof th];
        RAW_RECV(raw, answer, n);
        ASSERT_EQ(answer[2] & 0x0f, TOFU_OP_HELLO_RESPONSE);
        *sch = bounds_sender_channel(answer);
    }
    return raw;
}

static tofui_socket bounds_raw_hello(const bounds_server *s, uint16_t *sch) {
    return bounds_raw_hello_then(s, NULL, 0, sch);
}

typedef struct bounds_client {
    tofu_engine *e;
    tofu_group *g;
    uint16_t ch;
    uint32_t round;
} bounds_client;

static void bounds_client_open(bounds_client *c, const bounds_server *s) {
    c->e = tofu_t_engine(4, 4);
    c->g = tofu_t_group(c->e);
    char v[TOFU_T_ADDR_CAP];
    ASSERT_OK(tofu_address_format(&s->reach, v, sizeof v, NULL));
    c->ch = CONNECT(c->e, c->g, v);
    c->round = 0;
}

/* One Request of the well-behaved client, echoed intact. */
static void bounds_client_echo_at(bounds_client *c, const char *file, int line) {
    uint8_t body[100];
    tofu_t_fill(body, sizeof body, ++c->round);
    tofu_msg *m = tofu_t_get(c->e);
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, c->ch);
    ASSERT_OK(tofu_msg_append_body(m, body, sizeof body));
    tofu_bhdr req = tofu_t_post_at(c->g, &m, file, line);
    m = tofu_t_next_msg_at(c->e, c->g, file, line);
    if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || tofu_msg_id(m) != req.message_id ||
        tofu_msg_from_engine(m))
        tofu_t_fail_msg_at("expected the echo of the good client's Request", m, file, line);
    size_t len = 0;
    const void *got = tofu_msg_body(m, &len);
    tofu_t_check_mem(got, len, body, sizeof body, "echoed body", "sent body", file, line);
    tofu_put(c->e, &m);
}
#define CLIENT_ECHO(c) bounds_client_echo_at((c), __FILE__, __LINE__)

static void bounds_client_close(bounds_client *c) {
    ASSERT_OK(tofu_group_destroy(c->e, c->g));
    tofu_engine_destroy(c->e);
}

/* ======================================================================== */
/* a peer that sends and never reads                                        */
/* ======================================================================== */

#define FLOOD_BODY 60000u
#define FLOOD_CAP 4000u    /* guard: kernel buffers never hold 240 MB */
#define FLOOD_REFUSED 50u  /* refusals seen before the flood stops */
#define FLOOD_GOOD_EVERY 64u

/* With the default options, an echo server whose peer sends Requests and
 * never reads its answers: the answers queue on that one channel up to
 * max_send_queue, beyond it they come back with not_allowed (the echo puts
 * them back, so the pool refills and every channel reads on), and the
 * messages alive stay under the pool's maximum plus the queue's bound plus
 * one read's stock (and the client's pool of 4). A well-behaved client
 * gets its echoes all along; the flooding peer's reset closes its channel,
 * and then everything it pinned comes back. */
TRANSPORT_TEST(non_reading_peer_pins_one_queue) {
    bounds_server s;
    bounds_server_open(&s, NULL, NULL);
    bounds_client c;
    bounds_client_open(&c, &s);
    tofui_socket raw = bounds_raw_hello(&s, NULL); /* never reads */

    static uint8_t frame[16 + FLOOD_BODY];
    uint32_t sent = 0;
    while (atomic_load(&s.echo.refused) < FLOOD_REFUSED) {
        ASSERT_TRUE(sent < FLOOD_CAP);
        tofu_t_raw_header(frame, 1, TOFU_OP_REQUEST, 1000 + sent, 0, FLOOD_BODY);
        tofu_t_fill(frame + 16, FLOOD_BODY, sent);
        RAW_SEND(raw, frame, sizeof frame);
        if (++sent % FLOOD_GOOD_EVERY == 0)
            CLIENT_ECHO(&c);
    }
    for (int i = 0; i < 10; i++)
        CLIENT_ECHO(&c);

    uint64_t bound = TOFU_DEFAULT_MAX_POOL + TOFU_DEFAULT_MAX_SEND_QUEUE + TOFUI_RECV_BATCH + 4 + 8;
    uint64_t live_max = atomic_load(&s.echo.live_max);
    printf("non_reading_peer_pins_one_queue: %u Requests sent, %" PRIu64 " refused, at most %" PRIu64
           " messages alive (bound %" PRIu64 ")\n",
           sent, atomic_load(&s.echo.refused), live_max, bound);
    ASSERT_TRUE(live_max <= bound);

    tofui_sock_abort(raw);
    WAIT_CLOSES(&s, 1);
    CLIENT_ECHO(&c);
    bounds_client_close(&c);
    bounds_server_close(&s);
    ASSERT_NO_LEAKS();
}

/* ======================================================================== */
/* frames that do not arrive                                                */
/* ======================================================================== */

#define FRAME_BODY 60000u
#define FRAME_SHORT_MS 200u
#define FRAME_SENT 10u

/* The close Signal the server saw last is the one of channel sch, for that
 * reason, naming the limit the server was opened to expect. */
static void bounds_check_close_at(bounds_server *s, uint16_t sch, tofu_status reason,
                                  const char *file, int line) {
    tofu_t_check_u(atomic_load(&s->echo.last_channel), sch, true, "closed channel",
                   "the peer's channel", file, line);
    tofu_t_check_status(reason, (tofu_status)atomic_load(&s->echo.last_reason), "~reason", file,
                        line);
    if (!atomic_load(&s->echo.last_limit_ok))
        tofu_t_fail(file, line, "the close Signal does not say ~limit:%s", s->echo.expect_limit);
}
#define CHECK_LAST_CLOSE(s, sch, reason) bounds_check_close_at((s), (sch), (reason), __FILE__, __LINE__)

/* A Request of FRAME_BODY body bytes (pattern `seed`), whole. */
static void bounds_request(uint8_t *frame, uint64_t id, uint32_t seed) {
    tofu_t_raw_header(frame, 1, TOFU_OP_REQUEST, id, 0, FRAME_BODY);
    tofu_t_fill(frame + 16, FRAME_BODY, seed);
}

/* The raw peer reads the echo of bounds_request(id, seed). */
static void bounds_expect_echo_at(tofui_socket raw, uint64_t id, uint32_t seed, const char *file,
                                  int line) {
    static uint8_t got[16 + FRAME_BODY], want[16 + FRAME_BODY];
    tofu_t_raw_recv_at(raw, got, sizeof got, file, line);
    bounds_request(want, id, seed);
    tofu_t_check_u(got[2] & 0x0f, TOFU_OP_RESPONSE, true, "opcode", "Response", file, line);
    tofu_t_check_mem(got + 4, 8, want + 4, 8, "echoed id", "sent id", file, line);
    tofu_t_check_mem(got + 16, FRAME_BODY, want + 16, FRAME_BODY, "echoed body", "sent body",
                     file, line);
}
#define EXPECT_ECHO(raw, id, seed) bounds_expect_echo_at((raw), (id), (seed), __FILE__, __LINE__)

/* tofu_options.frame_timeout_ms: after its HelloRequest was delivered (the
 * handshake timer is done), a peer sends a header and a few bytes of a
 * Request and stops. Its channel closes after the frame timeout, with
 * ~reason recv_failed and ~limit frame_timeout_ms, and the peer sees the
 * connection reset. A channel idle between frames has no deadline: the
 * good client's, idle for several timeouts, still gets its echoes. */
TRANSPORT_TEST(frame_stalled_midway_times_out) {
    tofu_options opt;
    tofu_options_init(&opt);
    opt.frame_timeout_ms = FRAME_SHORT_MS;
    bounds_server s;
    bounds_server_open(&s, &opt, "frame_timeout_ms");
    bounds_client c;
    bounds_client_open(&c, &s);
    uint16_t sch = 0;
    tofui_socket raw = bounds_raw_hello(&s, &sch);

    static uint8_t frame[16 + FRAME_BODY];
    bounds_request(frame, 5000, 1);
    RAW_SEND(raw, frame, 16 + FRAME_SENT); /* and never the rest */
    WAIT_CLOSES(&s, 1);
    CHECK_LAST_CLOSE(&s, sch, TOFU_RECV_FAILED);
    RAW_WAIT_CLOSED(raw);
    tofui_sock_close(raw);

    tofui_sleep_ms(3 * FRAME_SHORT_MS); /* idle, not under way: no deadline */
    CLIENT_ECHO(&c);
    ASSERT_EQ(atomic_load(&s.echo.closes), 1);
    bounds_client_close(&c);
    bounds_server_close(&s);
    ASSERT_NO_LEAKS();
}

/* The deadline is for the whole frame, not for each piece: a peer that
 * trickles a frame one byte at a time, always "making progress", is
 * closed all the same (it would otherwise hold its buffer for as long as
 * it likes). The trickle stops only when the server closed the channel. */
TRANSPORT_TEST(trickled_frame_times_out_despite_progress) {
    tofu_options opt;
    tofu_options_init(&opt);
    opt.frame_timeout_ms = FRAME_SHORT_MS;
    bounds_server s;
    bounds_server_open(&s, &opt, "frame_timeout_ms");
    uint16_t sch = 0;
    tofui_socket raw = bounds_raw_hello(&s, &sch);

    static uint8_t frame[16 + FRAME_BODY];
    bounds_request(frame, 5000, 2);
    RAW_SEND(raw, frame, 16);
    uint64_t deadline = tofui_clock_ns() + TOFU_T_WAIT_S * 1000000000ull;
    size_t sent = 16;
    while (atomic_load(&s.echo.closes) == 0) {
        ASSERT_TRUE(sent < sizeof frame && tofui_clock_ns() < deadline); /* hang guard */
        tofui_iov iov = {frame + sent, 1};
        size_t w = 0;
        if (tofui_sock_writev(raw, &iov, 1, &w) != TOFU_SUCCESS)
            break; /* the reset came */
        sent += w;
        tofui_sleep_ms(FRAME_SHORT_MS / 10);
    }
    WAIT_CLOSES(&s, 1);
    CHECK_LAST_CLOSE(&s, sch, TOFU_RECV_FAILED);
    printf("trickled_frame_times_out_despite_progress: closed after %zu of %zu bytes\n", sent,
           sizeof frame);
    RAW_WAIT_CLOSED(raw);
    tofui_sock_close(raw);
    bounds_server_close(&s);
    ASSERT_NO_LEAKS();
}

/* A frame that comes in pieces, slowly but well within frame_timeout_ms,
 * arrives intact (and is echoed back whole). */
#define FRAME_PIECES 10u
TRANSPORT_TEST(slow_frame_within_timeout_arrives) {
    tofu_options opt;
    tofu_options_init(&opt);
    opt.frame_timeout_ms = 50 * FRAME_SHORT_MS; /* 10 s for pieces 20 ms apart */
    bounds_server s;
    bounds_server_open(&s, &opt, NULL);
    uint16_t sch = 0;
    tofui_socket raw = bounds_raw_hello(&s, &sch);

    static uint8_t frame[16 + FRAME_BODY];
    bounds_request(frame, 5000, 3);
    size_t piece = sizeof frame / FRAME_PIECES + 1;
    for (size_t off = 0; off < sizeof frame; off += piece) {
        size_t n = sizeof frame - off < piece ? sizeof frame - off : piece;
        RAW_SEND(raw, frame + off, n);
        tofui_sleep_ms(FRAME_SHORT_MS / 10);
    }
    EXPECT_ECHO(raw, 5000, 3);
    ASSERT_EQ(atomic_load(&s.echo.closes), 0);
    tofui_sock_close(raw);
    WAIT_CLOSES(&s, 1);
    bounds_server_close(&s);
    ASSERT_NO_LEAKS();
}

/* tofu_options.max_partial_bytes: six raw peers each start a Request of
 * FRAME_BODY bytes and send two thirds of it; the budget holds five such
 * frames. The sixth one's bytes close the peer whose frame started first,
 * with ~reason allocation_failed and ~limit max_partial_bytes; the other
 * five then finish their frames and get their echoes, and a good client
 * keeps working. */
#define CAP_PEERS 6u
#define CAP_FIRST (FRAME_BODY * 2u / 3u)
TRANSPORT_TEST(partial_bytes_cap_closes_the_oldest) {
    tofu_options opt;
    tofu_options_init(&opt);
    opt.max_partial_bytes = (CAP_PEERS - 1) * FRAME_BODY;
    bounds_server s;
    bounds_server_open(&s, &opt, "max_partial_bytes");
    bounds_client c;
    bounds_client_open(&c, &s);

    static uint8_t frame[CAP_PEERS][16 + FRAME_BODY];
    tofui_socket raw[CAP_PEERS];
    uint16_t sch[CAP_PEERS];
    for (uint32_t i = 0; i < CAP_PEERS; i++) {
        bounds_request(frame[i], 6000 + i, 10 + i);
        /* Hello and the start of the frame in one write: once the peer
         * has its HelloResponse, the server holds the start. */
        raw[i] = bounds_raw_hello_then(&s, frame[i], 16 + CAP_FIRST, &sch[i]);
    }
    WAIT_CLOSES(&s, 1);
    CHECK_LAST_CLOSE(&s, sch[0], TOFU_ALLOCATION_FAILED);
    RAW_WAIT_CLOSED(raw[0]);
    tofui_sock_close(raw[0]);

    for (uint32_t i = 1; i < CAP_PEERS; i++) {
        RAW_SEND(raw[i], frame[i] + 16 + CAP_FIRST, FRAME_BODY - CAP_FIRST);
        EXPECT_ECHO(raw[i], 6000 + i, 10 + i);
    }
    CLIENT_ECHO(&c);
    ASSERT_EQ(atomic_load(&s.echo.closes), 1);
    for (uint32_t i = 1; i < CAP_PEERS; i++)
        tofui_sock_close(raw[i]);
    WAIT_CLOSES(&s, CAP_PEERS);
    bounds_client_close(&c);
    bounds_server_close(&s);
    ASSERT_NO_LEAKS();
}
