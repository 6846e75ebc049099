/*
 * Two engines joined by one connection (pair.h).
 */
#include <string.h>

#include "pair.h"

void pair_open_with(pair *p, const tofu_options *server, const tofu_options *client) {
    memset(p, 0, sizeof *p);
    p->t = tofu_t_transport_arg();
    p->se = tofu_t_engine_with(server);
    p->ce = tofu_t_engine_with(client);
    p->sg = tofu_t_group(p->se);
    p->cg = tofu_t_group(p->ce);
    char value[TOFU_T_ADDR_CAP];
    tofu_t_listen_value(p->t, value, sizeof value);
    p->listener = LISTEN(p->se, p->sg, value, &p->bound);
    ASSERT_OK(tofu_address_format(&p->bound, p->same, sizeof p->same, NULL));
    tofu_t_connect_value(&p->bound, p->reach, sizeof p->reach);
}

/* Default options but for the server's pool sizes (0: default) and, when
 * `unbounded`, both send queues. */
static void pair__open(pair *p, uint16_t server_initial, uint16_t server_max, bool unbounded) {
    tofu_options server, client;
    tofu_options_init(&server);
    tofu_options_init(&client);
    if (server_initial != 0)
        server.initial_pool_msgs = server_initial;
    if (server_max != 0)
        server.max_pool_msgs = server_max;
    if (unbounded) {
        server.max_send_queue = TOFU_SEND_QUEUE_UNLIMITED;
        client.max_send_queue = TOFU_SEND_QUEUE_UNLIMITED;
    }
    pair_open_with(p, &server, &client);
}

void pair_open_pools(pair *p, uint16_t server_initial, uint16_t server_max) {
    pair__open(p, server_initial, server_max, false);
}

void pair_open(pair *p) {
    pair_open_pools(p, 0, 0);
}

void pair_open_unbounded(pair *p, uint16_t server_initial, uint16_t server_max) {
    pair__open(p, server_initial, server_max, true);
}

void pair_connect(pair *p) {
    p->cch = HANDSHAKE(p->ce, p->cg, p->reach, p->se, p->sg, &p->sch);
}

void pair_bye(pair *p) {
    BYE(p->ce, p->cg, p->cch, p->se, p->sg, p->sch);
}

void pair_kill_server(pair *p) {
    ASSERT_OK(tofu_group_destroy(p->se, p->sg));
    tofu_engine_destroy(p->se);
    p->se = NULL;
}

void pair_close(pair *p) {
    if (p->ce != NULL) {
        ASSERT_OK(tofu_group_destroy(p->ce, p->cg));
        tofu_engine_destroy(p->ce);
    }
    if (p->se != NULL) {
        ASSERT_OK(tofu_group_destroy(p->se, p->sg));
        tofu_engine_destroy(p->se);
    }
    ASSERT_NO_LEAKS();
}

