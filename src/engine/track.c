/*
 * Every Request gets exactly one answer (I/O thread only): the channel's
 * side of the table of waiting Requests (requests.h).
 *
 * A Request taken into a channel's send queue waits for its answer: the
 * peer's Response with its id and `more` clear, or one the engine makes,
 *   - when its deadline passes: a Response with "~reason: timed_out" (the
 *     peer's, if it comes after all, is delivered marked late);
 *   - when the channel closes after the Request went out: a Response with
 *     the close reason, before the close Signal.
 * A Request still in the send queue when the channel closes comes back
 * itself, as every unsent message does: that is its answer. One answered
 * while still queued (its deadline passed; or the peer answered the first
 * parts of a Request sent in several) still goes out, so that what the
 * peer sees does not depend on timing; should the channel close first, it
 * is not handed back a second time.
 *
 * The parts of a Request sent in several share its id and one record; each
 * queued part points to the record (msg->track) and the record counts
 * them, so that a record outlives its table entry while parts of it still
 * wait to go out.
 *
 * Our ByeRequest is answered the same way: when the channel closes after
 * it went out and before the peer's ByeResponse came, the engine makes the
 * ByeResponse. It needs no table: a channel sends at most one.
 */
#include "engine/channel.h"
#include "msg/headers.h"

/* TOFUI_BENCH_NO_TRACKING is defined only for the benchmarks' second copy
 * of the library (tofu_untracked, bench/CMakeLists.txt), never for the
 * library that is installed or tested: issue 11 allows tracking at most 5 %
 * of the request/response and 64 B throughput benchmarks, and
 * bench/tracking.sh measures that side by side in one run. In that copy the
 * channel's side of tracking does nothing on the per-message path: Requests
 * still go out and Responses still come in, but no record is kept (no
 * answer at close, no deadline, no late mark; a Request's message never
 * points to a record, so tofui_track_sent has nothing to do for it). Our
 * ByeRequest, once per channel, is followed as usual. One switch here, no
 * #ifdef in the callers: everything below still compiles in both copies. */
#ifdef TOFUI_BENCH_NO_TRACKING
#define TRACK__OFF 1
#else
#define TRACK__OFF 0
#endif

/* A Response or ByeResponse made by the engine for one of our requests. */
static tofu_msg *track__answer(tofui_chan *ch, tofu_opcode op, uint64_t id, tofu_status st,
                               const char *reason) {
    tofu_msg *m = tofui_msg_engine(op, st, ch->num, id);
    if (m != NULL)
        tofui_msg_set_header(m, TOFU_HDR_REASON, reason);
    return m;
}

void tofui_track_queued(tofui_chan *ch, tofu_msg *m) {
    if (TRACK__OFF)
        return;
    tofui_req *q = tofui_reqs_get(&ch->set->reqs, ch, &ch->track.waiting, m);
    /* Without memory for the record the Request is still sent; only the
     * engine's answer for it is lost (docs/semantics.md). */
    if (q == NULL)
        return;
    q->unsent_parts++;
    m->track = q;
}

/* A queued part of q left the send queue (written, or handed back). The
 * record goes with its last part once it is out of the table. */
static void track__part_gone(tofui_reqs *r, tofu_msg *m) {
    tofui_req *q = m->track;
    m->track = NULL;
    q->unsent_parts--;
    if (q->unsent_parts == 0 && q->state != TOFUI_REQ_WAITING)
        tofui_reqs_free(r, q);
}

void tofui_track_unqueued(tofui_chan *ch, tofu_msg *m) {
    tofui_req *q = m->track;
    if (q == NULL)
        return;
    /* Its only part, never on the wire, still waiting: as if never posted.
     * Decided first: a record out of the table goes with its last part. */
    bool never_posted = q->unsent_parts == 1 && !q->written && q->state == TOFUI_REQ_WAITING;
    track__part_gone(&ch->set->reqs, m);
    if (never_posted)
        tofui_reqs_free(&ch->set->reqs, q);
}

void tofui_track_sent(tofui_chan *ch, tofu_msg *m) {
    if (m->track != NULL) {
        ((tofui_req *)m->track)->written = true;
        track__part_gone(&ch->set->reqs, m);
    } else if (m->bhdr.opcode == TOFU_OP_BYE_REQUEST) { /* send.bye_req_sent is set */
        ch->track.bye_id = m->bhdr.message_id;
    }
}

