/*
 * Engine smoke tests: the end-to-end basics over TCP and UDS. Each case
 * destroys its engines and proves that no message and no socket leaked.
 * Waits have a generous limit only to turn a hang into a failure.
 */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h" /* tofui_engine_inject_fault */
#include "engine_util.h"
#include "test.h"

#define SMOKE_WAIT_NS (30ull * TOFU_WAIT_SECOND)

/* ---- helpers ---- */

static tofu_engine *smoke_engine(void) {
    tofu_engine *e = NULL;
    ASSERT_OK(tofu_engine_create(NULL, &e));
    ASSERT_NOT_NULL(e);
    return e;
}

static tofu_group *smoke_group(tofu_engine *e) {
    tofu_group *g = NULL;
    ASSERT_OK(tofu_group_create(e, &g));
    ASSERT_NOT_NULL(g);
    return g;
}

static tofu_msg *smoke_wait(tofu_group *g) {
    tofu_msg *m = NULL;
    ASSERT_OK(tofu_wait_receive(g, SMOKE_WAIT_NS, &m));
    if (m == NULL)
        tofu_t_fail(__FILE__, __LINE__, "no message within 30 s");
    return m;
}

static tofu_msg *smoke_expect(tofu_group *g, tofu_opcode op, tofu_status st) {
    tofu_msg *m = smoke_wait(g);
    if (tofu_msg_opcode(m) != op || tofu_msg_status(m) != st)
        tofu_t_fail(__FILE__, __LINE__, "expected %s/%s, got %s/%s ch=%u", tofu_op_name(op),
                    tofu_status_name(st), tofu_op_name(tofu_msg_opcode(m)),
                    tofu_status_name(tofu_msg_status(m)), tofu_msg_channel(m));
    return m;
}

static tofu_status smoke_reason(const tofu_msg *m) {
    tofu_header h;
    char name[64];
    tofu_status st = TOFU_UNKNOWN_ERROR;
    if (!tofu_msg_find_header(m, TOFU_HDR_REASON, &h) || h.value_len >= sizeof name)
        return st;
    memcpy(name, h.value, h.value_len);
    name[h.value_len] = '\0';
    tofu_status_from_name(name, &st);
    return st;
}

/* Checks the close Signal of `channel` and returns its reason. */
static tofu_status smoke_close(tofu_engine *e, tofu_group *g, uint16_t channel) {
    tofu_msg *m = smoke_expect(g, TOFU_OP_SIGNAL, TOFU_CHANNEL_CLOSED);
    ASSERT_TRUE(tofu_msg_from_engine(m));
    ASSERT_EQ(tofu_msg_channel(m), channel);
    tofu_status reason = smoke_reason(m);
    tofu_put(e, &m);
    return reason;
}

static void smoke_post(tofu_group *g, tofu_msg **m, tofu_bhdr *out) {
    ASSERT_OK(tofu_post(g, m, out));
    ASSERT_NULL(*m);
}

/* Listens and returns the listener channel; `addr` receives the bound
 * address from the WelcomeResponse. */
static uint16_t smoke_listen(tofu_engine *e, tofu_group *g, bool uds, const char *path,
                             tofu_address *addr) {
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    if (uds)
        ASSERT_OK(tofu_msg_listen_uds(m, path));
    else
        ASSERT_OK(tofu_msg_listen_tcp(m, "127.0.0.1", 0));
    tofu_bhdr h;
    smoke_post(g, &m, &h);
    ASSERT_NE(h.channel, 0);
    m = smoke_expect(g, TOFU_OP_WELCOME_RESPONSE, TOFU_SUCCESS);
    ASSERT_TRUE(tofu_msg_from_engine(m));
    ASSERT_EQ(tofu_msg_channel(m), h.channel);
    ASSERT_EQ(tofu_msg_id(m), h.message_id);
    tofu_header lh;
    ASSERT_TRUE(tofu_msg_find_header(m, TOFU_HDR_LISTEN_ON, &lh));
    ASSERT_OK(tofu_address_parse(lh.value, lh.value_len, addr));
    tofu_put(e, &m);
    return h.channel;
}

static tofu_msg *smoke_hello_msg(tofu_engine *e, const tofu_address *a) {
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    ASSERT_OK(tofu_msg_connect(m, a));
    return m;
}

