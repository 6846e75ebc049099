/*
 * Dead peers behind a real partition (Linux only, root): two network
 * namespaces joined by a veth pair, one engine in each, a channel between
 * them; then the link is cut so that nothing crosses it any more and no
 * FIN or reset reaches either side (a `blackhole` qdisc on both ends: it
 * drops every packet and tells the sender it went out, so TCP sees no
 * error of its own). Each case asserts that the channels end with the
 * documented close Signal within the configured bound, and prints how long
 * detection took.
 *
 * The engines' I/O threads are started from a thread that entered the
 * namespace (setns), so they and every socket they create live there;
 * the test thread goes back to its own namespace after each create.
 *
 * Every case skips (exit 77, with the reason) where it cannot build the
 * set-up: not root, no `ip` (iproute2), no namespaces or veth, no
 * blackhole qdisc. It is the one test file with OS headers (Linux only,
 * tests/CMakeLists.txt).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_util.h"

#define NETNS_SERVER_IP "10.213.7.2"
#define NETNS_CLIENT_IP "10.213.7.1"

/* Slack over a configured bound: keepalive counts whole seconds, the
 * kernel's timers fire late by a tick or so, and CI machines are busy. */
#define NETNS_SLACK_MS 3000u

static char netns_a[32], netns_b[32]; /* client, server */
static char netns_va[16], netns_vb[16];
static bool netns_made_a, netns_made_b;

/* Runs a shell command quietly; true when it succeeded. */
TOFU_T_PRINTF_LIKE(1, 2)
static bool netns_sh(const char *fmt, ...) {
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char quiet[600];
    snprintf(quiet, sizeof quiet, "%s >/dev/null 2>&1", cmd);
    return system(quiet) == 0;
}

/* Deleting a namespace takes its end of the veth pair, and with it the
 * other end. */
static void netns_cleanup(void) {
    if (netns_made_a)
        netns_sh("ip netns del %s", netns_a);
    if (netns_made_b)
        netns_sh("ip netns del %s", netns_b);
    netns_made_a = netns_made_b = false;
}

static void netns_setup(void) {
    if (geteuid() != 0)
        tofu_t_skip("needs root to create network namespaces (runs as root in CI)");
    if (!netns_sh("ip -V"))
        tofu_t_skip("needs ip (iproute2)");
    unsigned long pid = tofu_t_pid();
    snprintf(netns_a, sizeof netns_a, "tofu%lua", pid);
    snprintf(netns_b, sizeof netns_b, "tofu%lub", pid);
    snprintf(netns_va, sizeof netns_va, "tv%lua", pid % 10000000ul);
    snprintf(netns_vb, sizeof netns_vb, "tv%lub", pid % 10000000ul);
    atexit(netns_cleanup);
    netns_made_a = netns_sh("ip netns add %s", netns_a);
    if (!netns_made_a)
        tofu_t_skip("cannot create network namespaces (ip netns add failed)");
    netns_made_b = netns_sh("ip netns add %s", netns_b);
    if (!netns_made_b ||
        !netns_sh("ip link add name %s netns %s type veth peer name %s netns %s", netns_va,
                  netns_a, netns_vb, netns_b))
        tofu_t_skip("cannot create a veth pair between two namespaces");
    ASSERT_TRUE(netns_sh("ip -n %s addr add " NETNS_CLIENT_IP "/24 dev %s", netns_a, netns_va));
    ASSERT_TRUE(netns_sh("ip -n %s addr add " NETNS_SERVER_IP "/24 dev %s", netns_b, netns_vb));
    ASSERT_TRUE(netns_sh("ip -n %s link set %s up", netns_a, netns_va));
    ASSERT_TRUE(netns_sh("ip -n %s link set %s up", netns_b, netns_vb));
}

/* The partition: every packet either way vanishes, silently. */
static void netns_cut(void) {
    if (!netns_sh("ip netns exec %s tc qdisc add dev %s root blackhole", netns_a, netns_va) ||
        !netns_sh("ip netns exec %s tc qdisc add dev %s root blackhole", netns_b, netns_vb))
        tofu_t_skip("cannot cut the link silently (no blackhole qdisc: tc, sch_blackhole)");
}

