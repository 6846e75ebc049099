/*
 * The demo's echo server: one group with two listeners, one thread that
 * answers every HelloRequest, Request and ByeRequest with the reply opcode
 * (same message: id, headers and body unchanged) and sends Signals back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

/* Posts a WelcomeRequest for `value` and waits for its WelcomeResponse;
 * `bound` receives the ~connect_to value that reaches the listener. */
static tofu_status server__listen(demo_server *s, const char *value, char *bound, size_t cap) {
    tofu_address a;
    tofu_status st = tofu_address_parse(value, strlen(value), &a);
    tofu_msg *m = tofu_get(s->e, TOFU_ALWAYS);
    if (st == TOFU_SUCCESS)
        st = m == NULL ? TOFU_ALLOCATION_FAILED : tofu_msg_listen(m, &a);
    if (st == TOFU_SUCCESS)
        st = tofu_post(s->g, &m, NULL);
    tofu_put(s->e, &m); /* no-op after a successful post */
    if (st != TOFU_SUCCESS)
        return st;
    st = tofu_wait_receive(s->g, DEMO_WAIT_NS, &m);
    if (st == TOFU_SUCCESS && m == NULL)
        st = TOFU_LISTEN_FAILED;
    if (st == TOFU_SUCCESS)
        st = tofu_msg_status(m);
    tofu_header h;
    if (st == TOFU_SUCCESS && !tofu_msg_find_header(m, TOFU_HDR_LISTEN_ON, &h))
        st = TOFU_INVALID_MESSAGE;
    if (st == TOFU_SUCCESS && h.value_len < cap) {
        memcpy(bound, h.value, h.value_len);
        bound[h.value_len] = '\0';
    }
    tofu_put(s->e, &m);
    return st;
}

/* A socket file in the temporary directory, unique for this run. */
static void server__uds_path(char *buf, size_t cap) {
    const char *dir = getenv("TMPDIR");
    unsigned long long stamp = (unsigned long long)(demo_clock_ns() % 1000000007ull);
    /* A long TMPDIR would not fit sun_path; /tmp always does. */
    if (dir == NULL || strlen(dir) > 60)
        dir = "/tmp";
    snprintf(buf, cap, "uds|%s/tofu-demo-%llu.sock", dir, stamp);
}

static bool server__echo(demo_server *s, tofu_msg **m) {
    tofu_opcode reply;
    if (tofu_msg_from_engine(*m)) /* close Signals of finished clients */
        return tofu_msg_status(*m) != TOFU_RECEIVER_UPDATE;
    if (tofu_op_echo(tofu_msg_opcode(*m), &reply) != TOFU_SUCCESS)
        return true;
    tofu_msg_set_opcode(*m, reply);
    tofu_post(s->g, m, NULL); /* fails only when the client is gone */
    return true;
}

static void server__thread(void *arg) {
    demo_server *s = arg;
    for (;;) {
        tofu_msg *m = NULL;
        if (tofu_wait_receive(s->g, TOFU_WAIT_INFINITE, &m) != TOFU_SUCCESS)
            return;
        bool go_on = m == NULL || server__echo(s, &m);
        tofu_put(s->e, &m);
        if (!go_on)
            return;
    }
}

tofu_status demo_server_start(demo_server *s, tofu_engine *e) {
    memset(s, 0, sizeof s[0]);
    s->e = e;
    tofu_status st = tofu_group_create(e, &s->g);
    if (st == TOFU_SUCCESS)
        st = server__listen(s, "tcp|127.0.0.1|0", s->tcp, sizeof s->tcp);
    if (st != TOFU_SUCCESS)
        return st;
    char path[TOFU_UDS_PATH_BUF + 8];
    server__uds_path(path, sizeof path);
    tofu_status ust = server__listen(s, path, s->uds, sizeof s->uds);
    if (ust != TOFU_SUCCESS) { /* e.g. Windows without AF_UNIX: TCP only */
        s->uds[0] = '\0';
        snprintf(s->uds_note, sizeof s->uds_note, "no UDS listener (%s)", tofu_status_name(ust));
    }
    return demo_thread_start(&s->thread, server__thread, s) ? TOFU_SUCCESS : TOFU_ALLOCATION_FAILED;
}

void demo_server_stop(demo_server *s) {
    tofu_update_receiver(s->g, NULL); /* a receiver_update Signal: stop */
    demo_thread_join(&s->thread);
    tofu_group_destroy(s->e, s->g);
}
