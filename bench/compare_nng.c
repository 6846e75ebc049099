/*
 * NNG side of the side-by-side comparison: the measurements of
 * bench_latency.c and bench_throughput.c, made with NNG.
 *
 * Like the libtofu benchmarks, everything runs in one process: a client
 * socket and a server socket, the server on its own thread, joined over TCP
 * loopback (tcp://127.0.0.1) or a Unix-domain socket (ipc://). NNG has no
 * per-socket I/O thread: both sides share its process-wide task and poller
 * threads.
 *
 *  - latency: req0/rep0; the client sends a 64-byte request, the server
 *    echoes it, the client waits for the reply. Median, p99 and min of the
 *    round trips after 1000 warm-up round trips.
 *  - throughput: push0/pull0 for the data; the server acknowledges every 256
 *    messages (and the last) over a second push0/pull0 pair, and the client
 *    keeps at most 4096 messages in flight, exactly as bench_throughput.c.
 *    The push sockets get a send buffer of 4096 messages (NNG's default is
 *    none, which makes every send wait for the pipe).
 *
 *     compare_nng latency [iterations]       (default 100000)
 *     compare_nng throughput [messages]      (default 1000000; 16 KiB runs use 1/8)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "compare_common.h"

#define NNG_URL_MAX 256

static void nn__check(int rv, const char *what) {
    if (rv != 0)
        cmp_die("nng", what, nng_strerror(rv));
}

/* Listens on an ephemeral TCP port or a fresh ipc path; returns the URL to
 * dial. */
static void nn__listen(nng_socket s, bool uds, char url[NNG_URL_MAX]) {
    if (uds) {
        char path[200];
        cmp_uds_path(path, sizeof path, "nng");
        snprintf(url, NNG_URL_MAX, "ipc://%s", path);
        nn__check(nng_listen(s, url, NULL, 0), "listen");
        return;
    }
    nng_listener l;
    nn__check(nng_listen(s, "tcp://127.0.0.1:0", &l, 0), "listen");
    int port = 0;
    nn__check(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), "bound port");
    snprintf(url, NNG_URL_MAX, "tcp://127.0.0.1:%d", port);
}

/* One thread's I/O: a send and a receive aio, allocated once and reused
 * (NNG's synchronous nng_sendmsg/nng_recvmsg allocate an aio per call, which
 * costs several futex calls and a getrandom per message; reusing the aios
 * is what a throughput-minded NNG application does). Setting
 * TOFU_CMP_NNG_SYNC=1 in the environment uses the synchronous calls. */
typedef struct nn_io {
    nng_aio *tx, *rx;
} nn_io;

static bool nn__sync;

static void nn__io_init(nn_io *io) {
    nn__check(nng_aio_alloc(&io->tx, NULL, NULL), "aio");
    nn__check(nng_aio_alloc(&io->rx, NULL, NULL), "aio");
}

static void nn__io_fini(nn_io *io) {
    nng_aio_free(io->tx);
    nng_aio_free(io->rx);
}

static void nn__sendmsg(nng_socket s, nn_io *io, nng_msg *m) {
    int rv;
    if (nn__sync) {
        rv = nng_sendmsg(s, m, 0);
    } else {
        nng_aio_set_msg(io->tx, m);
        nng_send_aio(s, io->tx);
        nng_aio_wait(io->tx);
        rv = nng_aio_result(io->tx);
    }
    if (rv != 0) {
        nng_msg_free(m);
        nn__check(rv, "send");
    }
}

static void nn__send(nng_socket s, nn_io *io, const void *buf, size_t len) {
    nng_msg *m;
    nn__check(nng_msg_alloc(&m, 0), "msg");
    nn__check(nng_msg_append(m, buf, len), "msg");
    nn__sendmsg(s, io, m);
}

static nng_msg *nn__recv(nng_socket s, nn_io *io) {
    nng_msg *m;
    if (nn__sync) {
        nn__check(nng_recvmsg(s, &m, 0), "recv");
        return m;
    }
    nng_recv_aio(s, io->rx);
    nng_aio_wait(io->rx);
    nn__check(nng_aio_result(io->rx), "recv");
    m = nng_aio_get_msg(io->rx);
    nng_aio_set_msg(io->rx, NULL);
    return m;
}

/* ---- latency ---- */

/* Echoes every request until an empty one, which it answers and stops. */
static void lat__server(void *arg) {
    nng_socket rep = *(nng_socket *)arg;
    nn_io io;
    nn__io_init(&io);
    for (;;) {
        nng_msg *m = nn__recv(rep, &io);
        size_t len = nng_msg_len(m);
        nn__sendmsg(rep, &io, m);
        if (len == 0)
            break;
    }
    nn__io_fini(&io);
}

static uint64_t lat__one(nng_socket req, nn_io *io, const unsigned char *body) {
    uint64_t t0 = tofui_clock_ns();
    nn__send(req, io, body, CMP_LAT_BODY);
    nng_msg *m = nn__recv(req, io);
    uint64_t t1 = tofui_clock_ns();
    if (nng_msg_len(m) != CMP_LAT_BODY)
        cmp_die("nng", "reply", "wrong length");
    nng_msg_free(m);
    return t1 - t0;
}

