/*
 * POSIX threads, locks, condition variables and the monotonic clock
 * (platform.h). The opaque storage of platform.h is checked against the real
 * pthread types below, so a platform whose types do not fit fails to build
 * instead of corrupting memory.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* -std=c11 hides POSIX; _GNU_SOURCE shows it all */
#elif defined(__APPLE__)
#define _DARWIN_C_SOURCE /* pthread_cond_timedwait_relative_np */
#endif

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "platform/platform.h"

_Static_assert(sizeof(pthread_t) <= sizeof(((tofui_thread *)0)->opaque), "tofui_thread too small");
_Static_assert(alignof(pthread_t) <= alignof(tofui_thread), "tofui_thread misaligned");
_Static_assert(sizeof(pthread_mutex_t) <= sizeof(((tofui_mutex *)0)->opaque), "tofui_mutex too small");
_Static_assert(alignof(pthread_mutex_t) <= alignof(tofui_mutex), "tofui_mutex misaligned");
_Static_assert(sizeof(pthread_cond_t) <= sizeof(((tofui_cond *)0)->opaque), "tofui_cond too small");
_Static_assert(alignof(pthread_cond_t) <= alignof(tofui_cond), "tofui_cond misaligned");

/* macOS has no pthread_condattr_setclock: there the deadline is turned into
 * a relative wait measured on the same monotonic clock. */
#if defined(__APPLE__)
#define POSIX_THREAD__RELATIVE_COND_WAIT 1
#endif

#define POSIX_THREAD__NS_PER_SEC 1000000000ull

/* ---- process-wide start-up: nothing to do on POSIX, but counted so that
 * unbalanced calls would show up in a debugger the same way as on Windows. */

static atomic_int posix_thread__plat_users;

tofu_status tofui_plat_init(void) {
    atomic_fetch_add(&posix_thread__plat_users, 1);
    return TOFU_SUCCESS;
}

void tofui_plat_fini(void) {
    atomic_fetch_sub(&posix_thread__plat_users, 1);
}

/* ---- threads ---- */

static pthread_t *posix_thread__of(tofui_thread *t) {
    return (pthread_t *)(void *)t->opaque;
}

/* pthread wants void *(*)(void *); the contract's functions return void, so
 * a heap record carries fn and arg to a trampoline that frees it. */
typedef struct posix_thread__start {
    tofui_thread_fn fn;
    void *arg;
} posix_thread__start;

static void *posix_thread__trampoline(void *p) {
    posix_thread__start st = *(posix_thread__start *)p;
    free(p);
    st.fn(st.arg);
    return NULL;
}

tofu_status tofui_thread_create(tofui_thread *t, tofui_thread_fn fn, void *arg) {
    posix_thread__start *st = malloc(sizeof *st);
    if (st == NULL)
        return TOFU_ALLOCATION_FAILED;
    st->fn = fn;
    st->arg = arg;
    if (pthread_create(posix_thread__of(t), NULL, posix_thread__trampoline, st) != 0) {
        free(st);
        return TOFU_PROCESSING_FAILED;
    }
    return TOFU_SUCCESS;
}

void tofui_thread_join(tofui_thread *t) {
    pthread_join(*posix_thread__of(t), NULL);
}

/* ---- mutexes ---- */

static pthread_mutex_t *posix_thread__mutex(tofui_mutex *m) {
    return (pthread_mutex_t *)(void *)m->opaque;
}

void tofui_mutex_init(tofui_mutex *m) {
    pthread_mutex_init(posix_thread__mutex(m), NULL);
}

void tofui_mutex_fini(tofui_mutex *m) {
    pthread_mutex_destroy(posix_thread__mutex(m));
}

void tofui_mutex_lock(tofui_mutex *m) {
    pthread_mutex_lock(posix_thread__mutex(m));
}

bool tofui_mutex_trylock(tofui_mutex *m) {
    return pthread_mutex_trylock(posix_thread__mutex(m)) == 0;
}

void tofui_mutex_unlock(tofui_mutex *m) {
    pthread_mutex_unlock(posix_thread__mutex(m));
}

/* ---- condition variables ---- */

