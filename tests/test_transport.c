/*
 * The transport suite: one set of cases, run once per transport. CTest runs
 * `test_transport <case> <transport>` as the entry
 * "transport.<transport>.<case>" for tcp4, tcp6, uds and abstract (Linux);
 * the socket_file_* cases concern socket files and run for uds only. A
 * transport this machine lacks ends the case with "SKIPPED" and exit code
 * 77, never with a pass (tofu_t_transport_arg).
 *
 * Most cases use two engines, a server (listener + accepted channels) and a
 * client, with this thread playing both applications, so that every message
 * either side receives is checked in order. What "correct" means is
 * docs/semantics.md.
 */
#include "pair.h"

#define ADDR_CAP TOFU_T_ADDR_CAP

/* ---- data helpers ---- */

/* The body of data message `id`: its own length and bytes. */
static size_t body_len_of(uint64_t id, size_t max) {
    return max == 0 ? 0 : (size_t)(id * 7919u % max) + 1;
}

static tofu_msg *data_msg(tofu_engine *e, uint16_t ch, tofu_opcode op, uint64_t id, size_t len) {
    static unsigned char buf[TOFU_MAX_PART_LEN];
    tofu_msg *m = tofu_t_get(e);
    tofu_msg_set_opcode(m, op);
    tofu_msg_set_channel(m, ch);
    tofu_msg_set_id(m, id);
    tofu_t_fill(buf, len, (uint32_t)id);
    ASSERT_OK(tofu_msg_append_body(m, buf, len));
    return m;
}

/* Checks that m carries data message `id` of `len` bytes. */
static void check_data_at(const tofu_msg *m, uint64_t id, size_t len, const char *file,
                          int line) {
    unsigned char want[TOFU_MAX_PART_LEN];
    size_t bl = 0;
    const void *got = tofu_msg_body(m, &bl);
    tofu_t_fill(want, len, (uint32_t)id);
    if (tofu_msg_id(m) != id || bl != len || (len > 0 && memcmp(got, want, len) != 0)) {
        char what[80];
        snprintf(what, sizeof what, "expected data message %" PRIu64 " of %zu bytes", id, len);
        tofu_t_fail_msg_at(what, m, file, line);
    }
}
#define CHECK_DATA(m, id, len) check_data_at((m), (id), (len), __FILE__, __LINE__)

/* Posts n data messages with ids first..first+n-1. */
static void post_data(tofu_engine *e, tofu_group *g, uint16_t ch, tofu_opcode op,
                      uint64_t first, int n, size_t max_len) {
    for (int i = 0; i < n; i++) {
        uint64_t id = first + (uint64_t)i;
        tofu_msg *m = data_msg(e, ch, op, id, body_len_of(id, max_len));
        POST(g, &m);
    }
}

/* Receives n data messages with ids first.. in order, each from the peer
 * application on channel ch; with `reply` set, posts each back with that
 * opcode (data flowing the other way while a Bye is under way). */
static void expect_data_at(tofu_engine *e, tofu_group *g, uint16_t ch, tofu_opcode op,
                           uint64_t first, int n, size_t max_len, const tofu_opcode *reply,
                           const char *file, int line) {
    for (int i = 0; i < n; i++) {
        uint64_t id = first + (uint64_t)i;
        tofu_msg *m = tofu_t_next_msg_at(e, g, file, line);
        if (tofu_msg_opcode(m) != op || tofu_msg_from_engine(m) || tofu_msg_channel(m) != ch ||
            tofu_msg_status(m) != TOFU_SUCCESS)
            tofu_t_fail_msg_at("expected a data message from the peer", m, file, line);
        check_data_at(m, id, body_len_of(id, max_len), file, line);
        if (reply != NULL) {
            tofu_msg_set_opcode(m, *reply);
            tofu_t_post_at(g, &m, file, line);
        } else {
            tofu_put(e, &m);
        }
    }
}
#define EXPECT_DATA(e, g, ch, op, first, n, max, reply) \
    expect_data_at((e), (g), (ch), (op), (first), (n), (max), (reply), __FILE__, __LINE__)

static void post_bye_request(tofu_engine *e, tofu_group *g, uint16_t ch, uint64_t id) {
    tofu_msg *m = tofu_t_get(e);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_REQUEST);
    tofu_msg_set_channel(m, ch);
    tofu_msg_set_id(m, id);
    POST(g, &m);
}

/* Receives the peer's ByeRequest and answers it with a ByeResponse. */
static void answer_bye_at(tofu_engine *e, tofu_group *g, uint16_t ch, uint64_t id,
                          const char *file, int line) {
    tofu_msg *m = tofu_t_next_msg_at(e, g, file, line);
    if (tofu_msg_opcode(m) != TOFU_OP_BYE_REQUEST || tofu_msg_from_engine(m) ||
        tofu_msg_channel(m) != ch || tofu_msg_id(m) != id)
        tofu_t_fail_msg_at("expected the peer's ByeRequest", m, file, line);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_RESPONSE);
    tofu_t_post_at(g, &m, file, line);
}
#define ANSWER_BYE(e, g, ch, id) answer_bye_at((e), (g), (ch), (id), __FILE__, __LINE__)

/* Receives the peer's ByeResponse, then the close Signal (channel_closed). */
static void expect_bye_end_at(tofu_engine *e, tofu_group *g, uint16_t ch, uint64_t id,
                              const char *file, int line) {
    tofu_msg *m = tofu_t_next_msg_at(e, g, file, line);
    if (tofu_msg_opcode(m) != TOFU_OP_BYE_RESPONSE || tofu_msg_from_engine(m) ||
        tofu_msg_channel(m) != ch || tofu_msg_id(m) != id)
        tofu_t_fail_msg_at("expected the peer's ByeResponse", m, file, line);
    tofu_put(e, &m);
    m = tofu_t_next_msg_at(e, g, file, line);
    tofu_t_check_close_at(m, ch, 0, TOFU_CHANNEL_CLOSED, file, line);
    tofu_put(e, &m);
}
#define EXPECT_BYE_END(e, g, ch, id) expect_bye_end_at((e), (g), (ch), (id), __FILE__, __LINE__)

/* Receives the close Signal of the responder side (channel_closed). */
static void expect_closed_at(tofu_engine *e, tofu_group *g, uint16_t ch, tofu_status reason,
                             const char *file, int line) {
    tofu_msg *m = tofu_t_next_msg_at(e, g, file, line);
    tofu_t_check_close_at(m, ch, 0, reason, file, line);
    tofu_put(e, &m);
}
#define EXPECT_CLOSED(e, g, ch, reason) expect_closed_at((e), (g), (ch), (reason), __FILE__, __LINE__)

/* ======================================================================== */
/* handshake and data                                                       */
/* ======================================================================== */

TRANSPORT_TEST(handshake) {
    pair p;
    pair_open(&p);
    ASSERT_EQ(p.bound.transport,
              tofu_t_transport_is_uds(p.t) ? TOFU_TRANSPORT_UDS : TOFU_TRANSPORT_TCP);
    ASSERT_EQ(p.bound.abstract, p.t == TOFU_T_ABSTRACT);
    pair_connect(&p);
    ASSERT_NE(p.cch, 0);
    ASSERT_NE(p.sch, 0);
    ASSERT_NE(p.sch, p.listener);
    pair_bye(&p);
    EXPECT_NOTHING(p.cg, 50);
    EXPECT_NOTHING(p.sg, 50);
    pair_close(&p);
}

/* A Request with a named header and a body of 0, 100 and 60000 bytes goes
 * to the server, whose application answers with the same message as the
 * Response: the client gets it on its channel with the Request's id, header
 * and body. */
