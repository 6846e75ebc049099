/*
 * tofu-demo [--clients N] [--round-trips N] [--size BYTES]
 *
 * One engine, an echo server listening on TCP and on a Unix-domain socket,
 * then for each transport N client threads, each doing its round trips
 * through the server at the same time. Prints one summary row per
 * transport and a total: messages exchanged, errors, round-trip time
 * percentiles in microseconds, and round trips per second. Exits 0 when
 * every round trip came back intact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

typedef struct demo_config {
    unsigned clients;     /* per transport */
    uint32_t round_trips; /* per client */
    size_t body_len;
} demo_config;

/* What one transport (or the total) did. */
typedef struct demo_result {
    const char *name;
    unsigned clients;
    uint64_t completed; /* round trips that came back intact */
    uint64_t errors;
    tofu_status first_error;
    uint64_t *rtt_ns; /* `completed` entries, sorted */
    uint64_t elapsed_ns;
} demo_result;

/* ---- options ---- */

static bool demo__number(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int demo__usage(FILE *f, int rc) {
    fprintf(f, "usage: tofu-demo [--clients N] [--round-trips N] [--size BYTES]\n"
               "  --clients N      client threads per transport (default 4, 1..64)\n"
               "  --round-trips N  round trips per client (default 5000)\n"
               "  --size BYTES     Request body size (default 64, 0..65535)\n");
    return rc;
}

static bool demo__parse(int argc, char **argv, demo_config *cfg) {
    cfg->clients = 4;
    cfg->round_trips = 5000;
    cfg->body_len = 64;
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        const char *name = argv[i];
        if (i + 1 >= argc)
            return false;
        const char *value = argv[++i];
        if (strcmp(name, "--clients") == 0 && demo__number(value, 1, 64, &v))
            cfg->clients = (unsigned)v;
        else if (strcmp(name, "--round-trips") == 0 && demo__number(value, 1, 10000000, &v))
            cfg->round_trips = (uint32_t)v;
        else if (strcmp(name, "--size") == 0 && demo__number(value, 0, TOFU_MAX_PART_LEN, &v))
            cfg->body_len = (size_t)v;
        else
            return false;
    }
    return true;
}

/* ---- one phase: all clients of one transport at once ---- */

static int demo__cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Moves the clients' latencies into r and sorts them. */
static void demo__collect(demo_result *r, demo_client *clients, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        memcpy(r->rtt_ns + r->completed, clients[i].rtt_ns, clients[i].done * sizeof(uint64_t));
        r->completed += clients[i].done;
        if (clients[i].errors > 0 && r->errors == 0)
            r->first_error = clients[i].first_error;
        r->errors += clients[i].errors;
    }
    qsort(r->rtt_ns, r->completed, sizeof(uint64_t), demo__cmp_u64);
}

static bool demo__phase(tofu_engine *e, const char *address, const demo_config *cfg,
                        demo_result *r) {
    demo_client *clients = calloc(cfg->clients, sizeof *clients);
    r->rtt_ns = calloc((size_t)cfg->clients * cfg->round_trips, sizeof(uint64_t));
    bool ok = clients != NULL && r->rtt_ns != NULL;
    for (unsigned i = 0; ok && i < cfg->clients; i++) {
        clients[i] = (demo_client){.e = e, .address = address, .round_trips = cfg->round_trips,
                                   .body_len = cfg->body_len, .seed = i};
        clients[i].rtt_ns = calloc(cfg->round_trips, sizeof(uint64_t));
        ok = clients[i].rtt_ns != NULL;
    }
    uint64_t t0 = demo_clock_ns();
    unsigned started = 0;
    while (ok && started < cfg->clients &&
           demo_thread_start(&clients[started].thread, demo_client_run, &clients[started]))
        started++;
    for (unsigned i = 0; i < started; i++)
        demo_thread_join(&clients[i].thread);
    r->elapsed_ns = demo_clock_ns() - t0;
    r->clients = cfg->clients;
    if (ok && started == cfg->clients)
        demo__collect(r, clients, cfg->clients);
    for (unsigned i = 0; clients != NULL && i < cfg->clients; i++)
        free(clients[i].rtt_ns);
    free(clients);
    return ok && started == cfg->clients;
}

/* ---- summary ---- */

/* Nearest-rank percentile of sorted values, in microseconds. */
static double demo__percentile_us(const demo_result *r, double p) {
    if (r->completed == 0)
        return 0.0;
    size_t k = (size_t)(p / 100.0 * (double)r->completed + 0.999999);
    if (k == 0)
        k = 1;
    if (k > r->completed)
        k = (size_t)r->completed;
    return (double)r->rtt_ns[k - 1] / 1000.0;
}

