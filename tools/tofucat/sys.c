/*
 * The few operating-system services tofucat needs beyond libtofu: a
 * monotonic clock, stop signals, reading lines and files. Everything else
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
#include <windows.h>
#else
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