static void round_trip(pair *p, size_t body_len) {
    static unsigned char body[60000];
    tofu_t_fill(body, body_len, (uint32_t)body_len);
    tofu_msg *m = tofu_t_get(p->ce);
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, p->cch);
    ASSERT_OK(tofu_msg_add_header(m, "kind", "echo"));
    ASSERT_OK(tofu_msg_append_body(m, body, body_len));
    tofu_bhdr req = POST(p->cg, &m);

    m = EXPECT_MSG(p->sg, TOFU_OP_REQUEST, TOFU_SUCCESS);
    ASSERT_EQ(tofu_msg_channel(m), p->sch);
    tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
    POST(p->sg, &m);

    m = EXPECT_MSG(p->cg, TOFU_OP_RESPONSE, TOFU_SUCCESS);
    ASSERT_EQ(tofu_msg_id(m), req.message_id);
    ASSERT_EQ(tofu_msg_channel(m), p->cch);
    size_t len = 0;
    const void *got = tofu_msg_body(m, &len);
    ASSERT_MEM_EQ(got, len, body, body_len);
    tofu_header h;
    ASSERT_TRUE(tofu_msg_find_header(m, "kind", &h));
    ASSERT_MEM_EQ(h.value, h.value_len, "echo", 4);
    tofu_put(p->ce, &m);
}

TRANSPORT_TEST(request_response_round_trip) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    round_trip(&p, 0);
    round_trip(&p, 100);
    round_trip(&p, 60000);
    pair_bye(&p);
    pair_close(&p);
}

/* A Request with th bytes of raw text headers and bl bytes of body; `more`
 * and bit 7 ride along. */
static tofu_msg *sized_msg(pair *p, size_t th, size_t bl, uint32_t seed) {
    static unsigned char buf[TOFU_MAX_PART_LEN];
    tofu_msg *m = tofu_t_get(p->ce);
    tofu_msg_set_channel(m, p->cch);
    tofu_msg_bhdr(m)->more = (seed & 1) != 0;
    tofu_msg_bhdr(m)->internal_b = (seed & 2) != 0;
    tofu_t_fill(buf, th, seed);
    ASSERT_OK(tofu_msg_append_headers_raw(m, buf, th));
    tofu_t_fill(buf, bl, ~seed);
    ASSERT_OK(tofu_msg_append_body(m, buf, bl));
    return m;
}

static void check_sized_at(const tofu_msg *m, tofu_opcode op, size_t th, size_t bl,
                           uint32_t seed, const char *file, int line) {
    static unsigned char want[TOFU_MAX_PART_LEN];
    const tofu_bhdr *h = tofu_msg_bhdr_const(m);
    size_t got_th = 0, got_bl = 0;
    const char *ht = tofu_msg_headers(m, &got_th);
    const void *bd = tofu_msg_body(m, &got_bl);
    if (h->opcode != op || h->origin != TOFU_ORIGIN_APPLICATION || h->status != 0 ||
        h->more != ((seed & 1) != 0) || h->internal_b != ((seed & 2) != 0) || got_th != th ||
        got_bl != bl || h->thl != th || h->bl != bl)
        tofu_t_fail_msg_at("expected the sized message", m, file, line);
    tofu_t_fill(want, th, seed);
    tofu_t_check_mem(ht, got_th, want, th, "received headers", "sent headers", file, line);
    tofu_t_fill(want, bl, ~seed);
    tofu_t_check_mem(bd, got_bl, want, bl, "received body", "sent body", file, line);
}

/* Headers and bodies of 0, 1 and 65535 bytes in every combination, there
 * and back. */
/* A Response with `more` set is one part of the answer: the server sends
 * the last part (more clear, same id), which the client's engine also
 * takes as an answer to a waiting Request, not as a late one. */
static void finish_answer(pair *p, uint64_t id) {
    tofu_msg *m = tofu_t_get(p->se);
    tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
    tofu_msg_set_channel(m, p->sch);
    tofu_msg_set_id(m, id);
    POST(p->sg, &m);
    m = NEXT_MSG(p->ce, p->cg);
    if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || tofu_msg_id(m) != id ||
        tofu_msg_bhdr(m)->more || tofu_msg_late(m) || tofu_msg_from_engine(m))
        FAIL_MSG("expected the last part of the answer", m);
    tofu_put(p->ce, &m);
}

TRANSPORT_TEST(echo_sizes) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    const size_t sizes[] = {0, 1, TOFU_MAX_PART_LEN};
    uint32_t seed = 0;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++, seed++) {
            tofu_msg *m = sized_msg(&p, sizes[i], sizes[j], seed);
            POST(p.cg, &m);
            m = NEXT_MSG(p.se, p.sg);
            check_sized_at(m, TOFU_OP_REQUEST, sizes[i], sizes[j], seed, __FILE__, __LINE__);
            ASSERT_EQ(tofu_msg_channel(m), p.sch);
            tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
            POST(p.sg, &m);
            m = NEXT_MSG(p.ce, p.cg);
            check_sized_at(m, TOFU_OP_RESPONSE, sizes[i], sizes[j], seed, __FILE__, __LINE__);
            ASSERT_EQ(tofu_msg_channel(m), p.cch);
            ASSERT_FALSE(tofu_msg_late(m));
            if (tofu_msg_bhdr(m)->more)
                finish_answer(&p, tofu_msg_id(m));
            tofu_put(p.ce, &m);
        }
    pair_bye(&p);
    pair_close(&p);
}

/* 10,000 Requests posted back to back arrive complete and in order; the
 * echo server's Responses come back complete and in order too. (No flow
 * control: the send queues are unlimited.) */
#define PIPELINED 10000
TRANSPORT_TEST(pipelined_10000) {
    pair p;
    pair_open_unbounded(&p, 0, 0);
    tofu_t_echo echo;
    tofu_t_echo_start(&echo, p.se, p.sg);
    p.cch = CONNECT(p.ce, p.cg, p.reach);
    post_data(p.ce, p.cg, p.cch, TOFU_OP_REQUEST, 1, PIPELINED, 300);
    EXPECT_DATA(p.ce, p.cg, p.cch, TOFU_OP_RESPONSE, 1, PIPELINED, 300, NULL);
    post_bye_request(p.ce, p.cg, p.cch, PIPELINED + 1);
    EXPECT_BYE_END(p.ce, p.cg, p.cch, PIPELINED + 1);
    ECHO_WAIT_CLOSES(&echo, 1); /* the server side closes a little later */
    tofu_t_echo_stop(&echo);
    ASSERT_EQ(echo.echoes, PIPELINED);
    ASSERT_EQ(echo.byes, 1);
    ASSERT_EQ(echo.closes, 1);
    pair_close(&p);
}

/* ======================================================================== */
/* graceful close with data in flight                                       */
/* ======================================================================== */

#define IN_FLIGHT 200
#define IN_FLIGHT_LEN 3000
#define SERVER_IDS 1000000u

/* The client posts data and its ByeRequest at once; the server echoes the
 * data while the Bye is under way, then answers the Bye. */
TRANSPORT_TEST(bye_from_client) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    static const tofu_opcode response = TOFU_OP_RESPONSE;
    post_data(p.ce, p.cg, p.cch, TOFU_OP_REQUEST, 1, IN_FLIGHT, IN_FLIGHT_LEN);
    post_bye_request(p.ce, p.cg, p.cch, IN_FLIGHT + 1);
    EXPECT_DATA(p.se, p.sg, p.sch, TOFU_OP_REQUEST, 1, IN_FLIGHT, IN_FLIGHT_LEN, &response);
    ANSWER_BYE(p.se, p.sg, p.sch, IN_FLIGHT + 1);
    EXPECT_DATA(p.ce, p.cg, p.cch, TOFU_OP_RESPONSE, 1, IN_FLIGHT, IN_FLIGHT_LEN, NULL);
    EXPECT_BYE_END(p.ce, p.cg, p.cch, IN_FLIGHT + 1);
    EXPECT_CLOSED(p.se, p.sg, p.sch, TOFU_CHANNEL_CLOSED);
    EXPECT_NOTHING(p.cg, 50);
    EXPECT_NOTHING(p.sg, 50);
    pair_close(&p);
}

