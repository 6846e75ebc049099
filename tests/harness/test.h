/*
 * A small test harness: every TEST(name) is one case; CMake reads the TEST
 * lines of each file and registers every case as its own CTest entry
 * ("<file>.<case>"), running the executable with the case name. A
 * TRANSPORT_TEST(name) case is registered once per transport
 * ("<file>.<transport>.<case>", tests/CMakeLists.txt) and reads its
 * transport with tofu_t_transport_arg() (sockets.h).
 *
 * Assertions print both sides and stop the case (exit code 1); a case that
 * cannot run on this system ends with tofu_t_skip (exit code 77).
 */
#ifndef TOFU_TEST_H
#define TOFU_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tofu.h"

typedef void (*tofu_t_fn)(void);
void tofu_t_register(const char *name, tofu_t_fn fn);

/* The i-th command-line argument after the case name (i = 0 first), NULL
 * when absent: the parameters of a TRANSPORT_TEST case (the transport is
 * argument 0, read with tofu_t_transport_arg; a file with VARIANTS gets its
 * variant as argument 1). */
const char *tofu_t_arg(int i);

/* TEST(name) must start a line: CMake finds the cases with a regex. */
#define TEST(name)                                                                  \
    static void tofu_t_case_##name(void);                                           \
    __attribute__((constructor)) static void tofu_t_reg_##name(void) {              \
        tofu_t_register(#name, tofu_t_case_##name);                                 \
    }                                                                               \
    static void tofu_t_case_##name(void)

/* A case run once per transport: TRANSPORT_TEST(name) for every transport
 * its file is registered with (TRANSPORTS in tests/CMakeLists.txt),
 * TRANSPORT_TEST(name, uds) or (name, tcp4, uds) for those only. CTest
 * passes the transport's name after the case name; the case reads it with
 * tofu_t_transport_arg(). Must start a line, like TEST. */
#define TRANSPORT_TEST(...) TOFU_T_TEST_(TOFU_T_FIRST_(__VA_ARGS__, ~))
#define TOFU_T_FIRST_(name, ...) name
#define TOFU_T_TEST_(name) TEST(name)

/* MinGW's "printf" format checks msvcrt's dialect (no %zu); the harness is
 * built with __USE_MINGW_ANSI_STDIO, i.e. the C99 dialect. */
#if defined(__MINGW32__)
#define TOFU_T_PRINTF_LIKE(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define TOFU_T_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#endif

_Noreturn void tofu_t_fail(const char *file, int line, const char *fmt, ...)
    TOFU_T_PRINTF_LIKE(3, 4);

/* Prints "SKIPPED: why" and ends the case with exit code 77 (CTest's
 * SKIP_RETURN_CODE): a case that cannot run here never reports a pass. */
_Noreturn void tofu_t_skip(const char *why);

void tofu_t_check_u(uint64_t a, uint64_t b, bool want_equal, const char *ea, const char *eb,
                    const char *file, int line);
void tofu_t_check_i(int64_t a, int64_t b, bool want_equal, const char *ea, const char *eb,
                    const char *file, int line);
void tofu_t_check_status(tofu_status want, tofu_status got, const char *expr, const char *file,
                         int line);
void tofu_t_check_mem(const void *a, size_t alen, const void *b, size_t blen, const char *ea,
                      const char *eb, const char *file, int line);