/* An engine whose I/O thread (and so every socket it opens) lives in
 * namespace ns. */
static tofu_engine *netns_engine(const char *ns, const tofu_options *opt) {
    char path[96];
    snprintf(path, sizeof path, "/var/run/netns/%s", ns);
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int there = open(path, O_RDONLY | O_CLOEXEC);
    ASSERT_TRUE(self >= 0 && there >= 0);
    ASSERT_EQ_I(setns(there, CLONE_NEWNET), 0);
    tofu_engine *e = tofu_t_engine_with(opt);
    ASSERT_EQ_I(setns(self, CLONE_NEWNET), 0);
    close(there);
    close(self);
    return e;
}

typedef struct netns_pair {
    tofu_engine *ce, *se;
    tofu_group *cg, *sg;
    uint16_t cch, sch;
} netns_pair;

/* Both engines with the same options, a channel from the client's
 * namespace to a listener in the server's. */
static void netns_open(netns_pair *p, const tofu_options *opt) {
    netns_setup();
    p->ce = netns_engine(netns_a, opt);
    p->se = netns_engine(netns_b, opt);
    p->cg = tofu_t_group(p->ce);
    p->sg = tofu_t_group(p->se);
    tofu_address bound;
    uint16_t listener = LISTEN(p->se, p->sg, "tcp|" NETNS_SERVER_IP "|0", &bound);
    (void)listener;
    char reach[96];
    snprintf(reach, sizeof reach, "tcp|" NETNS_SERVER_IP "|%u", (unsigned)bound.port);
    p->cch = HANDSHAKE(p->ce, p->cg, reach, p->se, p->sg, &p->sch);
}

static void netns_close(netns_pair *p) {
    tofu_engine_destroy(p->ce);
    tofu_engine_destroy(p->se);
    netns_cleanup();
    ASSERT_NO_LEAKS();
}

static bool netns_limit_is(const tofu_msg *m, const char *want) {
    tofu_header h;
    if (!tofu_msg_find_header(m, TOFU_HDR_LIMIT, &h))
        return false;
    return h.value_len == strlen(want) && memcmp(h.value, want, h.value_len) == 0;
}

/* Waits at most bound_ms for channel ch's close Signal: communication_failed
 * with ~limit `limit`. Returns how long it took since `since`. */
static uint64_t netns_expect_dead_at(tofu_engine *e, tofu_group *g, uint16_t ch, const char *limit,
                                     uint64_t since, uint32_t bound_ms, const char *file,
                                     int line) {
    tofu_msg *m = tofu_t_poll_msg(g, bound_ms);
    if (m == NULL)
        tofu_t_fail(file, line, "the channel lived on past %u ms after the cut", bound_ms);
    uint64_t took = (tofui_clock_ns() - since) / 1000000u;
    tofu_t_check_close_at(m, ch, 0, TOFU_COMMUNICATION_FAILED, file, line);
    if (!netns_limit_is(m, limit))
        tofu_t_fail_msg_at(limit, m, file, line);
    tofu_put(e, &m);
    return took;
}
#define EXPECT_DEAD(e, g, ch, limit, since, bound) \
    netns_expect_dead_at((e), (g), (ch), (limit), (since), (bound), __FILE__, __LINE__)

static void netns_options(tofu_options *o) {
    tofu_options_init(o);
    o->keepalive_idle_ms = TOFU_TIMEOUT_NONE;
    o->user_timeout_ms = TOFU_TIMEOUT_NONE;
}

/* Keepalive alone (no user timeout): both idle sides send their probes
 * into the void and give up after idle + interval x count, ~limit
 * keepalive_count. */
TEST(keepalive_ends_idle_channels) {
    tofu_options o;
    netns_options(&o);
    o.keepalive_idle_ms = 1000;
    o.keepalive_interval_ms = 1000;
    o.keepalive_count = 2;
    netns_pair p;
    netns_open(&p, &o);
    netns_cut();
    uint64_t t0 = tofui_clock_ns();
    uint32_t bound = 1000 + 2 * 1000 + NETNS_SLACK_MS;
    uint64_t c = EXPECT_DEAD(p.ce, p.cg, p.cch, "keepalive_count", t0, bound);
    uint64_t s = EXPECT_DEAD(p.se, p.sg, p.sch, "keepalive_count", t0, bound);
    printf("keepalive 1 s + 2 x 1 s: client noticed after %llu ms, server after %llu ms\n",
           (unsigned long long)c, (unsigned long long)s);
    netns_close(&p);
}

