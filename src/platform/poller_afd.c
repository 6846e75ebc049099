/*
 * Windows poller (poller.h): level-triggered readiness, epoll-like, over
 * AFD poll requests (win_afd.h) completing on one I/O completion port, plus
 * a wake-up packet with its own completion key on the same port.
 *
 * How it works:
 *   - every watched socket has a heap record (poller_afd__sock) that holds
 *     its poll request; the kernel writes into that request until its
 *     completion is dequeued, so the record is freed only after that;
 *   - add/modify/remove only queue the socket; the queue is applied just
 *     before the wait: idle sockets get a poll started, a pending poll whose
 *     events no longer cover the interest is cancelled (its STATUS_CANCELLED
 *     completion puts the socket back in the queue, then it is re-armed);
 *   - a completion that reports events puts the socket back in the queue as
 *     well, so its poll is re-armed before the next wait: a socket that is
 *     still readable completes again at once (level-triggered, like epoll);
 *   - remove cancels the pending poll at once and forgets the socket; its
 *     record waits, unreachable, for the completion (the engine may close
 *     the socket right after remove);
 *   - a wait names each socket at most once; completions beyond the caller's
 *     array are kept for the next wait, and one entry more is always taken
 *     from the port so that a wake-up never waits behind them.
 * Only the I/O thread uses the poller, so nothing here needs a lock; only
 * the wake-up flag is shared with other threads.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "platform/poller.h"
#include "platform/win_afd.h"

/* Completion keys: poll completions of every AFD handle, and wake-ups. */
#define POLLER_AFD__KEY_POLL 1u
#define POLLER_AFD__KEY_WAKE 2u

/* Sockets per AFD handle: cancelling a poll costs time proportional to the
 * polls pending on the same handle, so they are spread over several handles
 * (the figure wepoll uses). */
#define POLLER_AFD__GROUP_SIZE 32u

/* Completions taken from the port per system call. */
#define POLLER_AFD__BATCH 256

/* Events asked for whatever the interest: errors are always reported. */
#define POLLER_AFD__ALWAYS \
    (TOFUI_AFD_POLL_ABORT | TOFUI_AFD_POLL_CONNECT_FAIL | TOFUI_AFD_POLL_LOCAL_CLOSE)

typedef enum poller_afd__state {
    POLLER_AFD__IDLE,       /* no request in the kernel */
    POLLER_AFD__PENDING,    /* a request is in the kernel */
    POLLER_AFD__CANCELLING  /* its cancellation was asked; completion to come */
} poller_afd__state;

/* One AFD handle shared by up to POLLER_AFD__GROUP_SIZE sockets. */
typedef struct poller_afd__group {
    HANDLE afd;
    unsigned users;
    struct poller_afd__group *next;
} poller_afd__group;

typedef struct poller_afd__sock {
    tofui_afd_poll op; /* written by the kernel while a request is out */
    tofui_socket s;
    SOCKET base;
    void *data;
    unsigned interest;       /* TOFUI_POLL_IN|OUT */
    ULONG armed;             /* AFD events of the request in the kernel */
    poller_afd__state state;
    bool removed;            /* forgotten: free once no request is out */
    bool closed;             /* LOCAL_CLOSE seen: the handle is gone */
    bool queued;             /* on the update queue */
    bool in_ready;           /* on the ready list */
    unsigned ready;          /* events dequeued but not yet reported */
    uint64_t wait_no;        /* the wait whose events[] holds this socket... */
    int slot;                /* ...at this index */
    poller_afd__group *group;
    struct poller_afd__sock *hash_next;
    struct poller_afd__sock *queue_next;
    struct poller_afd__sock *ready_next;
} poller_afd__sock;

