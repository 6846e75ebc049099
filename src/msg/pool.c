/* The message pool (SPEC §7): a mutex-protected LIFO stack of reset
 * messages, kept as an array of pointers rather than a list through the
 * messages: the critical section then never touches a message, whose cache
 * lines usually sit with the thread that used it last, so the lock is held
 * for a few instructions and a batch moves with one copy of pointers.
 * Allocation, freeing and resetting happen outside the lock so that other
 * threads never wait on malloc or on a cache miss.
 *
 * In front of the stack, each application thread keeps a magazine per
 * engine it uses: up to TOFUI_MAG_CAP messages that its tofu_get and
 * tofu_put take and leave without the pool's lock, moved to and from the
 * stack TOFUI_MAG_BATCH at a time. The I/O thread already moves batches
 * (get_many, put_many) and keeps none. A magazine has a lock of its own, an
 * atomic flag that its thread takes on every call and that nobody else
 * takes except to empty it: the flag's cache line stays with its thread.
 *
 * The magazines are part of the pool, never a place where messages hide:
 *  - an empty stack takes back what the magazines hold before anyone is
 *    told the pool is empty (POOL_ONLY get, the engine's get_many for a
 *    frame, get_wait before it sleeps);
 *  - whoever starves says so first (empty_handed_out, waiters) and then
 *    empties the magazines, each under its flag; a thread parks a message
 *    only while holding its flag and seeing nobody starve. Either the
 *    thread parked before the sweep took the flag (the sweep finds the
 *    message) or after (it sees the starving and gives the message to the
 *    stack, which wakes the waiter or the stalled channel): no message is
 *    parked while someone waits for one;
 *  - a thread that ends gives its magazines back (a thread-exit function,
 *    platform.h), close frees every magazine's messages and orphans the
 *    magazine (its thread frees it later, the id of a closed pool never
 *    comes again).
 *  - the bound holds for stack and magazines together: a magazine holds
 *    only what the pool lent it room for (its credit, counted in
 *    `reserved` under the lock), a get from the magazine gives its room up
 *    at once (its thread alone writes it), and a push that finds no room
 *    takes back the room lent and not filled before it frees a message.
 * Locks are taken in one order: the registry (threads' magazine lists and
 * orphaning), the pool's lock, a magazine's flag. */
#include <stdlib.h>
#include <string.h>

#include "msg/pool.h"

struct tofui_mag {
    atomic_bool busy;       /* taken by its thread, or by a sweep */
    unsigned n;             /* messages in v */
    unsigned credit;        /* room lent by the pool: n <= credit <= TOFUI_MAG_CAP */
    tofu_msg *v[TOFUI_MAG_CAP];
    tofui_pool *pool;       /* NULL once the pool closed; under the registry */
    tofui_mag *prev, *next; /* in pool->mags; under the registry and the pool's lock */
};

/* A thread's magazines, one per engine it uses, most four. */
#define POOL__SLOTS 4

typedef struct pool__cache {
    struct {
        uint64_t id; /* the pool's; 0: free */
        tofui_mag *mag;
    } slot[POOL__SLOTS];
} pool__cache;

/* Taken only to create, give back or orphan magazines: rare, short. */
static atomic_flag pool__registry = ATOMIC_FLAG_INIT;
static atomic_uint_least64_t pool__next_id = 1;

static void pool__registry_lock(void) {
    while (atomic_flag_test_and_set_explicit(&pool__registry, memory_order_acquire))
        tofui_thread_yield();
}

static void pool__registry_unlock(void) {
    atomic_flag_clear_explicit(&pool__registry, memory_order_release);
}

/* Sequentially consistent: it orders the thread's look at the starving
 * flags after it (pool__can_park) against the sweep's. */
static void pool__mag_lock(tofui_mag *g) {
    while (atomic_exchange(&g->busy, true))
        tofui_thread_yield();
}

static void pool__mag_unlock(tofui_mag *g) {
    atomic_store_explicit(&g->busy, false, memory_order_release);
}

