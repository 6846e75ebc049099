/*
 * One-way throughput: the client posts Signals as fast as it can, the
 * server thread takes them and puts them back. The server acknowledges
 * every BENCH_ACK messages so the client keeps at most BENCH_WINDOW in
 * flight (a sender that outruns the socket would otherwise queue without
 * bound). Reports messages/s and MB/s of body for 64 B, 1 KiB and 16 KiB
 * bodies over TCP loopback and a Unix-domain socket.
 *
 * With "requests" the client posts 64 B Requests instead, and the server
 * turns each into its Response (the same message, as bench_latency does):
 * every Request gets its answer, so the engine's request tracking (track.c)
 * takes and answers each one, which Signals never touch. The client keeps at
 * most BENCH_WINDOW Requests unanswered. Reported: Requests answered per
 * second and MB/s of Request body.
 *
 *     bench_throughput [messages [requests]]   (default 1000000; 16 KiB
 *                                               runs use 1/8)
 */
#include <stdio.h>
#include <string.h>

#include "bench_common.h"

#define BENCH_ACK 256u
#define BENCH_WINDOW 4096u

typedef struct thr__run {
    bench_link l;
    uint64_t n;
} thr__run;

/* Counts Signals; every BENCH_ACK of them (and the last) sends an ack. */
static void thr__server(void *arg) {
    thr__run *r = arg;
    uint64_t got = 0;
    while (got < r->n) {
        tofu_msg *m = bench_wait(r->l.se, r->l.sg);
        if (m == NULL)
            return;
        tofu_put(r->l.se, &m);
        got++;
        if (got % BENCH_ACK == 0 || got == r->n) {
            tofu_msg *ack = bench_msg(r->l.se, TOFU_OP_SIGNAL, r->l.sch, 0);
            tofu_msg_set_id(ack, got);
            bench_post(r->l.sg, &ack);
        }
    }
}

/* Answers every Request with its Response until told to stop. */
static void thr__req_server(void *arg) {
    thr__run *r = arg;
    tofu_msg *m;
    while ((m = bench_wait(r->l.se, r->l.sg)) != NULL) {
        tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
        bench_post(r->l.sg, &m);
    }
}

/* Waits for an ack; returns how many the server has received. */
static uint64_t thr__ack(thr__run *r) {
    tofu_msg *m = bench_wait(r->l.ce, r->l.cg);
    if (m == NULL)
        bench_die("ack", TOFU_SHUTDOWN_STARTED);
    uint64_t acked = tofu_msg_id(m);
    tofu_put(r->l.ce, &m);
    return acked;
}

static void thr__run_one(const char *name, bool uds, size_t len, uint64_t n) {
    thr__run r;
    r.n = n;
    bench_open(&r.l, uds, 1024, 8192);
    tofui_thread server;
    if (tofui_thread_create(&server, thr__server, &r) != TOFU_SUCCESS)
        bench_die("thread", TOFU_ALLOCATION_FAILED);
    uint64_t acked = 0;
    uint64_t t0 = tofui_clock_ns();
    for (uint64_t sent = 0; sent < n; sent++) {
        while (sent - acked >= BENCH_WINDOW)
            acked = thr__ack(&r);
        tofu_msg *m = bench_msg(r.l.ce, TOFU_OP_SIGNAL, r.l.cch, len);
        bench_post(r.l.cg, &m);
    }
    while (acked < n)
        acked = thr__ack(&r);
    double s = (double)(tofui_clock_ns() - t0) / 1e9;
    tofui_thread_join(&server);
    printf("%-4s %5zu B  %10.0f msgs/s  %8.1f MB/s  (%llu messages, %.2f s)\n", name, len,
           (double)n / s, (double)n * (double)len / s / 1e6, (unsigned long long)n, s);
    bench_close(&r.l);
}

/* Takes one Response. */
static void thr__response(thr__run *r) {
    tofu_msg *m = bench_wait(r->l.ce, r->l.cg);
    if (m == NULL || tofu_msg_opcode(m) != TOFU_OP_RESPONSE)
        bench_die("expected a Response", TOFU_PROCESSING_FAILED);
    tofu_put(r->l.ce, &m);
}

static void thr__run_requests(const char *name, bool uds, size_t len, uint64_t n) {
    thr__run r;
    r.n = n;
    bench_open(&r.l, uds, 1024, 8192);
    tofui_thread server;
    if (tofui_thread_create(&server, thr__req_server, &r) != TOFU_SUCCESS)
        bench_die("thread", TOFU_ALLOCATION_FAILED);
    uint64_t answered = 0;
    uint64_t t0 = tofui_clock_ns();
    for (uint64_t sent = 0; sent < n; sent++) {
        for (; sent - answered >= BENCH_WINDOW; answered++)
            thr__response(&r);
        tofu_msg *m = bench_msg(r.l.ce, TOFU_OP_REQUEST, r.l.cch, len);
        bench_post(r.l.cg, &m);
    }
    for (; answered < n; answered++)
        thr__response(&r);
    double s = (double)(tofui_clock_ns() - t0) / 1e9;
    tofu_update_receiver(r.l.sg, NULL);
    tofui_thread_join(&server);
    printf("%-4s %5zu B  %10.0f msgs/s  %8.1f MB/s  (%llu Requests answered, %.2f s)\n", name,
           len, (double)n / s, (double)n * (double)len / s / 1e6, (unsigned long long)n, s);
    bench_close(&r.l);
}

int main(int argc, char **argv) {
    uint64_t n = bench_iterations(argc, argv, 1000000);
    if (argc >= 3) {
        if (strcmp(argv[2], "requests") != 0) {
            fprintf(stderr, "usage: %s [messages [requests]]\n", argv[0]);
            return 2;
        }
        thr__run_requests("tcp", false, 64, n);
        if (tofui_sock_uds_available())
            thr__run_requests("uds", true, 64, n);
        return 0;
    }
    const size_t sizes[] = {64, 1024, 16384};
    for (int t = 0; t < 2; t++) {
        bool uds = t == 1;
        if (uds && !tofui_sock_uds_available())
            break;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            uint64_t count = sizes[i] >= 16384 ? (n + 7) / 8 : n;
            thr__run_one(uds ? "uds" : "tcp", uds, sizes[i], count);
        }
    }
    return 0;
}