struct tofui_poller {
    HANDLE port;
    poller_afd__group *groups;
    poller_afd__sock **buckets; /* socket -> record, chained */
    size_t nbuckets;            /* a power of two */
    size_t nsocks;
    poller_afd__sock *queue;    /* sockets whose poll must be (re)considered */
    poller_afd__sock *ready;    /* completions that did not fit the last wait */
    size_t inflight;            /* requests whose completion is still to come */
    uint64_t wait_no;           /* number of the current wait */
    atomic_bool wake_pending;
};

/* ---- OS handles, counted with the sockets so leaks show up ---- */

static void poller_afd__close_handle(HANDLE h) {
    CloseHandle(h);
    tofui_sock_count_closed();
}

/* ---- AFD handle groups ---- */

static poller_afd__group *poller_afd__group_new(tofui_poller *p) {
    poller_afd__group *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    if (tofui_afd_open(p->port, POLLER_AFD__KEY_POLL, &g->afd) != TOFU_SUCCESS) {
        free(g);
        return NULL;
    }
    tofui_sock_count_opened();
    g->next = p->groups;
    p->groups = g;
    return g;
}

/* A group with room, new ones first (they are the likeliest to have some). */
static poller_afd__group *poller_afd__group_acquire(tofui_poller *p) {
    poller_afd__group *g = p->groups;
    while (g != NULL && g->users >= POLLER_AFD__GROUP_SIZE)
        g = g->next;
    if (g == NULL)
        g = poller_afd__group_new(p);
    if (g != NULL)
        g->users++;
    return g;
}

static void poller_afd__groups_free(tofui_poller *p) {
    while (p->groups != NULL) {
        poller_afd__group *g = p->groups;
        p->groups = g->next;
        poller_afd__close_handle(g->afd);
        free(g);
    }
}

/* ---- socket -> record table ---- */

static size_t poller_afd__bucket(const tofui_poller *p, tofui_socket s) {
    /* Windows socket handles are multiples of 4. */
    uint64_t h = ((uint64_t)s >> 2) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (p->nbuckets - 1);
}

static poller_afd__sock **poller_afd__slot(tofui_poller *p, tofui_socket s) {
    poller_afd__sock **at = &p->buckets[poller_afd__bucket(p, s)];
    while (*at != NULL && (*at)->s != s)
        at = &(*at)->hash_next;
    return at;
}

static poller_afd__sock *poller_afd__find(tofui_poller *p, tofui_socket s) {
    return *poller_afd__slot(p, s);
}

static bool poller_afd__grow(tofui_poller *p) {
    size_t n = p->nbuckets * 2;
    poller_afd__sock **old = p->buckets, **nb = calloc(n, sizeof *nb);
    if (nb == NULL)
        return false;
    size_t old_n = p->nbuckets;
    p->buckets = nb;
    p->nbuckets = n;
    for (size_t i = 0; i < old_n; i++) {
        while (old[i] != NULL) {
            poller_afd__sock *k = old[i];
            old[i] = k->hash_next;
            size_t b = poller_afd__bucket(p, k->s);
            k->hash_next = nb[b];
            nb[b] = k;
        }
    }
    free(old);
    return true;
}

static bool poller_afd__insert(tofui_poller *p, poller_afd__sock *k) {
    if (p->nsocks >= p->nbuckets && !poller_afd__grow(p))
        return false;
    size_t b = poller_afd__bucket(p, k->s);
    k->hash_next = p->buckets[b];
    p->buckets[b] = k;
    p->nsocks++;
    return true;
}

static void poller_afd__unlink(tofui_poller *p, poller_afd__sock *k) {
    poller_afd__sock **at = poller_afd__slot(p, k->s);
    if (*at == k) {
        *at = k->hash_next;
        p->nsocks--;
    }
}

/* ---- records ---- */

static void poller_afd__queue(tofui_poller *p, poller_afd__sock *k) {
    if (k->queued)
        return;
    k->queued = true;
    k->queue_next = p->queue;
    p->queue = k;
}

static void poller_afd__free(poller_afd__sock *k) {
    k->group->users--;
    free(k);
}