static void pool__free_array(tofu_msg **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        tofu_msg_destroy(v[i]);
}

static void pool__free_chain(tofu_msg *m) {
    while (m != NULL) {
        tofu_msg *next = m->next;
        tofu_msg_destroy(m);
        m = next;
    }
}

/* What a pooled message keeps of its buffers: a bigger one is shrunk when
 * it comes back, so the pool's memory is bounded in bytes as well as in
 * messages (max_pool_msgs × about 17.5 KiB; docs/semantics.md), while the
 * usual sizes (16 KiB bodies and below) reuse their buffer every time. */
#define POOL__KEEP_BODY 16384u
#define POOL__KEEP_THDRS 1024u

static void pool__shrink(tofui_buf *b, size_t keep) {
    if (b->cap <= keep)
        return;
    char *data = realloc(b->data, TOFUI_BUF_UNIT);
    if (data == NULL)
        return; /* keeps the big one: still a valid buffer */
    b->data = data;
    b->cap = TOFUI_BUF_UNIT;
}

/* Resets a message coming back (outside the lock). */
static void pool__recycle(tofu_msg *m) {
    tofui_msg_clear(m);
    pool__shrink(&m->body, POOL__KEEP_BODY);
    pool__shrink(&m->thdrs, POOL__KEEP_THDRS);
}

/* Creates v[0..n); returns how many it made (fewer without memory). */
static size_t pool__create(tofu_msg **v, size_t n) {
    size_t made = 0;
    while (made < n && tofu_msg_create(&v[made]) == TOFU_SUCCESS)
        made++;
    return made;
}

/* Gives back the credit of `n` initial messages that could not be made;
 * with none made at all, whoever comes next is told as after an empty
 * pool, so a stalled channel is woken by the next put. */
static void pool__unborn_back(tofui_pool *p, size_t n, bool none) {
    tofui_mutex_lock(&p->lock);
    if (!p->closed)
        p->unborn += n;
    if (none)
        atomic_store(&p->empty_handed_out, true);
    tofui_mutex_unlock(&p->lock);
}