typedef struct smoke_pair {
    tofu_engine *ce, *se;
    tofu_group *cg, *sg;
    uint16_t listener, client, server;
} smoke_pair;

/* A fresh socket-file path; the case is skipped where AF_UNIX is missing. */
static void smoke_uds_path(char *buf, size_t cap) {
    if (!tofui_sock_uds_available())
        tofu_t_skip("no AF_UNIX on this system");
    tofu_t_uds_path(buf, cap);
}

/* Two engines; the client connects and the Hello exchange completes. */
static void smoke_connect(smoke_pair *p, bool uds, const char *path) {
    tofu_address addr;
    p->ce = smoke_engine();
    p->se = smoke_engine();
    p->cg = smoke_group(p->ce);
    p->sg = smoke_group(p->se);
    p->listener = smoke_listen(p->se, p->sg, uds, path, &addr);
    if (!uds)
        ASSERT_NE(addr.port, 0); /* the real port, not the 0 asked for */

    tofu_msg *m = smoke_hello_msg(p->ce, &addr);
    tofu_bhdr hello;
    smoke_post(p->cg, &m, &hello);
    p->client = hello.channel;

    m = smoke_expect(p->sg, TOFU_OP_HELLO_REQUEST, TOFU_SUCCESS);
    ASSERT_FALSE(tofu_msg_from_engine(m));
    ASSERT_EQ(tofu_msg_id(m), hello.message_id);
    ASSERT_TRUE(tofu_msg_find_header(m, TOFU_HDR_CONNECT_TO, NULL));
    p->server = tofu_msg_channel(m);
    ASSERT_NE(p->server, p->listener);
    tofu_msg_set_opcode(m, TOFU_OP_HELLO_RESPONSE);
    smoke_post(p->sg, &m, NULL);

    m = smoke_expect(p->cg, TOFU_OP_HELLO_RESPONSE, TOFU_SUCCESS);
    ASSERT_FALSE(tofu_msg_from_engine(m));
    ASSERT_EQ(tofu_msg_channel(m), p->client);
    ASSERT_EQ(tofu_msg_id(m), hello.message_id);
    tofu_put(p->ce, &m);
}

static void smoke_destroy(smoke_pair *p) {
    ASSERT_OK(tofu_group_destroy(p->ce, p->cg));
    ASSERT_OK(tofu_group_destroy(p->se, p->sg));
    tofu_engine_destroy(p->ce);
    tofu_engine_destroy(p->se);
}

/* A Request with a body goes to the server, which answers with it. */
static void smoke_echo(smoke_pair *p, size_t body_len) {
    static unsigned char body[60000];
    for (size_t i = 0; i < body_len; i++)
        body[i] = (unsigned char)(i * 7 + 3);
    tofu_msg *m = tofu_get(p->ce, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, p->client);
    ASSERT_OK(tofu_msg_add_header(m, "kind", "echo"));
    ASSERT_OK(tofu_msg_append_body(m, body, body_len));
    tofu_bhdr req;
    smoke_post(p->cg, &m, &req);

    m = smoke_expect(p->sg, TOFU_OP_REQUEST, TOFU_SUCCESS);
    ASSERT_EQ(tofu_msg_channel(m), p->server);
    tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
    smoke_post(p->sg, &m, NULL);

    m = smoke_expect(p->cg, TOFU_OP_RESPONSE, TOFU_SUCCESS);
    ASSERT_EQ(tofu_msg_id(m), req.message_id);
    ASSERT_EQ(tofu_msg_channel(m), p->client);
    size_t len = 0;
    const void *got = tofu_msg_body(m, &len);
    ASSERT_MEM_EQ(got, len, body, body_len);
    tofu_header h;
    ASSERT_TRUE(tofu_msg_find_header(m, "kind", &h));
    ASSERT_MEM_EQ(h.value, h.value_len, "echo", 4);
    tofu_put(p->ce, &m);
}

/* ByeRequest from the client, ByeResponse from the server: both channels
 * close with ~reason channel_closed. */