/* A removed record is freed as soon as the kernel no longer holds it and it
 * is on no list; whichever comes last frees it. */
static void poller_afd__free_if_done(poller_afd__sock *k) {
    if (k->removed && k->state == POLLER_AFD__IDLE && !k->queued && !k->in_ready)
        poller_afd__free(k);
}

static void poller_afd__cancel(poller_afd__sock *k) {
    if (k->state != POLLER_AFD__PENDING)
        return;
    tofui_afd_poll_cancel(k->group->afd, &k->op);
    k->state = POLLER_AFD__CANCELLING;
}

/* ---- event translation ---- */

static ULONG poller_afd__afd_events(unsigned interest) {
    ULONG ev = POLLER_AFD__ALWAYS;
    /* A peer's FIN counts as readable, so the read sees the end of stream. */
    if (interest & TOFUI_POLL_IN)
        ev |= TOFUI_AFD_POLL_RECEIVE | TOFUI_AFD_POLL_ACCEPT | TOFUI_AFD_POLL_DISCONNECT;
    /* SEND is also what a completed non-blocking connect reports. */
    if (interest & TOFUI_POLL_OUT)
        ev |= TOFUI_AFD_POLL_SEND;
    return ev;
}

/* As epoll reports them: a reset is readable (the read returns the error),
 * an error and a hang-up; a failed connect is writable (the connect result
 * tells the error), an error and a hang-up. */
static unsigned poller_afd__poll_events(ULONG ev) {
    unsigned out = 0;
    if (ev & (TOFUI_AFD_POLL_RECEIVE | TOFUI_AFD_POLL_ACCEPT | TOFUI_AFD_POLL_DISCONNECT))
        out |= TOFUI_POLL_IN;
    if (ev & (TOFUI_AFD_POLL_SEND | TOFUI_AFD_POLL_CONNECT))
        out |= TOFUI_POLL_OUT;
    if (ev & TOFUI_AFD_POLL_ABORT)
        out |= TOFUI_POLL_IN | TOFUI_POLL_ERR | TOFUI_POLL_HUP;
    if (ev & TOFUI_AFD_POLL_CONNECT_FAIL)
        out |= TOFUI_POLL_OUT | TOFUI_POLL_ERR | TOFUI_POLL_HUP;
    if (ev & TOFUI_AFD_POLL_LOCAL_CLOSE)
        out |= TOFUI_POLL_ERR | TOFUI_POLL_HUP;
    return out;
}

static unsigned poller_afd__reportable(const poller_afd__sock *k, unsigned events) {
    return events & (k->interest | TOFUI_POLL_ERR | TOFUI_POLL_HUP);
}

/* ---- the batch of events a wait returns ---- */

/* Keeps events that did not fit for the next wait. */
static void poller_afd__stash(tofui_poller *p, poller_afd__sock *k, unsigned ev) {
    k->ready |= ev;
    if (k->in_ready)
        return;
    k->in_ready = true;
    k->ready_next = p->ready;
    p->ready = k;
}

/* The events being returned by one wait: at most max, each socket at most
 * once (as with epoll). */
typedef struct poller_afd__batch {
    tofui_event *events;
    int n, max;
} poller_afd__batch;

/* Adds k's events to the batch: merged into k's entry when it has one,
 * kept for the next wait when the batch is full. */
static void poller_afd__emit(tofui_poller *p, poller_afd__batch *b, poller_afd__sock *k,
                             unsigned ev) {
    if (k->wait_no == p->wait_no) {
        b->events[k->slot].events |= ev;
    } else if (b->n < b->max) {
        k->wait_no = p->wait_no;
        k->slot = b->n;
        b->events[b->n++] = (tofui_event){k->data, ev};
    } else {
        poller_afd__stash(p, k, ev);
    }
}

/* The stashed events come first; they are filtered by the interest of now,
 * and a socket removed since reports nothing. */
