/*
 * Text headers inside the library (headers.c): the one place besides the
 * public writer (tofu_msg_add_header) that writes header values into a
 * message.
 */
#ifndef TOFUI_HEADERS_H
#define TOFUI_HEADERS_H

#include "msg/msg.h"

/* Replaces the value of the first header named `name` by value[0..len),
 * keeping every other byte of the block. The value is checked as the writer
 * checks it. Errors, with the message unchanged: TOFU_INVALID_MESSAGE (no
 * such header, or a value the writer refuses), TOFU_INVALID_HEADERS_LEN (the
 * block would grow beyond 65535 bytes), TOFU_ALLOCATION_FAILED. */
tofu_status tofui_msg_replace_header(tofu_msg *m, const char *name, const char *value, size_t len);

/* Sets header `name` (NUL-terminated value) of a message the engine makes
 * or hands back: replaces the first one with that name, or appends one,
 * and keeps bhdr.thl in step with the block. Errors as the writer's, the
 * message unchanged (the engine then sends it without: its status says
 * the essential). */
tofu_status tofui_msg_set_header(tofu_msg *m, const char *name, const char *value);

#endif