/* The mirror image: the server posts Signals and its ByeRequest; the client
 * sends every Signal back before answering. */
TRANSPORT_TEST(bye_from_server) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    static const tofu_opcode signal = TOFU_OP_SIGNAL;
    post_data(p.se, p.sg, p.sch, TOFU_OP_SIGNAL, SERVER_IDS, IN_FLIGHT, IN_FLIGHT_LEN);
    post_bye_request(p.se, p.sg, p.sch, SERVER_IDS + IN_FLIGHT);
    EXPECT_DATA(p.ce, p.cg, p.cch, TOFU_OP_SIGNAL, SERVER_IDS, IN_FLIGHT, IN_FLIGHT_LEN, &signal);
    ANSWER_BYE(p.ce, p.cg, p.cch, SERVER_IDS + IN_FLIGHT);
    EXPECT_DATA(p.se, p.sg, p.sch, TOFU_OP_SIGNAL, SERVER_IDS, IN_FLIGHT, IN_FLIGHT_LEN, NULL);
    EXPECT_BYE_END(p.se, p.sg, p.sch, SERVER_IDS + IN_FLIGHT);
    EXPECT_CLOSED(p.ce, p.cg, p.cch, TOFU_CHANNEL_CLOSED);
    EXPECT_NOTHING(p.cg, 50);
    EXPECT_NOTHING(p.sg, 50);
    pair_close(&p);
}

/* Both post data and a ByeRequest before reading anything: each receives
 * the other's data and ByeRequest, answers, receives the ByeResponse, and
 * both channels close with channel_closed. */
TRANSPORT_TEST(bye_from_both_at_once) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    post_data(p.ce, p.cg, p.cch, TOFU_OP_SIGNAL, 1, IN_FLIGHT, IN_FLIGHT_LEN);
    post_bye_request(p.ce, p.cg, p.cch, IN_FLIGHT + 1);
    post_data(p.se, p.sg, p.sch, TOFU_OP_SIGNAL, SERVER_IDS, IN_FLIGHT, IN_FLIGHT_LEN);
    post_bye_request(p.se, p.sg, p.sch, SERVER_IDS + IN_FLIGHT);

    EXPECT_DATA(p.ce, p.cg, p.cch, TOFU_OP_SIGNAL, SERVER_IDS, IN_FLIGHT, IN_FLIGHT_LEN, NULL);
    ANSWER_BYE(p.ce, p.cg, p.cch, SERVER_IDS + IN_FLIGHT);
    EXPECT_DATA(p.se, p.sg, p.sch, TOFU_OP_SIGNAL, 1, IN_FLIGHT, IN_FLIGHT_LEN, NULL);
    ANSWER_BYE(p.se, p.sg, p.sch, IN_FLIGHT + 1);
    EXPECT_BYE_END(p.ce, p.cg, p.cch, IN_FLIGHT + 1);
    EXPECT_BYE_END(p.se, p.sg, p.sch, SERVER_IDS + IN_FLIGHT);
    EXPECT_NOTHING(p.cg, 50);
    EXPECT_NOTHING(p.sg, 50);
    pair_close(&p);
}

/* ======================================================================== */
/* abortive close, dead peers                                               */
/* ======================================================================== */

#define BIG_COUNT 300
#define BIG_LEN 65000u

/* Collects what the engine hands back for the client's BIG_COUNT Requests
 * after the channel closed: each exactly once, in id order, with the close
 * reason as status: first an engine Response for every Request that went
 * out unanswered, then every unsent Request itself, then the close Signal
 * with that reason. *reason is the expected reason, or TOFU_SUCCESS to
 * learn it from the first message (it is then stored). Returns how many
 * Requests came back unsent. */
static int collect_returned_at(pair *p, tofu_status *reason, const char *file, int line) {
    int back = 0, answered = 0;
    uint64_t next_id = 1;
    for (;;) {
        tofu_msg *m = tofu_t_next_msg_at(p->ce, p->cg, file, line);
        if (*reason == TOFU_SUCCESS)
            *reason = tofu_t_is_close_signal(m) ? tofu_t_reason(m) : tofu_msg_status(m);
        if (tofu_t_is_close_signal(m)) {
            tofu_t_check_close_at(m, p->cch, 0, *reason, file, line);
            tofu_put(p->ce, &m);
            break;
        }
        if (!tofu_msg_from_engine(m) || tofu_msg_status(m) != *reason ||
            tofu_msg_channel(m) != p->cch || tofu_msg_id(m) != next_id)
            tofu_t_fail_msg_at("expected Request answered or returned in order", m, file, line);
        if (tofu_msg_opcode(m) == TOFU_OP_RESPONSE && back == 0) {
            /* written, never answered: the engine answers for the peer */
            if (tofu_t_reason(m) != *reason)
                tofu_t_fail_msg_at("expected the close reason in ~reason", m, file, line);
            answered++;
        } else if (tofu_msg_opcode(m) == TOFU_OP_REQUEST) {
            check_data_at(m, tofu_msg_id(m), BIG_LEN, file, line); /* unsent: comes back */
            back++;
        } else {
            tofu_t_fail_msg_at("expected an engine Response, then unsent Requests", m, file, line);
        }
        next_id++;
        tofu_put(p->ce, &m);
    }
    /* every Request exactly once: answered by the engine or returned */
    if (next_id != BIG_COUNT + 1)
        tofu_t_fail(file, line, "answers and returns end at id %" PRIu64 ", not %d", next_id - 1,
                    BIG_COUNT);
    printf("engine answers %d, returned %d\n", answered, back);
    return back;
}

/* The server's view of the client's Requests after the client aborted: an
 * unbroken run from id 1, complete, then the close Signal of a reset.
 * Returns how many arrived. */
static int count_arrived_at(pair *p, const char *file, int line) {
    int got = 0;
    for (;;) {
        tofu_msg *m = tofu_t_next_msg_at(p->se, p->sg, file, line);
        if (tofu_t_is_close_signal(m)) {
            tofu_t_check_abort_close_at(m, p->sch, tofu_t_transport_is_uds(p->t), file, line);
            tofu_put(p->se, &m);
            return got;
        }
        if (tofu_msg_opcode(m) != TOFU_OP_REQUEST || tofu_msg_from_engine(m))
            tofu_t_fail_msg_at("expected a Request or the close Signal", m, file, line);
        check_data_at(m, (uint64_t)got + 1, BIG_LEN, file, line);
        got++;
        tofu_put(p->se, &m);
    }
}

/* BIG_COUNT Requests of BIG_LEN bytes, ids 1..BIG_COUNT: more than any
 * socket buffer holds, so some are still unsent when the channel dies. */
static void post_big(pair *p) {
    for (uint64_t id = 1; id <= BIG_COUNT; id++) {
        tofu_msg *m = data_msg(p->ce, p->cch, TOFU_OP_REQUEST, id, BIG_LEN);
        POST(p->cg, &m);
    }
}

/* A bit-6 ByeSignal behind a lot of data: the sender gets the ByeSignal
 * back, then every unsent message (channel_closed), then the close Signal;
 * the peer gets a prefix of the data, complete, then its close Signal. */