/* The record's answer is in: it goes, or, while parts of it are still
 * queued, leaves the table and waits for them. */
static void track__answered(tofui_reqs *r, tofui_req *q) {
    if (q->unsent_parts == 0)
        tofui_reqs_free(r, q);
    else
        tofui_reqs_retire(r, q);
}

/* The waiting record (in the table) of the channel's Request `id`. Most
 * answers come in the order of their Requests: the channel's oldest record
 * (its list is in posting order; among waiting records one per id) spares
 * the search of the table. */
static tofui_req *track__waiting(tofui_chan *ch, uint64_t id) {
    if (!tofui_list_empty(&ch->track.waiting)) {
        tofui_req *first = TOFUI_CONTAINER(ch->track.waiting.next, tofui_req, owner_link);
        if (first->id == id && first->state == TOFUI_REQ_WAITING)
            return first;
    }
    return tofui_reqs_find(&ch->set->reqs, ch, id);
}

void tofui_track_received(tofui_chan *ch, tofu_msg *m) {
    if (m->bhdr.opcode == TOFU_OP_BYE_RESPONSE) {
        ch->track.bye_answered = true;
        return;
    }
    if (TRACK__OFF)
        return;
    tofui_req *q = track__waiting(ch, m->bhdr.message_id);
    if (q == NULL)
        m->local.late = true;
    else if (!m->bhdr.more) /* the last part of the answer */
        track__answered(&ch->set->reqs, q);
}

bool tofui_track_hand_back(tofui_chan *ch, tofu_msg *m) {
    tofui_req *q = m->track;
    if (q == NULL)
        return true;
    bool back = q->state != TOFUI_REQ_ANSWERED;
    track__part_gone(&ch->set->reqs, m);
    return back;
}

void tofui_track_answer_all(tofui_chan *ch, tofui_mq *out, tofu_status reason) {
    tofui_reqs *r = &ch->set->reqs;
    const char *why = tofu_status_name(reason);
    tofui_link *l = ch->track.waiting.next;
    while (l != &ch->track.waiting) {
        tofui_req *q = TOFUI_CONTAINER(l, tofui_req, owner_link);
        l = l->next;
        if (q->state != TOFUI_REQ_WAITING)
            continue; /* answered; its queued parts are dropped */
        if (q->unsent_parts > 0) { /* its parts come back as its answer */
            tofui_reqs_retire(r, q);
            q->state = TOFUI_REQ_RETURNING;
            continue;
        }
        tofu_msg *a = track__answer(ch, TOFU_OP_RESPONSE, q->id, reason, why);
        if (a != NULL)
            tofui_mq_push(out, a);
        tofui_reqs_free(r, q);
    }
    if (ch->send.bye_req_sent && !ch->track.bye_answered) {
        tofu_msg *a = track__answer(ch, TOFU_OP_BYE_RESPONSE, ch->track.bye_id, reason, why);
        if (a != NULL)
            tofui_mq_push(out, a);
    }
}

/* A silent close: the queued parts go to the pool, whose reset clears
 * their pointers to the records freed here. */
void tofui_track_forget_all(tofui_chan *ch) {
    while (!tofui_list_empty(&ch->track.waiting))
        tofui_reqs_free(&ch->set->reqs,
                        TOFUI_CONTAINER(ch->track.waiting.next, tofui_req, owner_link));
}

/* Without memory for the answer a deadline tries again this much later:
 * the Request is never left unanswered for want of a message. */
#define TRACK__RETRY_MS 10u

static void track__expired(tofui_reqs *r, tofui_req *q) {
    tofui_chan *ch = (tofui_chan *)(uintptr_t)q->owner;
    tofu_msg *a = track__answer(ch, TOFU_OP_RESPONSE, q->id, TOFU_PROCESSING_FAILED,
                                TOFU_REASON_TIMED_OUT);
    if (a == NULL) {
        tofui_reqs_retry(r, q, TRACK__RETRY_MS);
        return;
    }
    track__answered(r, q);
    tofui_group_deliver(ch->group, a);
}

void tofui_track_expire(tofui_chanset *set) {
    if (TRACK__OFF)
        return;
    tofui_req *q;
    while ((q = tofui_reqs_pop_expired(&set->reqs)) != NULL)
        track__expired(&set->reqs, q);
}
