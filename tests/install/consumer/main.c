/*
 * An outside program built against an installed libtofu (tests/install):
 * it includes <tofu.h>, links the library, starts an engine and a
 * listener, and checks the answer. Exits 0 when everything works.
 */
#include <stdio.h>
#include <string.h>

#include <tofu.h>

static int fail(const char *what, tofu_status st) {
    fprintf(stderr, "consumer: %s: %s\n", what, tofu_status_name(st));
    return 1;
}

int main(void) {
    tofu_engine *e = NULL;
    tofu_group *g = NULL;
    tofu_msg *m = NULL;
    tofu_status st = tofu_engine_create(NULL, &e);
    if (st == TOFU_SUCCESS)
        st = tofu_group_create(e, &g);
    if (st != TOFU_SUCCESS)
        return fail("engine", st);
    m = tofu_get(e, TOFU_ALWAYS);
    st = tofu_msg_listen_tcp(m, "127.0.0.1", 0);
    if (st == TOFU_SUCCESS)
        st = tofu_post(g, &m, NULL);
    if (st == TOFU_SUCCESS)
        st = tofu_wait_receive(g, 10 * TOFU_WAIT_SECOND, &m);
    if (st == TOFU_SUCCESS && m == NULL)
        st = TOFU_LISTEN_FAILED;
    if (st == TOFU_SUCCESS)
        st = tofu_msg_status(m);
    if (st == TOFU_SUCCESS && tofu_msg_opcode(m) != TOFU_OP_WELCOME_RESPONSE)
        st = TOFU_INVALID_MESSAGE;
    tofu_put(e, &m);
    tofu_group_destroy(e, g);
    tofu_engine_destroy(e);
    if (st != TOFU_SUCCESS)
        return fail("listen", st);
    printf("consumer: libtofu %s works (%s)\n", TOFU_VERSION_STRING, tofu_status_name(st));
    return strcmp(tofu_status_name(TOFU_POOL_EMPTY), "pool_empty") == 0 ? 0 : 1;
}
