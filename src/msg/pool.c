/* The message pool (SPEC §7): a mutex-protected LIFO stack of reset
 * messages, kept as an array of pointers rather than a list through the
 * messages: the critical section then never touches a message, whose cache
 * lines usually sit with the thread that used it last, so the lock is held
 * for a few instructions and a batch moves with one copy of pointers.
 * Allocation, freeing and resetting happen outside the lock so that other
 * threads never wait on malloc or on a cache miss. */
#include <stdlib.h>
#include <string.h>

#include "msg/pool.h"

static void pool__free_array(tofu_msg **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        tofu_msg_destroy(v[i]);
}

/* Creates the first `want` messages; false (all freed) when that fails. */
static bool pool__fill(tofui_pool *p, size_t want) {
    for (; p->count < want; p->count++) {
        if (tofu_msg_create(&p->slots[p->count]) != TOFU_SUCCESS) {
            pool__free_array(p->slots, p->count);
            return false;
        }
    }
    return true;
}

tofu_status tofui_pool_init(tofui_pool *p, uint16_t initial, uint16_t max) {
    memset(p, 0, sizeof *p);
    p->max = max == 0 ? TOFU_DEFAULT_MAX_POOL : max;
    size_t want = initial == 0 ? TOFU_DEFAULT_INITIAL_POOL : initial;
    if (p->max < want)
        p->max = want;
    /* At most 65535 slots (512 KiB); the default 64 take 512 bytes. */
    p->slots = malloc(p->max * sizeof *p->slots);
    if (p->slots == NULL || !pool__fill(p, want)) {
        free(p->slots);
        memset(p, 0, sizeof *p);
        return TOFU_ALLOCATION_FAILED;
    }
    atomic_init(&p->refilled, false);
    tofui_mutex_init(&p->lock);
    tofui_cond_init(&p->room);
    return TOFU_SUCCESS;
}

/* Empties the stack into a private copy; called under the lock. */
static tofu_msg **pool__take_all(tofui_pool *p, size_t *n) {
    *n = p->count;
    tofu_msg **v = p->slots;
    p->slots = NULL;
    p->count = 0;
    return v;
}

void tofui_pool_close(tofui_pool *p) {
    tofui_mutex_lock(&p->lock);
    p->closed = true;
    tofui_cond_broadcast(&p->room); /* waiters leave with shutdown_started */
    size_t n;
    tofu_msg **v = pool__take_all(p, &n);
    tofui_mutex_unlock(&p->lock);
    pool__free_array(v, n);
    free(v);
}

void tofui_pool_fini(tofui_pool *p) {
    tofui_pool_close(p);
    /* A waiter still inside get_wait holds the lock's memory: it leaves
     * first (each one leaving a closed pool wakes the others). */
    tofui_mutex_lock(&p->lock);
    while (p->waiters > 0)
        tofui_cond_wait(&p->room, &p->lock);
    tofui_mutex_unlock(&p->lock);
    tofui_cond_fini(&p->room);
    tofui_mutex_fini(&p->lock);
}

static void pool__set_err(tofu_status *err, tofu_status st) {
    if (err != NULL)
        *err = st;
}

/* Messages are reset again when handed out (outside the lock): a stale
 * write through a pointer kept after a put must not leak into the next
 * user's message. */
tofu_msg *tofui_pool_get(tofui_pool *p, tofu_alloc strategy, tofu_status *err) {
    tofui_mutex_lock(&p->lock);
    bool closed = p->closed;
    tofu_msg *m = !closed && p->count > 0 ? p->slots[--p->count] : NULL;
    if (!closed && m == NULL && strategy == TOFU_POOL_ONLY)
        p->empty_handed_out = true; /* the next put must wake whoever starves */
    tofui_mutex_unlock(&p->lock);

    if (closed) {
        pool__set_err(err, TOFU_NOT_ALLOWED);
        return NULL;
    }
    if (m != NULL)
        tofui_msg_clear(m);
    if (m == NULL && strategy == TOFU_POOL_ONLY) {
        pool__set_err(err, TOFU_POOL_EMPTY);
        return NULL;
    }
    if (m == NULL && tofu_msg_create(&m) != TOFU_SUCCESS) {
        pool__set_err(err, TOFU_ALLOCATION_FAILED);
        return NULL;
    }
    pool__set_err(err, TOFU_SUCCESS);
    return m;
}

/* Waits under the lock until the pool has a message, closes, or the
 * deadline passes; false on timeout. */
