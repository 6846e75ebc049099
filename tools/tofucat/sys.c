/*
 * The few operating-system services tofucat needs beyond libtofu: a
 * monotonic clock, stop signals, reading lines and files, and one
 * background thread with a gate (connect's standard-input reader). Everything else
 * is ISO C, so the tool builds with MinGW-w64 as well as on POSIX.
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#else
#include <pthread.h>
#include <time.h>
#endif

#include "tofucat.h"

uint64_t tc_now_ms(void) {
#if defined(_WIN32)
    return (uint64_t)GetTickCount64();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#endif
}

/* ---- stop signals ---- */

static volatile sig_atomic_t sys__stops;

/* Only sets a flag: nothing else is safe in a signal handler. The main loop
 * waits in short slices and looks at the flag between them. */
static void sys__on_stop(int sig) {
    sys__stops = sys__stops + 1;
    /* Some systems reset the handler to the default on delivery. */
    signal(sig, sys__on_stop);
}

void tc_install_stop_handlers(void) {
    signal(SIGINT, sys__on_stop);
    signal(SIGTERM, sys__on_stop);
}

int tc_stop_requests(void) {
    return (int)sys__stops;
}

/* ---- output ---- */

/* --format raw writes received bodies byte for byte: on Windows the C
 * runtime's text mode would turn each LF into CR LF. */
void tc_stdout_binary(void) {
#if defined(_WIN32)
    _setmode(_fileno(stdout), _O_BINARY);
#endif
}

/* ---- input ---- */

static bool sys__grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap)
        return true;
    size_t n = *cap < 256 ? 256 : *cap;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (p == NULL)
        return false;
    *buf = p;
    *cap = n;
    return true;
}

bool tc_read_line(FILE *f, char **buf, size_t *cap, size_t *len) {
    int c;
    size_t n = 0;
    bool any = false;
    while ((c = fgetc(f)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (!sys__grow(buf, cap, n + 2))
            return false;
        (*buf)[n++] = (char)c;
    }
    if (!any)
        return false;
    if (n > 0 && (*buf)[n - 1] == '\r')
        n--; /* a CR LF line end, as Windows editors write */
    if (!sys__grow(buf, cap, n + 1))
        return false;
    (*buf)[n] = '\0';
    *len = n;
    return true;
}

bool tc_read_file(const char *path, unsigned char **data, size_t *len, const char **why) {
#if defined(_WIN32)
    /* The arguments are UTF-8 (main.c); fopen would read the path in the
     * ANSI code page. */
    wchar_t wpath[MAX_PATH * 4];
    FILE *f = NULL;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wpath,
                            (int)(sizeof wpath / sizeof wpath[0])) > 0)
        f = _wfopen(wpath, L"rb");
    else
        errno = GetLastError() == ERROR_NO_UNICODE_TRANSLATION ? EILSEQ : ENAMETOOLONG;
#else
    FILE *f = fopen(path, "rb");
#endif
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (f == NULL) {
        *why = strerror(errno);
        return false;
    }
    do {
        if (!sys__grow(&buf, &cap, n + 65536)) {
            *why = "out of memory";
            free(buf);
            fclose(f);
            return false;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        *why = "read error";
        free(buf);
        return false;
    }
    *data = (unsigned char *)buf;
    *len = n;
    return true;
}

/* ---- a background thread and a gate ----
 *
 * Written once over a few primitives per platform: Win32 threads, critical
 * sections and condition variables, or pthreads. */

