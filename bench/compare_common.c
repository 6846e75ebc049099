/* Shared helpers of the comparison programs (compare_common.h). */
#include "compare_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int cmp__u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void cmp_lat_report(const char *name, uint64_t *t, uint64_t n) {
    qsort(t, n, sizeof *t, cmp__u64);
    printf("%-4s %3d B  round trip: median %7.2f us  p99 %7.2f us  min %7.2f us  (%llu)\n", name,
           CMP_LAT_BODY, t[n / 2] / 1e3, t[(n * 99) / 100] / 1e3, t[0] / 1e3,
           (unsigned long long)n);
    fflush(stdout);
}

void cmp_thr_report(const char *name, size_t len, uint64_t n, uint64_t ns) {
    double s = (double)ns / 1e9;
    printf("%-4s %5zu B  %10.0f msgs/s  %8.1f MB/s  (%llu messages, %.2f s)\n", name, len,
           (double)n / s, (double)n * (double)len / s / 1e6, (unsigned long long)n, s);
    fflush(stdout);
}

/* The paths handed out, removed at exit (the libraries leave them). */
#define CMP__MAX_PATHS 16
static char cmp__paths[CMP__MAX_PATHS][108];
static unsigned cmp__n_paths;

static void cmp__unlink_paths(void) {
    for (unsigned i = 0; i < cmp__n_paths; i++)
        unlink(cmp__paths[i]);
}

void cmp_uds_path(char *buf, size_t cap, const char *tag) {
    if (cmp__n_paths == 0)
        atexit(cmp__unlink_paths);
    if (cmp__n_paths == CMP__MAX_PATHS)
        cmp_die(tag, "uds path", "too many paths");
    char *p = cmp__paths[cmp__n_paths];
    snprintf(p, sizeof cmp__paths[0], "/tmp/%s-bench-%ld-%u.sock", tag, (long)getpid(),
             cmp__n_paths);
    cmp__n_paths++;
    unlink(p);
    snprintf(buf, cap, "%s", p);
}

uint64_t cmp_thr_count(uint64_t n, size_t len) {
    return len >= 16384 ? (n + 7) / 8 : n;
}

_Noreturn void cmp_die(const char *lib, const char *what, const char *err) {
    fprintf(stderr, "compare_%s: %s: %s\n", lib, what, err);
    exit(1);
}
