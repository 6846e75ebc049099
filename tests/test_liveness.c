/*
 * Idle channels and connects that wait for the server (tofu_options
 * idle_timeout_ms, connect_retry_ms, listen_backlog;
 * tofu_msg_set_connect_retry). Dead peers behind a real partition
 * (keepalive, user timeout) are in test_netns.c: they need namespaces.
 *
 * The waits here are bounded by the hang guard; the few lower bounds
 * checked (a retry deadline is not answered before it) are the engine's
 * own clock against the test's, never a claim about speed.
 */
#include <stdio.h>
#include <string.h>

#include "pair.h"

#define LIVENESS_NS_PER_MS 1000000ull

static uint64_t liveness_ms_since(uint64_t t0) {
    return (tofui_clock_ns() - t0) / LIVENESS_NS_PER_MS;
}

static bool liveness_limit_is(const tofu_msg *m, const char *want) {
    tofu_header h;
    if (!tofu_msg_find_header(m, TOFU_HDR_LIMIT, &h))
        return false;
    return h.value_len == strlen(want) && memcmp(h.value, want, h.value_len) == 0;
}

/* A Signal with one byte of body on channel ch. */
static void liveness_post_signal(tofu_engine *e, tofu_group *g, uint16_t ch) {
    tofu_msg *m = tofu_t_get(e);
    tofu_msg_set_opcode(m, TOFU_OP_SIGNAL);
    tofu_msg_set_channel(m, ch);
    ASSERT_OK(tofu_msg_append_body(m, "x", 1));
    POST(g, &m);
}

/* The close Signal of an idle channel: communication_failed, ~limit
 * idle_timeout_ms. */
static void liveness_expect_idle_close(tofu_engine *e, tofu_group *g, uint16_t ch) {
    tofu_msg *m = NEXT_MSG(e, g);
    CHECK_CLOSE(m, ch, TOFU_COMMUNICATION_FAILED);
    if (!liveness_limit_is(m, "idle_timeout_ms"))
        FAIL_MSG("expected ~limit idle_timeout_ms", m);
    tofu_put(e, &m);
}

/* The peer's side of a channel the other side closed for idleness (an
 * abort: TCP reset, or on UDS an end of stream). */
static void liveness_expect_peer_abort(pair *p, tofu_engine *e, tofu_group *g, uint16_t ch) {
    tofu_msg *m = NEXT_MSG(e, g);
    CHECK_ABORT_CLOSE(m, ch, p->t == TOFU_T_UDS);
    tofu_put(e, &m);
}

/* ------------------------------------------------------------------------ */
/* idle timeout                                                             */
/* ------------------------------------------------------------------------ */

/* A connected channel that receives nothing for idle_timeout_ms closes,
 * naming the option; its peer sees an abort. */
TRANSPORT_TEST(idle_timeout_closes_a_silent_channel) {
    tofu_options server, client;
    tofu_options_init(&server);
    tofu_options_init(&client);
    server.idle_timeout_ms = 300;
    pair p;
    pair_open_with(&p, &server, &client);
    pair_connect(&p);
    uint64_t t0 = tofui_clock_ns();
    liveness_expect_idle_close(p.se, p.sg, p.sch);
    ASSERT_TRUE(liveness_ms_since(t0) + 1 >= 300 - 50); /* not long before its deadline */
    liveness_expect_peer_abort(&p, p.ce, p.cg, p.cch);
    pair_close(&p);
}

/* Every frame received starts the idle deadline again: a peer that sends
 * more often than idle_timeout_ms keeps its channel; once it stops, the
 * channel closes. Our own sends do not count: the server keeps sending to
 * a client that stays silent, and still closes the channel. */