static void poller_afd__report_ready(tofui_poller *p, poller_afd__batch *b) {
    while (p->ready != NULL && b->n < b->max) {
        poller_afd__sock *k = p->ready;
        unsigned ev = poller_afd__reportable(k, k->ready);
        p->ready = k->ready_next;
        k->in_ready = false;
        k->ready = 0;
        if (k->removed)
            poller_afd__free_if_done(k);
        else if (ev != 0)
            poller_afd__emit(p, b, k, ev);
    }
}

/* Forgets the stashed events (destroy: every record is removed by then). */
static void poller_afd__drop_ready(tofui_poller *p) {
    while (p->ready != NULL) {
        poller_afd__sock *k = p->ready;
        p->ready = k->ready_next;
        k->in_ready = false;
        poller_afd__free_if_done(k);
    }
}

/* ---- applying the queue ---- */

/* Starts the poll of an idle socket. False when the kernel refused it: the
 * socket is no longer usable (closed behind the poller's back). */
static bool poller_afd__arm(tofui_poller *p, poller_afd__sock *k) {
    ULONG ev = poller_afd__afd_events(k->interest);
    if (!tofui_afd_poll_start(k->group->afd, k->base, ev, &k->op))
        return false;
    k->armed = ev;
    k->state = POLLER_AFD__PENDING;
    p->inflight++;
    return true;
}

/* Brings one queued socket's request in line with its interest. Returns the
 * events to report at once (a refused poll is reported as an error). */
static unsigned poller_afd__update(tofui_poller *p, poller_afd__sock *k) {
    switch (k->state) {
    case POLLER_AFD__IDLE:
        if (k->closed || poller_afd__arm(p, k))
            return 0;
        return TOFUI_POLL_ERR | TOFUI_POLL_HUP;
    case POLLER_AFD__PENDING:
        /* A pending request that watches more than needed is kept: the extra
         * events are filtered when it completes. */
        if ((poller_afd__afd_events(k->interest) & ~k->armed) != 0)
            poller_afd__cancel(k);
        return 0;
    case POLLER_AFD__CANCELLING:
        return 0;
    }
    return 0;
}

/* Applies the whole queue. A socket whose poll was refused is reported as an
 * error and goes back on the queue, to be reported again next time, as a
 * level-triggered error is. */
static void poller_afd__apply(tofui_poller *p, poller_afd__batch *b) {
    poller_afd__sock *list = p->queue;
    p->queue = NULL;
    while (list != NULL) {
        poller_afd__sock *k = list;
        list = k->queue_next;
        k->queued = false;
        if (k->removed) {
            poller_afd__free_if_done(k);
            continue;
        }
        unsigned ev = poller_afd__update(p, k);
        if (ev == 0)
            continue;
        poller_afd__emit(p, b, k, ev);
        poller_afd__queue(p, k);
    }
}

/* ---- completions ---- */

/* A request of k came back: returns the events to report (0 for none). */
static unsigned poller_afd__completed(tofui_poller *p, poller_afd__sock *k) {
    p->inflight--;
    k->state = POLLER_AFD__IDLE;
    if (k->removed) {
        poller_afd__free_if_done(k);
        return 0;
    }
    /* Re-armed before the next wait: level-triggered. */
    poller_afd__queue(p, k);
    if (tofui_afd_poll_cancelled(&k->op))
        return 0;
    if (tofui_afd_poll_failed(&k->op))
        return TOFUI_POLL_ERR | TOFUI_POLL_HUP;
    ULONG ev = tofui_afd_poll_events(&k->op);
    /* The handle is gone (possibly reused already): never poll it again. */
    if (ev & TOFUI_AFD_POLL_LOCAL_CLOSE)
        k->closed = true;
    return poller_afd__reportable(k, poller_afd__poll_events(ev));
}

