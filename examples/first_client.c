/*
 * A first tofu client: connects, sends one Request, prints the Response,
 * closes gracefully.
 *
 *   first_client [ADDRESS]     ADDRESS like tcp|127.0.0.1|7099 or uds|/tmp/s.sock
 *
 * Without ADDRESS it starts an echo server of its own on a free port
 * (examples/support.c), so that it runs as a self-contained test. With
 * ADDRESS, run a server first, e.g. `tofucat listen tcp://127.0.0.1:7099 --echo`.
 */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tofu.h"

/* Waits for the message answering `id` on our channel. Anything else here
 * would be unexpected in this small program. */
static tofu_msg *wait_answer(tofu_group *g, tofu_opcode op, uint64_t id) {
    tofu_msg *m = ex_wait(g);
    if (tofu_msg_opcode(m) != op || tofu_msg_id(m) != id)
        ex_fail("unexpected message", tofu_msg_status(m));
    /* A HelloResponse made by the engine (origin engine) means the connect
     * failed; its status says why (connect_failed, uds_path_not_found...). */
    ex_check(tofu_msg_status(m), tofu_op_name(op));
    return m;
}

/* 1. Connect: a HelloRequest with a ~connect_to header. Posting it assigns
 *    our channel number and the message id; the server's HelloResponse
 *    carries the same id. Returns the channel. */
static uint16_t connect_to(tofu_engine *e, tofu_group *g, const char *address) {
    tofu_address a;
    tofu_bhdr h;
    ex_check(tofu_address_parse(address, strlen(address), &a), "bad address");
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    ex_check(tofu_msg_connect(m, &a), "HelloRequest");
    ex_check(tofu_post(g, &m, &h), "post HelloRequest"); /* m is NULL now */
    m = wait_answer(g, TOFU_OP_HELLO_RESPONSE, h.message_id);
    tofu_put(e, &m);
    printf("first_client: connected to %s (channel %u)\n", address, (unsigned)h.channel);
    return h.channel;
}

/* 2. A Request on the channel; the Response carries the same id. Returns
 *    true when the answer is the question (the server echoes). */
static bool ask(tofu_engine *e, tofu_group *g, uint16_t channel, const char *question) {
    tofu_bhdr h;
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, channel);
    ex_check(tofu_msg_add_header(m, "content-type", "text/plain"), "add_header");
    ex_check(tofu_msg_append_body(m, question, strlen(question)), "append_body");
    ex_check(tofu_post(g, &m, &h), "post Request");
    m = wait_answer(g, TOFU_OP_RESPONSE, h.message_id);
    size_t len = 0;
    const char *answer = tofu_msg_body(m, &len);
    printf("first_client: Response: %.*s\n", (int)len, answer);
    bool ok = len == strlen(question) && memcmp(answer, question, len) == 0;
    tofu_put(e, &m); /* received messages go back to the pool */
    return ok;
}

/* 3. Close: ByeRequest, the server's ByeResponse, then the engine's close
 *    Signal, the last message of every channel. */
static bool close_channel(tofu_engine *e, tofu_group *g, uint16_t channel) {
    tofu_bhdr h;
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_REQUEST);
    tofu_msg_set_channel(m, channel);
    ex_check(tofu_post(g, &m, &h), "post ByeRequest");
    m = wait_answer(g, TOFU_OP_BYE_RESPONSE, h.message_id);
    tofu_put(e, &m);
    m = ex_wait(g);
    bool ok = tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_CHANNEL_CLOSED;
    tofu_put(e, &m);
    return ok;
}

int main(int argc, char **argv) {
    ex_echo server;
    const char *address = argc > 1 ? argv[1] : NULL;
    if (address == NULL) {
        ex_echo_start(&server);
        address = server.address;
    }

    tofu_engine *e = NULL;
    tofu_group *g = NULL;
    ex_check(tofu_engine_create(NULL, &e), "engine_create");
    ex_check(tofu_group_create(e, &g), "group_create");
    uint16_t channel = connect_to(e, g, address);
    bool ok = ask(e, g, channel, "hello, tofu");
    ok = close_channel(e, g, channel) && ok;
    tofu_group_destroy(e, g);
    tofu_engine_destroy(e);

    if (argc <= 1)
        ex_echo_stop(&server);
    printf("first_client: %s\n", ok ? "done" : "unexpected answer");
    return ok ? 0 : 1;
}