static pthread_cond_t *posix_thread__cond(tofui_cond *c) {
    return (pthread_cond_t *)(void *)c->opaque;
}

void tofui_cond_init(tofui_cond *c) {
#if defined(POSIX_THREAD__RELATIVE_COND_WAIT)
    pthread_cond_init(posix_thread__cond(c), NULL);
#else
    /* Deadlines are on the monotonic clock: a wall-clock jump must not make
     * a wait end early or hang. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(posix_thread__cond(c), &attr);
    pthread_condattr_destroy(&attr);
#endif
}

void tofui_cond_fini(tofui_cond *c) {
    pthread_cond_destroy(posix_thread__cond(c));
}

void tofui_cond_wait(tofui_cond *c, tofui_mutex *m) {
    pthread_cond_wait(posix_thread__cond(c), posix_thread__mutex(m));
}

static struct timespec posix_thread__timespec(uint64_t ns) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / POSIX_THREAD__NS_PER_SEC);
    ts.tv_nsec = (long)(ns % POSIX_THREAD__NS_PER_SEC);
    return ts;
}

bool tofui_cond_wait_until(tofui_cond *c, tofui_mutex *m, uint64_t deadline_ns) {
    uint64_t now = tofui_clock_ns();
    if (now >= deadline_ns)
        return false;
#if defined(POSIX_THREAD__RELATIVE_COND_WAIT)
    struct timespec ts = posix_thread__timespec(deadline_ns - now);
    int rc = pthread_cond_timedwait_relative_np(posix_thread__cond(c), posix_thread__mutex(m), &ts);
#else
    /* Far deadlines (e.g. UINT64_MAX - x) would overflow time_t on 32-bit
     * systems: clamp to about 68 years from now. */
    uint64_t max_ahead = (uint64_t)INT32_MAX * POSIX_THREAD__NS_PER_SEC;
    if (deadline_ns - now > max_ahead)
        deadline_ns = now + max_ahead;
    struct timespec ts = posix_thread__timespec(deadline_ns);
    int rc = pthread_cond_timedwait(posix_thread__cond(c), posix_thread__mutex(m), &ts);
#endif
    return rc != ETIMEDOUT;
}

void tofui_cond_signal(tofui_cond *c) {
    pthread_cond_signal(posix_thread__cond(c));
}

void tofui_cond_broadcast(tofui_cond *c) {
    pthread_cond_broadcast(posix_thread__cond(c));
}

/* ---- clock ---- */

uint64_t tofui_clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * POSIX_THREAD__NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

void tofui_thread_yield(void) {
    sched_yield();
}

/* ---- the per-thread pointer: a _Thread_local for the reads, a pthread key
 * only for its destructor (which passes the value back, so the exit
 * function never depends on the order in which thread storage goes). */

static _Thread_local void *posix_thread__local;
static pthread_key_t posix_thread__exit_key;
static pthread_once_t posix_thread__exit_once = PTHREAD_ONCE_INIT;
static bool posix_thread__exit_ready;
static _Atomic(tofui_thread_exit_fn) posix_thread__exit_fn;

static void posix_thread__at_exit(void *value) {
    posix_thread__local = NULL;
    atomic_load(&posix_thread__exit_fn)(value);
}

static void posix_thread__make_exit_key(void) {
    posix_thread__exit_ready = pthread_key_create(&posix_thread__exit_key, posix_thread__at_exit) == 0;
}

bool tofui_thread_local_set(void *value, tofui_thread_exit_fn at_exit) {
    atomic_store(&posix_thread__exit_fn, at_exit);
    pthread_once(&posix_thread__exit_once, posix_thread__make_exit_key);
    if (!posix_thread__exit_ready || pthread_setspecific(posix_thread__exit_key, value) != 0)
        return false;
    posix_thread__local = value;
    return true;
}

void *tofui_thread_local(void) {
    return posix_thread__local;
}

void tofui_sleep_ms(unsigned ms) {
    struct timespec left = posix_thread__timespec((uint64_t)ms * 1000000u);
    /* A signal cuts nanosleep short; sleep the remainder. */
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}
