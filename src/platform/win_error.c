/*
 * The text of a Winsock or Win32 error (platform.h, tofui_os_error_text):
 * the symbolic name (WSAECONNREFUSED...), which is what a reader searches
 * for, then the system's own message. The message is asked for in English
 * and falls back to the system's language; it is kept to one ASCII line
 * (other bytes become '?', the trailing line break and period go), because
 * it travels in a text header and ends up on a terminal.
 */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"

#define WIN_ERROR__NAME(e) {e, #e}
static const struct {
    int err;
    const char *name;
} win_error__names[] = {
    WIN_ERROR__NAME(WSAEINTR),           WIN_ERROR__NAME(WSAEBADF),
    WIN_ERROR__NAME(WSAEACCES),          WIN_ERROR__NAME(WSAEFAULT),
    WIN_ERROR__NAME(WSAEINVAL),          WIN_ERROR__NAME(WSAEMFILE),
    WIN_ERROR__NAME(WSAEWOULDBLOCK),     WIN_ERROR__NAME(WSAEINPROGRESS),
    WIN_ERROR__NAME(WSAEALREADY),        WIN_ERROR__NAME(WSAENOTSOCK),
    WIN_ERROR__NAME(WSAEDESTADDRREQ),    WIN_ERROR__NAME(WSAEMSGSIZE),
    WIN_ERROR__NAME(WSAEPROTOTYPE),      WIN_ERROR__NAME(WSAENOPROTOOPT),
    WIN_ERROR__NAME(WSAEPROTONOSUPPORT), WIN_ERROR__NAME(WSAEOPNOTSUPP),
    WIN_ERROR__NAME(WSAEAFNOSUPPORT),    WIN_ERROR__NAME(WSAEADDRINUSE),
    WIN_ERROR__NAME(WSAEADDRNOTAVAIL),   WIN_ERROR__NAME(WSAENETDOWN),
    WIN_ERROR__NAME(WSAENETUNREACH),     WIN_ERROR__NAME(WSAENETRESET),
    WIN_ERROR__NAME(WSAECONNABORTED),    WIN_ERROR__NAME(WSAECONNRESET),
    WIN_ERROR__NAME(WSAENOBUFS),         WIN_ERROR__NAME(WSAEISCONN),
    WIN_ERROR__NAME(WSAENOTCONN),        WIN_ERROR__NAME(WSAESHUTDOWN),
    WIN_ERROR__NAME(WSAETIMEDOUT),       WIN_ERROR__NAME(WSAECONNREFUSED),
    WIN_ERROR__NAME(WSAEHOSTDOWN),       WIN_ERROR__NAME(WSAEHOSTUNREACH),
    WIN_ERROR__NAME(WSANOTINITIALISED),  WIN_ERROR__NAME(ERROR_FILE_NOT_FOUND),
    WIN_ERROR__NAME(ERROR_PATH_NOT_FOUND), WIN_ERROR__NAME(ERROR_ACCESS_DENIED),
};

static const char *win_error__name(int err) {
    for (size_t i = 0; i < sizeof win_error__names / sizeof win_error__names[0]; i++)
        if (win_error__names[i].err == err)
            return win_error__names[i].name;
    return NULL;
}

static DWORD win_error__message(int err, DWORD lang, char *buf, DWORD cap) {
    return FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                          (DWORD)err, lang, buf, cap, NULL);
}

/* One ASCII line: no bytes above 0x7e, no control characters, no trailing
 * space, line break or period. */
static void win_error__one_line(char *s) {
    size_t n = 0;
    for (char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        *p = c < 0x20 ? ' ' : c > 0x7e ? '?' : (char)c;
        n++;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '.'))
        s[--n] = '\0';
}

void tofui_os_error_text(int err, char *buf, size_t cap) {
    char words[TOFUI_OS_ERROR_TEXT_MAX];
    DWORD cw = (DWORD)sizeof words;
    if (win_error__message(err, MAKELANGID(LANG_ENGLISH, SUBLANG_ENGLISH_US), words, cw) == 0 &&
        win_error__message(err, 0, words, cw) == 0)
        words[0] = '\0';
    words[sizeof words - 1] = '\0';
    win_error__one_line(words);
    const char *name = win_error__name(err);
    if (cap == 0)
        return;
    if (name != NULL)
        snprintf(buf, cap, "%s%s%s", name, words[0] != '\0' ? " " : "", words);
    else
        snprintf(buf, cap, "error %d%s%s", err, words[0] != '\0' ? " " : "", words);
}