TRANSPORT_TEST(bye_signal_abort) {
    pair p;
    pair_open_unbounded(&p, 0, 0);
    pair_connect(&p);
    post_big(&p);
    tofu_bhdr bye = POST_ABORT(p.ce, p.cg, p.cch);
    tofu_msg *m = NEXT_MSG(p.ce, p.cg);
    if (tofu_msg_opcode(m) != TOFU_OP_BYE_SIGNAL || !tofu_msg_from_engine(m) ||
        tofu_msg_status(m) != TOFU_CHANNEL_CLOSED || tofu_msg_channel(m) != p.cch ||
        tofu_msg_id(m) != bye.message_id)
        FAIL_MSG("expected the ByeSignal back first", m);
    tofu_put(p.ce, &m);
    tofu_status reason = TOFU_CHANNEL_CLOSED;
    int back = collect_returned_at(&p, &reason, __FILE__, __LINE__);
    int arrived = count_arrived_at(&p, __FILE__, __LINE__);
    printf("returned %d, arrived %d of %d\n", back, arrived, BIG_COUNT);
    ASSERT_TRUE(back + arrived <= BIG_COUNT);
    /* the number is gone at once: a late post is told the channel closed */
    m = data_msg(p.ce, p.cch, TOFU_OP_REQUEST, 1, 1);
    ASSERT_STATUS(TOFU_CHANNEL_CLOSED, tofu_post(p.cg, &m, NULL));
    tofu_put(p.ce, &m);
    pair_close(&p);
}

/* A ByeSignal without bit 6 is the original's "I am done": sent after
 * everything posted before it, nothing after it (a later post comes back
 * with channel_closed when the channel closes, before the close Signal). The peer application gets
 * it as an ordinary message; when it then aborts, the sender's channel
 * closes as a completed close (channel_closed). */
TRANSPORT_TEST(bye_signal_sent_in_order) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    post_data(p.ce, p.cg, p.cch, TOFU_OP_SIGNAL, 1, IN_FLIGHT, IN_FLIGHT_LEN);
    tofu_msg *m = tofu_t_get(p.ce);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(m, p.cch);
    tofu_msg_set_id(m, IN_FLIGHT + 1);
    POST(p.cg, &m);
    post_data(p.ce, p.cg, p.cch, TOFU_OP_SIGNAL, IN_FLIGHT + 2, 1, IN_FLIGHT_LEN); /* held */

    EXPECT_DATA(p.se, p.sg, p.sch, TOFU_OP_SIGNAL, 1, IN_FLIGHT, IN_FLIGHT_LEN, NULL);
    m = NEXT_MSG(p.se, p.sg);
    if (tofu_msg_opcode(m) != TOFU_OP_BYE_SIGNAL || tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != IN_FLIGHT + 1 || tofu_msg_channel(m) != p.sch)
        FAIL_MSG("expected the client's ByeSignal as an ordinary message", m);
    tofu_put(p.se, &m);
    EXPECT_NOTHING(p.cg, 50); /* lingering: the channel waits for the peer */
    ABORT_IDLE(p.se, p.sg, p.sch);
    m = NEXT_MSG(p.ce, p.cg);
    if (tofu_msg_opcode(m) != TOFU_OP_SIGNAL || !tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != IN_FLIGHT + 2 || tofu_msg_status(m) != TOFU_CHANNEL_CLOSED)
        FAIL_MSG("expected the Signal posted after the ByeSignal back, unsent", m);
    tofu_put(p.ce, &m);
    EXPECT_CLOSED(p.ce, p.cg, p.cch, TOFU_CHANNEL_CLOSED);
    EXPECT_NOTHING(p.sg, 50);
    pair_close(&p);
}

/* tofu_options.bye_linger_ms: a peer that never closes after our last Bye
 * frame is waited for that long, then the channel closes anyway
 * (channel_closed) and the peer sees an orderly end of stream. */
#define LINGER_MS 200u
TRANSPORT_TEST(bye_linger_bound) {
    tofu_options server, client;
    tofu_options_init(&server);
    tofu_options_init(&client);
    client.bye_linger_ms = LINGER_MS;
    pair p;
    pair_open_with(&p, &server, &client);
    pair_connect(&p);
    tofu_msg *m = tofu_t_get(p.ce);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(m, p.cch);
    POST(p.cg, &m);
    m = NEXT_MSG(p.se, p.sg);
    if (tofu_msg_opcode(m) != TOFU_OP_BYE_SIGNAL || tofu_msg_from_engine(m))
        FAIL_MSG("expected the client's ByeSignal", m);
    tofu_put(p.se, &m); /* the server application does nothing about it */
    EXPECT_CLOSED(p.ce, p.cg, p.cch, TOFU_CHANNEL_CLOSED);
    EXPECT_CLOSED(p.se, p.sg, p.sch, TOFU_PEER_DISCONNECTED);
    pair_close(&p);
}

/* The server engine dies while data flows (its application holds what it
 * got, so its small pool stalls reading): the client gets every unsent
 * message back with the reason, then the close Signal. */
TRANSPORT_TEST(peer_killed_mid_stream) {
    pair p;
    pair_open_unbounded(&p, 4, 4);
    pair_connect(&p);
    post_big(&p);
    tofu_msg *first = NEXT_MSG(p.se, p.sg); /* data is flowing */
    CHECK_DATA(first, 1, BIG_LEN);
    tofu_put(p.se, &first);
    ASSERT_OK(tofu_group_destroy(p.se, p.sg));
    tofu_engine_destroy(p.se);
    p.se = NULL;

    tofu_status reason = TOFU_SUCCESS;
    int back = collect_returned_at(&p, &reason, __FILE__, __LINE__);
    if (reason != TOFU_COMMUNICATION_FAILED && reason != TOFU_PEER_DISCONNECTED &&
        reason != TOFU_SEND_FAILED)
        tofu_t_fail(__FILE__, __LINE__, "expected a reset, EOF or write failure, got %s",
                    tofu_status_name(reason));
    printf("reason %s, returned %d of %d\n", tofu_status_name(reason), back, BIG_COUNT);
    ASSERT_TRUE(back >= 1);
    pair_close(&p);
}

/* ======================================================================== */
/* connecting and listening                                                 */
/* ======================================================================== */

/* The WelcomeResponse names the address bound: the transport asked for,
 * for TCP the host asked for and the port the system chose for port 0, for
 * Unix sockets the path or name asked for. Destroying the engine closes the
 * listener and the group left open. */
TRANSPORT_TEST(listen_reports_the_bound_address) {
    tofu_t_transport t = tofu_t_transport_arg();
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    char value[ADDR_CAP];
    tofu_t_listen_value(t, value, sizeof value);
    tofu_address asked, bound;
    ASSERT_OK(tofu_address_parse(value, strlen(value), &asked));
    LISTEN(e, g, value, &bound);
    ASSERT_EQ(bound.transport, asked.transport);
    ASSERT_EQ(bound.abstract, asked.abstract);
    if (bound.transport == TOFU_TRANSPORT_TCP) {
        ASSERT_STR_EQ(bound.host, asked.host);
        ASSERT_NE(bound.port, 0); /* the real port, not the 0 asked for */
    } else {
        ASSERT_STR_EQ(bound.path, asked.path);
    }
    tofu_engine_destroy(e); /* the group and the listener go with it */
    ASSERT_NO_LEAKS();
}

/* The address of a listener that was just closed: by a ByeSignal without
 * bit 6, then (listening there again) by an abort. */
TRANSPORT_TEST(connect_refused) {
    pair p;
    pair_open(&p);
    BYE_SIGNAL_IDLE(p.se, p.sg, p.listener);
    CONNECT_FAILS(p.ce, p.cg, p.reach, tofu_t_refused_status(p.t));
    p.listener = LISTEN(p.se, p.sg, p.same, NULL);
    ABORT_IDLE(p.se, p.sg, p.listener);
    CONNECT_FAILS(p.ce, p.cg, p.reach, tofu_t_refused_status(p.t));
    pair_close(&p);
}

