/*
 * Threads, sleeping and failing for the examples, and the echo server some
 * of them talk to.
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#endif

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(_WIN32)
#include <time.h>
#endif

/* ---- threads ---- */

#if defined(_WIN32)
static DWORD WINAPI support__trampoline(LPVOID p) {
    ex_thread *t = p;
    t->fn(t->arg);
    return 0;
}
#else
static void *support__trampoline(void *p) {
    ex_thread *t = p;
    t->fn(t->arg);
    return NULL;
}
#endif

void ex_thread_start(ex_thread *t, void (*fn)(void *), void *arg) {
    t->fn = fn;
    t->arg = arg;
#if defined(_WIN32)
    t->handle = CreateThread(NULL, 0, support__trampoline, t, 0, NULL);
    bool ok = t->handle != NULL;
#else
    bool ok = pthread_create(&t->id, NULL, support__trampoline, t) == 0;
#endif
    if (!ok)
        ex_fail("cannot start a thread", TOFU_ALLOCATION_FAILED);
}

void ex_thread_join(ex_thread *t) {
#if defined(_WIN32)
    WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
#else
    pthread_join(t->id, NULL);
#endif
}

void ex_sleep_ms(unsigned ms) {
#if defined(_WIN32)
    Sleep(ms);
#else
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
#endif
}

/* ---- giving up ---- */

void ex_fail(const char *what, tofu_status st) {
    fprintf(stderr, "example: %s: %s\n", what, tofu_status_name(st));
    exit(1);
}

void ex_check(tofu_status st, const char *what) {
    if (st != TOFU_SUCCESS)
        ex_fail(what, st);
}

tofu_msg *ex_wait(tofu_group *g) {
    tofu_msg *m = NULL;
    ex_check(tofu_wait_receive(g, 10 * TOFU_WAIT_SECOND, &m), "wait_receive");
    if (m == NULL)
        ex_fail("nothing arrived within 10 s", TOFU_SUCCESS);
    return m;
}

/* ---- a listener ---- */

uint16_t ex_listen(tofu_engine *e, tofu_group *g, const char *address, char *bound,
                   size_t cap) {
    tofu_address a;
    ex_check(tofu_address_parse(address, strlen(address), &a), "bad listen address");
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    ex_check(tofu_msg_listen(m, &a), "WelcomeRequest");
    tofu_bhdr h;
    ex_check(tofu_post(g, &m, &h), "post WelcomeRequest");

    /* The same message comes back as WelcomeResponse; its ~listen_on now
     * holds the address really bound. */
    m = ex_wait(g);
    if (tofu_msg_opcode(m) != TOFU_OP_WELCOME_RESPONSE || tofu_msg_channel(m) != h.channel)
        ex_fail("expected the WelcomeResponse", tofu_msg_status(m));
    ex_check(tofu_msg_status(m), "listen");
    tofu_header lh;
    if (!tofu_msg_find_header(m, TOFU_HDR_LISTEN_ON, &lh) || lh.value_len >= cap)
        ex_fail("WelcomeResponse without ~listen_on", TOFU_INVALID_MESSAGE);
    memcpy(bound, lh.value, lh.value_len);
    bound[lh.value_len] = '\0';
    tofu_put(e, &m);
    return h.channel;
}

/* ---- the echo server ---- */

/* Answers with the reply opcode, keeping id, headers and body. Returns
 * false on the stop request (a receiver_update Signal from ex_echo_stop). */
static bool support__echo_one(ex_echo *s, tofu_msg *m) {
    tofu_opcode reply;
    bool stop = tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_RECEIVER_UPDATE;
    if (!tofu_msg_from_engine(m) && tofu_op_echo(tofu_msg_opcode(m), &reply) == TOFU_SUCCESS) {
        tofu_msg_set_opcode(m, reply);
        tofu_post(s->g, &m, NULL); /* fails only if the client is gone */
    }
    tofu_put(s->e, &m); /* a no-op after a successful post */
    return !stop;
}

static void support__echo_thread(void *arg) {
    ex_echo *s = arg;
    for (;;) {
        tofu_msg *m = NULL;
        if (tofu_wait_receive(s->g, TOFU_WAIT_INFINITE, &m) != TOFU_SUCCESS)
            return;
        if (m != NULL && !support__echo_one(s, m))
            return;
    }
}

void ex_echo_start(ex_echo *s) {
    ex_check(tofu_engine_create(NULL, &s->e), "engine_create");
    ex_check(tofu_group_create(s->e, &s->g), "group_create");
    ex_listen(s->e, s->g, "tcp|127.0.0.1|0", s->address, sizeof s->address);
    ex_thread_start(&s->thread, support__echo_thread, s);
}

void ex_echo_stop(ex_echo *s) {
    ex_check(tofu_update_receiver(s->g, NULL), "update_receiver");
    ex_thread_join(&s->thread);
    tofu_group_destroy(s->e, s->g);
    tofu_engine_destroy(s->e);
}

/* ---- a client for the server examples ---- */

/* Hello, one Request "ping" whose Response must carry "ping" back, Bye. */
static bool support__client_session(tofu_engine *e, tofu_group *g, const char *address) {
    tofu_address a;
    tofu_bhdr h;
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    if (tofu_address_parse(address, strlen(address), &a) != TOFU_SUCCESS ||
        tofu_msg_connect(m, &a) != TOFU_SUCCESS || tofu_post(g, &m, &h) != TOFU_SUCCESS)
        return false;
    uint16_t ch = h.channel;
    m = ex_wait(g);
    bool ok = tofu_msg_opcode(m) == TOFU_OP_HELLO_RESPONSE && tofu_msg_status(m) == 0;
    tofu_put(e, &m);
    static const tofu_opcode steps[] = {TOFU_OP_REQUEST, TOFU_OP_BYE_REQUEST};
    for (size_t i = 0; ok && i < 2; i++) {
        m = tofu_get(e, TOFU_ALWAYS);
        tofu_msg_set_opcode(m, steps[i]);
        tofu_msg_set_channel(m, ch);
        tofu_msg_append_body(m, "ping", 4);
        ok = tofu_post(g, &m, NULL) == TOFU_SUCCESS;
        m = ok ? ex_wait(g) : m;
        size_t len = 0;
        const void *body = tofu_msg_body(m, &len);
        ok = ok && tofu_msg_status(m) == 0 && len == 4 && memcmp(body, "ping", 4) == 0;
        tofu_put(e, &m);
    }
    m = ok ? ex_wait(g) : NULL; /* the close Signal */
    ok = ok && tofu_msg_status(m) == TOFU_CHANNEL_CLOSED;
    tofu_put(e, &m);
    return ok;
}

static void support__client_thread(void *arg) {
    ex_client *c = arg;
    tofu_engine *e = NULL;
    tofu_group *g = NULL;
    if (tofu_engine_create(NULL, &e) == TOFU_SUCCESS && tofu_group_create(e, &g) == TOFU_SUCCESS)
        c->ok = support__client_session(e, g, c->address);
    if (g != NULL)
        tofu_group_destroy(e, g);
    tofu_engine_destroy(e);
}

void ex_client_start(ex_client *c, const char *address) {
    memset(c, 0, sizeof *c);
    snprintf(c->address, sizeof c->address, "%s", address);
    ex_thread_start(&c->thread, support__client_thread, c);
}

bool ex_client_finish(ex_client *c) {
    ex_thread_join(&c->thread);
    return c->ok;
}