#define ASSERT_TRUE(c)                                                              \
    do {                                                                            \
        if (!(c))                                                                   \
            tofu_t_fail(__FILE__, __LINE__, "expected true: %s", #c);               \
    } while (0)
#define ASSERT_FALSE(c)                                                             \
    do {                                                                            \
        if (c)                                                                      \
            tofu_t_fail(__FILE__, __LINE__, "expected false: %s", #c);              \
    } while (0)
/* Unsigned comparison (values printed in decimal and hex). */
#define ASSERT_EQ(a, b) tofu_t_check_u((uint64_t)(a), (uint64_t)(b), true, #a, #b, __FILE__, __LINE__)
#define ASSERT_NE(a, b) tofu_t_check_u((uint64_t)(a), (uint64_t)(b), false, #a, #b, __FILE__, __LINE__)
/* Signed comparison. */
#define ASSERT_EQ_I(a, b) tofu_t_check_i((int64_t)(a), (int64_t)(b), true, #a, #b, __FILE__, __LINE__)
#define ASSERT_NULL(p) ASSERT_TRUE((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)
/* Status comparison, printing names. */
#define ASSERT_STATUS(want, got) tofu_t_check_status((want), (got), #got, __FILE__, __LINE__)
#define ASSERT_OK(expr) ASSERT_STATUS(TOFU_SUCCESS, (expr))
/* Byte comparison of two buffers with lengths. */
#define ASSERT_MEM_EQ(a, alen, b, blen)                                             \
    tofu_t_check_mem((a), (alen), (b), (blen), #a, #b, __FILE__, __LINE__)
/* NUL-terminated strings. */
#define ASSERT_STR_EQ(a, b)                                                         \
    do {                                                                            \
        const char *tofu_t_a = (a), *tofu_t_b = (b);                                \
        if (tofu_t_a == NULL || tofu_t_b == NULL || strcmp(tofu_t_a, tofu_t_b) != 0) \
            tofu_t_fail(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", #a, #b,     \
                        tofu_t_a ? tofu_t_a : "(null)", tofu_t_b ? tofu_t_b : "(null)"); \
    } while (0)

/* Ends an engine test: every engine must be destroyed before; no message and
 * no socket may be left alive in the process. */
#define ASSERT_NO_LEAKS()                                                           \
    do {                                                                            \
        ASSERT_EQ(tofu_live_messages(), 0);                                         \
        ASSERT_EQ(tofu_open_sockets(), 0);                                          \
    } while (0)

/* ---- portability: the only OS-specific code of the tests lives behind these
 * (test.c), so that test files include no OS header ---- */

/* The id of this process (for unique temporary names). */
unsigned long tofu_t_pid(void);

/* A directory for temporary files, without a trailing separator: $TMPDIR,
 * else on Windows %TEMP% or %TMP%, else "/tmp" (POSIX) or "." (Windows). One
 * longer than 60 bytes is replaced by that fallback, so that a UDS path in it
 * still fits sun_path. */
const char *tofu_t_temp_dir(void);

/* Writes "<temp dir><sep>tofu_<pid>_<n><suffix>" into buf, n being a
 * process-wide counter, and removes a leftover file of that name. Nothing is
 * created. Fails the test when it does not fit in cap. */
void tofu_t_temp_path(char *buf, size_t cap, const char *suffix);

/* True when something (file, socket file, directory) exists at path. */
bool tofu_t_path_exists(const char *path);

/* Lowers the process's descriptor limit so that exactly one more descriptor
 * can be opened (the next accept or socket after that fails with EMFILE).
 * Returns false where that cannot be done (Windows): the caller skips. */
bool tofu_t_descriptors_leave_one(void);
/* Undoes tofu_t_descriptors_leave_one. */
void tofu_t_descriptors_restore(void);
/* Raises the process's descriptor limit towards `want` (as far as the hard
 * limit allows) and returns the limit now in force. */
uint64_t tofu_t_descriptors_raise(uint64_t want);

/* Deterministic pseudo-random numbers for property tests (xorshift64*). */
typedef struct tofu_t_rng {
    uint64_t s;
} tofu_t_rng;
void tofu_t_rng_seed(tofu_t_rng *r, uint64_t seed);
uint64_t tofu_t_rng_next(tofu_t_rng *r);
/* Uniform in [0, n) (n > 0). */
uint64_t tofu_t_rng_below(tofu_t_rng *r, uint64_t n);

#endif
