/*
 * libtofu side of the side-by-side comparison (compare.sh): the
 * measurements of bench_latency.c and bench_throughput.c, with the
 * command line of compare_raw and compare_zmq, so that the server can also
 * be a second process, and with the engine's default options as a choice.
 *
 * Two engines, a client and a server, each with its group and its I/O
 * thread, joined over TCP loopback or a Unix-domain socket. The server runs
 * on a thread of its own (--procs 1) or in a child process (--procs 2); it
 * tells the client its bound address through a pipe in both cases.
 *
 *  - latency: the client posts a 64-byte (then 1 KiB) Request and waits for the Response
 *    the server makes of it (the same message). Median, p99 and min after
 *    1000 warm-up round trips.
 *  - throughput: the client posts Signals; the server puts them back and
 *    acknowledges every 256th (and the last) with a Signal whose id is the
 *    count; the client keeps at most 4096 unacknowledged.
 *
 * Options of the engines:
 *   tuned (default)  as bench_latency / bench_throughput: pools of 64/256
 *                    (latency) or 1024/8192 (throughput) messages, no send
 *                    queue limit, and every message taken with
 *                    tofu_get(TOFU_ALWAYS) (allocated when the pool is
 *                    empty);
 *   --defaults       tofu_options_init() and nothing else (pools 1024/1024, send
 *                    queue 1024), and the sender follows the guide
 *                    (docs/guide.md, "Backpressure"): tofu_get(TOFU_POOL_ONLY),
 *                    and when that is NULL tofu_get_wait until the engine
 *                    puts a written message back.
 *
 *     compare_tofu latency [iterations] [--procs 1|2] [--defaults]
 *     compare_tofu throughput [messages] [--procs 1|2] [--defaults]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare_common.h"

#define TF_ADDR_MAX 300

typedef struct tf_cfg {
    bool uds, latency, defaults;
    uint64_t n;
    size_t len;    /* body of a round trip or of a throughput message */
    cmp_pipe pipe; /* server -> client: the bound address */
    char uds_path[TOFU_UDS_PATH_BUF];
} tf_cfg;

typedef struct tf_side {
    tofu_engine *e;
    tofu_group *g;
    uint16_t ch;
    bool guide; /* take messages as the guide says (POOL_ONLY, then wait) */
} tf_side;

static void tf__open(const tf_cfg *c, tf_side *s) {
    tofu_options opt;
    tofu_options_init(&opt);
    if (!c->defaults) {
        opt.initial_pool_msgs = c->latency ? 64 : 1024;
        opt.max_pool_msgs = c->latency ? 256 : 8192;
        opt.max_send_queue = TOFU_SEND_QUEUE_UNLIMITED;
    }
    s->guide = c->defaults;
    bench_engine(&opt, "engine", &s->e, &s->g);
}

static void tf__close(tf_side *s) {
    tofu_group_destroy(s->e, s->g);
    tofu_engine_destroy(s->e);
}

/* A message for channel s->ch with opcode op and len zero bytes of body. */
static tofu_msg *tf__msg(tf_side *s, tofu_opcode op, size_t len) {
    static const unsigned char zeros[CMP_MAX_BODY];
    tofu_msg *m;
    if (!s->guide) {
        m = tofu_get(s->e, TOFU_ALWAYS);
    } else if ((m = tofu_get(s->e, TOFU_POOL_ONLY)) == NULL) {
        tofu_status st = tofu_get_wait(s->e, TOFU_WAIT_INFINITE, &m);
        if (st != TOFU_SUCCESS)
            bench_die("get_wait", st);
    }
    if (m == NULL)
        bench_die("get", TOFU_ALLOCATION_FAILED);
    tofu_msg_set_opcode(m, op);
    tofu_msg_set_channel(m, s->ch);
    if (len > 0 && tofu_msg_append_body(m, zeros, len) != TOFU_SUCCESS)
        bench_die("body", TOFU_INVALID_BODY_LEN);
    return m;
}

/* ---- the server ---- */

/* Listens and sends the bound address (the ~listen_on value) to the client. */
static void tf__listen(tf_cfg *c, tf_side *s) {
    tofu_address bound;
    bench_listen(s->e, s->g, c->uds ? c->uds_path : NULL, &bound);
    char addr[TF_ADDR_MAX];
    tofu_status st = tofu_address_format(&bound, addr, sizeof addr, NULL);
    if (st != TOFU_SUCCESS)
        bench_die("listen", st);
    cmp_pipe_send(&c->pipe, addr);
}

