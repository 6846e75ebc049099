/*
 * ZeroMQ side of the side-by-side comparison: the measurements of
 * bench_latency.c and bench_throughput.c, made with libzmq.
 *
 * A client and a server, each with its own context (one I/O thread each, as
 * libtofu has one engine thread per engine), the server on its own thread
 * (--procs 1, the default) or in a child process (--procs 2), joined over
 * TCP loopback (tcp://127.0.0.1) or a Unix-domain socket (ipc://). The
 * server binds and tells the client its endpoints through a pipe.
 *
 *  - latency: REQ/REP; the client sends a 64-byte (then 1 KiB) request, the server echoes
 *    it, the client waits for the reply. Median, p99 and min of the round
 *    trips after 1000 warm-up round trips.
 *  - throughput: PUSH/PULL for the data; the server acknowledges every 256
 *    messages (and the last) over a second PUSH/PULL pair, and the client
 *    keeps at most 4096 messages in flight, exactly as bench_throughput.c.
 *    High-water marks are lifted so that the window, not ZeroMQ's default
 *    HWM of 1000, bounds the queue.
 *
 *     compare_zmq latency [iterations] [--procs 1|2]     (default 100000)
 *     compare_zmq throughput [messages] [--procs 1|2]    (default 1000000;
 *                                                       16 KiB runs use 1/8)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void zq__send(void *s, const void *buf, size_t len) {
    if (zmq_send(s, buf, len, 0) < 0)
        zq__die("send");
}

static void zq__recv(void *s, zmq_msg_t *m) {
    if (zmq_msg_recv(m, s, 0) < 0)
        zq__die("recv");
}

/* ---- latency ---- */

/* What the server side needs: the endpoint it binds (a path chosen by the
 * parent, or a TCP port it picks) goes back through the pipe. */
typedef struct zq__srv {
    bool uds;
    char path[200];
    cmp_pipe pipe;
    uint64_t n; /* throughput: data messages */
} zq__srv;

/* A context of its own for each side (the server may be another process). */
static void *zq__context(void) {
    void *ctx = zmq_ctx_new();
    if (ctx == NULL)
        zq__die("context");
    return ctx;
}

/* A server socket bound as the client expects (over ipc, on a new path in
 * srv->path); the endpoint goes into the pipe. */
static void *zq__server_socket(void *ctx, zq__srv *srv, int type) {
    void *s = zq__socket(ctx, type);
    char ep[ZMQ_EP_MAX];
    if (srv->uds)
        cmp_uds_path(srv->path, sizeof srv->path, "zmq");
    if (srv->uds)
        snprintf(ep, sizeof ep, "ipc://%s", srv->path);
    else
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:*");
    if (zmq_bind(s, ep) != 0)
        zq__die("bind");
    size_t len = ZMQ_EP_MAX;
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
        zq__die("last endpoint");
    cmp_pipe_send(&srv->pipe, ep);
    return s;
}

/* Closes a server socket, waiting up to 2 s for what it still has to send
 * (the last answer): the client may be in another process, which nothing
 * else waits for. */
static void zq__server_close(void *s) {
    int linger = 2000;
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0)
        zq__die("setsockopt");
    zmq_close(s);
}

static void *zq__client_socket(void *ctx, zq__srv *srv, int type) {
    void *s = zq__socket(ctx, type);
    char ep[ZMQ_EP_MAX];
    cmp_pipe_recv(&srv->pipe, ep, sizeof ep);
    if (zmq_connect(s, ep) != 0)
        zq__die("connect");
    return s;
}

static void zq__srv_init(zq__srv *srv, bool uds, uint64_t n) {
    memset(srv, 0, sizeof *srv);
    srv->uds = uds;
    srv->n = n;
    cmp_pipe_open(&srv->pipe);
}

/* ---- latency ---- */

/* Echoes every request until an empty one, which it answers and stops. */
static void lat__server(void *arg) {
    zq__srv *srv = arg;
    void *sctx = zq__context();
    void *rep = zq__server_socket(sctx, srv, ZMQ_REP);
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
    zq__server_close(rep);
    zmq_ctx_term(sctx);
    if (srv->uds)
        unlink(srv->path); /* a child process has no atexit of its own */
}

