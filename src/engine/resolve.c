/*
 * Host-name resolution off the I/O thread.
 *
 * getaddrinfo blocks (DNS, timeouts), which would stall every channel of the
 * engine. A small thread, started the first time a name needs resolving,
 * works off a queue of requests and hands each answer back to the I/O thread
 * as a command through the ordinary submission path. Literals and UDS paths
 * never come here.
 */
#include <stdlib.h>

#include "engine/engine_int.h"

void tofui_resolver_init(tofui_resolver *r) {
    r->head = r->tail = NULL;
    r->started = false;
    r->stop = false;
    tofui_mutex_init(&r->lock);
    tofui_cond_init(&r->cond);
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

static void resolve__thread(void *arg) {
    tofu_engine *e = arg;
    tofui_resolver *r = &e->resolver;
    tofui_mutex_lock(&r->lock);
    tofui_resolve_req *q;
    while ((q = resolve__next(r)) != NULL) {
        tofui_mutex_unlock(&r->lock);
        q->status = tofui_sock_resolve(&q->addr, q->passive, q->addrs, TOFUI_MAX_ADDRS, &q->n);
        if (!tofui_submit_cmd(e, &q->cmd))
            free(q); /* the I/O thread is gone */
        tofui_mutex_lock(&r->lock);
    }
    tofui_mutex_unlock(&r->lock);
}

tofu_status tofui_resolver_submit(tofu_engine *e, tofui_resolve_req *q) {
    tofui_resolver *r = &e->resolver;
    tofu_status st = TOFU_SUCCESS;
    q->next = NULL;
    tofui_mutex_lock(&r->lock);
    if (!r->started) {
        st = tofui_thread_create(&r->thread, resolve__thread, e);
        r->started = st == TOFU_SUCCESS;
    }
    if (st == TOFU_SUCCESS) {
        if (r->tail != NULL)
            r->tail->next = q;
        else
            r->head = q;
        r->tail = q;
        tofui_cond_signal(&r->cond);
    }
    tofui_mutex_unlock(&r->lock);
    return st == TOFU_SUCCESS ? st : TOFU_ALLOCATION_FAILED;
}

void tofui_resolver_fini(tofui_resolver *r) {
    tofui_mutex_lock(&r->lock);
    r->stop = true;
    bool started = r->started;
    tofui_cond_signal(&r->cond);
    tofui_mutex_unlock(&r->lock);
    if (started)
        tofui_thread_join(&r->thread); /* waits out a lookup in progress */
    while (r->head != NULL) {
        tofui_resolve_req *q = r->head;
        r->head = q->next;
        free(q);
    }
    r->tail = NULL;
    tofui_cond_fini(&r->cond);
    tofui_mutex_fini(&r->lock);
}
