/*
 * The text format: one readable line per message,
 *
 *   Response channel=1 id=4 status=success origin=application more=false
 *     headers=[x-trace: 7] body="hello\n"      (all on one line)
 *
 * Bytes that would break the line or the terminal are escaped C-style
 * (\n, \t, \", \\, \xNN); well-formed UTF-8 is printed as it is.
 */
#include "tofucat.h"


static void text__headers(FILE *f, const tofu_msg *m) {
    tofu_hdr_iter it;
    tofu_header h;
    bool first = true;
    tofu_msg_hdr_iter(m, &it);
    fputs("headers=[", f);
    while (tofu_hdr_iter_next(&it, &h)) {
        if (!first)
            fputs("; ", f);
        first = false;
        tc_write_escaped(f, (const unsigned char *)h.name, h.name_len, TC_ESCAPE_TEXT);
        fputs(": ", f);
        tc_write_escaped(f, (const unsigned char *)h.value, h.value_len, TC_ESCAPE_TEXT);
    }
    fputc(']', f);
}

void tc_text_write_msg(FILE *f, const tofu_msg *m) {
    const tofu_bhdr *h = tofu_msg_bhdr_const(m);
    size_t len = 0;
    const unsigned char *body = tofu_msg_body(m, &len);
    fprintf(f, "%s channel=%u id=%llu status=%s origin=%s more=%s ", tofu_op_name(h->opcode),
            (unsigned)h->channel, (unsigned long long)h->message_id,
            tofu_status_name(tofu_status_from_byte(h->status)),
            h->origin == TOFU_ORIGIN_ENGINE ? "engine" : "application",
            h->more ? "true" : "false");
    text__headers(f, m);
    fputs(" body=\"", f);
    tc_write_escaped(f, body, len, TC_ESCAPE_TEXT);
    fputs("\"\n", f);
}