static void demo__row(const demo_result *r) {
    double secs = (double)r->elapsed_ns / 1e9;
    printf("%-9s %7u %10llu %7llu %9.1f %9.1f %9.1f %13.0f\n", r->name, r->clients,
           (unsigned long long)(2 * r->completed), (unsigned long long)r->errors,
           demo__percentile_us(r, 50), demo__percentile_us(r, 90), demo__percentile_us(r, 99),
           secs > 0 ? (double)r->completed / secs : 0.0);
}

/* The total: every phase's latencies together, the phases' times added
 * (they ran one after the other). */
static void demo__total(const demo_result *rs, size_t n, demo_result *t) {
    uint64_t all = 0;
    for (size_t i = 0; i < n; i++)
        all += rs[i].completed;
    *t = (demo_result){.name = "total"};
    t->rtt_ns = calloc(all + 1, sizeof(uint64_t));
    for (size_t i = 0; i < n && t->rtt_ns != NULL; i++) {
        memcpy(t->rtt_ns + t->completed, rs[i].rtt_ns, rs[i].completed * sizeof(uint64_t));
        t->completed += rs[i].completed;
        t->clients += rs[i].clients;
        t->elapsed_ns += rs[i].elapsed_ns;
        if (rs[i].errors > 0 && t->errors == 0)
            t->first_error = rs[i].first_error;
        t->errors += rs[i].errors;
    }
    if (t->rtt_ns != NULL)
        qsort(t->rtt_ns, t->completed, sizeof(uint64_t), demo__cmp_u64);
}

static void demo__summary(const demo_result *rs, size_t n) {
    demo_result total;
    demo__total(rs, n, &total);
    printf("\n%-9s %7s %10s %7s %9s %9s %9s %13s\n", "transport", "clients", "messages", "errors",
           "p50 us", "p90 us", "p99 us", "round trips/s");
    for (size_t i = 0; i < n; i++)
        demo__row(&rs[i]);
    demo__row(&total);
    printf("\n(messages: Requests sent + Responses received; round-trip times measured by\n"
           " each client from tofu_post of a Request to tofu_wait_receive of its Response)\n");
    if (total.errors > 0)
        printf("tofu-demo: %llu errors, the first: %s\n", (unsigned long long)total.errors,
               tofu_status_name(total.first_error));
    else
        printf("tofu-demo: OK, every Response matched its Request\n");
    free(total.rtt_ns);
}

/* ---- main ---- */

static void demo__banner(const demo_server *s, const demo_config *cfg) {
    printf("tofu-demo: libtofu %s, one engine; echo server listening on %s", TOFU_VERSION_STRING,
           s->tcp);
    if (s->uds[0] != '\0')
        printf(" and %s\n", s->uds);
    else
        printf(" (%s)\n", s->uds_note);
    printf("tofu-demo: %u clients per transport, %lu round trips each, %zu-byte bodies\n",
           cfg->clients, (unsigned long)cfg->round_trips, cfg->body_len);
    fflush(stdout);
}

int main(int argc, char **argv) {
    demo_config cfg;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return demo__usage(stdout, 0);
    if (!demo__parse(argc, argv, &cfg))
        return demo__usage(stderr, 2);
    tofu_options opt;
    tofu_options_init(&opt);
    opt.initial_pool_msgs = 64;
    opt.max_pool_msgs = 1024;
    tofu_engine *e = NULL;
    demo_server server;
    tofu_status st = tofu_engine_create(&opt, &e);
    if (st == TOFU_SUCCESS)
        st = demo_server_start(&server, e);
    if (st != TOFU_SUCCESS) {
        fprintf(stderr, "tofu-demo: cannot start the echo server: %s\n", tofu_status_name(st));
        tofu_engine_destroy(e);
        return 1;
    }
    demo__banner(&server, &cfg);
    demo_result results[2] = {{.name = "tcp"}, {.name = "uds"}};
    size_t phases = server.uds[0] != '\0' ? 2 : 1;
    bool ran = true;
    for (size_t i = 0; i < phases; i++)
        ran = demo__phase(e, i == 0 ? server.tcp : server.uds, &cfg, &results[i]) && ran;
    demo_server_stop(&server);
    tofu_engine_destroy(e);
    demo__summary(results, phases);
    bool clean = ran && results[0].errors == 0 && results[1].errors == 0;
    for (size_t i = 0; i < 2; i++)
        free(results[i].rtt_ns);
    return clean ? 0 : 1;
}