tofu_status tofui_pool_init(tofui_pool *p, uint16_t initial, uint16_t max) {
    memset(p, 0, sizeof *p);
    p->max = max == 0 ? TOFU_DEFAULT_MAX_POOL : max;
    size_t want = initial == 0 ? TOFU_DEFAULT_INITIAL_POOL : initial;
    if (p->max < want)
        p->max = want;
    /* At most 65535 slots (512 KiB); the default 1024 take 8 KiB. */
    p->slots = malloc(p->max * sizeof *p->slots);
    if (p->slots == NULL)
        return TOFU_ALLOCATION_FAILED;
    p->unborn = want;
    p->id = atomic_fetch_add(&pool__next_id, 1);
    atomic_init(&p->closed, false);
    atomic_init(&p->empty_handed_out, false);
    atomic_init(&p->waiters, 0);
    atomic_init(&p->refilled, false);
    tofui_mutex_init(&p->lock);
    tofui_cond_init(&p->room);
    return TOFU_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* the stack, under the lock                                                */
/* ------------------------------------------------------------------------ */

/* Takes back the room lent to magazines and not filled (a magazine's
 * gets give room up without the lock; a put-only thread borrows ahead), so
 * that a message is freed only when stack and magazines are full. */
static void pool__recount_reserved(tofui_pool *p) {
    size_t sum = 0;
    for (tofui_mag *g = p->mags; g != NULL; g = g->next) {
        bool held = g == p->held; /* the caller's, taken already */
        if (!held)
            pool__mag_lock(g);
        g->credit = g->n;
        sum += g->n;
        if (!held)
            pool__mag_unlock(g);
    }
    p->reserved = sum;
}

/* Room on the stack within the bound, counted again if short. */
static size_t pool__room(tofui_pool *p, size_t want) {
    if (p->closed)
        return 0;
    if (p->max - p->count - p->unborn - p->reserved < want && p->reserved > 0)
        pool__recount_reserved(p);
    return p->max - p->count - p->unborn - p->reserved;
}

/* Pushes as many of v[0..n) as there is room for and chains the rest on
 * *drop (freed by the caller outside the lock); returns how many it kept. */
static size_t pool__push_or_drop(tofui_pool *p, tofu_msg **v, size_t n, tofu_msg **drop) {
    size_t room = pool__room(p, n);
    size_t k = n < room ? n : room;
    if (k > 0) {
        memcpy(p->slots + p->count, v, k * sizeof *v);
        p->count += k;
    }
    for (size_t i = k; i < n; i++) {
        v[i]->next = *drop;
        *drop = v[i];
    }
    return k;
}

/* Someone is starving: a put must give to the stack, not to its magazine
 * (nor to a closed pool's, which frees it). */
static bool pool__starving(tofui_pool *p) {
    return atomic_load(&p->waiters) > 0 || atomic_load(&p->empty_handed_out) || p->closed;
}

/* Moves what the magazines hold onto the stack (as far as it has room);
 * returns the stack's count. The caller said it starves first. */
static size_t pool__reclaim(tofui_pool *p) {
    for (tofui_mag *g = p->mags; g != NULL && p->count < p->max; g = g->next) {
        pool__mag_lock(g);
        size_t k = p->max - p->count < g->n ? p->max - p->count : g->n;
        g->n -= (unsigned)k;
        g->credit -= (unsigned)k;
        p->reserved -= k;
        memcpy(p->slots + p->count, g->v + g->n, k * sizeof *g->v);
        p->count += k;
        pool__mag_unlock(g);
    }
    return p->count;
}

/* An empty stack about to say "empty" (a POOL_ONLY get, get_many): arms the
 * refill alert, then takes back what the magazines hold. When they had
 * some, the alert is disarmed again unless it was armed before. */
static void pool__reclaim_or_alert(tofui_pool *p) {
    bool armed = atomic_exchange(&p->empty_handed_out, true);
    if (pool__reclaim(p) > 0 && !armed)
        atomic_store(&p->empty_handed_out, false);
}

/* A push that refilled a pool found empty clears and reports the alert. */
static bool pool__note_refill(tofui_pool *p) {
    return atomic_exchange(&p->empty_handed_out, false);
}

/* Sequentially consistent, as the wake-up that follows it: the thread
 * that takes the note after its wake-up was consumed must see it. */
static void pool__publish_refill(tofui_pool *p, bool refilled) {
    if (refilled)
        atomic_store(&p->refilled, true);
}

/* One waiter per message at most. */
static void pool__wake_waiters(tofui_pool *p, size_t kept) {
    if (kept == 0 || atomic_load(&p->waiters) == 0)
        return;
    if (kept == 1)
        tofui_cond_signal(&p->room);
    else
        tofui_cond_broadcast(&p->room);
}

/* Pushes v[0..n) (messages already reset) and wakes whoever waits for them;
 * true when it refilled a pool found empty. */
/* Ends a push, called under the lock with how many it kept and the chain
 * it dropped: notes a refill, wakes the waiters, unlocks, then publishes
 * the refill and frees the dropped outside the lock. True when it refilled
 * a pool found empty. */
static bool pool__end_push(tofui_pool *p, size_t kept, tofu_msg *drop) {
    bool refilled = kept > 0 && pool__note_refill(p);
    pool__wake_waiters(p, kept);
    tofui_mutex_unlock(&p->lock);
    pool__publish_refill(p, refilled);
    pool__free_chain(drop);
    return refilled;
}

static bool pool__give(tofui_pool *p, tofu_msg **v, size_t n) {
    tofu_msg *drop = NULL;
    tofui_mutex_lock(&p->lock);
    size_t kept = pool__push_or_drop(p, v, n, &drop);
    return pool__end_push(p, kept, drop);
}

/* ------------------------------------------------------------------------ */
/* a thread's magazines                                                     */
/* ------------------------------------------------------------------------ */

/* Links g into the pool's list unless it closed; under the registry. */
static bool pool__link(tofui_pool *p, tofui_mag *g) {
    tofui_mutex_lock(&p->lock);
    bool open = !p->closed;
    if (open) {
        g->pool = p;
        g->next = p->mags;
        if (p->mags != NULL)
            p->mags->prev = g;
        p->mags = g;
    }
    tofui_mutex_unlock(&p->lock);
    return open;
}

/* Gives g's messages to its pool (when that is still open), unlinks and
 * frees g; under the registry, so the pool cannot close meanwhile. */
static void pool__mag_retire(tofui_mag *g) {
    tofui_pool *p = g->pool;
    tofu_msg *drop = NULL;
    if (p != NULL) {
        tofui_mutex_lock(&p->lock);
        pool__mag_lock(g);
        p->reserved -= g->credit;
        g->credit = 0;
        p->held = g;
        size_t kept = pool__push_or_drop(p, g->v, g->n, &drop);
        p->held = NULL;
        g->n = 0;
        pool__mag_unlock(g);
        if (g->prev != NULL)
            g->prev->next = g->next;
        else
            p->mags = g->next;
        if (g->next != NULL)
            g->next->prev = g->prev;
        pool__publish_refill(p, kept > 0 && pool__note_refill(p));
        pool__wake_waiters(p, kept);
        tofui_mutex_unlock(&p->lock);
    }
    for (unsigned i = 0; i < g->n; i++) { /* an orphan's: none, close took them */
        g->v[i]->next = drop;
        drop = g->v[i];
    }
    pool__free_chain(drop);
    free(g);
}

/* A slot for a new magazine: a free one, an orphan's, or the last one's
 * (given back first). Under the registry. */
static int pool__free_slot(pool__cache *c) {
    for (int i = 0; i < POOL__SLOTS; i++)
        if (c->slot[i].mag == NULL)
            return i;
    int i = POOL__SLOTS - 1;
    for (int k = 0; k < POOL__SLOTS; k++)
        if (c->slot[k].mag->pool == NULL)
            i = k;
    pool__mag_retire(c->slot[i].mag);
    c->slot[i].mag = NULL;
    c->slot[i].id = 0;
    return i;
}

/* The thread ends: its magazines go back to their pools. */
static void pool__thread_exit(void *value) {
    pool__cache *c = value;
    pool__registry_lock();
    for (int i = 0; i < POOL__SLOTS; i++)
        if (c->slot[i].mag != NULL)
            pool__mag_retire(c->slot[i].mag);
    pool__registry_unlock();
    free(c);
}

static pool__cache *pool__my_cache(void) {
    pool__cache *c = tofui_thread_local();
    if (c != NULL)
        return c;
    c = calloc(1, sizeof *c);
    if (c != NULL && !tofui_thread_local_set(c, pool__thread_exit)) {
        free(c);
        c = NULL;
    }
    return c;
}

/* The calling thread's first call on p (or its first since its magazine
 * was evicted): a new magazine. NULL when there is no memory, the thread
 * cannot be told apart, or p closed: the caller then uses the stack. */
static tofui_mag *pool__new_mag(tofui_pool *p) {
    pool__cache *c = pool__my_cache();
    tofui_mag *g = c != NULL ? calloc(1, sizeof *g) : NULL;
    if (g == NULL)
        return NULL;
    atomic_init(&g->busy, false);
    pool__registry_lock();
    int i = pool__free_slot(c);
    bool open = pool__link(p, g);
    if (open) {
        c->slot[i].id = p->id;
        c->slot[i].mag = g;
    }
    pool__registry_unlock();
    if (!open) {
        free(g);
        return NULL;
    }
    return g;
}

static tofui_mag *pool__my_mag(tofui_pool *p) {
    pool__cache *c = tofui_thread_local();
    if (c != NULL) {
        for (int i = 0; i < POOL__SLOTS; i++)
            if (c->slot[i].id == p->id)
                return c->slot[i].mag;
    }
    return pool__new_mag(p);
}

/* ------------------------------------------------------------------------ */
/* close                                                                    */
/* ------------------------------------------------------------------------ */

void tofui_pool_close(tofui_pool *p) {
    tofu_msg *drop = NULL;
    pool__registry_lock();
    tofui_mutex_lock(&p->lock);
    p->closed = true; /* later puts go the slow way, which frees */
    tofui_cond_broadcast(&p->room); /* waiters leave with shutdown_started */
    for (tofui_mag *g = p->mags; g != NULL; g = g->next) {
        pool__mag_lock(g);
        for (unsigned i = 0; i < g->n; i++) {
            g->v[i]->next = drop;
            drop = g->v[i];
        }
        g->n = 0;
        g->pool = NULL; /* an orphan: its thread frees it */
        pool__mag_unlock(g);
    }
    p->mags = NULL;
    p->unborn = 0;
    size_t n = p->count;
    tofu_msg **v = p->slots;
    p->slots = NULL;
    p->count = 0;
    tofui_mutex_unlock(&p->lock);
    pool__registry_unlock();
    pool__free_chain(drop);
    pool__free_array(v, n);
    free(v);
}

void tofui_pool_fini(tofui_pool *p) {
    tofui_pool_close(p);
    /* A waiter still inside get_wait holds the lock's memory: it leaves
     * first (each one leaving a closed pool wakes the others). */
    tofui_mutex_lock(&p->lock);
    while (atomic_load(&p->waiters) > 0)
        tofui_cond_wait(&p->room, &p->lock);
    tofui_mutex_unlock(&p->lock);
    tofui_cond_fini(&p->room);
    tofui_mutex_fini(&p->lock);
}

/* ------------------------------------------------------------------------ */
/* get                                                                      */
/* ------------------------------------------------------------------------ */

static void pool__set_err(tofu_status *err, tofu_status st) {
    if (err != NULL)
        *err = st;
}

/* What a get found under the lock: a message, or the pool closed, or
 * empty. The cached get takes `more` messages besides into its magazine. */
static tofu_msg *pool__pop(tofui_pool *p, tofu_alloc strategy, tofui_mag *g, bool *closed,
                           bool *born) {
    *closed = p->closed;
    *born = false;
    if (*closed)
        return NULL;
    if (p->count == 0 && p->unborn > 0) { /* the caller creates it */
        p->unborn--;
        *born = true;
        return NULL;
    }
    if (p->count == 0 && strategy == TOFU_POOL_ONLY)
        pool__reclaim_or_alert(p); /* the next put must wake whoever starves */
    else if (p->count == 0)
        pool__reclaim(p);
    if (p->count == 0)
        return NULL;
    tofu_msg *m = p->slots[--p->count];
    if (g != NULL) { /* its credit goes with its messages */
        size_t more = pool__starving(p) ? 0 : p->count;
        if (more > TOFUI_MAG_BATCH - 1)
            more = TOFUI_MAG_BATCH - 1;
        pool__mag_lock(g); /* only its thread adds: empty still */
        p->reserved = p->reserved - g->credit + more;
        p->count -= more;
        memcpy(g->v, p->slots + p->count, more * sizeof *g->v);
        g->n = g->credit = (unsigned)more;
        pool__mag_unlock(g);
    }
    return m;
}

/* Messages are reset again when handed out (outside the lock): a stale
 * write through a pointer kept after a put must not leak into the next
 * user's message. */
static tofu_msg *pool__get(tofui_pool *p, tofu_alloc strategy, tofui_mag *g, tofu_status *err) {
    bool closed, born;
    tofui_mutex_lock(&p->lock);
    tofu_msg *m = pool__pop(p, strategy, g, &closed, &born);
    tofui_mutex_unlock(&p->lock);

    if (closed) {
        pool__set_err(err, TOFU_NOT_ALLOWED);
        return NULL;
    }
    if (born && pool__create(&m, 1) == 0) {
        pool__unborn_back(p, 1, true);
        pool__set_err(err, TOFU_ALLOCATION_FAILED);
        return NULL;
    }
    if (m != NULL && !born)
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

tofu_msg *tofui_pool_get(tofui_pool *p, tofu_alloc strategy, tofu_status *err) {
    return pool__get(p, strategy, NULL, err);
}

static tofu_msg *pool__mag_pop(tofui_mag *g) {
    pool__mag_lock(g);
    tofu_msg *m = NULL;
    if (g->n > 0) { /* its room goes back to the pool with it */
        m = g->v[--g->n];
        g->credit--;
    }
    pool__mag_unlock(g);
    return m;
}

tofu_msg *tofui_pool_get_cached(tofui_pool *p, tofu_alloc strategy, tofu_status *err) {
    tofui_mag *g = pool__my_mag(p);
    tofu_msg *m = g != NULL ? pool__mag_pop(g) : NULL;
    if (m == NULL)
        return pool__get(p, strategy, g, err);
    tofui_msg_clear(m);
    pool__set_err(err, TOFU_SUCCESS);
    return m;
}

/* Waits under the lock until the pool has a message, closes, or the
 * deadline passes; false on timeout. Known as a waiter before it empties
 * the magazines, so that none parks a message after that. */
static bool pool__wait_room(tofui_pool *p, uint64_t deadline_ns) {
    bool in_time = true;
    atomic_fetch_add(&p->waiters, 1);
    while (in_time && !p->closed && p->unborn == 0 && pool__reclaim(p) == 0) {
        if (deadline_ns == UINT64_MAX)
            tofui_cond_wait(&p->room, &p->lock);
        else
            in_time = tofui_cond_wait_until(&p->room, &p->lock, deadline_ns);
    }
    atomic_fetch_sub(&p->waiters, 1);
    if (p->closed)
        tofui_cond_broadcast(&p->room); /* fini may wait for the last one */
    return p->count > 0 || p->unborn > 0 || p->closed;
}

tofu_status tofui_pool_get_wait(tofui_pool *p, uint64_t deadline_ns, tofu_msg **out) {
    *out = NULL;
    tofui_mutex_lock(&p->lock);
    bool ready = pool__wait_room(p, deadline_ns);
    bool closed = p->closed;
    bool born = ready && !closed && p->count == 0;
    tofu_msg *m = NULL;
    if (born)
        p->unborn--; /* ready: there is one */
    else if (ready && !closed)
        m = p->slots[--p->count];
    tofui_mutex_unlock(&p->lock);
    if (closed)
        return TOFU_SHUTDOWN_STARTED;
    if (born && pool__create(&m, 1) == 0) {
        pool__unborn_back(p, 1, false);
        return TOFU_ALLOCATION_FAILED;
    }
    if (m != NULL && !born)
        tofui_msg_clear(m);
    *out = m;
    return TOFU_SUCCESS;
}

size_t tofui_pool_get_many(tofui_pool *p, tofu_msg **out, size_t want) {
    tofui_mutex_lock(&p->lock);
    if (!p->closed && p->count == 0 && p->unborn == 0)
        pool__reclaim_or_alert(p); /* as a POOL_ONLY get that found none */
    size_t n = p->closed ? 0 : (want < p->count ? want : p->count);
    if (n > 0) { /* a closed pool has no array */
        p->count -= n;
        memcpy(out, p->slots + p->count, n * sizeof *out);
    }
    size_t born = p->closed ? 0 : (want - n < p->unborn ? want - n : p->unborn);
    p->unborn -= born;
    tofui_mutex_unlock(&p->lock);
    for (size_t i = 0; i < n; i++)
        tofui_msg_clear(out[i]);
    size_t made = pool__create(out + n, born);
    if (made < born)
        pool__unborn_back(p, born - made, n + made == 0);
    return n + made;
}

/* ------------------------------------------------------------------------ */
/* put                                                                      */
/* ------------------------------------------------------------------------ */

bool tofui_pool_put(tofui_pool *p, tofu_msg **mp) {
    if (mp == NULL || *mp == NULL)
        return false;
    tofu_msg *m = *mp;
    *mp = NULL;
    pool__recycle(m);
    return pool__give(p, &m, 1);
}

bool tofui_pool_put_many(tofui_pool *p, tofu_msg **v, size_t n) {
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        pool__recycle(v[i]);
    return pool__give(p, v, n);
}

/* The fast put: parks m while nobody starves and there is room. The flag
 * is taken before the look (see the top of the file). */
static bool pool__mag_park(tofui_pool *p, tofui_mag *g, tofu_msg *m) {
    pool__mag_lock(g);
    bool park = g->n < g->credit && !pool__starving(p);
    if (park)
        g->v[g->n++] = m;
    pool__mag_unlock(g);
    return park;
}

/* Lends g up to `want` more room, as far as the bound allows. */
static void pool__lend(tofui_pool *p, tofui_mag *g, size_t want) {
    size_t room = pool__room(p, want);
    size_t k = want < room ? want : room;
    g->credit += (unsigned)k;
    p->reserved += k;
}

/* The slow put, under the pool's lock: when someone starves (or the pool
 * closed) the whole magazine and m go to the stack, with the magazine's
 * room; when the magazine is full its oldest TOFUI_MAG_BATCH go; when it
 * has no room left it borrows some; m is parked if it then fits, else it
 * goes to the stack (or is freed when the pool is full). */
static bool pool__put_slow(tofui_pool *p, tofui_mag *g, tofu_msg *m) {
    tofu_msg *drop = NULL;
    size_t kept = 0;
    tofui_mutex_lock(&p->lock);
    pool__mag_lock(g);
    p->held = g;
    bool to_stack = pool__starving(p);
    if (to_stack || g->n == TOFUI_MAG_CAP) {
        unsigned k = to_stack ? g->n : TOFUI_MAG_BATCH;
        unsigned give = to_stack ? g->credit : k;
        g->credit -= give;
        p->reserved -= give;
        kept = pool__push_or_drop(p, g->v, k, &drop);
        g->n -= k;
        memmove(g->v, g->v + k, g->n * sizeof *g->v);
    }
    if (!to_stack && g->n == g->credit)
        pool__lend(p, g, TOFUI_MAG_BATCH < TOFUI_MAG_CAP - g->credit ? TOFUI_MAG_BATCH
                                                                     : TOFUI_MAG_CAP - g->credit);
    if (!to_stack && g->n < g->credit)
        g->v[g->n++] = m;
    else
        kept += pool__push_or_drop(p, &m, 1, &drop);
    p->held = NULL;
    pool__mag_unlock(g);
    return pool__end_push(p, kept, drop);
}

bool tofui_pool_put_cached(tofui_pool *p, tofu_msg **mp) {
    if (mp == NULL || *mp == NULL)
        return false;
    tofu_msg *m = *mp;
    *mp = NULL;
    pool__recycle(m);
    tofui_mag *g = pool__my_mag(p);
    if (g == NULL)
        return pool__give(p, &m, 1);
    if (pool__mag_park(p, g, m))
        return false;
    return pool__put_slow(p, g, m);
}

bool tofui_pool_take_refill(tofui_pool *p) {
    return atomic_exchange(&p->refilled, false);
}

bool tofui_pool_refill_noted(tofui_pool *p) {
    return atomic_load(&p->refilled);
}

size_t tofui_pool_count(tofui_pool *p) {
    tofui_mutex_lock(&p->lock);
    size_t n = p->count + p->unborn;
    tofui_mutex_unlock(&p->lock);
    return n;
}