static uint64_t lat__one(void *req, const unsigned char *body, size_t len) {
    unsigned char reply[CMP_LAT_BODY_BIG];
    uint64_t t0 = tofui_clock_ns();
    zq__send(req, body, len);
    int got = zmq_recv(req, reply, sizeof reply, 0);
    uint64_t t1 = tofui_clock_ns();
    if (got != (int)len)
        zq__die("reply");
    return t1 - t0;
}

static void lat__run(const char *name, bool uds, size_t len, uint64_t n, int procs) {
    zq__srv srv;
    zq__srv_init(&srv, uds, n);
    cmp_server server;
    cmp_server_start(&server, procs, lat__server, &srv); /* before our context */
    void *cctx = zq__context();
    void *req = zq__client_socket(cctx, &srv, ZMQ_REQ);
    uint64_t *t = malloc(n * sizeof *t);
    if (t == NULL)
        cmp_die("zmq", "memory", "out of memory");
    static const unsigned char body[CMP_LAT_BODY_BIG];
    for (int i = 0; i < CMP_LAT_WARMUP; i++)
        lat__one(req, body, len);
    for (uint64_t i = 0; i < n; i++)
        t[i] = lat__one(req, body, len);
    zq__send(req, "", 0); /* stop */
    zmq_msg_t m;
    zmq_msg_init(&m);
    zq__recv(req, &m);
    zmq_msg_close(&m);
    cmp_server_join(&server, "zmq");
    cmp_lat_report(name, len, t, n);
    free(t);
    zmq_close(req);
    zmq_ctx_term(cctx);
    cmp_pipe_close(&srv.pipe);
}

/* ---- throughput ---- */

static void thr__send_ack(void *ack, uint64_t count) {
    zq__send(ack, &count, sizeof count);
}

/* Binds the data PULL and the ack PUSH, takes the hello message,
 * acknowledges it with 0, then counts the data messages and acknowledges
 * every CMP_ACK of them (and the last). */
static void thr__server(void *arg) {
    zq__srv *srv = arg;
    void *sctx = zq__context();
    void *pull = zq__server_socket(sctx, srv, ZMQ_PULL);
    char data_path[sizeof srv->path];
    memcpy(data_path, srv->path, sizeof data_path);
    void *ack = zq__server_socket(sctx, srv, ZMQ_PUSH);
    zmq_msg_t m;
    zmq_msg_init(&m);
    zq__recv(pull, &m);
    thr__send_ack(ack, 0);
    for (uint64_t got = 0; got < srv->n;) {
        zq__recv(pull, &m);
        got++;
        if (got % CMP_ACK == 0 || got == srv->n)
            thr__send_ack(ack, got);
    }
    zmq_msg_close(&m);
    zmq_close(pull);
    zq__server_close(ack);
    zmq_ctx_term(sctx);
    if (srv->uds) { /* a child process has no atexit of its own */
        unlink(data_path);
        unlink(srv->path);
    }
}

static uint64_t thr__ack(void *ackpull) {
    uint64_t acked;
    if (zmq_recv(ackpull, &acked, sizeof acked, 0) != (int)sizeof acked)
        zq__die("ack");
    return acked;
}

static void thr__run_one(const char *name, bool uds, size_t len, uint64_t n, int procs) {
    static const unsigned char body[CMP_MAX_BODY];
    zq__srv srv;
    zq__srv_init(&srv, uds, n);
    cmp_server server;
    cmp_server_start(&server, procs, thr__server, &srv); /* before our context */
    void *cctx = zq__context();
    void *push = zq__client_socket(cctx, &srv, ZMQ_PUSH);
    void *ackpull = zq__client_socket(cctx, &srv, ZMQ_PULL);
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
    cmp_server_join(&server, "zmq");
    cmp_thr_report(name, len, n, ns);
    zmq_close(push);
    zmq_close(ackpull);
    zmq_ctx_term(cctx);
    cmp_pipe_close(&srv.pipe);
}

int main(int argc, char **argv) {
    cmp_opts o;
    cmp_parse(argc, argv, 0, 100000, 1000000, &o);
    const size_t sizes[] = {64, 1024, 16384};
    for (int t = 0; t < 2; t++) {
        bool uds = t == 1;
        const char *name = uds ? "uds" : "tcp";
        if (o.latency) {
            for (int b = 0; b < 2; b++)
                lat__run(name, uds, cmp_lat_bodies[b], o.n, o.procs);
            continue;
        }
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            thr__run_one(name, uds, sizes[i], cmp_thr_count(o.n, sizes[i]), o.procs);
    }
    return 0;
}