TRANSPORT_TEST(idle_timeout_counts_received_frames_only) {
    tofu_options server, client;
    tofu_options_init(&server);
    tofu_options_init(&client);
    server.idle_timeout_ms = 1000;
    client.idle_timeout_ms = 60000; /* the client never goes idle here */
    pair p;
    pair_open_with(&p, &server, &client);
    pair_connect(&p);
    for (int i = 0; i < 15; i++) { /* 1.5 s of traffic, one frame per 100 ms */
        liveness_post_signal(p.ce, p.cg, p.cch);
        tofu_msg *m = NEXT_MSG(p.se, p.sg);
        if (tofu_msg_opcode(m) != TOFU_OP_SIGNAL || tofu_msg_from_engine(m))
            FAIL_MSG("expected the client's Signal (the channel went idle?)", m);
        tofu_put(p.se, &m);
        tofui_sleep_ms(100);
    }
    /* Now only the server sends, every 100 ms for 3 s: were its sends
     * counted, the channel would outlive them; it closes about 1 s after
     * the client's last frame. Signals the close caught unsent come back
     * first (from the engine). */
    tofu_msg *closed = NULL;
    for (int i = 0; i < 30 && closed == NULL; i++) {
        liveness_post_signal(p.se, p.sg, p.sch);
        tofu_msg *m;
        while (closed == NULL && (m = tofu_t_poll_msg(p.sg, 100)) != NULL) {
            if (tofu_t_is_close_signal(m))
                closed = m;
            else if (tofu_msg_opcode(m) == TOFU_OP_SIGNAL && tofu_msg_from_engine(m))
                tofu_put(p.se, &m);
            else
                FAIL_MSG("expected nothing but the close Signal", m);
        }
    }
    if (closed == NULL)
        tofu_t_fail(__FILE__, __LINE__, "our own sends kept the idle channel open");
    CHECK_CLOSE(closed, p.sch, TOFU_COMMUNICATION_FAILED);
    if (!liveness_limit_is(closed, "idle_timeout_ms"))
        FAIL_MSG("expected ~limit idle_timeout_ms", closed);
    tofu_put(p.se, &closed);
    /* The client got the server's Signals, then the abort. */
    for (;;) {
        tofu_msg *m = NEXT_MSG(p.ce, p.cg);
        if (tofu_msg_opcode(m) == TOFU_OP_SIGNAL && !tofu_msg_from_engine(m)) {
            tofu_put(p.ce, &m);
            continue;
        }
        CHECK_ABORT_CLOSE(m, p.cch, p.t == TOFU_T_UDS);
        tofu_put(p.ce, &m);
        break;
    }
    pair_close(&p);
}

/* ------------------------------------------------------------------------ */
/* connects that wait for the server                                        */
/* ------------------------------------------------------------------------ */

/* A pair whose listener is gone again: p.reach refuses (TCP) or has no
 * socket file (UDS) until the case listens on p.same. */
static void liveness_open_without_listener(pair *p, const tofu_options *client) {
    tofu_options server;
    tofu_options_init(&server);
    pair_open_with(p, &server, client);
    ABORT_IDLE(p->se, p->sg, p->listener);
}

static tofu_bhdr liveness_post_hello(pair *p, int64_t retry_ms) {
    tofu_msg *m = tofu_t_get(p->ce);
    ASSERT_OK(tofu_msg_add_header(m, TOFU_HDR_CONNECT_TO, p->reach));
    tofu_msg_set_opcode(m, TOFU_OP_HELLO_REQUEST);
    if (retry_ms >= 0)
        tofu_msg_set_connect_retry(m, (uint32_t)retry_ms);
    return POST(p->cg, &m);
}

/* The server's application answers the HelloRequest that reached it. */
static uint16_t liveness_answer_hello(pair *p) {
    tofu_msg *m = NEXT_MSG(p->se, p->sg);
    if (tofu_msg_opcode(m) != TOFU_OP_HELLO_REQUEST)
        FAIL_MSG("expected the client's HelloRequest", m);
    uint16_t ch = tofu_msg_channel(m);
    tofu_msg_set_opcode(m, TOFU_OP_HELLO_RESPONSE);
    POST(p->sg, &m);
    return ch;
}

/* Connect first, listen 300 ms later: the HelloRequest is answered once,
 * by the server; what was posted to the channel meanwhile waited on it
 * (the channel kept its number) and goes out after the HelloRequest. */
TRANSPORT_TEST(connect_retry_waits_for_the_server) {
    pair p;
    liveness_open_without_listener(&p, NULL);
    tofu_bhdr h = liveness_post_hello(&p, 20000);
    liveness_post_signal(p.ce, p.cg, h.channel);
    tofui_sleep_ms(300);
    EXPECT_NOTHING(p.cg, 1); /* no answer while nobody listens */
    p.listener = LISTEN(p.se, p.sg, p.same, NULL);
    p.sch = liveness_answer_hello(&p);
    tofu_msg *m = EXPECT_MSG(p.cg, TOFU_OP_HELLO_RESPONSE, TOFU_SUCCESS);
    ASSERT_EQ(tofu_msg_channel(m), h.channel);
    ASSERT_EQ(tofu_msg_id(m), h.message_id);
    ASSERT_FALSE(tofu_msg_from_engine(m));
    tofu_put(p.ce, &m);
    m = NEXT_MSG(p.se, p.sg); /* the Signal posted while the connect waited */
    if (tofu_msg_opcode(m) != TOFU_OP_SIGNAL || tofu_msg_channel(m) != p.sch)
        FAIL_MSG("expected the Signal posted before the connect", m);
    tofu_put(p.se, &m);
    p.cch = h.channel;
    pair_bye(&p);
    pair_close(&p);
}

