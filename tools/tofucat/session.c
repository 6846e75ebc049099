/*
 * One engine and one group: all tofucat needs on either side. The engine's
 * default pool is enough, and messages are taken with TOFU_ALWAYS so that a
 * busy moment allocates instead of failing.
 */
#include <string.h>

#include "tofucat.h"

tofu_status tc_session_open(tc_session *s, bool own_data_only) {
    memset(s, 0, sizeof *s);
    tofu_options opt;
    tofu_options_init(&opt);
    if (own_data_only)
        opt.max_send_queue = TOFU_SEND_QUEUE_UNLIMITED;
    tofu_status st = tofu_engine_create(&opt, &s->e);
    if (st == TOFU_SUCCESS)
        st = tofu_group_create(s->e, &s->g);
    if (st != TOFU_SUCCESS) {
        tc_report_status(st, "cannot start the engine");
        tc_session_close(s);
    }
    return st;
}

void tc_session_close(tc_session *s) {
    if (s->g != NULL)
        tofu_group_destroy(s->e, s->g);
    tofu_engine_destroy(s->e);
    s->g = NULL;
    s->e = NULL;
}

tofu_msg *tc_session_msg(tc_session *s) {
    return tofu_get(s->e, TOFU_ALWAYS);
}

void tc_session_put(tc_session *s, tofu_msg **m) {
    tofu_put(s->e, m);
}

tofu_status tc_session_post(tc_session *s, tofu_msg **m, tofu_bhdr *out) {
    tofu_status st = tofu_post(s->g, m, out);
    if (st != TOFU_SUCCESS)
        tofu_put(s->e, m);
    return st;
}

tofu_msg *tc_session_next(tc_session *s, uint64_t wait_ms, tofu_status *st) {
    tofu_msg *m = NULL;
    *st = tofu_wait_receive(s->g, wait_ms * 1000000u, &m);
    return *st == TOFU_SUCCESS ? m : NULL;
}

tofu_status tc_add_header_arg(tofu_msg *m, const char *arg) {
    const char *colon = strchr(arg, ':');
    if (colon == NULL)
        return TOFU_INVALID_MESSAGE;
    return tofu_msg_add_header_n(m, arg, (size_t)(colon - arg), colon + 1, strlen(colon + 1));
}
