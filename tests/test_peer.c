/*
 * Who is on the other end (tofu_channel_peer): the server learns an accepted
 * channel's peer address and, on a Unix socket, the peer's credentials;
 * the client learns the address it connected to; the call answers as a
 * post would for numbers that are not the group's open channels; the
 * records go with their channels.
 *
 * Credentials are compared with the process's own (both ends are this
 * process): the one use of OS headers here, for getuid/getgid/getpid.
 */
#include <stdio.h>
#include <string.h>

#if !defined(_WIN32)
#include <unistd.h>
#endif

#include "engine/engine_int.h" /* the channel table's record count */
#include "pair.h"

#define PEER_HELLO_ID 77u

/* Peer records the engine's channel table holds (under its lock: the I/O
 * thread writes the count). */
static size_t peer_records(tofu_engine *e) {
    tofui_mutex_lock(&e->chantab.lock);
    size_t n = e->chantab.peers;
    tofui_mutex_unlock(&e->chantab.lock);
    return n;
}

static bool peer_is_uds(const pair *p) {
    return tofu_t_transport_is_uds(p->t);
}

/* The loopback the case's client comes from. */
static const char *peer_loopback(const pair *p) {
    return p->t == TOFU_T_TCP6 ? "::1" : "127.0.0.1";
}

/* The credentials of a Unix peer that is this very process: each one the
 * platform tells must be ours; Linux tells all three. */
static void peer_check_credentials_are_ours(const tofu_peer *peer) {
#if defined(__linux__)
    ASSERT_TRUE(peer->has_credentials);
    ASSERT_TRUE(peer->uid != -1 && peer->gid != -1 && peer->pid != -1);
#endif
#if !defined(_WIN32)
    if (peer->uid != -1)
        ASSERT_TRUE(peer->uid == (int64_t)getuid());
    if (peer->gid != -1)
        ASSERT_TRUE(peer->gid == (int64_t)getgid());
    if (peer->pid != -1)
        ASSERT_TRUE(peer->pid == (int64_t)getpid());
#endif
    ASSERT_TRUE(peer->has_credentials == (peer->uid != -1 || peer->gid != -1 || peer->pid != -1));
}

/* ------------------------------------------------------------------------ */
/* what each side learns                                                    */
/* ------------------------------------------------------------------------ */

/* The server's accepted channel: TCP, the client's loopback address and a
 * port that is not the listener's; UDS, no name (the client did not bind)
 * and the credentials of this process. The client's connected channel: the
 * listener's address, and on UDS the listener's credentials (ours too). */
TRANSPORT_TEST(peer_of_accepted_and_connected_channels) {
    pair p;
    pair_open(&p);
    pair_connect(&p);

    tofu_peer sp;
    memset(&sp, 0xAB, sizeof sp);
    ASSERT_OK(tofu_channel_peer(p.sg, p.sch, &sp));
    tofu_peer cp;
    memset(&cp, 0xAB, sizeof cp);
    ASSERT_OK(tofu_channel_peer(p.cg, p.cch, &cp));

    if (peer_is_uds(&p)) {
        ASSERT_EQ(sp.address.transport, TOFU_TRANSPORT_UDS);
        ASSERT_STR_EQ(sp.address.path, "");
        peer_check_credentials_are_ours(&sp);
        ASSERT_EQ(cp.address.transport, TOFU_TRANSPORT_UDS);
        ASSERT_STR_EQ(cp.address.path, p.bound.path);
        ASSERT_TRUE(cp.address.abstract == p.bound.abstract);
        peer_check_credentials_are_ours(&cp);
    } else {
        ASSERT_EQ(sp.address.transport, TOFU_TRANSPORT_TCP);
        ASSERT_STR_EQ(sp.address.host, peer_loopback(&p));
        ASSERT_TRUE(sp.address.port != 0 && sp.address.port != p.bound.port);
        ASSERT_FALSE(sp.has_credentials);
        ASSERT_TRUE(sp.uid == -1 && sp.gid == -1 && sp.pid == -1);
        ASSERT_EQ(cp.address.transport, TOFU_TRANSPORT_TCP);
        ASSERT_STR_EQ(cp.address.host, peer_loopback(&p));
        ASSERT_EQ(cp.address.port, p.bound.port);
        ASSERT_FALSE(cp.has_credentials);
    }
    ASSERT_EQ(peer_records(p.se), 1);
    ASSERT_EQ(peer_records(p.ce), 1);
    pair_bye(&p);
    ASSERT_EQ(peer_records(p.se), 0);
    ASSERT_EQ(peer_records(p.ce), 0);
    pair_close(&p);
}