/* Answers the client's HelloRequest. */
static void tf__welcome(tf_side *s) {
    tofu_msg *m = bench_wait(s->e, s->g);
    if (m == NULL || tofu_msg_opcode(m) != TOFU_OP_HELLO_REQUEST)
        bench_die("handshake", TOFU_PROCESSING_FAILED);
    s->ch = tofu_msg_channel(m);
    tofu_msg_set_opcode(m, TOFU_OP_HELLO_RESPONSE);
    bench_post(s->g, &m);
}

/* Waits (at most 10 s) for the client to close the channel, so that the
 * last answers are written before the engine goes. */
static void tf__await_close(tf_side *s) {
    for (;;) {
        tofu_msg *m = NULL;
        tofu_status st = tofu_wait_receive(s->g, 10 * TOFU_WAIT_SECOND, &m);
        if (st != TOFU_SUCCESS || m == NULL)
            return;
        bool closed = tofu_msg_from_engine(m) && tofu_msg_status(m) != TOFU_POOL_EMPTY &&
                      tofu_msg_status(m) != TOFU_SUCCESS;
        tofu_put(s->e, &m);
        if (closed)
            return;
    }
}

/* Echoes every Request as its Response; an empty one is the last. */
static void tf__lat_serve(tf_side *s) {
    for (;;) {
        tofu_msg *m = bench_wait(s->e, s->g);
        if (m == NULL)
            bench_die("echo", TOFU_SHUTDOWN_STARTED);
        size_t len = 0;
        tofu_msg_body(m, &len);
        tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
        bench_post(s->g, &m);
        if (len == 0)
            return;
    }
}

/* Counts Signals (the first is the hello, acknowledged with 0) and
 * acknowledges every CMP_ACK of them and the last. */
static void tf__thr_serve(tf_side *s, uint64_t n) {
    tofu_msg *m = bench_wait(s->e, s->g);
    if (m == NULL)
        bench_die("hello", TOFU_SHUTDOWN_STARTED);
    tofu_put(s->e, &m);
    tofu_msg *ack = tf__msg(s, TOFU_OP_SIGNAL, 0);
    tofu_msg_set_id(ack, 1); /* 0 would be replaced by the next id */
    bench_post(s->g, &ack);
    for (uint64_t got = 0; got < n;) {
        m = bench_wait(s->e, s->g);
        if (m == NULL)
            bench_die("data", TOFU_SHUTDOWN_STARTED);
        got++;
        if (got % CMP_ACK != 0 && got != n) {
            tofu_put(s->e, &m);
            continue;
        }
        /* The ack is the received message itself, emptied: a server that
         * waited for the pool here (tofu_get_wait) could wait forever, as
         * the messages queued for it can hold the whole pool. */
        tofu_msg_reset(m);
        tofu_msg_set_opcode(m, TOFU_OP_SIGNAL);
        tofu_msg_set_channel(m, s->ch);
        tofu_msg_set_id(m, got + 1);
        bench_post(s->g, &m);
    }
}

static void tf__server(void *arg) {
    tf_cfg *c = arg;
    tf_side s = {0};
    tf__open(c, &s);
    tf__listen(c, &s);
    tf__welcome(&s);
    if (c->latency)
        tf__lat_serve(&s);
    else
        tf__thr_serve(&s, c->n);
    tf__await_close(&s);
    tf__close(&s);
}

/* ---- the client ---- */

static void tf__connect(tf_cfg *c, tf_side *s) {
    char addr[TF_ADDR_MAX];
    cmp_pipe_recv(&c->pipe, addr, sizeof addr);
    tofu_address a;
    tofu_status st = tofu_address_parse(addr, strlen(addr), &a);
    tofu_msg *m = tofu_get(s->e, TOFU_ALWAYS);
    if (st == TOFU_SUCCESS)
        st = tofu_msg_connect(m, &a);
    if (st != TOFU_SUCCESS)
        bench_die("connect address", st);
    tofu_bhdr h;
    if ((st = tofu_post(s->g, &m, &h)) != TOFU_SUCCESS)
        bench_die("hello", st);
    s->ch = h.channel;
    m = bench_wait(s->e, s->g);
    if (m == NULL || tofu_msg_opcode(m) != TOFU_OP_HELLO_RESPONSE ||
        tofu_msg_status(m) != TOFU_SUCCESS)
        bench_die("handshake", m != NULL ? tofu_msg_status(m) : TOFU_SHUTDOWN_STARTED);
    tofu_put(s->e, &m);
}

