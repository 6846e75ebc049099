/*
 * ZeroMQ side of the side-by-side comparison: the measurements of
 * bench_latency.c and bench_throughput.c, made with libzmq.
 *
 * Like the libtofu benchmarks, everything runs in one process: a client and
 * a server, each with its own context (one I/O thread each, as libtofu has
 * one engine thread per engine), the server on its own thread, joined over
 * TCP loopback (tcp://127.0.0.1) or a Unix-domain socket (ipc://).
 *
 *  - latency: REQ/REP; the client sends a 64-byte request, the server echoes
 *    it, the client waits for the reply. Median, p99 and min of the round
 *    trips after 1000 warm-up round trips.
 *  - throughput: PUSH/PULL for the data; the server acknowledges every 256
 *    messages (and the last) over a second PUSH/PULL pair, and the client
 *    keeps at most 4096 messages in flight, exactly as bench_throughput.c.
 *    High-water marks are lifted so that the window, not ZeroMQ's default
 *    HWM of 1000, bounds the queue.
 *
 *     compare_zmq latency [iterations]       (default 100000)
 *     compare_zmq throughput [messages]      (default 1000000; 16 KiB runs use 1/8)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "compare_common.h"

#define ZMQ_EP_MAX 256

_Noreturn static void zq__die(const char *what) {
    cmp_die("zmq", what, zmq_strerror(zmq_errno()));
}

static void *zq__socket(void *ctx, int type) {
    void *s = zmq_socket(ctx, type);
    if (s == NULL)
        zq__die("socket");
    int zero = 0;
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero) != 0)
        zq__die("setsockopt");
    return s;
}

/* Binds s to an ephemeral TCP port or a fresh ipc path; returns the endpoint. */
static void zq__bind(void *s, bool uds, char ep[ZMQ_EP_MAX]) {
    if (uds) {
        char path[200];
        cmp_uds_path(path, sizeof path, "zmq");
        snprintf(ep, ZMQ_EP_MAX, "ipc://%s", path);
    } else {
        snprintf(ep, ZMQ_EP_MAX, "tcp://127.0.0.1:*");
    }
    if (zmq_bind(s, ep) != 0)
        zq__die("bind");
    size_t len = ZMQ_EP_MAX;
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
        zq__die("last endpoint");
}

static void zq__send(void *s, const void *buf, size_t len) {
    if (zmq_send(s, buf, len, 0) < 0)
        zq__die("send");
}

static void zq__recv(void *s, zmq_msg_t *m) {
    if (zmq_msg_recv(m, s, 0) < 0)
        zq__die("recv");
}

/* ---- latency ---- */

/* Echoes every request until an empty one, which it answers and stops. */
static void lat__server(void *arg) {
    void *rep = arg;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zq__recv(rep, &m);
        size_t len = zmq_msg_size(&m);
        if (zmq_msg_send(&m, rep, 0) < 0)
            zq__die("send");
        if (len == 0)
            break;
    }
}

static uint64_t lat__one(void *req, const unsigned char *body) {
    unsigned char reply[CMP_LAT_BODY];
    uint64_t t0 = tofui_clock_ns();
    zq__send(req, body, CMP_LAT_BODY);
    int got = zmq_recv(req, reply, sizeof reply, 0);
    uint64_t t1 = tofui_clock_ns();
    if (got != CMP_LAT_BODY)
        zq__die("reply");
    return t1 - t0;
}

static void lat__run(const char *name, bool uds, uint64_t n) {
    void *cctx = zmq_ctx_new(), *sctx = zmq_ctx_new();
    if (cctx == NULL || sctx == NULL)
        zq__die("context");
    void *rep = zq__socket(sctx, ZMQ_REP);
    void *req = zq__socket(cctx, ZMQ_REQ);
    char ep[ZMQ_EP_MAX];
    zq__bind(rep, uds, ep);
    if (zmq_connect(req, ep) != 0)
        zq__die("connect");
    tofui_thread server;
    if (tofui_thread_create(&server, lat__server, rep) != TOFU_SUCCESS)
        cmp_die("zmq", "thread", "create failed");
    uint64_t *t = malloc(n * sizeof *t);
    if (t == NULL)
        cmp_die("zmq", "memory", "out of memory");
    static const unsigned char body[CMP_LAT_BODY];
    for (int i = 0; i < CMP_LAT_WARMUP; i++)
        lat__one(req, body);
    for (uint64_t i = 0; i < n; i++)
        t[i] = lat__one(req, body);
    zq__send(req, "", 0); /* stop */
    zmq_msg_t m;
    zmq_msg_init(&m);
    zq__recv(req, &m);
    zmq_msg_close(&m);
    tofui_thread_join(&server);
    cmp_lat_report(name, t, n);
    free(t);
    zmq_close(req);
    zmq_close(rep);
    zmq_ctx_term(cctx);
    zmq_ctx_term(sctx);
}