static void smoke_graceful_close(smoke_pair *p) {
    tofu_msg *m = tofu_get(p->ce, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_REQUEST);
    tofu_msg_set_channel(m, p->client);
    smoke_post(p->cg, &m, NULL);

    m = smoke_expect(p->sg, TOFU_OP_BYE_REQUEST, TOFU_SUCCESS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_RESPONSE);
    smoke_post(p->sg, &m, NULL);

    m = smoke_expect(p->cg, TOFU_OP_BYE_RESPONSE, TOFU_SUCCESS);
    ASSERT_FALSE(tofu_msg_from_engine(m));
    tofu_put(p->ce, &m);
    ASSERT_STATUS(TOFU_CHANNEL_CLOSED, smoke_close(p->ce, p->cg, p->client));
    ASSERT_STATUS(TOFU_CHANNEL_CLOSED, smoke_close(p->se, p->sg, p->server));
}

static void smoke_full_exchange(bool uds, const char *path) {
    smoke_pair p;
    smoke_connect(&p, uds, path);
    smoke_echo(&p, 0);
    smoke_echo(&p, 100);
    smoke_echo(&p, 60000);
    smoke_graceful_close(&p);
    smoke_destroy(&p);
    ASSERT_NO_LEAKS();
}

/* ---- cases ---- */

TEST(create_and_destroy) {
    tofu_engine *a = smoke_engine();
    tofu_engine *b = smoke_engine();
    tofu_group *g = smoke_group(a);
    smoke_group(b); /* left for engine destroy */
    tofu_msg *m = tofu_get(a, TOFU_POOL_ONLY);
    ASSERT_NOT_NULL(m);
    tofu_put(a, &m);
    ASSERT_NULL(m);
    ASSERT_OK(tofu_group_destroy(a, g));
    tofu_engine_destroy(a);
    tofu_engine_destroy(b);
    ASSERT_NO_LEAKS();
}

TEST(tcp_listen_on_port_0_reports_the_real_port) {
    tofu_engine *e = smoke_engine();
    tofu_group *g = smoke_group(e);
    tofu_address a;
    smoke_listen(e, g, false, NULL, &a);
    ASSERT_EQ(a.transport, TOFU_TRANSPORT_TCP);
    ASSERT_STR_EQ(a.host, "127.0.0.1");
    ASSERT_NE(a.port, 0);
    tofu_engine_destroy(e); /* the group and the listener go with it */
    ASSERT_NO_LEAKS();
}

TEST(tcp_hello_echo_and_graceful_bye) {
    smoke_full_exchange(false, NULL);
}

/* Connecting to path must fail with `want` (the file is gone). */
static void smoke_connect_fails(const char *path, tofu_status want) {
    tofu_engine *e = smoke_engine();
    tofu_group *g = smoke_group(e);
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    ASSERT_OK(tofu_msg_connect_uds(m, path));
    tofu_bhdr hello;
    smoke_post(g, &m, &hello);
    m = smoke_expect(g, TOFU_OP_HELLO_RESPONSE, want);
    ASSERT_TRUE(tofu_msg_from_engine(m));
    ASSERT_EQ(tofu_msg_channel(m), hello.channel);
    ASSERT_EQ(tofu_msg_id(m), hello.message_id);
    tofu_put(e, &m);
    ASSERT_STATUS(want, smoke_close(e, g, hello.channel));
    ASSERT_OK(tofu_group_destroy(e, g));
    tofu_engine_destroy(e);
}

TEST(uds_hello_echo_and_graceful_bye) {
    char path[TOFU_UDS_PATH_BUF];
    smoke_uds_path(path, sizeof path);
    smoke_full_exchange(true, path);
    /* The listener went with its engine and removed its socket file. */
    smoke_connect_fails(path, TOFU_UDS_PATH_NOT_FOUND);
    ASSERT_NO_LEAKS();
}