/* A second listener on the address of a live one fails; the first one is
 * unharmed (still accepts). */
TRANSPORT_TEST(listen_in_use) {
    pair p;
    pair_open(&p);
    LISTEN_FAILS(p.ce, p.cg, p.same, TOFU_LISTEN_FAILED);
    pair_connect(&p);
    pair_bye(&p);
    ABORT_IDLE(p.se, p.sg, p.listener);
    /* once closed, the address is free again */
    uint16_t again = LISTEN(p.ce, p.cg, p.same, NULL);
    ABORT_IDLE(p.ce, p.cg, again);
    pair_close(&p);
}

/* A socket file nobody answers on (left by a crashed process) is replaced
 * by a new listener. */
TRANSPORT_TEST(socket_file_stale_is_replaced, uds) {
    pair p;
    pair_open(&p);
    ABORT_IDLE(p.se, p.sg, p.listener); /* removes the file */
    tofui_sockaddr sa;
    size_t n = 0;
    ASSERT_OK(tofui_sock_resolve(&p.bound, true, &sa, 1, &n));
    tofui_socket stale = TOFUI_INVALID_SOCKET;
    ASSERT_OK(tofui_sock_listen(&sa, &stale));
    tofui_sock_close(stale); /* not close_listener: the file stays behind */
    CONNECT_FAILS(p.ce, p.cg, p.reach, TOFU_CONNECT_FAILED); /* there, but dead */
    p.listener = LISTEN(p.se, p.sg, p.same, NULL);
    pair_connect(&p);
    pair_bye(&p);
    pair_close(&p);
}

/* Closing a listener removes its socket file, and so does destroying the
 * engine that owns it. */
TRANSPORT_TEST(socket_file_removed_on_close, uds) {
    pair p;
    pair_open(&p);
    ABORT_IDLE(p.se, p.sg, p.listener);
    CONNECT_FAILS(p.ce, p.cg, p.reach, TOFU_UDS_PATH_NOT_FOUND);
    p.listener = LISTEN(p.se, p.sg, p.same, NULL);
    ASSERT_OK(tofu_group_destroy(p.se, p.sg));
    tofu_engine_destroy(p.se);
    p.se = NULL;
    CONNECT_FAILS(p.ce, p.cg, p.reach, TOFU_UDS_PATH_NOT_FOUND);
    pair_close(&p);
}

/* ======================================================================== */
/* backpressure                                                             */
/* ======================================================================== */

#define POOL_DATA 64
#define POOL_SIZE 4
#define STRICT_EPISODES 8

typedef struct pool_run {
    pair *p;
    tofu_msg *held[POOL_DATA];
    int nheld;
    int received; /* Requests so far, checked in order */
} pool_run;

/* Receives Requests (kept) until the pool_empty Signal arrives, checks
 * that nothing follows it while the application holds everything, then puts
 * the Signal back: the one message the engine gets for the next episode.
 * Returns how many Requests came before the Signal. */
static int pool_episode_at(pool_run *r, const char *file, int line) {
    int got = 0;
    for (;;) {
        tofu_msg *m = tofu_t_wait_msg_at(r->p->sg, TOFU_T_WAIT_S, file, line);
        if (tofu_t_is_pool_empty(m)) {
            if (tofu_msg_channel(m) != r->p->sch || tofu_msg_id(m) != 0)
                tofu_t_fail_msg_at("expected pool_empty for the stalled channel", m, file, line);
            tofu_t_expect_nothing_at(r->p->sg, 100, file, line); /* one Signal, no data */
            tofu_put(r->p->se, &m);
            return got;
        }
        if (tofu_msg_opcode(m) != TOFU_OP_SIGNAL || tofu_msg_channel(m) != r->p->sch)
            tofu_t_fail_msg_at("expected the client's Signal", m, file, line);
        r->received++;
        got++;
        check_data_at(m, (uint64_t)r->received, body_len_of((uint64_t)r->received, 500), file,
                      line);
        r->held[r->nheld++] = m;
    }
}

/* The server's pool holds 4 messages and its application keeps what it
 * receives. Reading stops with one pool_empty Signal and nothing else while
 * the application holds everything; each message put back lets exactly one
 * more frame in, followed by the next episode's single pool_empty. Once the
 * application puts everything back, all the rest arrives, in order. (Puts
 * are made one at a time in the strict part: a put racing with the engine's
 * stall would begin an episode the test could not tell apart.) */
TRANSPORT_TEST(pool_exhaustion_and_resume) {
    pair p;
    pair_open_pools(&p, POOL_SIZE, POOL_SIZE);
    pair_connect(&p);
    post_data(p.ce, p.cg, p.cch, TOFU_OP_SIGNAL, 1, POOL_DATA, 500);
    pool_run r = {.p = &p};
    int first = pool_episode_at(&r, __FILE__, __LINE__);
    ASSERT_TRUE(first >= 1 && first <= POOL_SIZE);
    for (int ep = 1; ep < STRICT_EPISODES; ep++)
        ASSERT_EQ(pool_episode_at(&r, __FILE__, __LINE__), 1);
    while (r.nheld > 0)
        tofu_put(p.se, &r.held[--r.nheld]);
    while (r.received < POOL_DATA) {
        tofu_msg *m = NEXT_MSG(p.se, p.sg);
        if (tofu_msg_opcode(m) != TOFU_OP_SIGNAL || tofu_msg_channel(m) != p.sch)
            FAIL_MSG("expected the client's Signal", m);
        r.received++;
        CHECK_DATA(m, (uint64_t)r.received, body_len_of((uint64_t)r.received, 500));
        tofu_put(p.se, &m);
    }
    pair_bye(&p);
    pair_close(&p);
}

/* tofu_options.max_send_queue: the server's channel holds at most
 * SENDQ_MAX messages while its peer does not read (the client's pool of one
 * message is held by its application, so its engine stops reading and the
 * socket buffers fill). Posting goes on until a Signal comes back with
 * not_allowed; the channel stays open, a ByeRequest posted while the queue
 * is full is not refused, and once the client reads again every Signal that
 * was not refused arrives, in order, followed by the Bye. */
#define SENDQ_MAX 4
#define SENDQ_BODY 60000
#define SENDQ_POST_CAP 2000 /* guard: socket buffers never hold 120 MB */

typedef struct sendq_run {
    pair *p;
    uint64_t posted;  /* Signals 1..posted */
    uint64_t refused; /* came back with not_allowed */
    uint64_t arrived; /* reached the client */
    bool *was_refused; /* by id */
} sendq_run;

/* Takes one message the server got back, if any: it must be a refused
 * Signal of the channel. */
static bool sendq_take_refused(sendq_run *r, unsigned wait_ms) {
    tofu_msg *m = NULL;
    if (wait_ms == 0)
        ASSERT_OK(tofu_wait_receive(r->p->sg, 0, &m)); /* only what is there */
    else
        m = tofu_t_poll_msg(r->p->sg, wait_ms);
    if (m == NULL)
        return false;
    uint64_t id = tofu_msg_id(m);
    if (tofu_msg_opcode(m) != TOFU_OP_SIGNAL || !tofu_msg_from_engine(m) ||
        tofu_msg_status(m) != TOFU_NOT_ALLOWED || tofu_msg_channel(m) != r->p->sch ||
        id == 0 || id > r->posted || r->was_refused[id])
        FAIL_MSG("expected a Signal refused by the full send queue", m);
    r->was_refused[id] = true;
    r->refused++;
    tofu_put(r->p->se, &m);
    return true;
}

