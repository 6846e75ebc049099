/*
 * The JSON format: one object per message and line (JSON Lines):
 *
 *   {"op":"Response","channel":1,"id":4,"status":"success",
 *    "origin":"application","more":false,"headers":[["x-trace","7"]],
 *    "body":"hello"}
 *
 * JSON strings are Unicode, message bytes are not. Well-formed UTF-8 is
 * copied; every other byte B is written as the escape \u00BB (the character
 * with that number), which every JSON parser accepts. Because that is
 * ambiguous with a real U+00BB, a body that needed it also gets
 * "body_base64" with its exact bytes.
 */
#include "tofucat.h"

/* Writes a JSON string; returns false when some byte was not UTF-8. */
static bool json__string(FILE *f, const void *p, size_t n) {
    fputc('"', f);
    bool all_utf8 = tc_write_escaped(f, p, n, TC_ESCAPE_JSON);
    fputc('"', f);
    return all_utf8;
}

static void json__base64(FILE *f, const unsigned char *p, size_t n) {
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', f);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        fputc(digits[(v >> 18) & 63], f);
        fputc(digits[(v >> 12) & 63], f);
        fputc(i + 1 < n ? digits[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < n ? digits[v & 63] : '=', f);
    }
    fputc('"', f);
}

static void json__headers(FILE *f, const tofu_msg *m) {
    tofu_hdr_iter it;
    tofu_header h;
    bool first = true;
    tofu_msg_hdr_iter(m, &it);
    fputc('[', f);
    while (tofu_hdr_iter_next(&it, &h)) {
        fputs(first ? "[" : ",[", f);
        first = false;
        json__string(f, h.name, h.name_len);
        fputc(',', f);
        json__string(f, h.value, h.value_len);
        fputc(']', f);
    }
    fputc(']', f);
}

void tc_json_write_msg(FILE *f, const tofu_msg *m) {
    const tofu_bhdr *h = tofu_msg_bhdr_const(m);
    size_t len = 0;
    const unsigned char *body = tofu_msg_body(m, &len);
    fprintf(f,
            "{\"op\":\"%s\",\"channel\":%u,\"id\":%llu,\"status\":\"%s\",\"origin\":\"%s\","
            "\"more\":%s,\"headers\":",
            tofu_op_name(h->opcode), (unsigned)h->channel, (unsigned long long)h->message_id,
            tofu_status_name(tofu_status_from_byte(h->status)),
            h->origin == TOFU_ORIGIN_ENGINE ? "engine" : "application",
            h->more ? "true" : "false");
    json__headers(f, m);
    fputs(",\"body\":", f);
    if (!json__string(f, body, len)) {
        fputs(",\"body_base64\":", f);
        json__base64(f, body, len);
    }
    fputs("}\n", f);
}
