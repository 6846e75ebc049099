/*
 * Shared set-up of the benchmark programs: two engines in one process (a
 * client and a server) joined by one channel over TCP loopback or a UDS
 * path, a server thread, and timing helpers.
 */
#ifndef TOFU_BENCH_COMMON_H
#define TOFU_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/platform.h"
#include "tofu.h"

typedef struct bench_link {
    tofu_engine *ce, *se; /* client and server engines */
    tofu_group *cg, *sg;
    uint16_t cch, sch; /* the channel as each side numbers it */
    char uds_path[TOFU_UDS_PATH_BUF];
} bench_link;

/* Listens on the server engine, connects the client engine, completes the
 * Hello exchange. Exits the program on failure. */
void bench_open(bench_link *l, bool uds, uint16_t pool_initial, uint16_t pool_max);

/* Closes the channel, destroys groups and engines. */
void bench_close(bench_link *l);

/* An engine with opt (NULL: the defaults) and a group on it; the program
 * ends when either fails, the message naming `who`. */
void bench_engine(const tofu_options *opt, const char *who, tofu_engine **e, tofu_group **g);

/* Listens on TCP 127.0.0.1 port 0, or on the socket file uds_path when it
 * is not NULL, and returns the address bound (the WelcomeResponse's
 * ~listen_on). Exits the program on failure. */
void bench_listen(tofu_engine *e, tofu_group *g, const char *uds_path, tofu_address *bound);

/* The next message of g; pool_empty Signals are put back and skipped, any
 * other engine failure ends the program. NULL on receiver_update (the stop
 * request). */
tofu_msg *bench_wait(tofu_engine *e, tofu_group *g);

/* A message from the pool with opcode, channel and `len` body bytes. */
tofu_msg *bench_msg(tofu_engine *e, tofu_opcode op, uint16_t ch, size_t len);

void bench_post(tofu_group *g, tofu_msg **m);

/* Reads "n" from argv[1] (default `def`). */
uint64_t bench_iterations(int argc, char **argv, uint64_t def);

_Noreturn void bench_die(const char *what, tofu_status st);

/* Big-endian fields of the framing (SPEC §1.2), for the programs that
 * speak it over plain sockets (compare_raw, bench_scale). */
static inline void bench_put_be(unsigned char *p, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static inline uint64_t bench_get_be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

#endif
