/*
 * A group inside a libuv loop: a uv_poll_t watches the group's descriptor
 * (tofu_group_fd) for UV_READABLE, and its callback takes what is queued
 * without blocking (tofu_receive_many). libuv polls level-triggered on
 * every platform, which is what the descriptor offers: readable exactly
 * while messages are queued.
 *
 * One thread, one engine, two groups (an echo server and a client that
 * sends ROUNDS Requests one after the other), a timer that gives up after
 * 10 s. Built only where pkg-config finds libuv (Debian: libuv1-dev).
 * Exits 0 when every Response came back.
 *
 * SPDX-License-Identifier: MIT
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* uv.h uses pthread types under -std=c11 */
#endif
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "support.h"
#include "tofu.h"

#define ROUNDS 100

typedef struct app {
    tofu_engine *e;
    tofu_group *server, *client;
    uv_poll_t server_watch, client_watch;
    uv_timer_t give_up;
    uint16_t channel;
    int answered;
} app;

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
    tofu_msg *m = tofu_get(a->e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, a->channel);
    ex_check(tofu_msg_append_body(m, "question", 8), "body");
    ex_check(tofu_post(a->client, &m, NULL), "post Request");
}

static void stop(app *a) {
    uv_poll_stop(&a->server_watch);
    uv_poll_stop(&a->client_watch);
    uv_timer_stop(&a->give_up);
}

static void on_answer(app *a, tofu_msg *m) {
    ex_check(tofu_msg_status(m), "answer");
    if (tofu_msg_opcode(m) == TOFU_OP_RESPONSE)
        a->answered++;
    tofu_put(a->e, &m);
    if (a->answered < ROUNDS)
        ask(a);
    else
        stop(a); /* nothing left to watch: uv_run returns */
}

static void drain(app *a, tofu_group *g, void (*handle)(app *, tofu_msg *)) {
    tofu_msg *batch[16];
    size_t n = 0;
    ex_check(tofu_receive_many(g, 0, batch, 16, &n), "receive_many");
    for (size_t i = 0; i < n; i++)
        handle(a, batch[i]);
}

static void on_server(uv_poll_t *w, int status, int events) {
    if (status == 0 && (events & UV_READABLE))
        drain(w->data, ((app *)w->data)->server, serve);
}

static void on_client(uv_poll_t *w, int status, int events) {
    if (status == 0 && (events & UV_READABLE))
        drain(w->data, ((app *)w->data)->client, on_answer);
}

static void on_give_up(uv_timer_t *t) {
    (void)t;
    ex_fail("libuv_loop: nothing for 10 s", TOFU_UNKNOWN_ERROR);
}

/* uv_poll_init on POSIX takes an fd, uv_poll_init_socket on Windows a
 * SOCKET: tofu_fd is the one or the other. */
static void watch(uv_loop_t *loop, uv_poll_t *w, tofu_group *g, app *a, uv_poll_cb cb) {
    tofu_fd fd;
    ex_check(tofu_group_fd(g, &fd), "group_fd");
#if defined(_WIN32)
    int r = uv_poll_init_socket(loop, w, (uv_os_sock_t)fd);
#else
    int r = uv_poll_init(loop, w, fd);
#endif
    if (r != 0 || uv_poll_start(w, UV_READABLE, cb) != 0)
        ex_fail("uv_poll", TOFU_UNKNOWN_ERROR);
    w->data = a;
}

int main(void) {
    app a = {0};
    char address[300];
    uv_loop_t *loop = uv_default_loop();
    ex_check(tofu_engine_create(NULL, &a.e), "engine_create");
    ex_check(tofu_group_create(a.e, &a.server), "group_create");
    ex_check(tofu_group_create(a.e, &a.client), "group_create");
    ex_listen(a.e, a.server, "tcp|127.0.0.1|0", address, sizeof address);
    watch(loop, &a.server_watch, a.server, &a, on_server);
    watch(loop, &a.client_watch, a.client, &a, on_client);
    uv_timer_init(loop, &a.give_up);
    uv_timer_start(&a.give_up, on_give_up, 10000, 0);

    tofu_address to;
    tofu_bhdr h;
    ex_check(tofu_address_parse(address, strlen(address), &to), "address");
    tofu_msg *m = tofu_get(a.e, TOFU_ALWAYS);
    ex_check(tofu_msg_connect(m, &to), "HelloRequest");
    ex_check(tofu_post(a.client, &m, &h), "post HelloRequest");
    a.channel = h.channel;

    uv_run(loop, UV_RUN_DEFAULT);
    printf("libuv_loop: %d Responses, in a libuv loop\n", a.answered);
    /* The handles go before the descriptors they watch (engine destroy). */
    uv_close((uv_handle_t *)&a.server_watch, NULL);
    uv_close((uv_handle_t *)&a.client_watch, NULL);
    uv_close((uv_handle_t *)&a.give_up, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    tofu_engine_destroy(a.e);
    return a.answered == ROUNDS ? 0 : 1;
}