/* The exact TCP port: a raw client whose local address the test knows
 * (getsockname) sends a HelloRequest; when the server application receives
 * it, the peer is already known and is that address. */
TRANSPORT_TEST(peer_is_known_with_the_first_message, tcp4, tcp6, uds) {
    pair p;
    pair_open(&p);
    tofu_address to;
    ASSERT_OK(tofu_address_parse(p.reach, strlen(p.reach), &to));
    tofui_socket raw = RAW_CONNECT(&to);
    char v[TOFU_T_ADDR_CAP];
    ASSERT_OK(tofu_address_format(&to, v, sizeof v, NULL));
    char th[TOFU_T_ADDR_CAP + 32];
    int thl = snprintf(th, sizeof th, "%s:%s\r\n", TOFU_HDR_CONNECT_TO, v);
    ASSERT_TRUE(thl > 0 && (size_t)thl < sizeof th);
    uint8_t frame[16 + sizeof th];
    size_t n = tofu_t_raw_frame(frame, 1, TOFU_OP_HELLO_REQUEST, PEER_HELLO_ID, th,
                                (uint16_t)thl, NULL, 0);
    RAW_SEND(raw, frame, n);
    tofu_msg *m = EXPECT_MSG(p.sg, TOFU_OP_HELLO_REQUEST, TOFU_SUCCESS);
    uint16_t ch = tofu_msg_channel(m);
    tofu_put(p.se, &m);

    tofu_peer peer;
    ASSERT_OK(tofu_channel_peer(p.sg, ch, &peer));
    if (peer_is_uds(&p)) {
        ASSERT_EQ(peer.address.transport, TOFU_TRANSPORT_UDS);
        peer_check_credentials_are_ours(&peer);
    } else {
        tofu_address local;
        ASSERT_OK(tofui_sock_local_address(raw, NULL, &local));
        ASSERT_EQ(peer.address.transport, TOFU_TRANSPORT_TCP);
        ASSERT_STR_EQ(peer.address.host, local.host);
        ASSERT_EQ(peer.address.port, local.port);
    }
    /* The raw client goes: the channel closes and its record with it. */
    tofui_sock_close(raw);
    tofu_msg *closed = NEXT_MSG(p.se, p.sg);
    ASSERT_TRUE(tofu_t_is_close_signal(closed) && tofu_msg_channel(closed) == ch);
    tofu_put(p.se, &closed);
    ASSERT_EQ(tofu_channel_peer(p.sg, ch, &peer), TOFU_CHANNEL_CLOSED);
    ASSERT_EQ(peer_records(p.se), 0);
    pair_close(&p);
}

/* ------------------------------------------------------------------------ */
/* numbers that are not an open channel of the group                        */
/* ------------------------------------------------------------------------ */

/* As a post to the same number: 0 and a number never used are invalid,
 * another group's channel is invalid_mchn_group, a closed one closed; the
 * group's listener has no peer (not_allowed), nor NULL arguments. */