static void lat__run(const char *name, bool uds, uint64_t n) {
    nng_socket rep, req;
    nn__check(nng_rep0_open(&rep), "rep0");
    nn__check(nng_req0_open(&req), "req0");
    char url[NNG_URL_MAX];
    nn__listen(rep, uds, url);
    nn__check(nng_dial(req, url, NULL, 0), "dial");
    tofui_thread server;
    if (tofui_thread_create(&server, lat__server, &rep) != TOFU_SUCCESS)
        cmp_die("nng", "thread", "create failed");
    uint64_t *t = malloc(n * sizeof *t);
    if (t == NULL)
        cmp_die("nng", "memory", "out of memory");
    static const unsigned char body[CMP_LAT_BODY];
    nn_io io;
    nn__io_init(&io);
    for (int i = 0; i < CMP_LAT_WARMUP; i++)
        lat__one(req, &io, body);
    for (uint64_t i = 0; i < n; i++)
        t[i] = lat__one(req, &io, body);
    nn__send(req, &io, "", 0); /* stop */
    nng_msg_free(nn__recv(req, &io));
    nn__io_fini(&io);
    tofui_thread_join(&server);
    cmp_lat_report(name, CMP_LAT_BODY, t, n);
    free(t);
    nng_close(req);
    nng_close(rep);
}

/* ---- throughput ---- */

typedef struct thr__run {
    nng_socket pull, ack; /* the server's data pull0 and ack push0 */
    uint64_t n;
} thr__run;

static void thr__send_ack(nng_socket ack, nn_io *io, uint64_t count) {
    nn__send(ack, io, &count, sizeof count);
}

/* Takes the hello message, acknowledges it with 0, then counts the data
 * messages and acknowledges every CMP_ACK of them (and the last). */
static void thr__server(void *arg) {
    thr__run *r = arg;
    nn_io io;
    nn__io_init(&io);
    nng_msg_free(nn__recv(r->pull, &io));
    thr__send_ack(r->ack, &io, 0);
    for (uint64_t got = 0; got < r->n;) {
        nng_msg_free(nn__recv(r->pull, &io));
        got++;
        if (got % CMP_ACK == 0 || got == r->n)
            thr__send_ack(r->ack, &io, got);
    }
    nn__io_fini(&io);
}

static uint64_t thr__ack(nng_socket ackpull, nn_io *io) {
    nng_msg *m = nn__recv(ackpull, io);
    uint64_t acked;
    if (nng_msg_len(m) != sizeof acked)
        cmp_die("nng", "ack", "wrong length");
    memcpy(&acked, nng_msg_body(m), sizeof acked);
    nng_msg_free(m);
    return acked;
}

static void thr__push(nng_socket *s) {
    nn__check(nng_push0_open(s), "push0");
    nn__check(nng_socket_set_int(*s, NNG_OPT_SENDBUF, (int)CMP_WINDOW), "send buffer");
}

static void thr__pull(nng_socket *s) {
    nn__check(nng_pull0_open(s), "pull0");
}

static void thr__run_one(const char *name, bool uds, size_t len, uint64_t n) {
    static const unsigned char body[CMP_MAX_BODY];
    thr__run r;
    r.n = n;
    nng_socket push, ackpull;
    thr__pull(&r.pull);
    thr__push(&r.ack);
    thr__push(&push);
    thr__pull(&ackpull);
    char url[NNG_URL_MAX];
    nn__listen(r.pull, uds, url);
    nn__check(nng_dial(push, url, NULL, 0), "dial");
    nn__listen(r.ack, uds, url);
    nn__check(nng_dial(ackpull, url, NULL, 0), "dial");
    tofui_thread server;
    if (tofui_thread_create(&server, thr__server, &r) != TOFU_SUCCESS)
        cmp_die("nng", "thread", "create failed");
    /* Both connections are up once the hello's ack is back, as the libtofu
     * benchmark starts its clock after the Hello exchange. */
    nn_io io;
    nn__io_init(&io);
    nn__send(push, &io, body, 1);
    if (thr__ack(ackpull, &io) != 0)
        cmp_die("nng", "hello", "unexpected ack");

    uint64_t acked = 0;
    uint64_t t0 = tofui_clock_ns();
    for (uint64_t sent = 0; sent < n; sent++) {
        while (sent - acked >= CMP_WINDOW)
            acked = thr__ack(ackpull, &io);
        nn__send(push, &io, body, len);
    }
    while (acked < n)
        acked = thr__ack(ackpull, &io);
    uint64_t ns = tofui_clock_ns() - t0;
    tofui_thread_join(&server);
    cmp_thr_report(name, len, n, ns);
    nn__io_fini(&io);
    nng_close(push);
    nng_close(ackpull);
    nng_close(r.pull);
    nng_close(r.ack);
}

int main(int argc, char **argv) {
    bool lat = argc >= 2 && strcmp(argv[1], "latency") == 0;
    bool thr = argc >= 2 && strcmp(argv[1], "throughput") == 0;
    if (!lat && !thr) {
        fprintf(stderr, "usage: %s latency|throughput [count]\n", argv[0]);
        return 2;
    }
    uint64_t n = bench_iterations(argc - 1, argv + 1, lat ? 100000 : 1000000);
    const char *sync = getenv("TOFU_CMP_NNG_SYNC");
    nn__sync = sync != NULL && strcmp(sync, "1") == 0;
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
    nng_fini();
    return 0;
}
