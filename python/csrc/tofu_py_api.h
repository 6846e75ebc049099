/*
 * The calls of libtofu that the hand-written extension tofu._speed makes,
 * as a table of function pointers filled by the CFFI module tofu._tofu.
 *
 * Why a table: the C library is compiled once, into tofu._tofu; a second
 * copy in tofu._speed would have its own message counters and its own
 * globals. _speed calls the one copy through these pointers; Python hands
 * the table's address from one module to the other at import
 * (tofu._message), and the version guards against a stale build.
 */
#ifndef TOFU_PY_API_H
#define TOFU_PY_API_H

#include "tofu.h"

#define TOFU_PY_API_VERSION 1

typedef struct tofu_py_api {
    unsigned version;
    tofu_msg *(*get)(tofu_engine *e, tofu_alloc strategy);
    void (*put)(tofu_engine *e, tofu_msg **m);
    void (*msg_destroy)(tofu_msg *m);
    tofu_bhdr *(*bhdr)(tofu_msg *m);
    tofu_status (*append_body)(tofu_msg *m, const void *data, size_t len);
    const void *(*body)(const tofu_msg *m, size_t *len);
    void (*clear_body)(tofu_msg *m);
    tofu_status (*post)(tofu_group *g, tofu_msg **m, tofu_bhdr *out);
    tofu_status (*receive_many)(tofu_group *g, uint64_t timeout_ns, tofu_msg **out,
                                size_t cap, size_t *n);
} tofu_py_api;

#endif
