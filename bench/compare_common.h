/*
 * Shared helpers of the side-by-side comparison programs (compare_zmq.c,
 * compare_nng.c). They measure what bench_latency.c and bench_throughput.c
 * measure, with the same constants and the same output lines, so that
 * compare.sh can put the figures in one table.
 */
#ifndef TOFU_COMPARE_COMMON_H
#define TOFU_COMPARE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "bench_common.h"

/* The same parameters as bench_latency.c and bench_throughput.c. */
#define CMP_LAT_BODY 64
#define CMP_LAT_WARMUP 1000
#define CMP_ACK 256u
#define CMP_WINDOW 4096u
#define CMP_MAX_BODY 16384u

/* Sorts the n round-trip times t and prints the bench_latency line. */
void cmp_lat_report(const char *name, uint64_t *t, uint64_t n);

/* Prints the bench_throughput line for n messages of len bytes in ns. */
void cmp_thr_report(const char *name, size_t len, uint64_t n, uint64_t ns);

/* A fresh Unix-domain socket path under /tmp (tag names the library). */
void cmp_uds_path(char *buf, size_t cap, const char *tag);

/* Message count for a body size, as bench_throughput.c chooses it. */
uint64_t cmp_thr_count(uint64_t n, size_t len);

_Noreturn void cmp_die(const char *lib, const char *what, const char *err);

#endif
