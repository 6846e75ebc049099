/*
 * Host-name resolution off the I/O thread.
 *
 * getaddrinfo blocks (DNS, timeouts), which would stall every channel of the
 * engine. A small thread, started the first time a name needs resolving,
 * works off a queue of requests and puts each answer on a list of its own,
 * then wakes the I/O thread, which takes the answers when it handles its
 * wake-up. Literals and UDS paths never come here.
 */
#include <stdlib.h>

#include "engine/resolve.h"

void tofui_resolver_init(tofui_resolver *r, tofui_poller *p) {
    r->head = r->tail = NULL;
    r->answers = r->answers_tail = NULL;
    atomic_init(&r->answered, false);
    r->poller = p;
    r->started = false;
    r->stop = false;
    tofui_mutex_init(&r->lock);
    tofui_cond_init(&r->cond);
}

static void resolve__push(tofui_resolve_req **head, tofui_resolve_req **tail, tofui_resolve_req *q) {
    q->next = NULL;
    if (*tail != NULL)
        (*tail)->next = q;
    else
        *head = q;
    *tail = q;
}

/* Next request, or NULL when asked to stop. Called with the lock held. */
static tofui_resolve_req *resolve__next(tofui_resolver *r) {
    while (r->head == NULL && !r->stop)
        tofui_cond_wait(&r->cond, &r->lock);
    if (r->stop)
        return NULL;
    tofui_resolve_req *q = r->head;
    r->head = q->next;
    if (r->head == NULL)
        r->tail = NULL;
    return q;
}

/* The flag is set after the answer is on the list and before the wake-up,
 * both sequentially consistent: the I/O thread, which clears the poller's
 * pending flag before it looks at this one, cannot miss both. */
static void resolve__answer(tofui_resolver *r, tofui_resolve_req *q) {
    resolve__push(&r->answers, &r->answers_tail, q);
    atomic_store(&r->answered, true);
}

static void resolve__thread(void *arg) {
    tofui_resolver *r = arg;
    tofui_mutex_lock(&r->lock);
    tofui_resolve_req *q;
    while ((q = resolve__next(r)) != NULL) {
        tofui_mutex_unlock(&r->lock);
        q->status = tofui_sock_resolve(&q->addr, q->passive, q->addrs, TOFUI_MAX_ADDRS, &q->n);
        tofui_mutex_lock(&r->lock);
        resolve__answer(r, q);
        tofui_mutex_unlock(&r->lock);
        tofui_poller_wake(r->poller);
        tofui_mutex_lock(&r->lock);
    }
    tofui_mutex_unlock(&r->lock);
}

tofu_status tofui_resolver_submit(tofui_resolver *r, tofui_resolve_req *q) {
    tofu_status st = TOFU_SUCCESS;
    tofui_mutex_lock(&r->lock);
    if (!r->started) {
        st = tofui_thread_create(&r->thread, resolve__thread, r);
        r->started = st == TOFU_SUCCESS;
    }
    if (st == TOFU_SUCCESS) {
        resolve__push(&r->head, &r->tail, q);
        tofui_cond_signal(&r->cond);
    }
    tofui_mutex_unlock(&r->lock);
    return st == TOFU_SUCCESS ? st : TOFU_ALLOCATION_FAILED;
}

/* Without an answer pending this is one load: no lock on every pass. */
tofui_resolve_req *tofui_resolver_take_answers(tofui_resolver *r) {
    if (!atomic_load(&r->answered))
        return NULL;
    tofui_mutex_lock(&r->lock);
    tofui_resolve_req *q = r->answers;
    r->answers = r->answers_tail = NULL;
    atomic_store(&r->answered, false);
    tofui_mutex_unlock(&r->lock);
    return q;
}

static void resolve__free_list(tofui_resolve_req *q) {
    while (q != NULL) {
        tofui_resolve_req *next = q->next;
        free(q);
        q = next;
    }
}

void tofui_resolver_fini(tofui_resolver *r) {
    tofui_mutex_lock(&r->lock);
    r->stop = true;
    bool started = r->started;
    tofui_cond_signal(&r->cond);
    tofui_mutex_unlock(&r->lock);
    if (started)
        tofui_thread_join(&r->thread); /* waits out a lookup in progress */
    resolve__free_list(r->head);
    resolve__free_list(r->answers);
    r->head = r->tail = NULL;
    r->answers = r->answers_tail = NULL;
    tofui_cond_fini(&r->cond);
    tofui_mutex_fini(&r->lock);
}
