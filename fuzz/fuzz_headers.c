/*
 * Fuzz target: text headers (SPEC §1.5) over arbitrary bytes.
 *
 * 1. The whole input is a header block: every header the iterator yields lies
 *    inside the block, has a non-empty name without ':' or CR LF, a value
 *    trimmed of spaces and TABs, and the iteration ends; a rewind replays
 *    the same headers; find returns the first header of each name.
 * 2. The input split in two is a (name, value) for the checked writer: what it
 *    accepts, the iterator reads back as exactly one header.
 * Violations abort().
 */
#include <stdlib.h>
#include <string.h>

#include "msg/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                    \
    do {                                                                            \
        if (!(c))                                                                   \
            abort();                                                                \
    } while (0)

/* find is checked for the first few names only: it is a linear search. */
#define MAX_FIND_CHECKS 64

static bool headers__is_value_pad(char c) {
    return c == ' ' || c == '\t';
}

static bool headers__has_crlf(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == '\r' && s[i + 1] == '\n')
            return true;
    }
    return false;
}

static void headers__check_one(const tofu_header *h, const char *block, size_t len) {
    CHECK(h->name >= block && h->name_len > 0 && h->name_len <= len);
    CHECK((size_t)(h->name - block) <= len - h->name_len);
    CHECK(h->value >= block && h->value_len <= len);
    CHECK((size_t)(h->value - block) <= len - h->value_len);
    CHECK(memchr(h->name, ':', h->name_len) == NULL);
    CHECK(!headers__has_crlf(h->name, h->name_len) && !headers__has_crlf(h->value, h->value_len));
    if (h->value_len > 0) {
        CHECK(!headers__is_value_pad(h->value[0]));
        CHECK(!headers__is_value_pad(h->value[h->value_len - 1]));
        CHECK(h->value > h->name + h->name_len); /* the value follows the ':' */
    }
}

/* Iterates to the first "end" and records what came out. */
static size_t headers__first_pass(tofu_hdr_iter *it, tofu_header *seen, size_t cap) {
    size_t n = 0;
    tofu_header h;
    while (tofu_hdr_iter_next(it, &h)) {
        headers__check_one(&h, it->block, it->len);
        CHECK(n < cap);
        seen[n++] = h;
    }
    return n;
}

/* Keeps calling after "end" (rule 6 resumes with the next line): the position
 * only moves forward and the calls stop yielding after at most len+1. */
static void headers__drain(tofu_hdr_iter *it) {
    size_t calls = 0, last = it->pos;
    tofu_header h;
    while (it->pos < it->len) {
        CHECK(++calls <= it->len + 1);
        if (tofu_hdr_iter_next(it, &h))
            headers__check_one(&h, it->block, it->len);
        CHECK(it->pos > last && it->pos <= it->len);
        last = it->pos;
    }
    CHECK(!tofu_hdr_iter_next(it, &h));
}

/* find returns, for each name seen before the first "end", its first
 * occurrence. Names with NUL bytes cannot be asked for by C string. */
static void headers__check_find(const uint8_t *data, size_t size, const tofu_header *seen,
                                size_t n) {
    tofu_msg *m = NULL;
    if (size > TOFU_MAX_PART_LEN || tofu_msg_create(&m) != TOFU_SUCCESS)
        return;
    CHECK(tofu_msg_append_headers_raw(m, data, size) == TOFU_SUCCESS);
    const char *block = m->thdrs.data;
    for (size_t i = 0; i < n && i < MAX_FIND_CHECKS; i++) {
        if (memchr(seen[i].name, '\0', seen[i].name_len) != NULL)
            continue;
        char *name = malloc(seen[i].name_len + 1);
        CHECK(name != NULL);
        memcpy(name, seen[i].name, seen[i].name_len);
        name[seen[i].name_len] = '\0';
        tofu_header h;
        CHECK(tofu_msg_find_header(m, name, &h));
        size_t first = 0;
        while (seen[first].name_len != seen[i].name_len ||
               memcmp(seen[first].name, name, seen[i].name_len) != 0)
            first++;
        CHECK(h.name - block == seen[first].name - (const char *)data);
        CHECK(h.value_len == seen[first].value_len);
        free(name);
    }
    tofu_msg_destroy(m);
}

static void headers__fuzz_iterator(const uint8_t *data, size_t size) {
    /* A header takes at least one byte plus CR LF, the last one no CR LF. */
    size_t cap = size / 3 + 1;
    tofu_header *seen = malloc(2 * cap * sizeof *seen);
    CHECK(seen != NULL);
    tofu_header *again = seen + cap;
    tofu_hdr_iter it;
    tofu_hdr_iter_init(&it, data, size);
    size_t n = headers__first_pass(&it, seen, cap);
    tofu_hdr_iter_rewind(&it);
    CHECK(headers__first_pass(&it, again, cap) == n);
    CHECK(n == 0 || memcmp(seen, again, n * sizeof seen[0]) == 0);
    headers__drain(&it);
    headers__check_find(data, size, seen, n);
    free(seen);
}

static bool headers__is_name_pad(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The writer trims the name of space, TAB, CR and LF. */
static void headers__trim_name(const char **s, size_t *n) {
    while (*n > 0 && headers__is_name_pad((*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && headers__is_name_pad((*s)[*n - 1]))
        (*n)--;
}

static void headers__fuzz_writer(const uint8_t *data, size_t size) {
    if (size < 1)
        return;
    size_t split = data[0] % size;
    const char *name = (const char *)data + 1, *value = name + split;
    size_t name_len = split, value_len = size - 1 - split;
    tofu_msg *m = NULL;
    if (tofu_msg_create(&m) != TOFU_SUCCESS)
        return;
    if (tofu_msg_add_header_n(m, name, name_len, value, value_len) == TOFU_SUCCESS) {
        headers__trim_name(&name, &name_len);
        while (value_len > 0 && headers__is_value_pad(value[0])) {
            value++;
            value_len--;
        }
        while (value_len > 0 && headers__is_value_pad(value[value_len - 1]))
            value_len--;
        tofu_hdr_iter it;
        tofu_header h;
        tofu_msg_hdr_iter(m, &it);
        CHECK(tofu_hdr_iter_next(&it, &h));
        CHECK(h.name_len == name_len && memcmp(h.name, name, name_len) == 0);
        CHECK(h.value_len == value_len && (value_len == 0 || memcmp(h.value, value, value_len) == 0));
        CHECK(!tofu_hdr_iter_next(&it, &h));
    } else {
        CHECK(m->thdrs.len == 0); /* a refused header leaves no trace */
    }
    tofu_msg_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    headers__fuzz_iterator(data, size);
    headers__fuzz_writer(data, size);
    return 0;
}