/* Nobody listens until the deadline: the HelloRequest is answered once,
 * after the deadline, with the last try's failure, then the close Signal,
 * then nothing. */
TRANSPORT_TEST(connect_retry_deadline_answers_once) {
    pair p;
    liveness_open_without_listener(&p, NULL);
    uint64_t t0 = tofui_clock_ns();
    tofu_bhdr h = liveness_post_hello(&p, 300);
    tofu_status want = tofu_t_refused_status(p.t);
    tofu_msg *m = EXPECT_MSG(p.cg, TOFU_OP_HELLO_RESPONSE, want);
    ASSERT_TRUE(liveness_ms_since(t0) >= 300); /* answered only at the deadline */
    ASSERT_EQ(tofu_msg_channel(m), h.channel);
    ASSERT_EQ(tofu_msg_id(m), h.message_id);
    ASSERT_TRUE(tofu_msg_from_engine(m));
    tofu_put(p.ce, &m);
    EXPECT_CLOSE(p.ce, p.cg, h.channel, want);
    EXPECT_NOTHING(p.cg, 300);
    pair_close(&p);
}

/* The engine's default applies to a HelloRequest without a retry of its
 * own; one with TOFU_TIMEOUT_NONE (or 0) tries once, whatever the
 * default. */
TRANSPORT_TEST(connect_retry_default_and_override) {
    tofu_options client;
    tofu_options_init(&client);
    client.connect_retry_ms = 300;
    pair p;
    liveness_open_without_listener(&p, &client);
    tofu_status want = tofu_t_refused_status(p.t);
    uint64_t t0 = tofui_clock_ns();
    tofu_bhdr h = liveness_post_hello(&p, -1); /* the default: 300 ms */
    tofu_msg *m = EXPECT_MSG(p.cg, TOFU_OP_HELLO_RESPONSE, want);
    ASSERT_TRUE(liveness_ms_since(t0) >= 300);
    tofu_put(p.ce, &m);
    EXPECT_CLOSE(p.ce, p.cg, h.channel, want);
    /* With a default of 30 s, the override answers at once: well before
     * the hang guard, which is shorter than that default. */
    tofu_engine_destroy(p.ce);
    client.connect_retry_ms = 120000;
    p.ce = tofu_t_engine_with(&client);
    p.cg = tofu_t_group(p.ce);
    h = liveness_post_hello(&p, TOFU_TIMEOUT_NONE);
    m = EXPECT_MSG(p.cg, TOFU_OP_HELLO_RESPONSE, want);
    tofu_put(p.ce, &m);
    EXPECT_CLOSE(p.ce, p.cg, h.channel, want);
    h = liveness_post_hello(&p, 0);
    m = EXPECT_MSG(p.cg, TOFU_OP_HELLO_RESPONSE, want);
    tofu_put(p.ce, &m);
    EXPECT_CLOSE(p.ce, p.cg, h.channel, want);
    pair_close(&p);
}

/* A channel aborted while it waits to try again: the ByeSignal, then its
 * HelloRequest's answer once (channel_closed), then the close Signal; no
 * try follows. */
TRANSPORT_TEST(connect_retry_abort_while_waiting) {
    pair p;
    liveness_open_without_listener(&p, NULL);
    tofu_bhdr h = liveness_post_hello(&p, 20000);
    tofui_sleep_ms(50);
    tofu_msg *m = tofu_t_get(p.ce);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(m, h.channel);
    tofu_msg_bhdr(m)->internal_a = true;
    POST(p.cg, &m);
    m = EXPECT_MSG(p.cg, TOFU_OP_BYE_SIGNAL, TOFU_CHANNEL_CLOSED);
    tofu_put(p.ce, &m);
    m = EXPECT_MSG(p.cg, TOFU_OP_HELLO_RESPONSE, TOFU_CHANNEL_CLOSED);
    ASSERT_EQ(tofu_msg_id(m), h.message_id);
    tofu_put(p.ce, &m);
    EXPECT_CLOSE(p.ce, p.cg, h.channel, TOFU_CHANNEL_CLOSED);
    p.listener = LISTEN(p.se, p.sg, p.same, NULL);
    EXPECT_NOTHING(p.sg, 300); /* no try reached the new listener */
    pair_close(&p);
}

/* The retry deadline is a local property: copied by clone, cleared by
 * reset. */
