/* Status and opcode names and the opcode helpers of SPEC §1.4 and §8.1. */
#include <string.h>

#include "tofu.h"

static const char *const status_names[] = {
    "success",
    "not_implemented_yet",
    "wrong_address",
    "not_allowed",
    "null_message",
    "invalid_message",
    "invalid_op_code",
    "invalid_headers_len",
    "invalid_body_len",
    "invalid_more_usage",
    "invalid_channel_number",
    "invelid_mchn_group", /* sic: the original's name, kept for compatibility */
    "invalid_message_id",
    "invalid_address",
    "uds_path_not_found",
    "notification_disabled",
    "notification_failed",
    "peer_disconnected",
    "communication_failed",
    "pool_empty",
    "allocation_failed",
    "receiver_update",
    "channel_closed",
    "shutdown_started",
    "connect_failed",
    "listen_failed",
    "accept_failed",
    "send_failed",
    "recv_failed",
    "setsockopt_failed",
    "processing_failed",
    "unknown_error",
};

#define STATUS_COUNT (sizeof status_names / sizeof status_names[0])

const char *tofu_status_name(tofu_status s) {
    unsigned v = (unsigned)s;
    return v < STATUS_COUNT ? status_names[v] : status_names[TOFU_UNKNOWN_ERROR];
}

bool tofu_status_from_name(const char *name, tofu_status *out) {
    if (name == NULL)
        return false;
    for (unsigned i = 0; i < STATUS_COUNT; i++) {
        if (strcmp(status_names[i], name) == 0) {
            *out = (tofu_status)i;
            return true;
        }
    }
    return false;
}

tofu_status tofu_status_from_byte(uint8_t raw) {
    return raw >= TOFU_UNKNOWN_ERROR ? TOFU_UNKNOWN_ERROR : (tofu_status)raw;
}

uint8_t tofu_status_to_byte(tofu_status s) {
    unsigned v = (unsigned)s;
    return v < STATUS_COUNT ? (uint8_t)v : (uint8_t)TOFU_UNKNOWN_ERROR;
}

/* ---- opcodes ---- */

struct op_info {
    const char *name;
    tofu_optype type;
    tofu_role role;
    int echo; /* reply opcode, or -1 */
};

static const struct op_info ops[] = {
    {"Request", TOFU_TYPE_REGULAR, TOFU_ROLE_REQUEST, TOFU_OP_RESPONSE},
    {"Response", TOFU_TYPE_REGULAR, TOFU_ROLE_RESPONSE, -1},
    {"Signal", TOFU_TYPE_REGULAR, TOFU_ROLE_SIGNAL, TOFU_OP_SIGNAL},
    {"HelloRequest", TOFU_TYPE_HELLO, TOFU_ROLE_REQUEST, TOFU_OP_HELLO_RESPONSE},
    {"HelloResponse", TOFU_TYPE_HELLO, TOFU_ROLE_RESPONSE, -1},
    {"ByeRequest", TOFU_TYPE_BYE, TOFU_ROLE_REQUEST, TOFU_OP_BYE_RESPONSE},
    {"ByeResponse", TOFU_TYPE_BYE, TOFU_ROLE_RESPONSE, -1},
    {"ByeSignal", TOFU_TYPE_BYE, TOFU_ROLE_SIGNAL, -1},
    {"WelcomeRequest", TOFU_TYPE_WELCOME, TOFU_ROLE_REQUEST, TOFU_OP_WELCOME_RESPONSE},
    {"WelcomeResponse", TOFU_TYPE_WELCOME, TOFU_ROLE_RESPONSE, -1},
};

#define OP_COUNT (sizeof ops / sizeof ops[0])

bool tofu_op_valid(unsigned op) {
    return op < OP_COUNT;
}

const char *tofu_op_name(unsigned op) {
    return op < OP_COUNT ? ops[op].name : "Invalid";
}

bool tofu_op_from_name(const char *name, tofu_opcode *out) {
    if (name == NULL)
        return false;
    for (unsigned i = 0; i < OP_COUNT; i++) {
        if (strcmp(ops[i].name, name) == 0) {
            *out = (tofu_opcode)i;
            return true;
        }
    }
    return false;
}

/* Invalid opcodes read as regular/request: callers validate first. */
tofu_optype tofu_op_type(tofu_opcode op) {
    return tofu_op_valid((unsigned)op) ? ops[op].type : TOFU_TYPE_REGULAR;
}

tofu_role tofu_op_role(tofu_opcode op) {
    return tofu_op_valid((unsigned)op) ? ops[op].role : TOFU_ROLE_REQUEST;
}

tofu_status tofu_op_echo(unsigned op, tofu_opcode *out) {
    if (!tofu_op_valid(op) || ops[op].echo < 0)
        return TOFU_INVALID_OP_CODE;
    *out = (tofu_opcode)ops[op].echo;
    return TOFU_SUCCESS;
}