/* Posts a Request of len bytes and waits for its Response. */
static uint64_t tf__round_trip(tf_side *s, size_t len) {
    tofu_msg *m = tf__msg(s, TOFU_OP_REQUEST, len);
    uint64_t t0 = tofui_clock_ns();
    bench_post(s->g, &m);
    m = bench_wait(s->e, s->g);
    uint64_t t1 = tofui_clock_ns();
    if (m == NULL || tofu_msg_opcode(m) != TOFU_OP_RESPONSE)
        bench_die("expected a Response", TOFU_PROCESSING_FAILED);
    tofu_put(s->e, &m);
    return t1 - t0;
}

static void tf__lat_client(tf_side *s, const char *name, size_t len, uint64_t n) {
    uint64_t *t = malloc(n * sizeof *t);
    if (t == NULL)
        bench_die("memory", TOFU_ALLOCATION_FAILED);
    for (int i = 0; i < CMP_LAT_WARMUP; i++)
        tf__round_trip(s, len);
    for (uint64_t i = 0; i < n; i++)
        t[i] = tf__round_trip(s, len);
    tf__round_trip(s, 0); /* the server's last */
    cmp_lat_report(name, len, t, n);
    free(t);
}

/* Waits for an ack; returns how many the server has received. */
static uint64_t tf__ack(tf_side *s) {
    tofu_msg *m = bench_wait(s->e, s->g);
    if (m == NULL)
        bench_die("ack", TOFU_SHUTDOWN_STARTED);
    uint64_t acked = tofu_msg_id(m) - 1;
    tofu_put(s->e, &m);
    return acked;
}

static void tf__thr_client(tf_side *s, const char *name, size_t len, uint64_t n) {
    tofu_msg *m = tf__msg(s, TOFU_OP_SIGNAL, 1); /* hello */
    bench_post(s->g, &m);
    if (tf__ack(s) != 0)
        bench_die("hello ack", TOFU_PROCESSING_FAILED);
    uint64_t acked = 0;
    uint64_t t0 = tofui_clock_ns();
    for (uint64_t sent = 0; sent < n; sent++) {
        while (sent - acked >= CMP_WINDOW)
            acked = tf__ack(s);
        m = tf__msg(s, TOFU_OP_SIGNAL, len);
        bench_post(s->g, &m);
    }
    while (acked < n)
        acked = tf__ack(s);
    cmp_thr_report(name, len, n, tofui_clock_ns() - t0);
}

static void tf__run(tf_cfg *c, const char *name, int procs) {
    if (c->uds)
        cmp_uds_path(c->uds_path, sizeof c->uds_path, "tofu");
    cmp_pipe_open(&c->pipe);
    cmp_server server;
    cmp_server_start(&server, procs, tf__server, c); /* before our engine's thread */
    tf_side s = {0};
    tf__open(c, &s);
    tf__connect(c, &s);
    if (c->latency)
        tf__lat_client(&s, name, c->len, c->n);
    else
        tf__thr_client(&s, name, c->len, c->n);
    tf__close(&s); /* closes the channel: the server stops waiting */
    cmp_server_join(&server, "tofu");
    cmp_pipe_close(&c->pipe);
}

int main(int argc, char **argv) {
    cmp_opts o;
    cmp_parse(argc, argv, CMP_ALLOW_DEFAULTS | CMP_ALLOW_SELECT, 100000, 1000000, &o);
    const size_t sizes[] = {64, 1024, 16384};
    for (int t = 0; t < 2; t++) {
        bool uds = t == 1;
        if (uds && !tofui_sock_uds_available())
            break;
        tf_cfg c = {.uds = uds, .latency = o.latency, .defaults = o.defaults};
        const char *name = uds ? "uds" : "tcp";
        if (o.only_transport != NULL && strcmp(o.only_transport, name) != 0)
            continue;
        if (o.latency) {
            c.n = o.n;
            for (int b = 0; b < 2; b++) {
                c.len = cmp_lat_bodies[b];
                if (o.only_size != 0 && c.len != o.only_size)
                    continue;
                tf__run(&c, name, o.procs);
            }
            continue;
        }
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            if (o.only_size != 0 && sizes[i] != o.only_size)
                continue;
            c.len = sizes[i];
            c.n = cmp_thr_count(o.n, sizes[i]);
            tf__run(&c, name, o.procs);
        }
    }
    return 0;
}
