/*
 * Windows threads, locks, condition variables, the monotonic clock and the
 * process-wide Winsock start-up (platform.h).
 *
 * Plain Win32 primitives, not winpthreads: winpthreads is a separate runtime
 * (libwinpthread-1.dll, or a static copy with its own TLS and clock
 * emulation) that a Windows user of libtofu would have to ship; SRWLOCK,
 * CONDITION_VARIABLE and _beginthreadex are in every Windows since Vista and
 * need no DLL beyond the system's own.
 */
#include <winsock2.h>
#include <windows.h>
#include <process.h>
#include <stdlib.h>

#include "platform/platform.h"

_Static_assert(sizeof(HANDLE) <= sizeof(((tofui_thread *)0)->opaque), "tofui_thread too small");
_Static_assert(alignof(HANDLE) <= alignof(tofui_thread), "tofui_thread misaligned");
_Static_assert(sizeof(SRWLOCK) <= sizeof(((tofui_mutex *)0)->opaque), "tofui_mutex too small");
_Static_assert(alignof(SRWLOCK) <= alignof(tofui_mutex), "tofui_mutex misaligned");
_Static_assert(sizeof(CONDITION_VARIABLE) <= sizeof(((tofui_cond *)0)->opaque), "tofui_cond too small");
_Static_assert(alignof(CONDITION_VARIABLE) <= alignof(tofui_cond), "tofui_cond misaligned");

#define WIN_THREAD__NS_PER_SEC 1000000000ull
#define WIN_THREAD__NS_PER_MS 1000000ull

/* ---- process-wide start-up: Winsock 2.2 ---- */

/* WSAStartup is itself reference-counted, but keeping our own count under a
 * lock makes the first start-up and the last clean-up happen exactly once
 * even when engines are created and destroyed on several threads at once. */
static SRWLOCK win_thread__plat_lock = SRWLOCK_INIT;
static unsigned win_thread__plat_users;

tofu_status tofui_plat_init(void) {
    tofu_status st = TOFU_SUCCESS;
    AcquireSRWLockExclusive(&win_thread__plat_lock);
    if (win_thread__plat_users == 0) {
        WSADATA wsa;
        if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
            st = TOFU_COMMUNICATION_FAILED;
    }
    if (st == TOFU_SUCCESS)
        win_thread__plat_users++;
    ReleaseSRWLockExclusive(&win_thread__plat_lock);
    return st;
}

void tofui_plat_fini(void) {
    AcquireSRWLockExclusive(&win_thread__plat_lock);
    if (win_thread__plat_users > 0 && --win_thread__plat_users == 0)
        WSACleanup();
    ReleaseSRWLockExclusive(&win_thread__plat_lock);
}

/* ---- threads ---- */

static HANDLE *win_thread__of(tofui_thread *t) {
    return (HANDLE *)(void *)t->opaque;
}

/* _beginthreadex wants unsigned __stdcall (*)(void *); the contract's
 * functions return void, so a heap record carries fn and arg to a trampoline
 * that frees it. _beginthreadex rather than CreateThread: it sets up the C
 * runtime's per-thread state (errno, strtok) for the new thread. */
typedef struct win_thread__start {
    tofui_thread_fn fn;
    void *arg;
} win_thread__start;

static unsigned __stdcall win_thread__trampoline(void *p) {
    win_thread__start st = *(win_thread__start *)p;
    free(p);
    st.fn(st.arg);
    return 0;
}

tofu_status tofui_thread_create(tofui_thread *t, tofui_thread_fn fn, void *arg) {
    win_thread__start *st = malloc(sizeof *st);
    if (st == NULL)
        return TOFU_ALLOCATION_FAILED;
    st->fn = fn;
    st->arg = arg;
    uintptr_t h = _beginthreadex(NULL, 0, win_thread__trampoline, st, 0, NULL);
    if (h == 0) {
        free(st);
        return TOFU_PROCESSING_FAILED;
    }
    *win_thread__of(t) = (HANDLE)h;
    return TOFU_SUCCESS;
}

void tofui_thread_join(tofui_thread *t) {
    HANDLE h = *win_thread__of(t);
    WaitForSingleObject(h, INFINITE);
    CloseHandle(h);
}

/* ---- mutexes: SRWLOCK (no kernel object, nothing to free) ---- */

static SRWLOCK *win_thread__mutex(tofui_mutex *m) {
    return (SRWLOCK *)(void *)m->opaque;
}

void tofui_mutex_init(tofui_mutex *m) {
    InitializeSRWLock(win_thread__mutex(m));
}

void tofui_mutex_fini(tofui_mutex *m) {
    (void)m;
}

void tofui_mutex_lock(tofui_mutex *m) {
    AcquireSRWLockExclusive(win_thread__mutex(m));
}

