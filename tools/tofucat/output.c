/*
 * What tofucat prints: one line per received message (text.c or json.c),
 * and one line on stderr per failure, naming the status.
 */
#include <string.h>

#include "tofucat.h"

/* --format raw: the body of the peer's data, nothing else. */
static void output__raw_body(const tofu_msg *m) {
    tofu_opcode op = tofu_msg_opcode(m);
    if (tofu_msg_from_engine(m) || tofu_op_type(op) != TOFU_TYPE_REGULAR)
        return;
    size_t len = 0;
    const void *body = tofu_msg_body(m, &len);
    fwrite(body, 1, len, stdout);
}

void tc_print_msg(const tc_options *opt, const tofu_msg *m) {
    if (opt->quiet)
        return;
    if (opt->format == TC_FORMAT_JSON)
        tc_json_write_msg(stdout, m);
    else if (opt->format == TC_FORMAT_RAW)
        output__raw_body(m);
    else
        tc_text_write_msg(stdout, m);
    /* stdout is fully buffered in a pipe; a script reading it must see each
     * message when it arrives, not when tofucat exits. */
    fflush(stdout);
}

/* Continuation bytes are 10xxxxxx. */
static bool output__cont(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

size_t tc_utf8_seq_len(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    /* The ranges of RFC 3629: no overlong forms, no surrogates, nothing
     * above U+10FFFF. */
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && output__cont(p[1]) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || !output__cont(p[1]) || !output__cont(p[2]))
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || !output__cont(p[1]) || !output__cont(p[2]) || !output__cont(p[3]))
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
            return 0;
        return 4;
    }
    return 0;
}

tofu_status tc_msg_reason(const tofu_msg *m, tofu_status fallback) {
    tofu_header h;
    char name[64];
    tofu_status st = fallback;
    if (!tofu_msg_find_header(m, TOFU_HDR_REASON, &h) || h.value_len >= sizeof name)
        return fallback;
    memcpy(name, h.value, h.value_len);
    name[h.value_len] = '\0';
    tofu_status_from_name(name, &st);
    return st;
}

bool tc_is_close_signal(const tofu_msg *m) {
    return tofu_msg_opcode(m) == TOFU_OP_SIGNAL && tofu_msg_from_engine(m) &&
           tofu_msg_status(m) == TOFU_CHANNEL_CLOSED;
}

void tc_report_status(tofu_status st, const char *detail) {
    if (detail != NULL)
        fprintf(stderr, "tofucat: %s: %s\n", tofu_status_name(st), detail);
    else
        fprintf(stderr, "tofucat: %s\n", tofu_status_name(st));
}

void tc_msg_error(const tofu_msg *m, char *buf, size_t cap) {
    tofu_header h;
    buf[0] = '\0';
    if (m == NULL || !tofu_msg_find_header(m, TOFU_HDR_ERROR, &h))
        return;
    size_t n = h.value_len < cap - 1 ? h.value_len : cap - 1;
    memcpy(buf, h.value, n);
    buf[n] = '\0';
}

/* What the user can do about a failure, or NULL. The error's symbol is
 * matched on the part POSIX and Windows share (ECONNREFUSED and
 * WSAECONNREFUSED; Windows' exclusive port use may say WSAEACCES). */
static const char *output__hint(tofu_status st, const char *os_error, char *buf, size_t cap,
                                const char *address) {
    if ((st == TOFU_CONNECT_FAILED || st == TOFU_UDS_PATH_NOT_FOUND) && address != NULL &&
        address[0] != '\0') {
        snprintf(buf, cap, "is a server listening on %s?", address);
        return buf;
    }
    if (st == TOFU_LISTEN_FAILED && os_error != NULL &&
        (strstr(os_error, "ADDRINUSE") != NULL || strncmp(os_error, "WSAEACCES", 9) == 0))
        return "another process listens there";
    return NULL;
}

void tc_report_failure(tofu_status st, const char *detail, const char *os_error,
                       const char *address) {
    char hint_buf[TC_ERROR_CAP + 64];
    const char *hint = output__hint(st, os_error, hint_buf, sizeof hint_buf, address);
    fprintf(stderr, "tofucat: %s", tofu_status_name(st));
    if (detail != NULL)
        fprintf(stderr, ": %s", detail);
    if (os_error != NULL && os_error[0] != '\0')
        fprintf(stderr, ": %s", os_error);
    if (hint != NULL)
        fprintf(stderr, " (%s)", hint);
    fputc('\n', stderr);
}

/* One byte outside a UTF-8 sequence. */
static void output__escape_byte(FILE *f, unsigned char c, tc_escape_style style) {
    bool other = style == TC_ESCAPE_JSON ? (c < 0x20 || c >= 0x80) : (c < 0x20 || c >= 0x7F);
    if (c == '"' || c == '\\')
        fprintf(f, "\\%c", c);
    else if (c == '\n')
        fputs("\\n", f);
    else if (c == '\r')
        fputs("\\r", f);
    else if (c == '\t')
        fputs("\\t", f);
    else if (other)
        fprintf(f, style == TC_ESCAPE_JSON ? "\\u%04x" : "\\x%02x", c);
    else
        fputc(c, f);
}

bool tc_write_escaped(FILE *f, const unsigned char *p, size_t n, tc_escape_style style) {
    bool all_utf8 = true;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t seq = c >= 0x80 ? tc_utf8_seq_len(p + i, n - i) : 0;
        if (seq > 0) {
            fwrite(p + i, 1, seq, f);
            i += seq;
            continue;
        }
        output__escape_byte(f, c, style);
        if (c >= 0x80)
            all_utf8 = false;
        i++;
    }
    return all_utf8;
}
