/*
 * Whole reads and writes on a blocking POSIX descriptor, for the benchmark
 * programs that speak the framing over plain sockets (compare_raw,
 * bench_scale; POSIX only).
 */
#ifndef TOFU_BENCH_POSIX_IO_H
#define TOFU_BENCH_POSIX_IO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

/* Writes all len bytes; false with errno set when the descriptor fails. */
static inline bool bench_write_all(int fd, const void *p, size_t len) {
    const unsigned char *b = p;
    while (len > 0) {
        ssize_t w = write(fd, b, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        len -= (size_t)w;
    }
    return true;
}

/* Reads exactly len bytes; false with errno set (ECONNRESET for an end of
 * stream) when they do not come. */
static inline bool bench_read_all(int fd, void *p, size_t len) {
    unsigned char *b = p;
    while (len > 0) {
        ssize_t r = read(fd, b, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = ECONNRESET;
            return false;
        }
        b += r;
        len -= (size_t)r;
    }
    return true;
}

#endif