static DWORD poller_afd__ms_left(uint64_t deadline_ns) {
    if (deadline_ns == UINT64_MAX)
        return INFINITE;
    uint64_t now = tofui_clock_ns();
    if (now >= deadline_ns)
        return 0;
    uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
    return ms >= INFINITE ? INFINITE - 1 : (DWORD)ms;
}

/* Takes completions from the port, waiting up to ms. One entry more than
 * the batch has room for is taken, so that a wake-up packet never waits
 * behind socket completions (a completion that does not fit is stashed).
 * False when the port failed. */
static bool poller_afd__dequeue(tofui_poller *p, poller_afd__batch *b, DWORD ms, bool *woken) {
    OVERLAPPED_ENTRY entries[POLLER_AFD__BATCH];
    int room = b->max - b->n;
    ULONG got = 0, want = (ULONG)(room < POLLER_AFD__BATCH ? room + 1 : POLLER_AFD__BATCH);
    if (!GetQueuedCompletionStatusEx(p->port, entries, want, &got, ms, FALSE))
        return GetLastError() == WAIT_TIMEOUT;
    for (ULONG i = 0; i < got; i++) {
        if (entries[i].lpCompletionKey == POLLER_AFD__KEY_WAKE) {
            /* Cleared before the caller looks at its queues: a wake() after
             * this point posts a new packet. */
            atomic_store(&p->wake_pending, false);
            *woken = true;
            continue;
        }
        poller_afd__sock *k = (poller_afd__sock *)(void *)entries[i].lpOverlapped;
        unsigned ev = poller_afd__completed(p, k);
        if (ev != 0)
            poller_afd__emit(p, b, k, ev);
    }
    return true;
}

/* ---- the interface ---- */

tofu_status tofui_poller_create(tofui_poller **out) {
    tofui_poller *p = calloc(1, sizeof *p);
    if (p == NULL)
        return TOFU_ALLOCATION_FAILED;
    p->nbuckets = 64;
    p->buckets = calloc(p->nbuckets, sizeof *p->buckets);
    p->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (p->buckets == NULL || p->port == NULL) {
        tofu_status st = p->buckets == NULL ? TOFU_ALLOCATION_FAILED : TOFU_COMMUNICATION_FAILED;
        if (p->port != NULL)
            CloseHandle(p->port);
        free(p->buckets);
        free(p);
        return st;
    }
    tofui_sock_count_opened();
    atomic_init(&p->wake_pending, false);
    *out = p;
    return TOFU_SUCCESS;
}

/* Waits for the completions of requests still in the kernel, so that their
 * records can be freed. A request that never comes back (it should not
 * happen: everything was cancelled) leaves its record allocated rather than
 * let the kernel write into freed memory. */
static void poller_afd__drain(tofui_poller *p) {
    for (int tries = 0; p->inflight > 0 && tries < 50; tries++) {
        tofui_event ev[POLLER_AFD__BATCH];
        poller_afd__batch b = {ev, 0, POLLER_AFD__BATCH};
        bool woken;
        if (!poller_afd__dequeue(p, &b, 100, &woken))
            break;
    }
}

/* Everything still watched (the contract says nothing should be) is
 * forgotten as remove would. */
static void poller_afd__forget_all(tofui_poller *p) {
    for (size_t i = 0; i < p->nbuckets; i++) {
        while (p->buckets[i] != NULL) {
            poller_afd__sock *k = p->buckets[i];
            p->buckets[i] = k->hash_next;
            k->removed = true;
            poller_afd__cancel(k);
            poller_afd__queue(p, k);
        }
    }
    p->nsocks = 0;
}

void tofui_poller_destroy(tofui_poller *p) {
    if (p == NULL)
        return;
    poller_afd__forget_all(p);
    poller_afd__drop_ready(p);
    poller_afd__batch none = {NULL, 0, 0};
    poller_afd__apply(p, &none); /* frees the idle removed records */
    poller_afd__drain(p);
    if (p->inflight == 0)
        poller_afd__groups_free(p);
    /* else: leaked on purpose, the kernel may still write into them. */
    poller_afd__close_handle(p->port);
    free(p->buckets);
    free(p);
}

