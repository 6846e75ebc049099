/*
 * The Requests that wait for an answer (requests.c), I/O thread only.
 *
 * Every Request the engine takes for a channel gets a
 * record here until its answer is in: a table by (channel, message id) for
 * the answer that comes from the peer, a list per channel in posting order
 * for the answers the engine makes when the channel closes, and a timing
 * wheel (util/wheel.h) for the deadlines. Records come from a free list and
 * the table grows by doubling, so taking and answering a Request costs O(1)
 * and no allocation once the engine has warmed up.
 *
 * What an answer means for the application is the channel code's business
 * (track.c); this module only keeps the records.
 */
#ifndef TOFUI_REQUESTS_H
#define TOFUI_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tofu.h"
#include "util/list.h"
#include "util/wheel.h"

/* Where a record is in its life (track.c moves it on). */
typedef enum tofui_req_state {
    TOFUI_REQ_WAITING = 0, /* in the table: its answer is still to come */
    TOFUI_REQ_ANSWERED,    /* answered while parts of it were still queued
                              (the engine's timed_out, or the peer's): out of
                              the table; those parts go out, or are dropped
                              when the channel closes first */
    TOFUI_REQ_RETURNING    /* the channel closed with parts queued: they come
                              back themselves, as its answer */
} tofui_req_state;

/* One Request waiting for its answer: one record per (channel, id), for
 * all the parts of a Request sent in several (`more`). */
typedef struct tofui_req {
    tofui_wheel_timer deadline; /* in the wheel when the Request has one */
    tofui_link owner_link;      /* the channel's list, in posting order */
    struct tofui_req *hash_next;
    struct tofui_req **hash_pprev; /* the link that points here: O(1) removal */
    const void *owner;          /* the channel */
    uint64_t id;
    uint32_t unsent_parts;      /* its messages still in the send queue (each
                                   points here through its track field) */
    bool written;               /* some part is on the wire */
    uint8_t state;              /* tofui_req_state */
} tofui_req;

typedef struct tofui_reqs {
    tofui_req **buckets; /* by hash of (owner, id); chains through hash_next */
    size_t nbuckets;     /* a power of two */
    size_t count;
    tofui_req *free;     /* records to reuse, through hash_next */
    size_t nfree;
    uint32_t default_ms; /* tofu_options.request_timeout_ms; 0: none */
    tofui_wheel wheel;   /* deadlines, in milliseconds */
} tofui_reqs;

/* An empty table (fini is safe after a failed init and on zeroed memory). */
tofu_status tofui_reqs_init(tofui_reqs *r, const tofu_options *opt);
void tofui_reqs_fini(tofui_reqs *r);

/* The record of Request m of owner in the table: the one that waits
 * already for m's id (another part of the same Request, or the id again),
 * else a new one, appended to owner_list, its deadline started (m's own
 * timeout, else the engine default, if any). NULL when memory runs out.
 * One search at most: this runs for every Request. */
tofui_req *tofui_reqs_get(tofui_reqs *r, const void *owner, tofui_link *owner_list,
                          const tofu_msg *m);
/* The record of (owner, id), or NULL. */
tofui_req *tofui_reqs_find(const tofui_reqs *r, const void *owner, uint64_t id);
/* True when no record has a deadline running: the engine's every pass
 * asks, and then has nothing to check (tofui_reqs_pop_expired,
 * tofui_reqs_timeout). */
static inline bool tofui_reqs_no_deadlines(const tofui_reqs *r) {
    return tofui_wheel_empty(&r->wheel);
}
/* Takes a record out of the table and the wheel (an answer that comes now
 * finds nothing); it stays on its owner's list while parts of it are
 * queued. Safe to call twice. */
void tofui_reqs_retire(tofui_reqs *r, tofui_req *q);
/* Forgets a record altogether: retired, off its owner's list, recycled. */
void tofui_reqs_free(tofui_reqs *r, tofui_req *q);
/* A record whose deadline passed (it stays in the table and its owner's
 * list: the caller answers it, then removes it); NULL when none. */
tofui_req *tofui_reqs_pop_expired(tofui_reqs *r);
/* Starts q's deadline again, ms from now (an expired record whose answer
 * could not be made yet). */
void tofui_reqs_retry(tofui_reqs *r, tofui_req *q, uint32_t ms);
/* Wait timeout for the next deadline, in ms: -1 when none. */
int tofui_reqs_timeout(const tofui_reqs *r);

#endif