bool tofui_mutex_trylock(tofui_mutex *m) {
    return TryAcquireSRWLockExclusive(win_thread__mutex(m)) != 0;
}

void tofui_mutex_unlock(tofui_mutex *m) {
    ReleaseSRWLockExclusive(win_thread__mutex(m));
}

/* ---- condition variables ---- */

static CONDITION_VARIABLE *win_thread__cond(tofui_cond *c) {
    return (CONDITION_VARIABLE *)(void *)c->opaque;
}

void tofui_cond_init(tofui_cond *c) {
    InitializeConditionVariable(win_thread__cond(c));
}

void tofui_cond_fini(tofui_cond *c) {
    (void)c;
}

void tofui_cond_wait(tofui_cond *c, tofui_mutex *m) {
    SleepConditionVariableSRW(win_thread__cond(c), win_thread__mutex(m), INFINITE, 0);
}

/* Milliseconds to wait for `ns`, rounded up so that a wait never ends before
 * its deadline only because of rounding; capped below INFINITE. */
static DWORD win_thread__wait_ms(uint64_t ns) {
    uint64_t ms = (ns + WIN_THREAD__NS_PER_MS - 1) / WIN_THREAD__NS_PER_MS;
    return ms >= INFINITE ? INFINITE - 1 : (DWORD)ms;
}

bool tofui_cond_wait_until(tofui_cond *c, tofui_mutex *m, uint64_t deadline_ns) {
    uint64_t now = tofui_clock_ns();
    if (now >= deadline_ns)
        return false;
    if (SleepConditionVariableSRW(win_thread__cond(c), win_thread__mutex(m),
                                  win_thread__wait_ms(deadline_ns - now), 0))
        return true;
    /* The kernel's timer may fire a little early: only a deadline that has
     * really passed is a timeout; otherwise the caller re-checks and waits
     * again, as after a spurious wake-up. */
    return GetLastError() != ERROR_TIMEOUT || tofui_clock_ns() < deadline_ns;
}

void tofui_cond_signal(tofui_cond *c) {
    WakeConditionVariable(win_thread__cond(c));
}

void tofui_cond_broadcast(tofui_cond *c) {
    WakeAllConditionVariable(win_thread__cond(c));
}

/* ---- clock ---- */

/* The performance-counter frequency is fixed at boot; reading it once is
 * enough. Several threads may race to store the same value, which is fine. */
static uint64_t win_thread__qpc_hz(void) {
    static volatile LONG64 hz;
    LONG64 v = hz;
    if (v == 0) {
        LARGE_INTEGER f;
        QueryPerformanceFrequency(&f);
        v = f.QuadPart;
        InterlockedExchange64(&hz, v);
    }
    return (uint64_t)v;
}

uint64_t tofui_clock_ns(void) {
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    uint64_t ticks = (uint64_t)c.QuadPart, hz = win_thread__qpc_hz();
    /* Split in whole seconds and the rest: ticks * 1e9 would overflow after
     * about 30 minutes of uptime at a 10 MHz counter. */
    return ticks / hz * WIN_THREAD__NS_PER_SEC + ticks % hz * WIN_THREAD__NS_PER_SEC / hz;
}

void tofui_thread_yield(void) {
    SwitchToThread();
}

/* ---- the per-thread pointer: one fiber-local slot, whose callback runs
 * when the thread ends (FlsGetValue needs no thread-local storage of the C
 * runtime, so the callback never meets it freed). */

static INIT_ONCE win_thread__fls_once = INIT_ONCE_STATIC_INIT;
static DWORD win_thread__fls = FLS_OUT_OF_INDEXES;
static tofui_thread_exit_fn volatile win_thread__exit_fn;

static VOID WINAPI win_thread__at_exit(PVOID value) {
    if (value != NULL)
        win_thread__exit_fn(value);
}

static BOOL CALLBACK win_thread__make_fls(PINIT_ONCE once, PVOID arg, PVOID *ctx) {
    (void)once;
    (void)arg;
    (void)ctx;
    win_thread__fls = FlsAlloc(win_thread__at_exit);
    return TRUE;
}

bool tofui_thread_local_set(void *value, tofui_thread_exit_fn at_exit) {
    win_thread__exit_fn = at_exit;
    InitOnceExecuteOnce(&win_thread__fls_once, win_thread__make_fls, NULL, NULL);
    return win_thread__fls != FLS_OUT_OF_INDEXES && FlsSetValue(win_thread__fls, value);
}

void *tofui_thread_local(void) {
    return win_thread__fls == FLS_OUT_OF_INDEXES ? NULL : FlsGetValue(win_thread__fls);
}

void tofui_sleep_ms(unsigned ms) {
    Sleep(ms);
}