/* Takes one message the client received, if any: the next Signal that was
 * not refused (ids only grow), or a pool_empty Signal. */
static uint64_t sendq_next_expected(const sendq_run *r, uint64_t after) {
    uint64_t id = after + 1;
    while (id <= r->posted && r->was_refused[id])
        id++;
    return id;
}

static void sendq_take_arrived(sendq_run *r, uint64_t *last) {
    tofu_msg *m = tofu_t_poll_msg(r->p->cg, 10);
    if (m == NULL)
        return;
    if (!tofu_t_is_pool_empty(m)) {
        if (tofu_msg_opcode(m) != TOFU_OP_SIGNAL || tofu_msg_from_engine(m) ||
            tofu_msg_channel(m) != r->p->cch || tofu_msg_id(m) <= *last ||
            r->was_refused[tofu_msg_id(m)])
            FAIL_MSG("expected the next Signal that was not refused", m);
        *last = tofu_msg_id(m);
        r->arrived++;
    }
    tofu_put(r->p->ce, &m);
}

TRANSPORT_TEST(send_queue_bound) {
    tofu_options server, client;
    tofu_options_init(&server);
    tofu_options_init(&client);
    server.max_send_queue = SENDQ_MAX;
    client.initial_pool_msgs = 1;
    client.max_pool_msgs = 1;
    pair p;
    pair_open_with(&p, &server, &client);
    pair_connect(&p);
    sendq_run r = {.p = &p};
    r.was_refused = calloc(SENDQ_POST_CAP + 2, sizeof *r.was_refused);
    ASSERT_NOT_NULL(r.was_refused);
    while (r.refused == 0) {
        ASSERT_TRUE(r.posted < SENDQ_POST_CAP);
        tofu_msg *m = data_msg(p.se, p.sch, TOFU_OP_SIGNAL, ++r.posted, SENDQ_BODY);
        POST(p.sg, &m);
        sendq_take_refused(&r, 0);
    }
    /* The queue is full and nobody reads: a Bye still goes in. */
    uint64_t bye_id = r.posted + 1;
    post_bye_request(p.se, p.sg, p.sch, bye_id);
    while (sendq_take_refused(&r, 100))
        ;
    /* Reading again: everything not refused arrives, then the ByeRequest. */
    uint64_t last = 0;
    while (r.arrived + r.refused < r.posted) {
        sendq_take_arrived(&r, &last);
        sendq_take_refused(&r, 0);
    }
    ASSERT_EQ(sendq_next_expected(&r, last), r.posted + 1);
    ANSWER_BYE(p.ce, p.cg, p.cch, bye_id);
    EXPECT_BYE_END(p.se, p.sg, p.sch, bye_id);
    EXPECT_CLOSED(p.ce, p.cg, p.cch, TOFU_CHANNEL_CLOSED);
    printf("send_queue_bound: %" PRIu64 " Signals posted, %" PRIu64 " refused, %" PRIu64
           " arrived\n",
           r.posted, r.refused, r.arrived);
    ASSERT_TRUE(r.refused >= 1);
    free(r.was_refused);
    pair_close(&p);
}

/* ======================================================================== */
/* every HelloRequest gets one answer                                       */
/* ======================================================================== */

/* The HelloRequest went out, but the server application aborts the channel
 * instead of answering: the client still gets its answer, a HelloResponse
 * from the engine with the id of the request and the reason the channel
 * closed, then the close Signal with that same reason. */
TRANSPORT_TEST(hello_unanswered_gets_an_engine_answer) {
    pair p;
    pair_open(&p);
    tofu_bhdr hello = POST_HELLO(p.ce, p.cg, p.reach);
    tofu_msg *m = NEXT_MSG(p.se, p.sg);
    if (tofu_msg_opcode(m) != TOFU_OP_HELLO_REQUEST || tofu_msg_id(m) != hello.message_id)
        FAIL_MSG("expected the client's HelloRequest", m);
    uint16_t sch = tofu_msg_channel(m);
    tofu_put(p.se, &m);
    ABORT_IDLE(p.se, p.sg, sch);
    m = NEXT_MSG(p.ce, p.cg);
    if (tofu_msg_opcode(m) != TOFU_OP_HELLO_RESPONSE || !tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != hello.message_id || tofu_msg_channel(m) != hello.channel ||
        tofu_msg_status(m) == TOFU_SUCCESS)
        FAIL_MSG("expected the engine's HelloResponse with the close reason", m);
    tofu_status why = tofu_msg_status(m);
    tofu_put(p.ce, &m);
    m = NEXT_MSG(p.ce, p.cg);
    CHECK_ABORT_CLOSE(m, hello.channel, tofu_t_transport_is_uds(p.t));
    ASSERT_STATUS(why, tofu_t_reason(m));
    tofu_put(p.ce, &m);
    pair_close(&p);
}

/* The client aborts its own channel after the HelloRequest went out: the
 * ByeSignal comes back, then the HelloResponse with channel_closed, then
 * the close Signal. */
TRANSPORT_TEST(hello_aborted_by_the_client_gets_an_engine_answer) {
    pair p;
    pair_open(&p);
    tofu_bhdr hello = POST_HELLO(p.ce, p.cg, p.reach);
    tofu_msg *m = NEXT_MSG(p.se, p.sg); /* it went out */
    uint16_t sch = tofu_msg_channel(m);
    tofu_put(p.se, &m);
    POST_ABORT(p.ce, p.cg, hello.channel);
    m = EXPECT_MSG(p.cg, TOFU_OP_BYE_SIGNAL, TOFU_CHANNEL_CLOSED);
    tofu_put(p.ce, &m);
    m = EXPECT_MSG(p.cg, TOFU_OP_HELLO_RESPONSE, TOFU_CHANNEL_CLOSED);
    if (!tofu_msg_from_engine(m) || tofu_msg_id(m) != hello.message_id ||
        tofu_msg_channel(m) != hello.channel)
        FAIL_MSG("expected the engine's HelloResponse", m);
    tofu_put(p.ce, &m);
    EXPECT_CLOSE(p.ce, p.cg, hello.channel, TOFU_CHANNEL_CLOSED);
    m = NEXT_MSG(p.se, p.sg);
    CHECK_ABORT_CLOSE(m, sch, tofu_t_transport_is_uds(p.t));
    tofu_put(p.se, &m);
    pair_close(&p);
}

/* ======================================================================== */
/* posting where nothing can be sent                                        */
/* ======================================================================== */

/* A Request posted after the ByeRequest comes back with channel_closed when
 * the channel closes (before its close Signal); after the close a post to
 * the number fails at once with channel_closed on both sides, and a number
 * that never was a channel of the group stays invalid_channel_number. */