TRANSPORT_TEST(peer_errors_match_post, tcp4, uds) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    tofu_peer peer;
    ASSERT_EQ(tofu_channel_peer(p.sg, 0, &peer), TOFU_INVALID_CHANNEL_NUMBER);
    ASSERT_EQ(tofu_channel_peer(p.sg, 60000, &peer), TOFU_INVALID_CHANNEL_NUMBER);
    ASSERT_EQ(tofu_channel_peer(p.sg, 65535, &peer), TOFU_INVALID_CHANNEL_NUMBER);
    ASSERT_EQ(tofu_channel_peer(p.sg, p.listener, &peer), TOFU_NOT_ALLOWED);
    ASSERT_EQ(tofu_channel_peer(NULL, p.sch, &peer), TOFU_NOT_ALLOWED);
    ASSERT_EQ(tofu_channel_peer(p.sg, p.sch, NULL), TOFU_NOT_ALLOWED);

    tofu_group *other = tofu_t_group(p.se);
    ASSERT_EQ(tofu_channel_peer(other, p.sch, &peer), TOFU_INVALID_MCHN_GROUP);
    ASSERT_EQ(tofu_channel_peer(other, p.listener, &peer), TOFU_INVALID_MCHN_GROUP);

    pair_bye(&p);
    ASSERT_EQ(tofu_channel_peer(p.sg, p.sch, &peer), TOFU_CHANNEL_CLOSED);
    ASSERT_EQ(tofu_channel_peer(p.cg, p.cch, &peer), TOFU_CHANNEL_CLOSED);
    ASSERT_EQ(tofu_channel_peer(other, p.sch, &peer), TOFU_INVALID_CHANNEL_NUMBER);

    ASSERT_OK(tofu_group_destroy(p.se, other));
    ASSERT_EQ(tofu_channel_peer(other, p.listener, &peer), TOFU_SHUTDOWN_STARTED);
    pair_close(&p);
}

/* A Hello channel that never connects has no peer: its connects wait for a
 * server (a retry deadline) that never comes. The number is the group's,
 * so the answer is not_allowed, until the channel fails and closes. */
TRANSPORT_TEST(peer_of_a_channel_not_connected_yet, tcp4, uds) {
    tofu_t_transport t = tofu_t_transport_arg();
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    tofu_t_port_hold hold;
    char value[TOFU_T_ADDR_CAP];
    CLOSED_VALUE(t, &hold, value, sizeof value);
    tofu_msg *m = tofu_t_get(e);
    tofu_msg_set_opcode(m, TOFU_OP_HELLO_REQUEST);
    ASSERT_OK(tofu_msg_add_header(m, TOFU_HDR_CONNECT_TO, value));
    tofu_msg_set_connect_retry(m, 400);
    tofu_bhdr b = POST(g, &m);
    tofu_peer peer;
    ASSERT_EQ(tofu_channel_peer(g, b.channel, &peer), TOFU_NOT_ALLOWED);
    tofu_msg *r = EXPECT_MSG(g, TOFU_OP_HELLO_RESPONSE, tofu_t_refused_status(t));
    tofu_put(e, &r);
    EXPECT_CLOSE(e, g, b.channel, tofu_t_refused_status(t));
    ASSERT_EQ(tofu_channel_peer(g, b.channel, &peer), TOFU_CHANNEL_CLOSED);
    ASSERT_EQ(peer_records(e), 0);
    tofu_t_port_release(&hold);
    ASSERT_OK(tofu_group_destroy(e, g));
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* ------------------------------------------------------------------------ */
/* bounded: one record per open channel                                     */
/* ------------------------------------------------------------------------ */

/* Many channels, each asked once: as many records as open channels, none
 * once they closed (the engine destroy that follows frees nothing left). */
#define PEER_CHANNELS 20
TRANSPORT_TEST(peer_records_follow_the_channels, tcp4, uds) {
    pair p;
    pair_open(&p);
    uint16_t cch[PEER_CHANNELS], sch[PEER_CHANNELS];
    for (int i = 0; i < PEER_CHANNELS; i++) {
        cch[i] = HANDSHAKE(p.ce, p.cg, p.reach, p.se, p.sg, &sch[i]);
        tofu_peer peer;
        ASSERT_OK(tofu_channel_peer(p.sg, sch[i], &peer));
        ASSERT_OK(tofu_channel_peer(p.cg, cch[i], &peer));
    }
    ASSERT_EQ(peer_records(p.se), PEER_CHANNELS);
    ASSERT_EQ(peer_records(p.ce), PEER_CHANNELS);
    for (int i = 0; i < PEER_CHANNELS; i++)
        BYE(p.ce, p.cg, cch[i], p.se, p.sg, sch[i]);
    ASSERT_EQ(peer_records(p.se), 0);
    ASSERT_EQ(peer_records(p.ce), 0);
    pair_close(&p);
}
