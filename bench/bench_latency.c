/*
 * Round-trip latency: the client posts a 64-byte Request, the server thread
 * answers with a Response, the client waits for it. Reports the median and
 * the 99th percentile over TCP loopback and over a Unix-domain socket.
 *
 *     bench_latency [iterations]     (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"

#define LAT_BODY 64
#define LAT_WARMUP 1000

/* Echoes every Request as a Response until told to stop. */
static void lat__server(void *arg) {
    bench_link *l = arg;
    tofu_msg *m;
    while ((m = bench_wait(l->se, l->sg)) != NULL) {
        tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
        bench_post(l->sg, &m);
    }
}

static uint64_t lat__one(bench_link *l) {
    tofu_msg *m = bench_msg(l->ce, TOFU_OP_REQUEST, l->cch, LAT_BODY);
    uint64_t t0 = tofui_clock_ns();
    bench_post(l->cg, &m);
    m = bench_wait(l->ce, l->cg);
    uint64_t t1 = tofui_clock_ns();
    if (m == NULL || tofu_msg_opcode(m) != TOFU_OP_RESPONSE)
        bench_die("expected a Response", TOFU_PROCESSING_FAILED);
    tofu_put(l->ce, &m);
    return t1 - t0;
}

static int lat__cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void lat__run(const char *name, bool uds, uint64_t n) {
    bench_link l;
    bench_open(&l, uds, 64, 256);
    tofui_thread server;
    if (tofui_thread_create(&server, lat__server, &l) != TOFU_SUCCESS)
        bench_die("thread", TOFU_ALLOCATION_FAILED);
    uint64_t *t = malloc(n * sizeof *t);
    if (t == NULL)
        bench_die("memory", TOFU_ALLOCATION_FAILED);
    for (int i = 0; i < LAT_WARMUP; i++)
        lat__one(&l);
    for (uint64_t i = 0; i < n; i++)
        t[i] = lat__one(&l);
    tofu_update_receiver(l.sg, NULL);
    tofui_thread_join(&server);
    qsort(t, n, sizeof *t, lat__cmp);
    printf("%-4s %3d B  round trip: median %7.2f us  p99 %7.2f us  min %7.2f us  (%llu)\n", name,
           LAT_BODY, t[n / 2] / 1e3, t[(n * 99) / 100] / 1e3, t[0] / 1e3, (unsigned long long)n);
    free(t);
    bench_close(&l);
}

int main(int argc, char **argv) {
    uint64_t n = bench_iterations(argc, argv, 100000);
    lat__run("tcp", false, n);
    if (tofui_sock_uds_available())
        lat__run("uds", true, n);
    return 0;
}
