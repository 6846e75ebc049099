/*
 * Threads and a monotonic clock for the demo, on POSIX and Windows. Not
 * tofu's business: an application brings its own.
 *
 * SPDX-License-Identifier: MIT
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif

#include "demo.h"

#if !defined(_WIN32)
#include <time.h>
#endif

#if defined(_WIN32)
static DWORD WINAPI sys__trampoline(LPVOID p) {
    demo_thread *t = p;
    t->fn(t->arg);
    return 0;
}
#else
static void *sys__trampoline(void *p) {
    demo_thread *t = p;
    t->fn(t->arg);
    return NULL;
}
#endif

bool demo_thread_start(demo_thread *t, void (*fn)(void *), void *arg) {
    t->fn = fn;
    t->arg = arg;
#if defined(_WIN32)
    t->handle = CreateThread(NULL, 0, sys__trampoline, t, 0, NULL);
    return t->handle != NULL;
#else
    return pthread_create(&t->id, NULL, sys__trampoline, t) == 0;
#endif
}

void demo_thread_join(demo_thread *t) {
#if defined(_WIN32)
    WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
#else
    pthread_join(t->id, NULL);
#endif
}

uint64_t demo_clock_ns(void) {
#if defined(_WIN32)
    static LARGE_INTEGER freq; /* fixed at boot */
    LARGE_INTEGER now;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    /* Seconds and remainder apart: ticks * 1e9 would overflow. */
    uint64_t ticks = (uint64_t)now.QuadPart, f = (uint64_t)freq.QuadPart;
    return ticks / f * 1000000000u + ticks % f * 1000000000u / f;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}
