/*
 * Access control by user over a Unix socket: a server that answers the
 * HelloRequest of a client only when the client runs as a given user, and
 * aborts every other channel before anything of it is served.
 *
 *   uid_gate [PATH [UID]]    listen on uds|PATH, admit UID (default: our own)
 *
 * The kernel tells who is on the other end of a Unix socket (on Linux the
 * uid, gid and pid; see docs/platforms.md for the others), and
 * tofu_channel_peer gives it to the application with the channel's first
 * message: nothing is sent for it and a client cannot lie about it.
 *
 * Without arguments it runs as a self-contained test: it admits its own uid
 * and checks that a client is served; then it admits only another uid and
 * checks that the same client is refused (its HelloResponse comes back
 * from its engine with a failure status, the connection is gone).
 * POSIX only (uids).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "tofu.h"

typedef struct gate {
    tofu_engine *e;
    tofu_group *g;
    _Atomic int64_t allowed_uid; /* the self-test changes it between clients */
    _Atomic int admitted;
    _Atomic int refused;
    ex_thread thread;
} gate;

/* Only the kernel's word counts: a channel whose peer is unknown (no
 * credentials on this platform, TCP) is refused like a stranger. */
static bool gate_admits(gate *gt, uint16_t channel) {
    tofu_peer peer;
    if (tofu_channel_peer(gt->g, channel, &peer) != TOFU_SUCCESS || !peer.has_credentials)
        return false;
    printf("uid_gate: channel %u: uid %lld, gid %lld, pid %lld\n", (unsigned)channel,
           (long long)peer.uid, (long long)peer.gid, (long long)peer.pid);
    return peer.uid != -1 && peer.uid == atomic_load(&gt->allowed_uid);
}

/* A ByeSignal with bit 6 set aborts the channel at once: nothing more is
 * sent on it, the peer sees its connection end. */
static void gate_abort(gate *gt, uint16_t channel) {
    tofu_msg *m = tofu_get(gt->e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(m, channel);
    tofu_msg_bhdr(m)->internal_a = true;
    if (tofu_post(gt->g, &m, NULL) != TOFU_SUCCESS)
        tofu_put(gt->e, &m); /* the channel is gone already */
}

/* Answers a message with its reply opcode (as first_server.c). Anything
 * of a refused channel that came in before the abort finds the channel
 * closed: the post fails and the message stays ours. */
static void gate_reply(gate *gt, tofu_msg **m) {
    tofu_opcode reply;
    if (tofu_op_echo(tofu_msg_opcode(*m), &reply) != TOFU_SUCCESS)
        return;
    tofu_msg_set_opcode(*m, reply);
    tofu_post(gt->g, m, NULL);
}

/* Serves until tofu_update_receiver says stop (or the group goes). */
static void gate_serve(void *arg) {
    gate *gt = arg;
    for (;;) {
        tofu_msg *m = NULL;
        if (tofu_wait_receive(gt->g, TOFU_WAIT_INFINITE, &m) != TOFU_SUCCESS)
            return;
        if (tofu_msg_status(m) == TOFU_RECEIVER_UPDATE) {
            tofu_put(gt->e, &m);
            return;
        }
        if (tofu_msg_opcode(m) == TOFU_OP_HELLO_REQUEST && !tofu_msg_from_engine(m)) {
            uint16_t ch = tofu_msg_channel(m);
            if (gate_admits(gt, ch)) {
                atomic_fetch_add(&gt->admitted, 1);
                gate_reply(gt, &m);
            } else {
                printf("uid_gate: channel %u refused\n", (unsigned)ch);
                atomic_fetch_add(&gt->refused, 1);
                gate_abort(gt, ch);
            }
        } else if (!tofu_msg_from_engine(m)) {
            gate_reply(gt, &m);
        }
        tofu_put(gt->e, &m);
    }
}

/* ---- the self-test's refused client ---- */

/* Connects and expects the HelloResponse to come back from the engine
 * with a failure (the server aborted the channel). */
static bool refused_client(const char *address) {
    tofu_engine *e = NULL;
    tofu_group *g = NULL;
    ex_check(tofu_engine_create(NULL, &e), "engine_create");
    ex_check(tofu_group_create(e, &g), "group_create");
    tofu_address a;
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    ex_check(tofu_address_parse(address, strlen(address), &a), "address_parse");
    ex_check(tofu_msg_connect(m, &a), "msg_connect");
    ex_check(tofu_post(g, &m, NULL), "post Hello");
    m = ex_wait(g);
    bool refused = tofu_msg_opcode(m) == TOFU_OP_HELLO_RESPONSE && tofu_msg_from_engine(m) &&
                   tofu_msg_status(m) != TOFU_SUCCESS;
    printf("uid_gate: the client's HelloResponse: %s\n", tofu_status_name(tofu_msg_status(m)));
    tofu_put(e, &m);
    tofu_group_destroy(e, g);
    tofu_engine_destroy(e);
    return refused;
}

static bool self_test(gate *gt, const char *bound) {
    ex_client allowed;
    ex_client_start(&allowed, bound);
    bool ok = ex_client_finish(&allowed);
    printf("uid_gate: a client of our uid was %s\n", ok ? "served" : "NOT served");
    /* Now admit only another user: the same client must be refused. */
    atomic_store(&gt->allowed_uid, (int64_t)getuid() + 1);
    bool refused = refused_client(bound);
    printf("uid_gate: a client of another uid was %s\n", refused ? "refused" : "NOT refused");
    return ok && refused && atomic_load(&gt->admitted) == 1 && atomic_load(&gt->refused) == 1;
}

int main(int argc, char **argv) {
    char address[300];
    if (argc > 1)
        snprintf(address, sizeof address, "uds|%s", argv[1]);
    else
        snprintf(address, sizeof address, "uds|%s/uid_gate-%ld.sock",
                 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp", (long)getpid());

    gate gt;
    memset(&gt, 0, sizeof gt);
    atomic_init(&gt.allowed_uid, argc > 2 ? strtoll(argv[2], NULL, 10) : (int64_t)getuid());
    atomic_init(&gt.admitted, 0);
    atomic_init(&gt.refused, 0);
    ex_check(tofu_engine_create(NULL, &gt.e), "engine_create");
    ex_check(tofu_group_create(gt.e, &gt.g), "group_create");
    char bound[300];
    ex_listen(gt.e, gt.g, address, bound, sizeof bound);
    printf("uid_gate: listening on %s, admitting uid %lld\n", bound,
           (long long)atomic_load(&gt.allowed_uid));
    fflush(stdout);

    bool ok = true;
    if (argc > 1) {
        gate_serve(&gt); /* until killed */
    } else {
        ex_thread_start(&gt.thread, gate_serve, &gt);
        ok = self_test(&gt, bound);
        ex_check(tofu_update_receiver(gt.g, NULL), "update_receiver");
        ex_thread_join(&gt.thread);
    }
    tofu_group_destroy(gt.e, gt.g); /* closes the listener, removes its file */
    tofu_engine_destroy(gt.e);
    printf("uid_gate: %s\n", ok ? "done" : "FAILED");
    return ok ? 0 : 1;
}
