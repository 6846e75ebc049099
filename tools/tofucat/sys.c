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

/* ---- a background thread and a gate ---- */

#if defined(_WIN32)
/* What a new thread runs; the thread frees it before it starts. */
typedef struct sys__start {
    void (*fn)(void *);
    void *arg;
} sys__start;

static DWORD WINAPI sys__thread_main(LPVOID p) {
    sys__start st = *(sys__start *)p;
    free(p);
    st.fn(st.arg);
    return 0;
}

bool tc_thread_start_detached(void (*fn)(void *), void *arg) {
    sys__start *st = malloc(sizeof *st);
    if (st == NULL)
        return false;
    st->fn = fn;
    st->arg = arg;
    HANDLE h = CreateThread(NULL, 0, sys__thread_main, st, 0, NULL);
    if (h == NULL) {
        free(st);
        return false;
    }
    CloseHandle(h);
    return true;
}

struct tc_gate {
    CRITICAL_SECTION lock;
    CONDITION_VARIABLE cond;
    unsigned open;
    bool closed;
};

tc_gate *tc_gate_create(void) {
    struct tc_gate *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    InitializeCriticalSection(&g->lock);
    InitializeConditionVariable(&g->cond);
    return g;
}

void tc_gate_open(tc_gate *g) {
    EnterCriticalSection(&g->lock);
    g->open++;
    WakeConditionVariable(&g->cond);
    LeaveCriticalSection(&g->lock);
}

bool tc_gate_pass(tc_gate *g) {
    EnterCriticalSection(&g->lock);
    while (g->open == 0 && !g->closed)
        SleepConditionVariableCS(&g->cond, &g->lock, INFINITE);
    bool pass = !g->closed;
    if (pass)
        g->open--;
    LeaveCriticalSection(&g->lock);
    return pass;
}

bool tc_gate_hold(tc_gate *g) {
    EnterCriticalSection(&g->lock);
    if (!g->closed)
        return true;
    LeaveCriticalSection(&g->lock);
    return false;
}

void tc_gate_release(tc_gate *g) {
    LeaveCriticalSection(&g->lock);
}

void tc_gate_close(tc_gate *g) {
    EnterCriticalSection(&g->lock);
    g->closed = true;
    WakeAllConditionVariable(&g->cond);
    LeaveCriticalSection(&g->lock);
}

void tc_gate_destroy(tc_gate *g) {
    DeleteCriticalSection(&g->lock);
    free(g);
}
#else
/* What a new thread runs; the thread frees it before it starts. */
typedef struct sys__start {
    void (*fn)(void *);
    void *arg;
} sys__start;

static void *sys__thread_main(void *p) {
    sys__start st = *(sys__start *)p;
    free(p);
    st.fn(st.arg);
    return NULL;
}

bool tc_thread_start_detached(void (*fn)(void *), void *arg) {
    sys__start *st = malloc(sizeof *st);
    if (st == NULL)
        return false;
    st->fn = fn;
    st->arg = arg;
    pthread_t id;
    if (pthread_create(&id, NULL, sys__thread_main, st) != 0) {
        free(st);
        return false;
    }
    pthread_detach(id);
    return true;
}

struct tc_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned open;
    bool closed;
};

tc_gate *tc_gate_create(void) {
    struct tc_gate *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    return g;
}

void tc_gate_open(tc_gate *g) {
    pthread_mutex_lock(&g->lock);
    g->open++;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

bool tc_gate_pass(tc_gate *g) {
    pthread_mutex_lock(&g->lock);
    while (g->open == 0 && !g->closed)
        pthread_cond_wait(&g->cond, &g->lock);
    bool pass = !g->closed;
    if (pass)
        g->open--;
    pthread_mutex_unlock(&g->lock);
    return pass;
}

bool tc_gate_hold(tc_gate *g) {
    pthread_mutex_lock(&g->lock);
    if (!g->closed)
        return true;
    pthread_mutex_unlock(&g->lock);
    return false;
}

void tc_gate_release(tc_gate *g) {
    pthread_mutex_unlock(&g->lock);
}

void tc_gate_close(tc_gate *g) {
    pthread_mutex_lock(&g->lock);
    g->closed = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

void tc_gate_destroy(tc_gate *g) {
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
    free(g);
}
#endif