TEST(connect_retry_is_a_local_property) {
    tofu_msg *m = NULL;
    ASSERT_OK(tofu_msg_create(&m));
    uint32_t ms = 7;
    ASSERT_FALSE(tofu_msg_connect_retry(m, &ms));
    ASSERT_EQ(ms, 7);
    tofu_msg_set_connect_retry(m, 1234);
    ASSERT_TRUE(tofu_msg_connect_retry(m, &ms));
    ASSERT_EQ(ms, 1234);
    tofu_msg *c = NULL;
    ASSERT_OK(tofu_msg_clone(m, &c));
    ASSERT_TRUE(tofu_msg_connect_retry(c, NULL));
    tofu_msg_reset(m);
    ASSERT_FALSE(tofu_msg_connect_retry(m, NULL));
    tofu_msg_destroy(m);
    tofu_msg_destroy(c);
    ASSERT_NO_LEAKS();
}

/* ------------------------------------------------------------------------ */
/* bursts against a small backlog                                           */
/* ------------------------------------------------------------------------ */

/* Many clients at once at a Unix listener with a small backlog: the
 * kernel refuses the connects that do not fit (EAGAIN) and, with a retry
 * deadline, each comes back until it gets in: every one connects. */
TRANSPORT_TEST(connect_retry_burst_at_small_backlog, uds) {
    uint64_t n = 2000;
    uint64_t fds = tofu_t_descriptors_raise(2 * n + 256);
    if (fds < 2 * n + 256)
        n = fds > 512 ? (fds - 256) / 2 : 128;
    tofu_options server, client;
    tofu_options_init(&server);
    tofu_options_init(&client);
    server.listen_backlog = 4;
    server.max_pool_msgs = 4096;
    client.connect_retry_ms = 60000;
    client.max_pool_msgs = 4096;
    pair p;
    pair_open_with(&p, &server, &client);
    tofu_t_echo echo;
    memset(&echo, 0, sizeof echo);
    tofu_t_echo_start(&echo, p.se, p.sg);
    for (uint64_t i = 0; i < n; i++) {
        tofu_msg *m = tofu_t_get(p.ce);
        ASSERT_OK(tofu_msg_add_header(m, TOFU_HDR_CONNECT_TO, p.reach));
        tofu_msg_set_opcode(m, TOFU_OP_HELLO_REQUEST);
        POST(p.cg, &m);
    }
    uint64_t ok = 0;
    for (uint64_t i = 0; i < n; i++) {
        tofu_msg *m = NEXT_MSG(p.ce, p.cg);
        if (tofu_msg_opcode(m) != TOFU_OP_HELLO_RESPONSE || tofu_msg_status(m) != TOFU_SUCCESS)
            FAIL_MSG("expected every connect of the burst to succeed", m);
        ok++;
        tofu_put(p.ce, &m);
    }
    ASSERT_EQ(ok, n);
    printf("%llu connects at a backlog of 4: all connected\n", (unsigned long long)n);
    tofu_engine_destroy(p.ce); /* the client's channels go with it */
    p.ce = NULL;
    ECHO_WAIT_CLOSES(&echo, n);
    tofu_t_echo_stop(&echo);
    pair_close(&p);
}

/* Listeners take the system's largest backlog by default (SOMAXCONN; on
 * Linux net.core.somaxconn, 4096): 1500 Unix connects that nobody accepts
 * yet all get in, where a backlog of 1024 would refuse the rest. */
TRANSPORT_TEST(listen_backlog_default_is_the_largest, uds) {
    tofu_t_transport_arg();
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    unsigned long max = 0;
    if (f == NULL || fscanf(f, "%lu", &max) != 1) {
        if (f != NULL)
            fclose(f);
        tofu_t_skip("the system's backlog limit is not readable here (Linux only)");
    }
    fclose(f);
    enum { N = 1500 };
    if (max < N + 1)
        tofu_t_skip("net.core.somaxconn is below 1501 on this system");
    if (tofu_t_descriptors_raise(N + 256) < N + 256)
        tofu_t_skip("not enough descriptors for 1500 connections");
    char value[TOFU_T_ADDR_CAP];
    tofu_t_listen_value(TOFU_T_UDS, value, sizeof value);
    tofu_address a;
    ASSERT_OK(tofu_address_parse(value, strlen(value), &a));
    tofui_sockaddr sa;
    size_t n = 0;
    ASSERT_OK(tofui_sock_resolve(&a, true, &sa, 1, &n));
    tofui_socket l = TOFUI_INVALID_SOCKET;
    ASSERT_OK(tofui_sock_listen(&sa, &l));
    static tofui_socket c[N];
    for (int i = 0; i < N; i++) {
        bool in_progress = false;
        ASSERT_OK(tofui_sock_connect(&sa, &c[i], &in_progress));
    }
    for (int i = 0; i < N; i++)
        tofui_sock_close(c[i]);
    tofui_sock_close_listener(l, &sa);
    ASSERT_NO_LEAKS();
}