TRANSPORT_TEST(post_to_closed_channel) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    post_bye_request(p.ce, p.cg, p.cch, 77);
    tofu_msg *late = data_msg(p.ce, p.cch, TOFU_OP_REQUEST, 78, 10);
    POST(p.cg, &late);
    ANSWER_BYE(p.se, p.sg, p.sch, 77);
    bool got_response = false, got_late = false;
    for (;;) {
        tofu_msg *m = NEXT_MSG(p.ce, p.cg);
        if (tofu_t_is_close_signal(m)) {
            CHECK_CLOSE(m, p.cch, TOFU_CHANNEL_CLOSED);
            tofu_put(p.ce, &m);
            break;
        }
        if (!got_response && tofu_msg_opcode(m) == TOFU_OP_BYE_RESPONSE &&
            !tofu_msg_from_engine(m) && tofu_msg_id(m) == 77)
            got_response = true;
        else if (!got_late && tofu_msg_opcode(m) == TOFU_OP_REQUEST && tofu_msg_from_engine(m) &&
                 tofu_msg_status(m) == TOFU_CHANNEL_CLOSED && tofu_msg_id(m) == 78)
            got_late = true;
        else
            FAIL_MSG("expected the ByeResponse and the late Request back", m);
        tofu_put(p.ce, &m);
    }
    ASSERT_TRUE(got_response);
    ASSERT_TRUE(got_late);
    EXPECT_CLOSED(p.se, p.sg, p.sch, TOFU_CHANNEL_CLOSED);

    tofu_msg *m = data_msg(p.ce, p.cch, TOFU_OP_REQUEST, 79, 1);
    ASSERT_STATUS(TOFU_CHANNEL_CLOSED, tofu_post(p.cg, &m, NULL));
    ASSERT_NOT_NULL(m);
    ASSERT_EQ(tofu_msg_bhdr(m)->status, TOFU_CHANNEL_CLOSED);
    tofu_put(p.ce, &m);
    m = data_msg(p.se, p.sch, TOFU_OP_SIGNAL, 80, 1);
    ASSERT_STATUS(TOFU_CHANNEL_CLOSED, tofu_post(p.sg, &m, NULL));
    tofu_put(p.se, &m);
    m = data_msg(p.ce, 4321, TOFU_OP_SIGNAL, 81, 1);
    ASSERT_STATUS(TOFU_INVALID_CHANNEL_NUMBER, tofu_post(p.cg, &m, NULL));
    tofu_put(p.ce, &m);
    pair_close(&p);
}

/* Data posted to a listener comes back with not_allowed; the listener
 * stays open and accepts. */
TRANSPORT_TEST(post_data_to_listener) {
    pair p;
    pair_open(&p);
    const tofu_opcode ops[] = {TOFU_OP_REQUEST, TOFU_OP_RESPONSE, TOFU_OP_SIGNAL,
                               TOFU_OP_HELLO_RESPONSE, TOFU_OP_WELCOME_RESPONSE};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        tofu_msg *m = data_msg(p.se, p.listener, ops[i], 500 + i, 5);
        POST(p.sg, &m);
        m = EXPECT_MSG(p.sg, ops[i], TOFU_NOT_ALLOWED);
        if (!tofu_msg_from_engine(m) || tofu_msg_channel(m) != p.listener ||
            tofu_msg_id(m) != 500 + i)
            FAIL_MSG("expected the message back from the engine", m);
        CHECK_DATA(m, 500 + i, 5);
        tofu_put(p.se, &m);
    }
    pair_connect(&p);
    pair_bye(&p);
    pair_close(&p);
}

/* ======================================================================== */
/* hostile peers (raw sockets)                                              */
/* ======================================================================== */

#define RAW_HELLO_ID 4242u
#define RAW_PEER_CHANNEL 9u

static tofui_socket raw_connect(pair *p) {
    tofu_address a;
    ASSERT_OK(tofu_address_parse(p->reach, strlen(p->reach), &a));
    return RAW_CONNECT(&a);
}

/* Sends a correct HelloRequest from the raw socket, so the server
 * application sees the channel; returns the server's channel number. The
 * server does not answer: the raw peer never has unread data, so its close
 * is a FIN, not a reset. */
static uint16_t raw_hello(pair *p, tofui_socket s) {
    char th[ADDR_CAP + 32];
    int thl = snprintf(th, sizeof th, "%s:%s\r\n", TOFU_HDR_CONNECT_TO, p->reach);
    uint8_t frame[16 + sizeof th];
    size_t n = tofu_t_raw_frame(frame, RAW_PEER_CHANNEL, TOFU_OP_HELLO_REQUEST, RAW_HELLO_ID, th,
                                (uint16_t)thl, NULL, 0);
    RAW_SEND(s, frame, n);
    tofu_msg *m = NEXT_MSG(p->se, p->sg);
    if (tofu_msg_opcode(m) != TOFU_OP_HELLO_REQUEST || tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != RAW_HELLO_ID || tofu_msg_channel(m) == 0 ||
        tofu_msg_channel(m) == p->listener)
        FAIL_MSG("expected the raw peer's HelloRequest", m);
    uint16_t sch = tofu_msg_channel(m);
    tofu_put(p->se, &m);
    return sch;
}

/* A good client is served after the hostile one: handshake, one echo,
 * graceful close; and nothing about the hostile channels shows up. */
static void good_client_served(pair *p) {
    pair_connect(p);
    tofu_msg *m = data_msg(p->ce, p->cch, TOFU_OP_REQUEST, 31, 1000);
    POST(p->cg, &m);
    m = NEXT_MSG(p->se, p->sg);
    if (tofu_msg_opcode(m) != TOFU_OP_REQUEST || tofu_msg_channel(m) != p->sch)
        FAIL_MSG("expected the good client's Request", m);
    CHECK_DATA(m, 31, 1000);
    tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
    POST(p->sg, &m);
    m = NEXT_MSG(p->ce, p->cg);
    if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || tofu_msg_channel(m) != p->cch)
        FAIL_MSG("expected the echo", m);
    CHECK_DATA(m, 31, 1000);
    tofu_put(p->ce, &m);
    pair_bye(p);
}

/* Ends a hostile case: a good client is served, then nothing else arrives
 * at the server, then everything is destroyed and checked for leaks. */
static void hostile_end(pair *p) {
    good_client_served(p);
    EXPECT_NOTHING(p->sg, 100);
    pair_close(p);
}

/* Sends `frame` from a raw peer, after a HelloRequest when `seen`; the
 * engine must close that connection, and the server application gets the
 * close Signal with `reason` only when it saw the channel. */
static void hostile_frame(pair *p, const uint8_t *frame, size_t n, bool seen, tofu_status reason) {
    tofui_socket s = raw_connect(p);
    uint16_t sch = seen ? raw_hello(p, s) : 0;
    RAW_SEND(s, frame, n);
    if (seen)
        EXPECT_CLOSED(p->se, p->sg, sch, reason);
    RAW_WAIT_CLOSED(s);
    tofui_sock_close(s);
}

/* Opcodes 10..15 are protocol errors: invalid_op_code. */
TRANSPORT_TEST(hostile_invalid_opcode) {
    pair p;
    pair_open(&p);
    for (uint8_t op = 10; op <= 15; op++) {
        uint8_t frame[16 + 4];
        size_t n = tofu_t_raw_frame(frame, RAW_PEER_CHANNEL, op, 1, NULL, 0, "abcd", 4);
        hostile_frame(&p, frame, n, true, TOFU_INVALID_OP_CODE);
        hostile_frame(&p, frame, n, false, TOFU_INVALID_OP_CODE);
    }
    hostile_end(&p);
}

/* Welcome opcodes never travel on the wire: invalid_message. */
TRANSPORT_TEST(hostile_welcome_opcode) {
    pair p;
    pair_open(&p);
    for (uint8_t op = TOFU_OP_WELCOME_REQUEST; op <= TOFU_OP_WELCOME_RESPONSE; op++) {
        const char th[] = "~listen_on:tcp|127.0.0.1|1\r\n";
        uint8_t frame[16 + sizeof th];
        size_t n = tofu_t_raw_frame(frame, RAW_PEER_CHANNEL, op, 1, th, sizeof th - 1, NULL, 0);
        hostile_frame(&p, frame, n, true, TOFU_INVALID_MESSAGE);
        hostile_frame(&p, frame, n, false, TOFU_INVALID_MESSAGE);
    }
    hostile_end(&p);
}

/* The start of a Request announcing 100 body bytes: the header and `part`
 * bytes of the body. */
