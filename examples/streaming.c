/*
 * Streaming with `more`: one Request, answered by a stream of Responses.
 * Every part carries the Request's message id; every part but the last has
 * the `more` flag set, so the client knows when the stream is complete.
 *
 * The engine transmits `more` and never interprets it: it is a convention
 * between the two applications. Parts of one stream on one channel arrive
 * in the order they were posted, because a channel is one ordered byte
 * stream. The same works the other way (an upload in parts): the client
 * then posts each part with the same message id (tofu_msg_set_id) and
 * `more` on all but the last.
 *
 * Here the client asks for a large text; the server sends it in parts of
 * at most CHUNK bytes. Exits 0 when the reassembled text is complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "tofu.h"

#define TEXT_LEN 200000 /* larger than one body (65535 bytes) */
#define CHUNK 16384

typedef struct server {
    tofu_engine *e;
    tofu_group *g;
    char address[300];
} server;

/* Byte i of the text both sides agree on. */
static char text_byte(size_t i) {
    return (char)('a' + (i * 7) % 26);
}

/* Answers a Request with TEXT_LEN bytes in Responses of CHUNK bytes. */
static void stream_text(server *s, const tofu_msg *request) {
    char part[CHUNK];
    for (size_t off = 0; off < TEXT_LEN; off += CHUNK) {
        size_t n = TEXT_LEN - off < CHUNK ? TEXT_LEN - off : CHUNK;
        for (size_t i = 0; i < n; i++)
            part[i] = text_byte(off + i);
        tofu_msg *m = tofu_get(s->e, TOFU_ALWAYS);
        tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
        tofu_msg_set_channel(m, tofu_msg_channel(request));
        tofu_msg_set_id(m, tofu_msg_id(request));      /* the stream's id */
        tofu_msg_bhdr(m)->more = off + n < TEXT_LEN;     /* false on the last */
        ex_check(tofu_msg_append_body(m, part, n), "append_body");
        ex_check(tofu_post(s->g, &m, NULL), "post part");
    }
}

static void server_thread(void *arg) {
    server *s = arg;
    for (;;) {
        tofu_msg *m = ex_wait(s->g);
        tofu_opcode op = tofu_msg_opcode(m), reply;
        bool closed = tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_CHANNEL_CLOSED;
        if (!tofu_msg_from_engine(m) && op == TOFU_OP_REQUEST) {
            stream_text(s, m);
        } else if (!tofu_msg_from_engine(m) && tofu_op_echo(op, &reply) == TOFU_SUCCESS) {
            tofu_msg_set_opcode(m, reply); /* HelloResponse, ByeResponse */
            ex_check(tofu_post(s->g, &m, NULL), "post reply");
        }
        tofu_put(s->e, &m);
        if (closed)
            return;
    }
}

/* ---- the client ---- */

static uint16_t connect_to(tofu_engine *e, tofu_group *g, const char *address) {
    tofu_address a;
    tofu_bhdr h;
    ex_check(tofu_address_parse(address, strlen(address), &a), "address");
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    ex_check(tofu_msg_connect(m, &a), "HelloRequest");
    ex_check(tofu_post(g, &m, &h), "post HelloRequest");
    m = ex_wait(g);
    ex_check(tofu_msg_status(m), "connect");
    tofu_put(e, &m);
    return h.channel;
}

/* Sends the Request and appends every part of the answer to text; returns
 * the number of parts. */
static int receive_stream(tofu_engine *e, tofu_group *g, uint16_t ch, char *text, size_t *len) {
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_bhdr h;
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, ch);
    ex_check(tofu_msg_append_body(m, "send the text", 13), "append_body");
    ex_check(tofu_post(g, &m, &h), "post Request");
    int parts = 0;
    bool more = true;
    while (more) {
        m = ex_wait(g);
        if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || tofu_msg_id(m) != h.message_id)
            ex_fail("expected a part of the stream", tofu_msg_status(m));
        size_t n = 0;
        const void *body = tofu_msg_body(m, &n);
        if (*len + n > TEXT_LEN)
            ex_fail("the stream is longer than announced", TOFU_INVALID_BODY_LEN);
        memcpy(text + *len, body, n);
        *len += n;
        more = tofu_msg_bhdr(m)->more;
        parts++;
        tofu_put(e, &m);
    }
    return parts;
}

static void bye(tofu_engine *e, tofu_group *g, uint16_t ch) {
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_REQUEST);
    tofu_msg_set_channel(m, ch);
    ex_check(tofu_post(g, &m, NULL), "post ByeRequest");
    for (int i = 0; i < 2; i++) { /* ByeResponse, then the close Signal */
        m = ex_wait(g);
        tofu_put(e, &m);
    }
}

int main(void) {
    server s;
    ex_thread thread;
    tofu_group *cg = NULL;
    ex_check(tofu_engine_create(NULL, &s.e), "engine_create");
    ex_check(tofu_group_create(s.e, &s.g), "group_create");
    ex_check(tofu_group_create(s.e, &cg), "group_create");
    ex_listen(s.e, s.g, "tcp|127.0.0.1|0", s.address, sizeof s.address);
    ex_thread_start(&thread, server_thread, &s);

    uint16_t ch = connect_to(s.e, cg, s.address);
    char *text = malloc(TEXT_LEN);
    size_t len = 0;
    if (text == NULL)
        ex_fail("malloc", TOFU_ALLOCATION_FAILED);
    int parts = receive_stream(s.e, cg, ch, text, &len);
    bool ok = len == TEXT_LEN;
    for (size_t i = 0; ok && i < len; i++)
        ok = text[i] == text_byte(i);
    free(text);
    bye(s.e, cg, ch);

    ex_thread_join(&thread);
    tofu_group_destroy(s.e, cg);
    tofu_group_destroy(s.e, s.g);
    tofu_engine_destroy(s.e);
    printf("streaming: %zu bytes in %d parts, %s\n", len, parts, ok ? "complete" : "CORRUPT");
    return ok ? 0 : 1;
}