static bool pool__wait_room(tofui_pool *p, uint64_t deadline_ns) {
    bool in_time = true;
    p->waiters++;
    while (in_time && p->count == 0 && !p->closed) {
        if (deadline_ns == UINT64_MAX)
            tofui_cond_wait(&p->room, &p->lock);
        else
            in_time = tofui_cond_wait_until(&p->room, &p->lock, deadline_ns);
    }
    p->waiters--;
    if (p->closed)
        tofui_cond_broadcast(&p->room); /* fini may wait for the last one */
    return p->count > 0 || p->closed;
}

tofu_status tofui_pool_get_wait(tofui_pool *p, uint64_t deadline_ns, tofu_msg **out) {
    *out = NULL;
    tofui_mutex_lock(&p->lock);
    bool ready = pool__wait_room(p, deadline_ns);
    bool closed = p->closed;
    tofu_msg *m = ready && !closed ? p->slots[--p->count] : NULL;
    tofui_mutex_unlock(&p->lock);
    if (closed)
        return TOFU_SHUTDOWN_STARTED;
    if (m != NULL)
        tofui_msg_clear(m);
    *out = m;
    return TOFU_SUCCESS;
}

size_t tofui_pool_get_many(tofui_pool *p, tofu_msg **out, size_t want) {
    tofui_mutex_lock(&p->lock);
    size_t n = p->closed ? 0 : (want < p->count ? want : p->count);
    if (n > 0) { /* a closed pool has no array */
        p->count -= n;
        memcpy(out, p->slots + p->count, n * sizeof *out);
    }
    if (!p->closed && n == 0)
        p->empty_handed_out = true; /* as a POOL_ONLY get that found none */
    tofui_mutex_unlock(&p->lock);
    for (size_t i = 0; i < n; i++)
        tofui_msg_clear(out[i]);
    return n;
}

/* Pushes m if there is room; called under the lock. */
static bool pool__push(tofui_pool *p, tofu_msg *m) {
    if (p->closed || p->count >= p->max)
        return false;
    p->slots[p->count++] = m;
    return true;
}

/* A push that refilled a pool found empty clears and reports the alert. */
static bool pool__note_refill(tofui_pool *p) {
    bool refilled = p->empty_handed_out;
    p->empty_handed_out = false;
    return refilled;
}

/* Sequentially consistent, as the wake-up that follows it: the thread
 * that takes the note after its wake-up was consumed must see it. */
static void pool__publish_refill(tofui_pool *p, bool refilled) {
    if (refilled)
        atomic_store(&p->refilled, true);
}

bool tofui_pool_put(tofui_pool *p, tofu_msg **mp) {
    if (mp == NULL || *mp == NULL)
        return false;
    tofu_msg *m = *mp;
    *mp = NULL;
    tofui_msg_clear(m);

    tofui_mutex_lock(&p->lock);
    bool keep = pool__push(p, m);
    bool refilled = keep && pool__note_refill(p);
    if (keep && p->waiters > 0)
        tofui_cond_signal(&p->room);
    tofui_mutex_unlock(&p->lock);

    pool__publish_refill(p, refilled);
    if (!keep)
        tofu_msg_destroy(m);
    return refilled;
}

/* Pushes as many of v[0..n) as there is room for; returns how many.
 * Called under the lock: only pointers are copied. */
static size_t pool__push_many(tofui_pool *p, tofu_msg **v, size_t n) {
    size_t room = p->closed ? 0 : p->max - p->count;
    size_t k = n < room ? n : room;
    if (k > 0) {
        memcpy(p->slots + p->count, v, k * sizeof *v);
        p->count += k;
    }
    return k;
}

bool tofui_pool_put_many(tofui_pool *p, tofu_msg **v, size_t n) {
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        tofui_msg_clear(v[i]);
    tofui_mutex_lock(&p->lock);
    size_t kept = pool__push_many(p, v, n);
    bool refilled = kept > 0 && pool__note_refill(p);
    if (kept == 1 && p->waiters > 0) /* one waiter per message at most */
        tofui_cond_signal(&p->room);
    else if (kept > 1 && p->waiters > 0)
        tofui_cond_broadcast(&p->room);
    tofui_mutex_unlock(&p->lock);

    pool__publish_refill(p, refilled);
    pool__free_array(v + kept, n - kept);
    return refilled;
}

bool tofui_pool_take_refill(tofui_pool *p) {
    return atomic_exchange(&p->refilled, false);
}

bool tofui_pool_refill_noted(tofui_pool *p) {
    return atomic_load(&p->refilled);
}

size_t tofui_pool_count(tofui_pool *p) {
    tofui_mutex_lock(&p->lock);
    size_t n = p->count;
    tofui_mutex_unlock(&p->lock);
    return n;
}
