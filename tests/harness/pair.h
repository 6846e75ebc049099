/*
 * Two engines joined by one connection, for the engine tests that play both
 * applications from one thread: a server engine with a listener on the
 * case's transport and a client engine, each with one group. Every message
 * either side receives can then be checked in order.
 */
#ifndef TOFU_T_PAIR_H
#define TOFU_T_PAIR_H

#include "engine_util.h"

typedef struct pair {
    tofu_t_transport t;
    tofu_engine *se, *ce;
    tofu_group *sg, *cg;
    uint16_t listener;
    tofu_address bound;   /* what the listener bound */
    char same[TOFU_T_ADDR_CAP];  /* that address as a value (listen again on it) */
    char reach[TOFU_T_ADDR_CAP]; /* the ~connect_to value that reaches it */
    uint16_t cch, sch;    /* the connection's two channels, once connected */
} pair;

/* Both engines (with these options; NULL: the defaults) and the listener,
 * over the transport of the case (tofu_t_transport_arg). */
void pair_open_with(pair *p, const tofu_options *server, const tofu_options *client);
/* The same with the server's pool sizes (0: default). */
void pair_open_pools(pair *p, uint16_t server_initial, uint16_t server_max);
void pair_open(pair *p);
/* As pair_open_pools, for the cases that post far more than any socket
 * buffer holds, without flow control: both send queues are unlimited
 * (the default bound would refuse what the case wants queued). */
void pair_open_unbounded(pair *p, uint16_t server_initial, uint16_t server_max);
/* The handshake: p->cch and p->sch. */
void pair_connect(pair *p);
/* A graceful close started by the client, nothing else in flight. */
void pair_bye(pair *p);
/* The server engine dies (group and engine destroyed): its peer sees the
 * connection end; p->se becomes NULL. */
void pair_kill_server(pair *p);
/* Destroys what is left (an engine killed by the case is NULL) and checks
 * that nothing leaked. */
void pair_close(pair *p);

#endif
