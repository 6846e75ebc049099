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

#endif