static void smoke_abort(bool uds, const char *path) {
    smoke_pair p;
    smoke_connect(&p, uds, path);
    tofu_msg *m = tofu_get(p.ce, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(m, p.client);
    tofu_msg_bhdr(m)->internal_a = true; /* bit 6: abort */
    tofu_bhdr bye;
    smoke_post(p.cg, &m, &bye);
    m = smoke_expect(p.cg, TOFU_OP_BYE_SIGNAL, TOFU_CHANNEL_CLOSED);
    ASSERT_TRUE(tofu_msg_from_engine(m));
    ASSERT_EQ(tofu_msg_id(m), bye.message_id);
    tofu_put(p.ce, &m);
    ASSERT_STATUS(TOFU_CHANNEL_CLOSED, smoke_close(p.ce, p.cg, p.client));
    /* The peer sees a reset (TCP) or an end of stream (UDS). */
    tofu_status why = smoke_close(p.se, p.sg, p.server);
    ASSERT_TRUE(why == TOFU_COMMUNICATION_FAILED || why == TOFU_PEER_DISCONNECTED ||
                why == TOFU_RECV_FAILED);
    /* The number is gone: posting to it fails synchronously. */
    m = tofu_get(p.ce, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_SIGNAL);
    tofu_msg_set_channel(m, p.client);
    ASSERT_STATUS(TOFU_INVALID_CHANNEL_NUMBER, tofu_post(p.cg, &m, NULL));
    tofu_put(p.ce, &m);
    smoke_destroy(&p);
    ASSERT_NO_LEAKS();
}

TEST(tcp_bye_signal_aborts) {
    smoke_abort(false, NULL);
}

TEST(uds_bye_signal_aborts) {
    char path[TOFU_UDS_PATH_BUF];
    smoke_uds_path(path, sizeof path);
    smoke_abort(true, path);
}

/* A port that nobody listens on any more: the listener is closed first. */
TEST(tcp_connect_refused) {
    tofu_engine *e = smoke_engine();
    tofu_group *g = smoke_group(e);
    tofu_address a;
    uint16_t l = smoke_listen(e, g, false, NULL, &a);
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(m, l);
    smoke_post(g, &m, NULL);
    m = smoke_expect(g, TOFU_OP_BYE_SIGNAL, TOFU_CHANNEL_CLOSED);
    tofu_put(e, &m);
    ASSERT_STATUS(TOFU_CHANNEL_CLOSED, smoke_close(e, g, l));

    m = smoke_hello_msg(e, &a);
    tofu_bhdr hello;
    smoke_post(g, &m, &hello);
    m = smoke_expect(g, TOFU_OP_HELLO_RESPONSE, TOFU_CONNECT_FAILED);
    ASSERT_TRUE(tofu_msg_from_engine(m));
    ASSERT_EQ(tofu_msg_channel(m), hello.channel);
    ASSERT_EQ(tofu_msg_id(m), hello.message_id);
    tofu_put(e, &m);
    ASSERT_STATUS(TOFU_CONNECT_FAILED, smoke_close(e, g, hello.channel));
    ASSERT_OK(tofu_group_destroy(e, g));
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

TEST(uds_connect_to_missing_path) {
    char path[TOFU_UDS_PATH_BUF];
    smoke_uds_path(path, sizeof path);
    smoke_connect_fails(path, TOFU_UDS_PATH_NOT_FOUND);
    ASSERT_NO_LEAKS();
}

/* Engine destroy with live channels, queued messages and groups left. */
TEST(destroy_with_open_channels) {
    smoke_pair p;
    smoke_connect(&p, false, NULL);
    for (int i = 0; i < 10; i++) {
        tofu_msg *m = tofu_get(p.ce, TOFU_ALWAYS);
        tofu_msg_set_opcode(m, TOFU_OP_SIGNAL);
        tofu_msg_set_channel(m, p.client);
        smoke_post(p.cg, &m, NULL);
    }
    tofu_engine_destroy(p.se);
    tofu_engine_destroy(p.ce);
    ASSERT_NO_LEAKS();
}

/* A fatal I/O-thread error: what was in the engine comes back, waiters are
 * woken, posts fail instead of hanging, destroy still cleans up. */
TEST(failed_io_thread_makes_posts_fail) {
    tofu_engine *e = smoke_engine();
    tofu_group *g = smoke_group(e);
    tofu_address a;
    uint16_t l = smoke_listen(e, g, false, NULL, &a);
    tofui_engine_inject_fault(e);
    ASSERT_STATUS(TOFU_NOTIFICATION_FAILED, smoke_close(e, g, l));
    tofu_msg *m = NULL;
    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_wait_receive(g, TOFU_WAIT_INFINITE, &m));
    ASSERT_NULL(m);
    m = smoke_hello_msg(e, &a);
    ASSERT_STATUS(TOFU_NOTIFICATION_FAILED, tofu_post(g, &m, NULL));
    ASSERT_EQ(tofu_msg_channel(m), 0); /* the number was given back */
    tofu_put(e, &m);
    ASSERT_OK(tofu_group_destroy(e, g));
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* A HelloRequest and a WelcomeRequest posted just before the I/O thread
 * fails: whether the thread still saw them or not, each gets its Response
 * from the engine, and each channel ends with one close Signal whose reason
 * is the failure status the Response gave (a listener that was up first
 * gets a successful WelcomeResponse, then its close Signal says
 * notification_failed). The race runs many times; the case prints how often
 * the thread never saw the requests. */
#define SMOKE_FAULT_RUNS 50
#define SMOKE_FAULT_MSGS 8

typedef struct smoke_fault_log {
    tofu_msg *m[SMOKE_FAULT_MSGS];
    int n;
} smoke_fault_log;

/* Everything the group gets until the failed engine wakes it for good. */
static void smoke_collect_until_shutdown(tofu_group *g, smoke_fault_log *log) {
    for (;;) {
        tofu_msg *m = NULL;
        tofu_status st = tofu_wait_receive(g, SMOKE_WAIT_NS, &m);
        if (st == TOFU_SHUTDOWN_STARTED)
            return;
        ASSERT_OK(st);
        ASSERT_NOT_NULL(m);
        ASSERT_TRUE(log->n < SMOKE_FAULT_MSGS);
        log->m[log->n++] = m;
    }
}

/* Channel ch got exactly: the Response (opcode `response`, from the engine,
 * any status), then one close Signal; returns the Response's status. */
static tofu_status smoke_check_channel(const smoke_fault_log *log, uint16_t ch,
                                       tofu_opcode response) {
    const tofu_msg *got[SMOKE_FAULT_MSGS];
    int n = 0;
    for (int i = 0; i < log->n; i++)
        if (tofu_msg_channel(log->m[i]) == ch)
            got[n++] = log->m[i];
    ASSERT_EQ(n, 2);
    if (tofu_msg_opcode(got[0]) != response || !tofu_msg_from_engine(got[0]))
        FAIL_MSG("expected the engine's Response first", got[0]);
    tofu_status st = tofu_msg_status(got[0]);
    CHECK_CLOSE(got[1], ch, st == TOFU_SUCCESS ? TOFU_NOTIFICATION_FAILED : st);
    return st;
}

TEST(requests_pending_at_a_failure_are_answered) {
    int unseen = 0;
    for (int run = 0; run < SMOKE_FAULT_RUNS; run++) {
        tofu_engine *e = smoke_engine();
        tofu_group *g = smoke_group(e);
        tofu_address a;
        ASSERT_OK(tofu_address_parse("tcp|127.0.0.1|0", 15, &a));
        tofu_msg *w = tofu_get(e, TOFU_ALWAYS);
        ASSERT_OK(tofu_msg_listen(w, &a));
        tofu_bhdr wh, hh;
        ASSERT_OK(tofu_post(g, &w, &wh));
        tofu_address refused = a;
        refused.port = tofu_t_free_tcp_port(); /* nothing listens there */
        tofu_msg *h = smoke_hello_msg(e, &refused);
        ASSERT_OK(tofu_post(g, &h, &hh));
        tofui_engine_inject_fault(e);
        smoke_fault_log log = {.n = 0};
        smoke_collect_until_shutdown(g, &log);
        ASSERT_EQ(log.n, 4);
        tofu_status ws = smoke_check_channel(&log, wh.channel, TOFU_OP_WELCOME_RESPONSE);
        tofu_status hs = smoke_check_channel(&log, hh.channel, TOFU_OP_HELLO_RESPONSE);
        ASSERT_TRUE(hs != TOFU_SUCCESS);
        unseen += ws == TOFU_NOTIFICATION_FAILED && hs == TOFU_NOTIFICATION_FAILED;
        for (int i = 0; i < log.n; i++)
            tofu_put(e, &log.m[i]);
        ASSERT_OK(tofu_group_destroy(e, g));
        tofu_engine_destroy(e);
    }
    printf("requests never seen by the failed thread: %d of %d runs\n", unseen, SMOKE_FAULT_RUNS);
    ASSERT_NO_LEAKS();
}
