/*
 * Many channels at once (issue 14, goals 5 and 6): what channels stalled on
 * an empty pool hold, and connect storms.
 *
 * A channel that finds the pool empty keeps what it could not decode; once
 * one channel is stalled, the others read with a peek and leave what they
 * cannot decode in the socket, so the engine's stalled channels hold at
 * most one read together however many they are (stall.c). The bound is
 * asserted on the engine's own count of those bytes (its peak), never on
 * RSS or time. Connect storms: a listener under backlog pressure, where a
 * Unix socket's connect says EAGAIN at once and the engine tries again.
 */
#include <string.h>

#include "engine/engine_int.h" /* tofui_chanset.stash_peak */
#include "engine_util.h"

/* ======================================================================== */
/* many channels stalled at once                                            */
/* ======================================================================== */

#define STALL_PEERS 60u
#define STALL_SIGNALS 40u /* per peer, STALL_BODY bytes each: 41 KB a peer */
#define STALL_BODY 1000u
#define STALL_POOL 4u

/* A HelloRequest and Signals 0..STALL_SIGNALS-1 (the id is the sequence). */
static size_t stall_script(uint8_t *out, size_t cap, const tofu_address *to) {
    char v[TOFU_T_ADDR_CAP];
    ASSERT_OK(tofu_address_format(to, v, sizeof v, NULL));
    char th[TOFU_T_ADDR_CAP + 32];
    int thl = snprintf(th, sizeof th, "%s:%s\r\n", TOFU_HDR_CONNECT_TO, v);
    size_t n = tofu_t_raw_frame(out, 1, TOFU_OP_HELLO_REQUEST, 777, th, (uint16_t)thl, NULL, 0);
    uint8_t body[STALL_BODY];
    for (uint32_t i = 0; i < STALL_SIGNALS; i++) {
        tofu_t_fill(body, sizeof body, i);
        ASSERT_TRUE(n + 16 + sizeof body <= cap);
        n += tofu_t_raw_frame(out + n, 1, TOFU_OP_SIGNAL, i, NULL, 0, body, sizeof body);
    }
    return n;
}

/* What the application saw of each channel. */
typedef struct stall_seen {
    bool hello;
    uint32_t next;       /* the next Signal id expected */
    uint32_t pool_empty; /* pool_empty Signals naming it */
    bool closed;
} stall_seen;

/* Counts one message of the drain (and checks order); puts it back. */
static void stall_take(tofu_engine *e, stall_seen *seen, tofu_msg *m) {
    uint16_t ch = tofu_msg_channel(m);
    stall_seen *s = &seen[ch];
    if (tofu_t_is_pool_empty(m)) {
        /* only a channel that still has frames to deliver stalls */
        if (s->next == STALL_SIGNALS)
            FAIL_MSG("pool_empty Signal for a channel with nothing left to read", m);
        s->pool_empty++;
    } else if (tofu_t_is_close_signal(m)) {
        s->closed = true;
    } else if (tofu_msg_opcode(m) == TOFU_OP_HELLO_REQUEST) {
        if (s->hello || s->next != 0)
            FAIL_MSG("a second or late HelloRequest", m);
        s->hello = true;
    } else if (tofu_msg_opcode(m) == TOFU_OP_SIGNAL && !tofu_msg_from_engine(m)) {
        size_t bl = 0;
        tofu_msg_body(m, &bl);
        if (!s->hello || tofu_msg_id(m) != s->next || bl != STALL_BODY)
            FAIL_MSG("a Signal out of order (or before its Hello)", m);
        s->next++;
    } else {
        FAIL_MSG("unexpected message", m);
    }
    tofu_put(e, &m);
}

/* STALL_PEERS raw peers each send a HelloRequest and STALL_SIGNALS Signals
 * at once while the server's application holds its whole pool: every
 * channel stalls. Each gets exactly one pool_empty Signal while it stays
 * stalled (one per episode, not one per read), the stalled channels keep
 * at most one read together (the rest stays in the sockets), and once the
 * messages come back every frame arrives, in order per channel. */