/* The defaults' shape: keepalive with the user timeout derived from it
 * (idle + interval x count): on Linux the user timeout then decides when
 * an unanswered keepalive ends the connection, ~limit user_timeout_ms. */
TEST(keepalive_with_derived_user_timeout) {
    tofu_options o;
    tofu_options_init(&o);
    o.keepalive_idle_ms = 1000;
    o.keepalive_interval_ms = 500;
    o.keepalive_count = 2;
    netns_pair p;
    netns_open(&p, &o);
    netns_cut();
    uint64_t t0 = tofui_clock_ns();
    uint32_t bound = 2000 + NETNS_SLACK_MS;
    uint64_t c = EXPECT_DEAD(p.ce, p.cg, p.cch, "user_timeout_ms", t0, bound);
    uint64_t s = EXPECT_DEAD(p.se, p.sg, p.sch, "user_timeout_ms", t0, bound);
    printf("keepalive 1 s + 2 x 0.5 s, user timeout 2 s: client noticed after %llu ms, server "
           "after %llu ms\n",
           (unsigned long long)c, (unsigned long long)s);
    netns_close(&p);
}

/* The user timeout alone: the side with unacknowledged data gives up on
 * its peer after user_timeout_ms; the idle side, without keepalive or an
 * idle timeout, has nothing to notice. */
TEST(user_timeout_ends_channel_with_unacked_data) {
    tofu_options o;
    netns_options(&o);
    o.user_timeout_ms = 2000;
    netns_pair p;
    netns_open(&p, &o);
    netns_cut();
    uint64_t t0 = tofui_clock_ns();
    tofu_msg *m = tofu_t_get(p.ce);
    tofu_msg_set_opcode(m, TOFU_OP_SIGNAL);
    tofu_msg_set_channel(m, p.cch);
    ASSERT_OK(tofu_msg_append_body(m, "lost", 4));
    POST(p.cg, &m);
    uint64_t c = EXPECT_DEAD(p.ce, p.cg, p.cch, "user_timeout_ms", t0, 2000 + NETNS_SLACK_MS);
    printf("user timeout 2 s, data unacknowledged: client noticed after %llu ms\n",
           (unsigned long long)c);
    EXPECT_NOTHING(p.sg, 500); /* the idle server: nothing tells it */
    netns_close(&p);
}

/* The idle timeout: no frame for idle_timeout_ms ends the channel on
 * both sides, whatever TCP knows (here: nothing). */
TEST(idle_timeout_ends_silent_channels) {
    tofu_options o;
    netns_options(&o);
    o.idle_timeout_ms = 2000;
    netns_pair p;
    netns_open(&p, &o);
    netns_cut();
    uint64_t t0 = tofui_clock_ns();
    uint32_t bound = 2000 + NETNS_SLACK_MS;
    uint64_t c = EXPECT_DEAD(p.ce, p.cg, p.cch, "idle_timeout_ms", t0, bound);
    uint64_t s = EXPECT_DEAD(p.se, p.sg, p.sch, "idle_timeout_ms", t0, bound);
    printf("idle timeout 2 s: client noticed after %llu ms, server after %llu ms\n",
           (unsigned long long)c, (unsigned long long)s);
    netns_close(&p);
}

/* Without any of it (keepalive, user timeout and idle timeout off), an
 * idle channel behind a partition lives on: what the options are for.
 * Bounded to a few seconds: only shows that nothing else ends it. */
TEST(without_options_idle_channels_live_on) {
    tofu_options o;
    netns_options(&o);
    netns_pair p;
    netns_open(&p, &o);
    netns_cut();
    EXPECT_NOTHING(p.cg, 3000);
    EXPECT_NOTHING(p.sg, 100);
    netns_close(&p);
}
