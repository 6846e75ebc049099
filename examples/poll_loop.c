/*
 * A group inside an application's own event loop, with poll(2): the loop
 * waits on the group's descriptor (tofu_group_fd) next to whatever else it
 * watches, and when it is readable takes what is queued without blocking
 * (tofu_receive_many). Nothing here waits in tofu_wait_receive.
 *
 * One thread, one engine, two groups: an echo server and a client that
 * sends ROUNDS Requests one after the other. The descriptor is
 * level-triggered: readable exactly while messages are queued, so taking
 * only part of them is fine (the next poll returns at once).
 * Exits 0 when every Response came back, in order.
 *
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tofu.h"

#define ROUNDS 100

typedef struct app {
    tofu_engine *e;
    tofu_group *server, *client;
    uint16_t channel; /* the client's connection */
    int answered;
} app;

/* The server's part: echo every Request, HelloRequest and ByeRequest. */
static void serve(app *a, tofu_msg *m) {
    tofu_opcode reply;
    if (!tofu_msg_from_engine(m) && tofu_op_echo(tofu_msg_opcode(m), &reply) == TOFU_SUCCESS) {
        tofu_msg_set_opcode(m, reply);
        ex_check(tofu_post(a->server, &m, NULL), "post reply");
        return;
    }
    tofu_put(a->e, &m);
}

static void ask(app *a) {
    char text[32];
    int n = snprintf(text, sizeof text, "question %d", a->answered);
    tofu_msg *m = tofu_get(a->e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, a->channel);
    ex_check(tofu_msg_append_body(m, text, (size_t)n), "body");
    ex_check(tofu_post(a->client, &m, NULL), "post Request");
}

/* The client's part: the HelloResponse starts the questions, each Response
 * asks the next. */
static void on_answer(app *a, tofu_msg *m) {
    ex_check(tofu_msg_status(m), "answer");
    if (tofu_msg_opcode(m) == TOFU_OP_RESPONSE)
        a->answered++;
    tofu_put(a->e, &m);
    if (a->answered < ROUNDS)
        ask(a);
}

/* Everything queued right now, without waiting. */
static void drain(app *a, tofu_group *g, void (*handle)(app *, tofu_msg *)) {
    tofu_msg *batch[16];
    size_t n = 0;
    ex_check(tofu_receive_many(g, 0, batch, 16, &n), "receive_many");
    for (size_t i = 0; i < n; i++)
        handle(a, batch[i]);
}

int main(void) {
    app a = {0};
    char address[300];
    ex_check(tofu_engine_create(NULL, &a.e), "engine_create");
    ex_check(tofu_group_create(a.e, &a.server), "group_create");
    ex_check(tofu_group_create(a.e, &a.client), "group_create");
    ex_listen(a.e, a.server, "tcp|127.0.0.1|0", address, sizeof address);

    struct pollfd fds[2] = {{0, POLLIN, 0}, {0, POLLIN, 0}};
    ex_check(tofu_group_fd(a.server, &fds[0].fd), "group_fd");
    ex_check(tofu_group_fd(a.client, &fds[1].fd), "group_fd");

    tofu_address to;
    tofu_bhdr h;
    ex_check(tofu_address_parse(address, strlen(address), &to), "address");
    tofu_msg *m = tofu_get(a.e, TOFU_ALWAYS);
    ex_check(tofu_msg_connect(m, &to), "HelloRequest");
    ex_check(tofu_post(a.client, &m, &h), "post HelloRequest");
    a.channel = h.channel;

    while (a.answered < ROUNDS) {
        int r = poll(fds, 2, 10000); /* a long wait would be a bug */
        if (r <= 0)
            ex_fail("poll: nothing for 10 s", TOFU_UNKNOWN_ERROR);
        if (fds[0].revents & POLLIN)
            drain(&a, a.server, serve);
        if (fds[1].revents & POLLIN)
            drain(&a, a.client, on_answer);
    }
    printf("poll_loop: %d Responses, in one poll(2) loop\n", a.answered);
    tofu_engine_destroy(a.e); /* closes the channels and the descriptors */
    return 0;
}