TRANSPORT_TEST(many_stalled_channels_hold_at_most_one_read, tcp4, uds) {
    tofu_t_transport t = tofu_t_transport_arg();
    tofu_engine *e = tofu_t_engine(STALL_POOL, STALL_POOL);
    tofu_group *g = tofu_t_group(e);
    char value[TOFU_T_ADDR_CAP];
    tofu_t_listen_value(t, value, sizeof value);
    tofu_address bound, reach;
    LISTEN(e, g, value, &bound);
    char v[TOFU_T_ADDR_CAP];
    tofu_t_connect_value(&bound, v, sizeof v);
    ASSERT_OK(tofu_address_parse(v, strlen(v), &reach));

    static uint8_t script[64 * 1024];
    size_t len = stall_script(script, sizeof script, &reach);
    tofui_socket raw[STALL_PEERS];
    for (uint32_t i = 0; i < STALL_PEERS; i++) {
        raw[i] = RAW_CONNECT(&reach);
        RAW_SEND(raw[i], script, len);
    }

    /* The application takes the pool's messages and keeps them. */
    static stall_seen seen[TOFUI_CHAN_SLOTS];
    memset(seen, 0, sizeof seen);
    tofu_msg *held[STALL_POOL];
    uint32_t nheld = 0, stalled = 0;
    while (nheld < STALL_POOL || stalled < STALL_PEERS) {
        tofu_msg *m = WAIT_MSG(g);
        if (!tofu_t_is_pool_empty(m) && nheld < STALL_POOL) {
            held[nheld++] = m;
            continue;
        }
        if (!tofu_t_is_pool_empty(m))
            FAIL_MSG("a frame although the application holds every pool message", m);
        if (seen[tofu_msg_channel(m)].pool_empty++ != 0)
            FAIL_MSG("a second pool_empty Signal for a channel that stayed stalled", m);
        stalled++;
        tofu_msg_destroy(m); /* put back, it would refill the pool */
    }
    EXPECT_NOTHING(g, 100); /* no more Signals while nothing changes */
    size_t peak = atomic_load(&e->chans.stash_peak);
    if (peak > TOFUI_READ_CHUNK)
        tofu_t_fail(__FILE__, __LINE__, "stalled channels held %zu bytes (at most one read, %u)",
                    peak, TOFUI_READ_CHUNK);

    /* The held messages come back: everything arrives. */
    for (uint32_t i = 0; i < nheld; i++)
        stall_take(e, seen, held[i]);
    uint64_t frames = STALL_PEERS * (1u + STALL_SIGNALS) - nheld, got = 0;
    while (got < frames) {
        tofu_msg *m = WAIT_MSG(g);
        bool frame = !tofu_msg_from_engine(m);
        stall_take(e, seen, m);
        got += frame;
    }
    uint32_t complete = 0;
    for (uint32_t ch = 0; ch < TOFUI_CHAN_SLOTS; ch++)
        complete += seen[ch].hello && seen[ch].next == STALL_SIGNALS;
    ASSERT_EQ(complete, STALL_PEERS);
    ASSERT_TRUE(atomic_load(&e->chans.stash_peak) <= TOFUI_READ_CHUNK);

    for (uint32_t i = 0; i < STALL_PEERS; i++)
        tofui_sock_close(raw[i]);
    for (uint32_t closed = 0; closed < STALL_PEERS;) {
        tofu_msg *m = WAIT_MSG(g);
        closed += tofu_t_is_close_signal(m);
        stall_take(e, seen, m);
    }
    ASSERT_OK(tofu_group_destroy(e, g));
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* ======================================================================== */
/* connect storms                                                           */
/* ======================================================================== */

#define STORM_CONNS 1000u
#define STORM_UDS_BACKLOG 8u

/* STORM_CONNS HelloRequests posted at once by one engine to a listener of
 * another: every one is answered with success. Over a Unix socket the
 * listener's backlog is tiny, so that most connects first find it full
 * (EAGAIN on Linux): the engine tries those again, without connect_retry_ms
 * (the server is there, only behind). Over TCP the default backlog
 * (SOMAXCONN) and accepting all that is pending keep up. Windows refuses a
 * connect to a full backlog, which cannot be told from "nobody listens"
 * (docs/platforms.md): there the storm meets the default backlog. */
TRANSPORT_TEST(connect_storm_all_connect, tcp4, uds) {
    tofu_t_transport t = tofu_t_transport_arg();
    uint64_t need = 2u * STORM_CONNS + 64u;
    if (tofu_t_descriptors_raise(need) < need)
        tofu_t_skip("not enough descriptors for the storm");
    tofu_options opt;
    tofu_options_init(&opt);
#if !defined(_WIN32)
    if (tofu_t_transport_is_uds(t))
        opt.listen_backlog = STORM_UDS_BACKLOG;
#endif
    tofu_engine *se = tofu_t_engine_with(&opt);
    tofu_group *sg = tofu_t_group(se);
    tofu_engine *ce = tofu_t_engine(0, 0);
    tofu_group *cg = tofu_t_group(ce);
    char value[TOFU_T_ADDR_CAP];
    tofu_t_listen_value(t, value, sizeof value);
    tofu_address bound, reach;
    LISTEN(se, sg, value, &bound);
    char v[TOFU_T_ADDR_CAP];
    tofu_t_connect_value(&bound, v, sizeof v);
    ASSERT_OK(tofu_address_parse(v, strlen(v), &reach));

    for (uint32_t i = 0; i < STORM_CONNS; i++) {
        tofu_msg *m = tofu_t_get(ce);
        ASSERT_OK(tofu_msg_connect(m, &reach));
        POST(cg, &m);
    }
    /* This thread plays both applications: the server answers each
     * HelloRequest, the client counts the answers. */
    uint32_t answered = 0, welcomed = 0;
    uint64_t quiet_ms = 0;
    while (welcomed < STORM_CONNS) {
        tofu_msg *m = tofu_t_poll_msg(sg, 1);
        if (m != NULL && !tofu_msg_from_engine(m) && tofu_msg_opcode(m) == TOFU_OP_HELLO_REQUEST) {
            tofu_msg_set_opcode(m, TOFU_OP_HELLO_RESPONSE);
            POST(sg, &m);
            answered++;
        } else if (m != NULL) {
            if (!tofu_t_is_pool_empty(m))
                FAIL_MSG("server: unexpected message", m);
            tofu_put(se, &m);
        }
        tofu_msg *c = tofu_t_poll_msg(cg, 1);
        if (c == NULL && m == NULL && (quiet_ms += 2) > 1000u * TOFU_T_WAIT_S)
            tofu_t_fail(__FILE__, __LINE__, "storm stuck: %u answered, %u welcomed", answered,
                        welcomed);
        if (c == NULL)
            continue;
        quiet_ms = 0;
        if (tofu_t_is_pool_empty(c)) { /* the client's pool ran dry for a moment */
            tofu_put(ce, &c);
            continue;
        }
        if (tofu_msg_opcode(c) != TOFU_OP_HELLO_RESPONSE || tofu_msg_status(c) != TOFU_SUCCESS)
            FAIL_MSG("a connect of the storm failed", c);
        welcomed++;
        tofu_put(ce, &c);
    }
    ASSERT_EQ(answered, STORM_CONNS);
    ASSERT_OK(tofu_group_destroy(ce, cg));
    tofu_engine_destroy(ce);
    ASSERT_OK(tofu_group_destroy(se, sg));
    tofu_engine_destroy(se);
    ASSERT_NO_LEAKS();
}

/* A Unix listener whose backlog stays full (nobody accepts): the engine
 * tries again for one connect attempt's time (connect_timeout_ms), then
 * the HelloRequest fails with connect_failed, as a TCP connect whose SYNs
 * go unanswered does. Only where the system says "backlog full" (Linux). */
TEST(busy_listener_fails_after_the_connect_timeout) {
    tofu_t_transport_require(TOFU_T_UDS);
    char path[TOFU_T_ADDR_CAP], value[TOFU_T_ADDR_CAP + 8];
    tofu_t_uds_path(path, sizeof path);
    snprintf(value, sizeof value, "uds|%s", path);
    tofu_address a;
    ASSERT_OK(tofu_address_parse(value, strlen(value), &a));
    tofui_sockaddr sa;
    size_t nsa = 0;
    ASSERT_OK(tofui_sock_resolve(&a, false, &sa, 1, &nsa));
    tofui_socket l = TOFUI_INVALID_SOCKET;
    ASSERT_OK(tofui_sock_listen_backlog(&sa, 1, &l));
    /* Fill the backlog with connects nobody accepts. */
    tofui_socket fill[16];
    size_t nfill = 0;
    tofu_status st = TOFU_SUCCESS;
    while (nfill < 16) {
        bool in_progress = false;
        st = tofui_sock_connect(&sa, &fill[nfill], &in_progress);
        if (st != TOFU_SUCCESS)
            break;
        nfill++;
    }
    if (st != TOFUI_SOCK_BUSY) {
        for (size_t i = 0; i < nfill; i++)
            tofui_sock_close(fill[i]);
        tofui_sock_close(l);
        tofu_t_skip("this system does not tell a full Unix backlog");
    }
    tofu_options opt;
    tofu_options_init(&opt);
    opt.connect_timeout_ms = 200;
    tofu_engine *e = tofu_t_engine_with(&opt);
    tofu_group *g = tofu_t_group(e);
    tofu_msg *m = tofu_t_get(e);
    ASSERT_OK(tofu_msg_connect(m, &a));
    POST(g, &m);
    m = EXPECT_MSG(g, TOFU_OP_HELLO_RESPONSE, TOFU_CONNECT_FAILED);
    tofu_put(e, &m);
    m = WAIT_MSG(g);
    if (!tofu_t_is_close_signal(m))
        FAIL_MSG("expected the close Signal", m);
    tofu_put(e, &m);
    ASSERT_OK(tofu_group_destroy(e, g));
    tofu_engine_destroy(e);
    for (size_t i = 0; i < nfill; i++)
        tofui_sock_close(fill[i]);
    tofui_sock_close(l);
    ASSERT_NO_LEAKS();
}
