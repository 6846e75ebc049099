/*
 * The Requests that wait for an answer (requests.h).
 */
#include <stdlib.h>

#include "engine/requests.h"
#include "engine/timers.h"
#include "msg/msg.h"

#define REQS__FIRST_BUCKETS 64u
/* Records kept for reuse beyond what is in use: enough for the bursts of a
 * busy channel, not a pool that grows with the worst moment forever. */
#define REQS__MAX_FREE 4096u

tofu_status tofui_reqs_init(tofui_reqs *r, const tofu_options *opt) {
    r->buckets = calloc(REQS__FIRST_BUCKETS, sizeof *r->buckets);
    if (r->buckets == NULL)
        return TOFU_ALLOCATION_FAILED;
    r->nbuckets = REQS__FIRST_BUCKETS;
    r->count = 0;
    r->free = NULL;
    r->nfree = 0;
    r->default_ms = opt->request_timeout_ms == TOFU_TIMEOUT_NONE ? 0 : opt->request_timeout_ms;
    tofui_ms_wheel_init(&r->wheel);
    return TOFU_SUCCESS;
}

void tofui_reqs_fini(tofui_reqs *r) {
    while (r->free != NULL) {
        tofui_req *q = r->free;
        r->free = q->hash_next;
        free(q);
    }
    /* Every channel gave its records back when it closed; a table still
     * holding some (a failed init of the engine) only frees them. */
    for (size_t b = 0; b < r->nbuckets && r->buckets != NULL; b++) {
        while (r->buckets[b] != NULL) {
            tofui_req *q = r->buckets[b];
            r->buckets[b] = q->hash_next;
            free(q);
        }
    }
    free(r->buckets);
    r->buckets = NULL;
    r->nbuckets = 0;
}

/* Ids are mostly consecutive (the process-wide counter): a multiplicative
 * hash spreads them, and the channel's address tells channels apart. */
static size_t reqs__bucket(const tofui_reqs *r, const void *owner, uint64_t id) {
    uint64_t h = (id ^ ((uint64_t)(uintptr_t)owner >> 4)) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (r->nbuckets - 1);
}

/* Puts q at the head of the chain *head. */
static void reqs__link(tofui_req **head, tofui_req *q) {
    q->hash_next = *head;
    if (*head != NULL)
        (*head)->hash_pprev = &q->hash_next;
    q->hash_pprev = head;
    *head = q;
}

/* Doubles the buckets when the table is fuller than one record per bucket;
 * a failed allocation keeps the old ones (longer chains, still correct). */
static void reqs__grow(tofui_reqs *r) {
    size_t n = r->nbuckets * 2;
    tofui_req **nb = calloc(n, sizeof *nb);
    if (nb == NULL)
        return;
    tofui_req **old = r->buckets;
    size_t oldn = r->nbuckets;
    r->buckets = nb;
    r->nbuckets = n;
    for (size_t b = 0; b < oldn; b++) {
        while (old[b] != NULL) {
            tofui_req *q = old[b];
            old[b] = q->hash_next;
            reqs__link(&nb[reqs__bucket(r, q->owner, q->id)], q);
        }
    }
    free(old);
}

static tofui_req *reqs__new_record(tofui_reqs *r) {
    tofui_req *q = r->free;
    if (q != NULL) {
        r->free = q->hash_next;
        r->nfree--;
    } else if ((q = malloc(sizeof *q)) == NULL) {
        return NULL;
    }
    q->deadline.link.prev = q->deadline.link.next = NULL;
    return q;
}

static void reqs__recycle(tofui_reqs *r, tofui_req *q) {
    if (r->nfree >= REQS__MAX_FREE) {
        free(q);
        return;
    }
    q->hash_next = r->free;
    r->free = q;
    r->nfree++;
}

/* The Request's deadline in ms from now, or false when it has none: its
 * own timeout when the application set one, else the engine's default. */
static bool reqs__deadline_ms(const tofui_reqs *r, const tofu_msg *m, uint32_t *ms) {
    if (m->local.timeout.set) {
        *ms = m->local.timeout.ms;
        return *ms != TOFU_TIMEOUT_NONE;
    }
    *ms = r->default_ms;
    return r->default_ms != 0;
}

/* The chain of bucket b, searched for (owner, id). */
static tofui_req *reqs__search(const tofui_reqs *r, size_t b, const void *owner, uint64_t id) {
    tofui_req *q = r->buckets[b];
    while (q != NULL && (q->id != id || q->owner != owner))
        q = q->hash_next;
    return q;
}

tofui_req *tofui_reqs_get(tofui_reqs *r, const void *owner, tofui_link *owner_list,
                          const tofu_msg *m) {
    uint64_t id = m->bhdr.message_id;
    size_t b = reqs__bucket(r, owner, id);
    /* Every record of the table is on its owner's list: an owner with an
     * empty list has none with this id either (a client that waits for each
     * answer before its next Request is never searched for). */
    tofui_req *q = tofui_list_empty(owner_list) ? NULL : reqs__search(r, b, owner, id);
    if (q != NULL)
        return q;
    if ((q = reqs__new_record(r)) == NULL)
        return NULL;
    q->owner = owner;
    q->id = id;
    q->unsent_parts = 0;
    q->written = false;
    q->state = TOFUI_REQ_WAITING;
    if (r->count >= r->nbuckets) {
        reqs__grow(r);
        b = reqs__bucket(r, owner, id);
    }
    reqs__link(&r->buckets[b], q);
    r->count++;
    tofui_list_push_back(owner_list, &q->owner_link);
    uint32_t ms;
    if (reqs__deadline_ms(r, m, &ms))
        tofui_ms_wheel_start(&r->wheel, &q->deadline, ms);
    return q;
}

void tofui_reqs_retry(tofui_reqs *r, tofui_req *q, uint32_t ms) {
    tofui_wheel_remove(&r->wheel, &q->deadline);
    tofui_ms_wheel_start(&r->wheel, &q->deadline, ms);
}

tofui_req *tofui_reqs_find(const tofui_reqs *r, const void *owner, uint64_t id) {
    return reqs__search(r, reqs__bucket(r, owner, id), owner, id);
}

void tofui_reqs_retire(tofui_reqs *r, tofui_req *q) {
    if (tofui_list_linked(&q->deadline.link)) /* most Requests have none */
        tofui_wheel_remove(&r->wheel, &q->deadline);
    if (q->state != TOFUI_REQ_WAITING)
        return;
    *q->hash_pprev = q->hash_next; /* O(1), no search */
    if (q->hash_next != NULL)
        q->hash_next->hash_pprev = q->hash_pprev;
    r->count--;
    q->state = TOFUI_REQ_ANSWERED;
}

void tofui_reqs_free(tofui_reqs *r, tofui_req *q) {
    tofui_reqs_retire(r, q);
    tofui_list_remove(&q->owner_link);
    reqs__recycle(r, q);
}

tofui_req *tofui_reqs_pop_expired(tofui_reqs *r) {
    if (tofui_reqs_no_deadlines(r))
        return NULL;
    tofui_wheel_timer *t = tofui_ms_wheel_pop_expired(&r->wheel);
    return t == NULL ? NULL : TOFUI_CONTAINER(t, tofui_req, deadline);
}

int tofui_reqs_timeout(const tofui_reqs *r) {
    return tofui_reqs_no_deadlines(r) ? -1 : tofui_timeout_until(tofui_ms_wheel_next_ns(&r->wheel));
}
