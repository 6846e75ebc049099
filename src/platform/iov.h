/*
 * One part of a gather write. Its own header because two layers share it:
 * the socket calls of platform.h (tofui_sock_writev) and the frame batch
 * builder of the wire codec (msg/wire.h), which needs nothing else of the
 * platform.
 */
#ifndef TOFUI_IOV_H
#define TOFUI_IOV_H

#include <stddef.h>

typedef struct tofui_iov {
    const void *base;
    size_t len;
} tofui_iov;

#endif
