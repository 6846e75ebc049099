/* Shared set-up of the benchmark programs (bench_common.h). */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void bench_die(const char *what, tofu_status st) {
    fprintf(stderr, "bench: %s: %s\n", what, tofu_status_name(st));
    exit(1);
}

uint64_t bench_iterations(int argc, char **argv, uint64_t def) {
    if (argc < 2)
        return def;
    char *end = NULL;
    unsigned long long n = strtoull(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || n == 0) {
        fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
        exit(2);
    }
    return n;
}

void bench_post(tofu_group *g, tofu_msg **m) {
    tofu_status st = tofu_post(g, m, NULL);
    if (st != TOFU_SUCCESS)
        bench_die("post", st);
}

tofu_msg *bench_msg(tofu_engine *e, tofu_opcode op, uint16_t ch, size_t len) {
    static const unsigned char zeros[65535];
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    if (m == NULL)
        bench_die("get", TOFU_ALLOCATION_FAILED);
    tofu_msg_set_opcode(m, op);
    tofu_msg_set_channel(m, ch);
    if (len > 0 && tofu_msg_append_body(m, zeros, len) != TOFU_SUCCESS)
        bench_die("body", TOFU_INVALID_BODY_LEN);
    return m;
}

tofu_msg *bench_wait(tofu_engine *e, tofu_group *g) {
    for (;;) {
        tofu_msg *m = NULL;
        tofu_status st = tofu_wait_receive(g, TOFU_WAIT_INFINITE, &m);
        if (st != TOFU_SUCCESS)
            bench_die("wait_receive", st);
        if (m == NULL)
            continue;
        if (tofu_msg_status(m) == TOFU_RECEIVER_UPDATE) {
            tofu_put(e, &m);
            return NULL;
        }
        if (tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_POOL_EMPTY) {
            tofu_put(e, &m);
            continue;
        }
        if (tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_NOT_ALLOWED &&
            tofu_msg_opcode(m) == TOFU_OP_SIGNAL) {
            /* One of our Signals, refused because max_send_queue of them
             * waited on the channel (a pool_empty Signal put back can let a
             * sender of the default 256 pool messages hold 257): sent again,
             * as the guide says. */
            tofu_status again = tofu_post(g, &m, NULL);
            if (again != TOFU_SUCCESS)
                bench_die("post again", again);
            continue;
        }
        if (tofu_msg_from_engine(m) && tofu_msg_status(m) != TOFU_SUCCESS)
            bench_die("unexpected engine message", tofu_msg_status(m));
        return m;
    }
}

static tofu_msg *bench__expect(tofu_engine *e, tofu_group *g, tofu_opcode op) {
    tofu_msg *m = bench_wait(e, g);
    if (m == NULL || tofu_msg_opcode(m) != op || tofu_msg_status(m) != TOFU_SUCCESS)
        bench_die("handshake", m != NULL ? tofu_msg_status(m) : TOFU_SHUTDOWN_STARTED);
    return m;
}

static void bench__engine(uint16_t initial, uint16_t max, tofu_engine **e, tofu_group **g) {
    tofu_options opt;
    tofu_options_init(&opt);
    opt.initial_pool_msgs = initial;
    opt.max_pool_msgs = max;
    /* The benchmarks bound what they have in flight themselves (a window
     * larger than the default queue bound). */
    opt.max_send_queue = TOFU_SEND_QUEUE_UNLIMITED;
    bench_engine(&opt, "engine", e, g);
}

void bench_engine(const tofu_options *opt, const char *who, tofu_engine **e, tofu_group **g) {
    tofu_status st = tofu_engine_create(opt, e);
    if (st == TOFU_SUCCESS)
        st = tofu_group_create(*e, g);
    if (st != TOFU_SUCCESS)
        bench_die(who, st);
}

void bench_listen(tofu_engine *e, tofu_group *g, const char *uds_path, tofu_address *bound) {
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_status st = uds_path != NULL ? tofu_msg_listen_uds(m, uds_path)
                                      : tofu_msg_listen_tcp(m, "127.0.0.1", 0);
    if (st != TOFU_SUCCESS)
        bench_die("listen address", st);
    bench_post(g, &m);
    m = bench_wait(e, g);
    tofu_header h;
    if (m == NULL || tofu_msg_status(m) != TOFU_SUCCESS ||
        !tofu_msg_find_header(m, TOFU_HDR_LISTEN_ON, &h) ||
        tofu_address_parse(h.value, h.value_len, bound) != TOFU_SUCCESS)
        bench_die("listen", m != NULL ? tofu_msg_status(m) : TOFU_SHUTDOWN_STARTED);
    tofu_put(e, &m);
}

/* Listens on the server engine (TCP port 0 or a fresh UDS path) and returns
 * the bound address. */
static void bench__listen(bench_link *l, bool uds, tofu_address *bound) {
    if (uds)
        snprintf(l->uds_path, sizeof l->uds_path, "/tmp/tofu-bench-%llu.sock",
                 (unsigned long long)(tofui_clock_ns() % 1000000007ull));
    bench_listen(l->se, l->sg, uds ? l->uds_path : NULL, bound);
}

void bench_open(bench_link *l, bool uds, uint16_t pool_initial, uint16_t pool_max) {
    memset(l, 0, sizeof *l);
    bench__engine(pool_initial, pool_max, &l->ce, &l->cg);
    bench__engine(pool_initial, pool_max, &l->se, &l->sg);
    tofu_address a;
    bench__listen(l, uds, &a);

    tofu_msg *m = tofu_get(l->ce, TOFU_ALWAYS);
    tofu_status st = tofu_msg_connect(m, &a);
    if (st != TOFU_SUCCESS)
        bench_die("connect address", st);
    tofu_bhdr h;
    if ((st = tofu_post(l->cg, &m, &h)) != TOFU_SUCCESS)
        bench_die("hello", st);
    l->cch = h.channel;
    m = bench__expect(l->se, l->sg, TOFU_OP_HELLO_REQUEST);
    l->sch = tofu_msg_channel(m);
    tofu_msg_set_opcode(m, TOFU_OP_HELLO_RESPONSE);
    bench_post(l->sg, &m);
    m = bench__expect(l->ce, l->cg, TOFU_OP_HELLO_RESPONSE);
    tofu_put(l->ce, &m);
}

void bench_close(bench_link *l) {
    tofu_group_destroy(l->ce, l->cg);
    tofu_group_destroy(l->se, l->sg);
    tofu_engine_destroy(l->ce);
    tofu_engine_destroy(l->se);
}