static void poller_afd__set(tofui_poller *p, poller_afd__sock *k, void *data, unsigned interest) {
    k->data = data;
    k->interest = interest & (TOFUI_POLL_IN | TOFUI_POLL_OUT);
    poller_afd__queue(p, k);
}

/* add on a watched socket and modify on an unknown one both do what was
 * meant instead of failing (SPEC §9.1), as in the other backends. */
tofu_status tofui_poller_add(tofui_poller *p, tofui_socket s, void *data, unsigned interest) {
    poller_afd__sock *k = poller_afd__find(p, s);
    if (k != NULL) {
        poller_afd__set(p, k, data, interest);
        return TOFU_SUCCESS;
    }
    k = calloc(1, sizeof *k);
    if (k == NULL)
        return TOFU_ALLOCATION_FAILED;
    k->s = s;
    k->state = POLLER_AFD__IDLE;
    tofu_status st = tofui_afd_base_socket(s, &k->base);
    if (st == TOFU_SUCCESS && (k->group = poller_afd__group_acquire(p)) == NULL)
        st = TOFU_COMMUNICATION_FAILED;
    if (st == TOFU_SUCCESS && !poller_afd__insert(p, k)) {
        k->group->users--;
        st = TOFU_ALLOCATION_FAILED;
    }
    if (st != TOFU_SUCCESS) {
        free(k);
        return st;
    }
    poller_afd__set(p, k, data, interest);
    return TOFU_SUCCESS;
}

tofu_status tofui_poller_modify(tofui_poller *p, tofui_socket s, void *data, unsigned interest) {
    poller_afd__sock *k = poller_afd__find(p, s);
    if (k == NULL)
        return tofui_poller_add(p, s, data, interest);
    poller_afd__set(p, k, data, interest);
    return TOFU_SUCCESS;
}

void tofui_poller_remove(tofui_poller *p, tofui_socket s) {
    poller_afd__sock *k = poller_afd__find(p, s);
    if (k == NULL)
        return;
    poller_afd__unlink(p, k);
    k->removed = true;
    /* Cancelled now, not at the next wait: the caller may close the socket
     * as soon as this returns. */
    poller_afd__cancel(k);
    poller_afd__free_if_done(k);
}

int tofui_poller_wait(tofui_poller *p, tofui_event *events, int max, int timeout_ms,
                      bool *woken) {
    *woken = false;
    if (max < 0)
        return -1;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
                                       : tofui_clock_ns() + (uint64_t)timeout_ms * 1000000u;
    poller_afd__batch b = {events, 0, max};
    p->wait_no++;
    for (;;) {
        poller_afd__report_ready(p, &b);
        poller_afd__apply(p, &b);
        DWORD ms = b.n > 0 ? 0 : poller_afd__ms_left(deadline);
        /* Called even when the batch is full: a pending wake-up is still
         * taken (and reported) by this wait. */
        if (!poller_afd__dequeue(p, &b, ms, woken))
            return -1;
        /* Completions that report nothing (cancellations, filtered events)
         * are no reason to return before the timeout. */
        if (b.n > 0 || *woken || poller_afd__ms_left(deadline) == 0)
            return b.n;
    }
}

void tofui_poller_wake(tofui_poller *p) {
    /* The plain load first, as in poller_epoll.c. */
    if (!atomic_load(&p->wake_pending) && !atomic_exchange(&p->wake_pending, true))
        PostQueuedCompletionStatus(p->port, 0, POLLER_AFD__KEY_WAKE, NULL);
}

bool tofui_poller_ctl_while_waiting(void) {
    return false;
}

const char *tofui_poller_name(void) {
    return "afd";
}