#if defined(_WIN32)
typedef CRITICAL_SECTION sys__mutex;
typedef CONDITION_VARIABLE sys__cond;
#define SYS__MUTEX_INIT(m) InitializeCriticalSection(m)
#define SYS__MUTEX_FINI(m) DeleteCriticalSection(m)
#define SYS__LOCK(m) EnterCriticalSection(m)
#define SYS__UNLOCK(m) LeaveCriticalSection(m)
#define SYS__COND_INIT(c) InitializeConditionVariable(c)
#define SYS__COND_FINI(c) ((void)(c)) /* nothing to free */
#define SYS__WAIT(c, m) SleepConditionVariableCS((c), (m), INFINITE)
#define SYS__WAKE_ONE(c) WakeConditionVariable(c)
#define SYS__WAKE_ALL(c) WakeAllConditionVariable(c)
#else
typedef pthread_mutex_t sys__mutex;
typedef pthread_cond_t sys__cond;
#define SYS__MUTEX_INIT(m) pthread_mutex_init((m), NULL)
#define SYS__MUTEX_FINI(m) pthread_mutex_destroy(m)
#define SYS__LOCK(m) pthread_mutex_lock(m)
#define SYS__UNLOCK(m) pthread_mutex_unlock(m)
#define SYS__COND_INIT(c) pthread_cond_init((c), NULL)
#define SYS__COND_FINI(c) pthread_cond_destroy(c)
#define SYS__WAIT(c, m) pthread_cond_wait((c), (m))
#define SYS__WAKE_ONE(c) pthread_cond_signal(c)
#define SYS__WAKE_ALL(c) pthread_cond_broadcast(c)
#endif

/* What a new thread runs; the thread frees it before it starts. */
typedef struct sys__start {
    void (*fn)(void *);
    void *arg;
} sys__start;

static void sys__run(void *p) {
    sys__start st = *(sys__start *)p;
    free(p);
    st.fn(st.arg);
}

#if defined(_WIN32)
static DWORD WINAPI sys__thread_main(LPVOID p) {
    sys__run(p);
    return 0;
}

static bool sys__spawn_detached(sys__start *st) {
    HANDLE h = CreateThread(NULL, 0, sys__thread_main, st, 0, NULL);
    if (h == NULL)
        return false;
    CloseHandle(h);
    return true;
}
#else
static void *sys__thread_main(void *p) {
    sys__run(p);
    return NULL;
}

static bool sys__spawn_detached(sys__start *st) {
    pthread_t id;
    if (pthread_create(&id, NULL, sys__thread_main, st) != 0)
        return false;
    pthread_detach(id);
    return true;
}
#endif

bool tc_thread_start_detached(void (*fn)(void *), void *arg) {
    sys__start *st = malloc(sizeof *st);
    if (st == NULL)
        return false;
    st->fn = fn;
    st->arg = arg;
    if (sys__spawn_detached(st))
        return true;
    free(st);
    return false;
}

struct tc_gate {
    sys__mutex lock;
    sys__cond cond;
    unsigned open;
    bool closed;
};

tc_gate *tc_gate_create(void) {
    struct tc_gate *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    SYS__MUTEX_INIT(&g->lock);
    SYS__COND_INIT(&g->cond);
    return g;
}

void tc_gate_open(tc_gate *g) {
    SYS__LOCK(&g->lock);
    g->open++;
    SYS__WAKE_ONE(&g->cond);
    SYS__UNLOCK(&g->lock);
}

bool tc_gate_pass(tc_gate *g) {
    SYS__LOCK(&g->lock);
    while (g->open == 0 && !g->closed)
        SYS__WAIT(&g->cond, &g->lock);
    bool pass = !g->closed;
    if (pass)
        g->open--;
    SYS__UNLOCK(&g->lock);
    return pass;
}

bool tc_gate_hold(tc_gate *g) {
    SYS__LOCK(&g->lock);
    if (!g->closed)
        return true;
    SYS__UNLOCK(&g->lock);
    return false;
}

void tc_gate_release(tc_gate *g) {
    SYS__UNLOCK(&g->lock);
}

void tc_gate_close(tc_gate *g) {
    SYS__LOCK(&g->lock);
    g->closed = true;
    SYS__WAKE_ALL(&g->cond);
    SYS__UNLOCK(&g->lock);
}

void tc_gate_destroy(tc_gate *g) {
    SYS__COND_FINI(&g->cond);
    SYS__MUTEX_FINI(&g->lock);
    free(g);
}
