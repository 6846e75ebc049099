/* The harness runner: `prog` runs every case, `prog NAME` one, `prog --list`
 * lists them. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* getpid under -std=c11 */
#endif

#include "test.h"

#include "platform/platform.h"

#include <stdarg.h>
#include <stdatomic.h>

#if defined(_WIN32)
#include <io.h>
#include <process.h>
#define TOFU_T_PID() ((unsigned long)_getpid())
#define TOFU_T_EXISTS(p) (_access((p), 0) == 0)
#define TOFU_T_SEP "\\"
#define TOFU_T_TEMP_FALLBACK "."
#else
#include <sys/resource.h>
#include <unistd.h>
#define TOFU_T_PID() ((unsigned long)getpid())
#define TOFU_T_EXISTS(p) (access((p), F_OK) == 0)
#define TOFU_T_SEP "/"
#define TOFU_T_TEMP_FALLBACK "/tmp"
#endif

#define TOFU_T_MAX_CASES 512

static struct {
    const char *name;
    tofu_t_fn fn;
} cases[TOFU_T_MAX_CASES];
static int ncases;
static const char *current = "?";
static int saved_argc;
static char **saved_argv;

const char *tofu_t_arg(int i) {
    /* argv[0] is the program, argv[1] the case name. */
    return i >= 0 && i + 2 < saved_argc ? saved_argv[i + 2] : NULL;
}

void tofu_t_register(const char *name, tofu_t_fn fn) {
    if (ncases == TOFU_T_MAX_CASES) {
        fprintf(stderr, "too many test cases\n");
        exit(2);
    }
    cases[ncases].name = name;
    cases[ncases].fn = fn;
    ncases++;
}

void tofu_t_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "FAIL %s (%s:%d): ", current, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    exit(1);
}

void tofu_t_skip(const char *why) {
    printf("SKIPPED: %s\n", why);
    fflush(stdout);
    exit(77);
}

void tofu_t_check_u(uint64_t a, uint64_t b, bool want_equal, const char *ea, const char *eb,
                    const char *file, int line) {
    if ((a == b) != want_equal)
        tofu_t_fail(file, line, "%s %s %s: %" PRIu64 " (0x%" PRIx64 ") vs %" PRIu64 " (0x%" PRIx64 ")",
                    ea, want_equal ? "==" : "!=", eb, a, a, b, b);
}

void tofu_t_check_i(int64_t a, int64_t b, bool want_equal, const char *ea, const char *eb,
                    const char *file, int line) {
    if ((a == b) != want_equal)
        tofu_t_fail(file, line, "%s %s %s: %" PRId64 " vs %" PRId64, ea,
                    want_equal ? "==" : "!=", eb, a, b);
}

void tofu_t_check_status(tofu_status want, tofu_status got, const char *expr, const char *file,
                         int line) {
    if (want != got)
        tofu_t_fail(file, line, "%s: expected %s (%d), got %s (%d)", expr, tofu_status_name(want),
                    (int)want, tofu_status_name(got), (int)got);
}

void tofu_t_check_mem(const void *a, size_t alen, const void *b, size_t blen, const char *ea,
                      const char *eb, const char *file, int line) {
    if (alen != blen)
        tofu_t_fail(file, line, "%s vs %s: length %zu vs %zu", ea, eb, alen, blen);
    if (alen == 0 || memcmp(a, b, alen) == 0)
        return;
    const unsigned char *x = a, *y = b;
    size_t i = 0;
    while (x[i] == y[i])
        i++;
    tofu_t_fail(file, line, "%s vs %s: first difference at byte %zu: 0x%02x vs 0x%02x", ea, eb, i,
                x[i], y[i]);
}

void tofu_t_rng_seed(tofu_t_rng *r, uint64_t seed) {
    r->s = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t tofu_t_rng_next(tofu_t_rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint64_t tofu_t_rng_below(tofu_t_rng *r, uint64_t n) {
    return tofu_t_rng_next(r) % n;
}

/* ---- portability helpers ---- */

unsigned long tofu_t_pid(void) {
    return TOFU_T_PID();
}

static const char *tofu_t_env_dir(const char *name) {
    const char *d = getenv(name);
    return d != NULL && d[0] != '\0' && strlen(d) <= 60 ? d : NULL;
}

const char *tofu_t_temp_dir(void) {
    const char *d = tofu_t_env_dir("TMPDIR");
#if defined(_WIN32)
    if (d == NULL)
        d = tofu_t_env_dir("TEMP");
    if (d == NULL)
        d = tofu_t_env_dir("TMP");
#endif
    return d != NULL ? d : TOFU_T_TEMP_FALLBACK;
}

void tofu_t_temp_path(char *buf, size_t cap, const char *suffix) {
    static atomic_uint counter;
    unsigned n = atomic_fetch_add(&counter, 1);
    int len = snprintf(buf, cap, "%s" TOFU_T_SEP "tofu_%lu_%u%s", tofu_t_temp_dir(), tofu_t_pid(),
                       n, suffix != NULL ? suffix : "");
    if (len < 0 || (size_t)len >= cap)
        tofu_t_fail(__FILE__, __LINE__, "temporary path does not fit %zu bytes", cap);
    remove(buf);
}

bool tofu_t_path_exists(const char *path) {
    return TOFU_T_EXISTS(path);
}

#if defined(_WIN32)
uint64_t tofu_t_descriptors_raise(uint64_t want) {
    return want; /* no descriptor limit of that kind */
}

bool tofu_t_descriptors_leave_one(void) {
    return false;
}

void tofu_t_descriptors_restore(void) {
}
#else
static struct rlimit tofu_t_saved_limit;

uint64_t tofu_t_descriptors_raise(uint64_t want) {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 0;
    if (lim.rlim_cur < want) {
        lim.rlim_cur = lim.rlim_max == RLIM_INFINITY || lim.rlim_max > want ? want : lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)lim.rlim_cur;
}

bool tofu_t_descriptors_leave_one(void) {
    if (getrlimit(RLIMIT_NOFILE, &tofu_t_saved_limit) != 0)
        return false;
    int lowest = dup(2); /* the lowest free descriptor: the next open takes it */
    if (lowest < 0)
        return false;
    close(lowest);
    struct rlimit lim = tofu_t_saved_limit;
    lim.rlim_cur = (rlim_t)lowest + 1;
    return setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

void tofu_t_descriptors_restore(void) {
    if (setrlimit(RLIMIT_NOFILE, &tofu_t_saved_limit) != 0)
        tofu_t_fail(__FILE__, __LINE__, "cannot restore the descriptor limit");
}
#endif

static int run_case(int i) {
    current = cases[i].name;
    printf("RUN  %s\n", current);
    fflush(stdout);
    /* Platform and poller cases use sockets without an engine: Windows
     * needs Winsock started for that (engines start it themselves; the
     * count nests). A no-op on POSIX. */
    if (tofui_plat_init() != TOFU_SUCCESS)
        tofu_t_fail(__FILE__, __LINE__, "tofui_plat_init failed");
    cases[i].fn();
    tofui_plat_fini();
    printf("PASS %s\n", current);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    saved_argc = argc;
    saved_argv = argv;
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < ncases; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    if (argc > 1) {
        for (int i = 0; i < ncases; i++)
            if (strcmp(cases[i].name, argv[1]) == 0)
                return run_case(i);
        fprintf(stderr, "no test case named %s\n", argv[1]);
        return 2;
    }
    for (int i = 0; i < ncases; i++)
        run_case(i);
    printf("%d cases passed\n", ncases);
    return 0;
}
