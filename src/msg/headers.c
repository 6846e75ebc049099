/* Text headers (SPEC §1.5): the checked writer "name:value\r\n", the iterator
 * with the original's exact reading rules, lookup by name, and replacing a
 * value in place (headers.h). */
#include <string.h>

#include "msg/headers.h"

/* ---- writer ---- */

static bool headers__is_name_pad(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The original trims names before writing them; values are written as given. */
static void headers__trim_name(const char **s, size_t *n) {
    while (*n > 0 && headers__is_name_pad((*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && headers__is_name_pad((*s)[*n - 1]))
        (*n)--;
}

/* CR, LF or NUL inside a header would split it or end it early on the reading
 * side, so the checked writer refuses them. */
static bool headers__has_line_break(const char *s, size_t n) {
    return memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL ||
           memchr(s, '\0', n) != NULL;
}

static tofu_status headers__check(const char *name, size_t name_len, const char *value,
                                  size_t value_len) {
    if (name_len == 0 || value_len == 0)
        return TOFU_INVALID_MESSAGE;
    if (memchr(name, ':', name_len) != NULL) /* the reader splits at the first ':' */
        return TOFU_INVALID_MESSAGE;
    if (headers__has_line_break(name, name_len) || headers__has_line_break(value, value_len))
        return TOFU_INVALID_MESSAGE;
    return TOFU_SUCCESS;
}

static void headers__put(tofui_buf *b, const void *data, size_t n) {
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

tofu_status tofu_msg_add_header_n(tofu_msg *m, const char *name, size_t name_len,
                                  const char *value, size_t value_len) {
    if ((name == NULL && name_len > 0) || (value == NULL && value_len > 0))
        return TOFU_INVALID_MESSAGE;
    if (name != NULL)
        headers__trim_name(&name, &name_len);
    tofu_status st = headers__check(name, name_len, value, value_len);
    if (st != TOFU_SUCCESS)
        return st;
    /* Each part is checked alone first so the sum below cannot overflow. */
    if (name_len > TOFU_MAX_PART_LEN || value_len > TOFU_MAX_PART_LEN ||
        m->thdrs.len + name_len + value_len + 3 > TOFU_MAX_PART_LEN)
        return TOFU_INVALID_HEADERS_LEN;
    st = tofui_buf_reserve(&m->thdrs, m->thdrs.len + name_len + value_len + 3);
    if (st != TOFU_SUCCESS)
        return st;
    headers__put(&m->thdrs, name, name_len);
    headers__put(&m->thdrs, ":", 1);
    headers__put(&m->thdrs, value, value_len);
    headers__put(&m->thdrs, "\r\n", 2);
    return TOFU_SUCCESS;
}

tofu_status tofu_msg_add_header(tofu_msg *m, const char *name, const char *value) {
    if (name == NULL || value == NULL)
        return TOFU_INVALID_MESSAGE;
    return tofu_msg_add_header_n(m, name, strlen(name), value, strlen(value));
}

/* ---- iterator ---- */

void tofu_hdr_iter_init(tofu_hdr_iter *it, const void *block, size_t len) {
    it->block = block;
    it->len = block == NULL ? 0 : len;
    it->pos = 0;
}

void tofu_msg_hdr_iter(const tofu_msg *m, tofu_hdr_iter *it) {
    tofu_hdr_iter_init(it, m->thdrs.data, m->thdrs.len);
}

void tofu_hdr_iter_rewind(tofu_hdr_iter *it) {
    it->pos = 0;
}

/* Offset of the next CR LF at or after `from`, or `len` when there is none. */
static size_t headers__find_crlf(const char *s, size_t from, size_t len) {
    for (size_t i = from; i + 1 < len; i++) {
        if (s[i] == '\r' && s[i + 1] == '\n')
            return i;
    }
    return len;
}

static bool headers__is_value_pad(char c) {
    return c == ' ' || c == '\t';
}

/* Rule 5: split at the first ':'; the name is kept as is, the value is
 * trimmed of spaces and TABs; no ':' means the whole line is the name. */
static void headers__split_line(const char *line, size_t n, tofu_header *out) {
    const char *colon = memchr(line, ':', n);
    size_t name_len = colon == NULL ? n : (size_t)(colon - line);
    const char *v = line + name_len + (colon == NULL ? 0 : 1);
    const char *end = line + n;
    while (v < end && headers__is_value_pad(*v))
        v++;
    while (end > v && headers__is_value_pad(end[-1]))
        end--;
    out->name = line;
    out->name_len = name_len;
    out->value = v;
    out->value_len = (size_t)(end - v);
}

/* Rules 2-4: the next non-empty line, or false at the end of the block. A
 * last line without CR LF counts as a line. */
static bool headers__next_line(tofu_hdr_iter *it, const char **line, size_t *n) {
    while (it->pos < it->len) {
        size_t start = it->pos;
        size_t crlf = headers__find_crlf(it->block, start, it->len);
        it->pos = crlf == it->len ? it->len : crlf + 2;
        if (crlf > start) {
            *line = it->block + start;
            *n = crlf - start;
            return true;
        }
    }
    return false;
}

bool tofu_hdr_iter_next(tofu_hdr_iter *it, tofu_header *out) {
    const char *line;
    size_t n;
    if (it->block == NULL || !headers__next_line(it, &line, &n))
        return false;
    tofu_header h;
    headers__split_line(line, n, &h);
    if (h.name_len == 0) /* rule 6: the position has moved on already */
        return false;
    if (out != NULL)
        *out = h;
    return true;
}

bool tofu_msg_find_header(const tofu_msg *m, const char *name, tofu_header *out) {
    if (name == NULL)
        return false;
    size_t want = strlen(name);
    tofu_hdr_iter it;
    tofu_header h;
    tofu_msg_hdr_iter(m, &it);
    while (tofu_hdr_iter_next(&it, &h)) {
        if (h.name_len == want && memcmp(h.name, name, want) == 0) {
            if (out != NULL)
                *out = h;
            return true;
        }
    }
    return false;
}

/* ---- replacing a value ---- */

tofu_status tofui_msg_replace_header(tofu_msg *m, const char *name, const char *value, size_t len) {
    tofu_header h;
    if (value == NULL || !tofu_msg_find_header(m, name, &h))
        return TOFU_INVALID_MESSAGE;
    tofu_status st = headers__check(h.name, h.name_len, value, len);
    if (st != TOFU_SUCCESS)
        return st;
    size_t start = (size_t)(h.value - m->thdrs.data);
    size_t end = start + h.value_len;
    size_t tail = m->thdrs.len - end;
    if (len > TOFU_MAX_PART_LEN || start + len + tail > TOFU_MAX_PART_LEN)
        return TOFU_INVALID_HEADERS_LEN;
    st = tofui_buf_reserve(&m->thdrs, start + len + tail);
    if (st != TOFU_SUCCESS)
        return st;
    memmove(m->thdrs.data + start + len, m->thdrs.data + end, tail);
    memcpy(m->thdrs.data + start, value, len);
    m->thdrs.len = start + len + tail;
    return TOFU_SUCCESS;
}

tofu_status tofui_msg_set_header(tofu_msg *m, const char *name, const char *value) {
    size_t len = strlen(value);
    tofu_status st = tofu_msg_find_header(m, name, NULL)
                         ? tofui_msg_replace_header(m, name, value, len)
                         : tofu_msg_add_header_n(m, name, strlen(name), value, len);
    if (st == TOFU_SUCCESS)
        m->bhdr.thl = (uint16_t)m->thdrs.len;
    return st;
}

/* The engine's answer to a Request whose deadline passed. */
bool tofu_msg_timed_out(const tofu_msg *m) {
    tofu_header h;
    return m->bhdr.origin == TOFU_ORIGIN_ENGINE && tofu_msg_find_header(m, TOFU_HDR_REASON, &h) &&
           h.value_len == sizeof TOFU_REASON_TIMED_OUT - 1 &&
           memcmp(h.value, TOFU_REASON_TIMED_OUT, h.value_len) == 0;
}