/* ---- throughput ---- */

typedef struct thr__run {
    void *pull, *ack; /* the server's data PULL and ack PUSH */
    uint64_t n;
} thr__run;

static void thr__send_ack(void *ack, uint64_t count) {
    zq__send(ack, &count, sizeof count);
}

/* Takes the hello message, acknowledges it with 0, then counts the data
 * messages and acknowledges every CMP_ACK of them (and the last). */
static void thr__server(void *arg) {
    thr__run *r = arg;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zq__recv(r->pull, &m);
    thr__send_ack(r->ack, 0);
    for (uint64_t got = 0; got < r->n;) {
        zq__recv(r->pull, &m);
        got++;
        if (got % CMP_ACK == 0 || got == r->n)
            thr__send_ack(r->ack, got);
    }
    zmq_msg_close(&m);
}

static uint64_t thr__ack(void *ackpull) {
    uint64_t acked;
    if (zmq_recv(ackpull, &acked, sizeof acked, 0) != (int)sizeof acked)
        zq__die("ack");
    return acked;
}

static void thr__run_one(const char *name, bool uds, size_t len, uint64_t n) {
    static const unsigned char body[CMP_MAX_BODY];
    void *cctx = zmq_ctx_new(), *sctx = zmq_ctx_new();
    if (cctx == NULL || sctx == NULL)
        zq__die("context");
    thr__run r;
    r.n = n;
    r.pull = zq__socket(sctx, ZMQ_PULL);
    r.ack = zq__socket(sctx, ZMQ_PUSH);
    void *push = zq__socket(cctx, ZMQ_PUSH);
    void *ackpull = zq__socket(cctx, ZMQ_PULL);
    char ep[ZMQ_EP_MAX];
    zq__bind(r.pull, uds, ep);
    if (zmq_connect(push, ep) != 0)
        zq__die("connect");
    zq__bind(r.ack, uds, ep);
    if (zmq_connect(ackpull, ep) != 0)
        zq__die("connect");
    tofui_thread server;
    if (tofui_thread_create(&server, thr__server, &r) != TOFU_SUCCESS)
        cmp_die("zmq", "thread", "create failed");
    /* Both connections are up once the hello's ack is back, as the libtofu
     * benchmark starts its clock after the Hello exchange. */
    zq__send(push, body, 1);
    if (thr__ack(ackpull) != 0)
        zq__die("hello");

    uint64_t acked = 0;
    uint64_t t0 = tofui_clock_ns();
    for (uint64_t sent = 0; sent < n; sent++) {
        while (sent - acked >= CMP_WINDOW)
            acked = thr__ack(ackpull);
        zq__send(push, body, len);
    }
    while (acked < n)
        acked = thr__ack(ackpull);
    uint64_t ns = tofui_clock_ns() - t0;
    tofui_thread_join(&server);
    cmp_thr_report(name, len, n, ns);
    zmq_close(push);
    zmq_close(ackpull);
    zmq_close(r.pull);
    zmq_close(r.ack);
    zmq_ctx_term(cctx);
    zmq_ctx_term(sctx);
}

int main(int argc, char **argv) {
    bool lat = argc >= 2 && strcmp(argv[1], "latency") == 0;
    bool thr = argc >= 2 && strcmp(argv[1], "throughput") == 0;
    if (!lat && !thr) {
        fprintf(stderr, "usage: %s latency|throughput [count]\n", argv[0]);
        return 2;
    }
    uint64_t n = bench_iterations(argc - 1, argv + 1, lat ? 100000 : 1000000);
    const size_t sizes[] = {64, 1024, 16384};
    for (int t = 0; t < 2; t++) {
        bool uds = t == 1;
        const char *name = uds ? "uds" : "tcp";
        if (lat) {
            lat__run(name, uds, n);
            continue;
        }
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            thr__run_one(name, uds, sizes[i], cmp_thr_count(n, sizes[i]));
    }
    return 0;
}
