/*
 * A first tofu server: listens, answers each HelloRequest, echoes each
 * Request as a Response, answers each ByeRequest, and ends when its first
 * client has gone.
 *
 *   first_server [ADDRESS]     ADDRESS like tcp|127.0.0.1|7099 or uds|/tmp/s.sock
 *
 * Without ADDRESS it listens on a free port and starts a small client of its
 * own (examples/support.c), so that it runs as a self-contained test. With
 * ADDRESS, talk to it with e.g. `tofucat connect tcp://127.0.0.1:7099 --data hi`.
 */
#include <stdio.h>

#include "support.h"
#include "tofu.h"

/* Answers one message from a client. The reply is the same message with
 * the reply opcode: it keeps the channel, the message id (which is how
 * the client matches it), the headers and the body. */
static void serve_one(tofu_group *g, tofu_msg **m) {
    tofu_opcode reply;
    switch (tofu_msg_opcode(*m)) {
    case TOFU_OP_HELLO_REQUEST: /* a client connected */
    case TOFU_OP_REQUEST:
    case TOFU_OP_BYE_REQUEST: /* the client is closing */
        tofu_op_echo(tofu_msg_opcode(*m), &reply);
        tofu_msg_set_opcode(*m, reply);
        /* On success the engine owns the message and *m becomes NULL. */
        tofu_post(g, m, NULL);
        break;
    default:
        break;
    }
}

int main(int argc, char **argv) {
    tofu_engine *e = NULL;
    tofu_group *g = NULL;
    ex_check(tofu_engine_create(NULL, &e), "engine_create");
    ex_check(tofu_group_create(e, &g), "group_create");

    char bound[300];
    uint16_t listener = ex_listen(e, g, argc > 1 ? argv[1] : "tcp|127.0.0.1|0", bound,
                                  sizeof bound);
    printf("first_server: listening on %s\n", bound);
    fflush(stdout);

    ex_client self_test;
    if (argc <= 1)
        ex_client_start(&self_test, bound);

    /* Every message of every channel of this group arrives here. The last
     * message of a channel is the engine's close Signal. */
    bool client_gone = false;
    while (!client_gone) {
        tofu_msg *m = ex_wait(g);
        if (tofu_msg_from_engine(m)) {
            client_gone = tofu_msg_opcode(m) == TOFU_OP_SIGNAL &&
                          tofu_msg_status(m) == TOFU_CHANNEL_CLOSED &&
                          tofu_msg_channel(m) != listener;
        } else {
            printf("first_server: %s on channel %u\n", tofu_op_name(tofu_msg_opcode(m)),
                   (unsigned)tofu_msg_channel(m));
            serve_one(g, &m);
        }
        tofu_put(e, &m); /* what we still hold goes back to the pool */
    }

    bool ok = argc > 1 || ex_client_finish(&self_test);
    tofu_group_destroy(e, g); /* closes the listener too */
    tofu_engine_destroy(e);
    printf("first_server: %s\n", ok ? "done" : "the client saw something wrong");
    return ok ? 0 : 1;
}
