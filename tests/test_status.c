/* Statuses (SPEC §8.1) and opcode helpers (SPEC §1.4). */
#include "test.h"

TEST(status_values_match_the_original) {
    ASSERT_EQ(TOFU_SUCCESS, 0);
    ASSERT_EQ(TOFU_WRONG_ADDRESS, 2);
    ASSERT_EQ(TOFU_INVALID_CHANNEL_NUMBER, 10);
    ASSERT_EQ(TOFU_COMMUNICATION_FAILED, 18);
    ASSERT_EQ(TOFU_POOL_EMPTY, 19);
    ASSERT_EQ(TOFU_CHANNEL_CLOSED, 22);
    ASSERT_EQ(TOFU_PROCESSING_FAILED, 30);
    ASSERT_EQ(TOFU_UNKNOWN_ERROR, 31);
}

TEST(status_names_are_the_originals) {
    ASSERT_STR_EQ(tofu_status_name(TOFU_SUCCESS), "success");
    ASSERT_STR_EQ(tofu_status_name(TOFU_WRONG_ADDRESS), "wrong_address");
    ASSERT_STR_EQ(tofu_status_name(TOFU_INVALID_MCHN_GROUP), "invelid_mchn_group");
    ASSERT_STR_EQ(tofu_status_name(TOFU_UDS_PATH_NOT_FOUND), "uds_path_not_found");
    ASSERT_STR_EQ(tofu_status_name(TOFU_CHANNEL_CLOSED), "channel_closed");
    ASSERT_STR_EQ(tofu_status_name(TOFU_UNKNOWN_ERROR), "unknown_error");
    ASSERT_STR_EQ(tofu_status_name((tofu_status)77), "unknown_error");
}

TEST(status_name_lookup_round_trips_every_value) {
    for (int i = 0; i <= 31; i++) {
        tofu_status s = TOFU_UNKNOWN_ERROR;
        ASSERT_TRUE(tofu_status_from_name(tofu_status_name((tofu_status)i), &s));
        ASSERT_EQ(s, i);
    }
    tofu_status s = TOFU_SUCCESS;
    ASSERT_FALSE(tofu_status_from_name("no_such_status", &s));
    ASSERT_FALSE(tofu_status_from_name(NULL, &s));
    ASSERT_EQ(s, TOFU_SUCCESS);
}

TEST(raw_bytes_of_31_and_above_read_as_unknown_error) {
    for (int i = 0; i < 31; i++)
        ASSERT_EQ(tofu_status_from_byte((uint8_t)i), i);
    for (int i = 31; i < 256; i++)
        ASSERT_EQ(tofu_status_from_byte((uint8_t)i), TOFU_UNKNOWN_ERROR);
    ASSERT_EQ(tofu_status_to_byte(TOFU_POOL_EMPTY), 19);
    ASSERT_EQ(tofu_status_to_byte((tofu_status)200), 31);
}

TEST(opcode_types_and_roles) {
    ASSERT_EQ(tofu_op_type(TOFU_OP_REQUEST), TOFU_TYPE_REGULAR);
    ASSERT_EQ(tofu_op_type(TOFU_OP_SIGNAL), TOFU_TYPE_REGULAR);
    ASSERT_EQ(tofu_op_type(TOFU_OP_HELLO_RESPONSE), TOFU_TYPE_HELLO);
    ASSERT_EQ(tofu_op_type(TOFU_OP_BYE_SIGNAL), TOFU_TYPE_BYE);
    ASSERT_EQ(tofu_op_type(TOFU_OP_WELCOME_REQUEST), TOFU_TYPE_WELCOME);
    ASSERT_EQ(tofu_op_role(TOFU_OP_RESPONSE), TOFU_ROLE_RESPONSE);
    ASSERT_EQ(tofu_op_role(TOFU_OP_BYE_SIGNAL), TOFU_ROLE_SIGNAL);
    ASSERT_EQ(tofu_op_role(TOFU_OP_HELLO_REQUEST), TOFU_ROLE_REQUEST);
    ASSERT_EQ(tofu_op_role(TOFU_OP_WELCOME_RESPONSE), TOFU_ROLE_RESPONSE);
    for (unsigned op = 0; op < 16; op++)
        ASSERT_EQ(tofu_op_valid(op), op < 10);
}

TEST(opcode_echo_maps_requests_and_rejects_responses) {
    tofu_opcode out = TOFU_OP_REQUEST;
    ASSERT_OK(tofu_op_echo(TOFU_OP_REQUEST, &out));
    ASSERT_EQ(out, TOFU_OP_RESPONSE);
    ASSERT_OK(tofu_op_echo(TOFU_OP_SIGNAL, &out));
    ASSERT_EQ(out, TOFU_OP_SIGNAL);
    ASSERT_OK(tofu_op_echo(TOFU_OP_HELLO_REQUEST, &out));
    ASSERT_EQ(out, TOFU_OP_HELLO_RESPONSE);
    ASSERT_OK(tofu_op_echo(TOFU_OP_BYE_REQUEST, &out));
    ASSERT_EQ(out, TOFU_OP_BYE_RESPONSE);
    ASSERT_OK(tofu_op_echo(TOFU_OP_WELCOME_REQUEST, &out));
    ASSERT_EQ(out, TOFU_OP_WELCOME_RESPONSE);
    out = TOFU_OP_SIGNAL;
    ASSERT_STATUS(TOFU_INVALID_OP_CODE, tofu_op_echo(TOFU_OP_RESPONSE, &out));
    ASSERT_STATUS(TOFU_INVALID_OP_CODE, tofu_op_echo(TOFU_OP_HELLO_RESPONSE, &out));
    ASSERT_STATUS(TOFU_INVALID_OP_CODE, tofu_op_echo(TOFU_OP_BYE_RESPONSE, &out));
    ASSERT_STATUS(TOFU_INVALID_OP_CODE, tofu_op_echo(TOFU_OP_BYE_SIGNAL, &out));
    ASSERT_STATUS(TOFU_INVALID_OP_CODE, tofu_op_echo(TOFU_OP_WELCOME_RESPONSE, &out));
    ASSERT_STATUS(TOFU_INVALID_OP_CODE, tofu_op_echo(12, &out));
    ASSERT_EQ(out, TOFU_OP_SIGNAL);
}

TEST(opcode_names_round_trip) {
    for (unsigned op = 0; op < 10; op++) {
        tofu_opcode got = TOFU_OP_REQUEST;
        ASSERT_TRUE(tofu_op_from_name(tofu_op_name(op), &got));
        ASSERT_EQ(got, op);
    }
    ASSERT_STR_EQ(tofu_op_name(TOFU_OP_HELLO_REQUEST), "HelloRequest");
    ASSERT_STR_EQ(tofu_op_name(11), "Invalid");
}

/* The run-time version is the headers' (one source tree). */
TEST(version_at_run_time) {
    ASSERT_TRUE(strcmp(tofu_version(), TOFU_VERSION_STRING) == 0);
    ASSERT_EQ(tofu_version_number(), TOFU_VERSION_MAJOR * 10000u + TOFU_VERSION_MINOR * 100u +
                                          TOFU_VERSION_PATCH);
}