static size_t partial_frame(uint8_t *frame, size_t part) {
    uint8_t body[100];
    tofu_t_fill(body, sizeof body, 5);
    tofu_t_raw_frame(frame, RAW_PEER_CHANNEL, TOFU_OP_REQUEST, 2, NULL, 0, body, sizeof body);
    return 16 + part;
}

/* A peer that stops mid-frame and goes away, after a HelloRequest when
 * `seen`: by reset (abort) or by FIN. */
static void peer_leaves_mid_frame(pair *p, size_t cut, bool seen, bool reset) {
    tofui_socket s = raw_connect(p);
    uint16_t sch = seen ? raw_hello(p, s) : 0;
    uint8_t frame[16 + 100];
    size_t n = partial_frame(frame, 50);
    RAW_SEND(s, frame, cut < n ? cut : n);
    if (reset)
        tofui_sock_abort(s);
    else
        tofui_sock_close(s);
    if (!seen)
        return;
    tofu_msg *m = NEXT_MSG(p->se, p->sg);
    if (reset)
        CHECK_ABORT_CLOSE(m, sch, tofu_t_transport_is_uds(p->t));
    else
        CHECK_CLOSE(m, sch, TOFU_PEER_DISCONNECTED);
    tofu_put(p->se, &m);
}

/* Cut inside the header and inside the body. */
TRANSPORT_TEST(hostile_reset_mid_frame) {
    pair p;
    pair_open(&p);
    peer_leaves_mid_frame(&p, 7, true, true);
    peer_leaves_mid_frame(&p, 66, true, true);
    peer_leaves_mid_frame(&p, 7, false, true);
    peer_leaves_mid_frame(&p, 66, false, true);
    hostile_end(&p);
}

TRANSPORT_TEST(hostile_eof_mid_frame) {
    pair p;
    pair_open(&p);
    peer_leaves_mid_frame(&p, 7, true, false);
    peer_leaves_mid_frame(&p, 66, true, false);
    peer_leaves_mid_frame(&p, 7, false, false);
    peer_leaves_mid_frame(&p, 66, false, false);
    hostile_end(&p);
}

/* Connects, sends nothing, leaves (FIN, then reset): the server application
 * never hears of it. */
/* An accepted channel whose first frame waits for the pool is announced by
 * its pool_empty Signal before anything else: from then on the application
 * knows its number, so when it aborts that channel the close Signal follows
 * as for any other channel (an unseen channel closes silently). */
TRANSPORT_TEST(pool_empty_announces_an_accepted_channel) {
    pair p;
    pair_open_pools(&p, 1, 1);
    tofu_msg *held = tofu_get(p.se, TOFU_POOL_ONLY); /* the pool's only message */
    ASSERT_NOT_NULL(held);
    tofui_socket s = raw_connect(&p);
    char th[ADDR_CAP + 32];
    int thl = snprintf(th, sizeof th, "%s:%s\r\n", TOFU_HDR_CONNECT_TO, p.reach);
    uint8_t frame[16 + sizeof th];
    size_t n = tofu_t_raw_frame(frame, RAW_PEER_CHANNEL, TOFU_OP_HELLO_REQUEST, RAW_HELLO_ID, th,
                                (uint16_t)thl, NULL, 0);
    RAW_SEND(s, frame, n);
    tofu_msg *m = WAIT_MSG(p.sg);
    if (!tofu_t_is_pool_empty(m) || tofu_msg_channel(m) == 0 || tofu_msg_channel(m) == p.listener)
        FAIL_MSG("expected pool_empty for the new connection", m);
    uint16_t sch = tofu_msg_channel(m);
    tofu_put(p.se, &m); /* the pool has one again, but the abort comes first */
    tofu_put(p.se, &held);
    POST_ABORT(p.se, p.sg, sch);
    m = NEXT_MSG(p.se, p.sg);
    if (tofu_msg_opcode(m) == TOFU_OP_HELLO_REQUEST && tofu_msg_channel(m) == sch) {
        tofu_put(p.se, &m); /* delivered before the abort was seen: fine */
        m = NEXT_MSG(p.se, p.sg);
    }
    if (tofu_msg_opcode(m) != TOFU_OP_BYE_SIGNAL || tofu_msg_channel(m) != sch ||
        tofu_msg_status(m) != TOFU_CHANNEL_CLOSED)
        FAIL_MSG("expected the ByeSignal back", m);
    tofu_put(p.se, &m);
    m = NEXT_MSG(p.se, p.sg);
    CHECK_CLOSE(m, sch, TOFU_CHANNEL_CLOSED);
    tofu_put(p.se, &m);
    RAW_WAIT_CLOSED(s);
    tofui_sock_close(s);
    hostile_end(&p);
}

/* tofu_options.handshake_timeout_ms: connections that deliver no complete
 * frame in time are closed, silently for the application (it never saw
 * them): one that sends nothing, one that sends half a header. A connection
 * whose first frame came in time stays open long past the timeout. */
#define HANDSHAKE_MS 200u

TRANSPORT_TEST(handshake_timeout_closes_silent_connections) {
    tofu_options server, client;
    tofu_options_init(&server);
    tofu_options_init(&client);
    server.handshake_timeout_ms = HANDSHAKE_MS;
    pair p;
    pair_open_with(&p, &server, &client);
    tofui_socket silent = raw_connect(&p);
    tofui_socket half = raw_connect(&p);
    uint8_t hdr[16];
    tofu_t_raw_header(hdr, RAW_PEER_CHANNEL, TOFU_OP_HELLO_REQUEST, 1, 0, 100);
    RAW_SEND(half, hdr, 10);
    pair_connect(&p);
    RAW_WAIT_CLOSED(silent);
    RAW_WAIT_CLOSED(half);
    tofui_sock_close(silent);
    tofui_sock_close(half);
    tofui_sleep_ms(3 * HANDSHAKE_MS); /* the good connection outlives it */
    post_data(p.ce, p.cg, p.cch, TOFU_OP_SIGNAL, 1, 3, 100);
    EXPECT_DATA(p.se, p.sg, p.sch, TOFU_OP_SIGNAL, 1, 3, 100, NULL);
    EXPECT_NOTHING(p.sg, 100); /* nothing about the two that were closed */
    pair_bye(&p);
    pair_close(&p);
}

TRANSPORT_TEST(hostile_silent_peer) {
    pair p;
    pair_open(&p);
    tofui_socket s = raw_connect(&p);
    tofui_sock_close(s);
    s = raw_connect(&p);
    tofui_sock_abort(s);
    hostile_end(&p);
}

/* A header announcing 65535 + 65535 bytes, a little of them, then silence:
 * the engine waits for the rest without harm to anyone else (a good client
 * is served meanwhile); when the peer finally leaves, its channel closes
 * with peer_disconnected if the application saw it, silently if not. */
static void huge_frame_then_silence(pair *p, bool seen) {
    tofui_socket s = raw_connect(p);
    uint16_t sch = seen ? raw_hello(p, s) : 0;
    uint8_t hdr[16 + 1000];
    tofu_t_raw_header(hdr, RAW_PEER_CHANNEL, TOFU_OP_REQUEST, 3, TOFU_MAX_PART_LEN,
                      TOFU_MAX_PART_LEN);
    tofu_t_fill(hdr + 16, 1000, 9);
    RAW_SEND(s, hdr, sizeof hdr);
    good_client_served(p);
    tofui_sock_close(s);
    if (seen)
        EXPECT_CLOSED(p->se, p->sg, sch, TOFU_PEER_DISCONNECTED);
}

TRANSPORT_TEST(hostile_huge_header_then_stops) {
    pair p;
    pair_open(&p);
    huge_frame_then_silence(&p, true);
    huge_frame_then_silence(&p, false);
    hostile_end(&p);
}
