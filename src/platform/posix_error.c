/*
 * The text of an errno (platform.h, tofui_os_error_text): the symbolic name,
 * which is what a reader searches for and the same on every POSIX system,
 * then strerror's words, which differ between systems and are for people.
 */
#define _POSIX_C_SOURCE 200809L /* strerror_r */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"

/* The names a socket layer meets; any other number is shown as a number. */
#define POSIX_ERROR__NAME(e) {e, #e}
static const struct {
    int err;
    const char *name;
} posix_error__names[] = {
    POSIX_ERROR__NAME(EPERM),        POSIX_ERROR__NAME(ENOENT),
    POSIX_ERROR__NAME(EINTR),        POSIX_ERROR__NAME(EIO),
    POSIX_ERROR__NAME(EBADF),        POSIX_ERROR__NAME(EAGAIN),
    POSIX_ERROR__NAME(ENOMEM),       POSIX_ERROR__NAME(EACCES),
    POSIX_ERROR__NAME(EFAULT),       POSIX_ERROR__NAME(ENOTDIR),
    POSIX_ERROR__NAME(EINVAL),       POSIX_ERROR__NAME(ENFILE),
    POSIX_ERROR__NAME(EMFILE),       POSIX_ERROR__NAME(ENOSPC),
    POSIX_ERROR__NAME(EROFS),        POSIX_ERROR__NAME(EPIPE),
    POSIX_ERROR__NAME(ENAMETOOLONG), POSIX_ERROR__NAME(ELOOP),
    POSIX_ERROR__NAME(EPROTO),       POSIX_ERROR__NAME(ENOTSOCK),
    POSIX_ERROR__NAME(EDESTADDRREQ), POSIX_ERROR__NAME(EMSGSIZE),
    POSIX_ERROR__NAME(EPROTOTYPE),   POSIX_ERROR__NAME(ENOPROTOOPT),
    POSIX_ERROR__NAME(EPROTONOSUPPORT), POSIX_ERROR__NAME(EOPNOTSUPP),
    POSIX_ERROR__NAME(EAFNOSUPPORT), POSIX_ERROR__NAME(EADDRINUSE),
    POSIX_ERROR__NAME(EADDRNOTAVAIL), POSIX_ERROR__NAME(ENETDOWN),
    POSIX_ERROR__NAME(ENETUNREACH),  POSIX_ERROR__NAME(ENETRESET),
    POSIX_ERROR__NAME(ECONNABORTED), POSIX_ERROR__NAME(ECONNRESET),
    POSIX_ERROR__NAME(ENOBUFS),      POSIX_ERROR__NAME(EISCONN),
    POSIX_ERROR__NAME(ENOTCONN),     POSIX_ERROR__NAME(ETIMEDOUT),
    POSIX_ERROR__NAME(ECONNREFUSED), POSIX_ERROR__NAME(EHOSTUNREACH),
    POSIX_ERROR__NAME(EALREADY),     POSIX_ERROR__NAME(EINPROGRESS),
#if defined(EHOSTDOWN)
    POSIX_ERROR__NAME(EHOSTDOWN),
#endif
#if defined(ESHUTDOWN)
    POSIX_ERROR__NAME(ESHUTDOWN),
#endif
};

static const char *posix_error__name(int err) {
    for (size_t i = 0; i < sizeof posix_error__names / sizeof posix_error__names[0]; i++)
        if (posix_error__names[i].err == err)
            return posix_error__names[i].name;
    return NULL;
}

/* strerror_r comes in two kinds: POSIX's returns 0 and fills buf, GNU's
 * (when some header asks for _GNU_SOURCE) returns the text. strerror itself
 * is not thread-safe everywhere. For a number it does not know, POSIX's
 * fails but may still have written "Unknown error N" (glibc): buf starts
 * empty, so whatever it holds is the best text there is. */
static const char *posix_error__from_int(int rc, const char *buf) {
    (void)rc;
    return buf;
}

static const char *posix_error__from_ptr(const char *text, const char *buf) {
    (void)buf;
    return text != NULL ? text : "";
}

#define POSIX_ERROR__WORDS(err, buf, cap)                                              \
    _Generic(strerror_r((err), (buf), (cap)), int: posix_error__from_int,             \
             default: posix_error__from_ptr)(strerror_r((err), (buf), (cap)), (buf))

void tofui_os_error_text(int err, char *buf, size_t cap) {
    char words[TOFUI_OS_ERROR_TEXT_MAX];
    words[0] = '\0';
    const char *text = POSIX_ERROR__WORDS(err, words, sizeof words);
    const char *name = posix_error__name(err);
    if (cap == 0)
        return;
    const char *gap = text[0] != '\0' ? " " : "";
    if (name != NULL)
        snprintf(buf, cap, "%s%s%s", name, gap, text);
    else
        snprintf(buf, cap, "errno %d%s%s", err, gap, text);
}
