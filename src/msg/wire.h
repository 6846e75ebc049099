/*
 * The tofu wire format (SPEC §1): a 16-byte big-endian binary header followed
 * by thl bytes of text headers and bl bytes of body. Pure code, no I/O: the
 * engine, the unit tests and the fuzz targets drive it, the same code each.
 */
#ifndef TOFUI_WIRE_H
#define TOFUI_WIRE_H

#include "msg/msg.h"
#include "platform/iov.h"

#define TOFUI_BHDR_SIZE 16u

/* Where the opcode and the part lengths lie in the binary header (SPEC
 * §1.2): the decoder's fast path reads them in place. */
#define TOFUI_WIRE_OFF_PROTO 2
#define TOFUI_WIRE_OFF_THL 12
#define TOFUI_WIRE_OFF_BL 14
#define TOFUI_WIRE_OPCODE_MASK 0x0Fu

/* The ProtoFields byte (offset 2): opcode bits 0-3, origin bit 4, more bit 5,
 * internal_a bit 6, internal_b bit 7. */
uint8_t tofui_proto_pack(const tofu_bhdr *h);
void tofui_proto_unpack(uint8_t proto, tofu_bhdr *h);

/* Marshals h (including h->thl and h->bl) field by field, byte-exact with
 * SPEC §1.2 on any host byte order. */
void tofui_bhdr_pack(const tofu_bhdr *h, uint8_t out[TOFUI_BHDR_SIZE]);
void tofui_bhdr_unpack(const uint8_t in[TOFUI_BHDR_SIZE], tofu_bhdr *h);

/* ---- encoder: a batch of frames for one gather write ---- */

/* Most parts of one batch: the socket layers send at most 256 per call. */
#define TOFUI_BATCH_IOV 256
/* Parts up to this size are copied into the batch's stage, where copying
 * costs less than the kernel's per-iovec work; bigger parts go without a
 * copy (1 KiB bodies measured the same either way). */
#define TOFUI_BATCH_COPY_MAX 256u
/* Bytes of the stage: the most small parts copied for one write. */
#define TOFUI_BATCH_STAGE 65536u

/* The frames of queued messages as one iovec list. Frame headers always,
 * text headers and bodies up to TOFUI_BATCH_COPY_MAX bytes are copied into
 * the stage, so a run of small frames becomes a single iovec; bigger parts
 * point into the message. A batch lives for one write: after a partial
 * write the next batch starts again from (first message, bytes written). */
typedef struct tofui_batch {
    unsigned char *stage; /* TOFUI_BATCH_STAGE bytes, the caller's */
    size_t staged;        /* bytes of it in use */
    int stage_iov;        /* the iovec ending at stage + staged, or -1 */
    tofui_iov iov[TOFUI_BATCH_IOV];
    int n_iov;
    size_t total; /* bytes in iov[] */
} tofui_batch;

/* Bytes of m's frame on the wire (thl and bl from its buffers). Inline:
 * every written frame asks it. */
static inline size_t tofui_frame_len(const tofu_msg *m) {
    return TOFUI_BHDR_SIZE + m->thdrs.len + m->body.len;
}

/* An empty batch copying into stage (TOFUI_BATCH_STAGE bytes). */
void tofui_batch_init(tofui_batch *b, unsigned char *stage);

/* Adds m's frame (header packed with thl/bl from its buffers), leaving out
 * its first *skip bytes, which are subtracted from *skip (a frame shorter
 * than *skip adds nothing). False, with nothing added, when the whole frame
 * might not fit (3 iovecs, its copied parts); the first frame of an empty
 * batch always fits. m must not change until the batch is written. */
bool tofui_batch_add(tofui_batch *b, const tofu_msg *m, size_t *skip);

/* ---- streaming decoder ---- */

typedef enum tofui_dec_rc {
    TOFUI_DEC_MORE = 0,  /* all given bytes consumed; no frame complete yet */
    TOFUI_DEC_NEED_MSG,  /* a valid header is complete: call again with a message */
    TOFUI_DEC_FRAME,     /* the frame is complete in the message given */
    TOFUI_DEC_ERROR      /* protocol error: see dec->error; the stream is dead */
} tofui_dec_rc;

typedef struct tofui_dec {
    uint8_t hdr[TOFUI_BHDR_SIZE];
    size_t hdr_got;    /* bytes of a header that came in pieces, collected in hdr */
    bool have_hdr;     /* header complete and validated */
    tofu_bhdr bhdr;    /* the unpacked header once have_hdr */
    size_t th_got;     /* text-header bytes copied into the message */
    size_t body_got;   /* body bytes copied into the message */
    tofu_status error; /* set with TOFUI_DEC_ERROR */
} tofui_dec;

void tofui_dec_init(tofui_dec *d);

/* Consumes bytes from data[0..len) and reports how many in *used. m is the
 * message that receives the frame in progress: it may be NULL until the call
 * returns TOFUI_DEC_NEED_MSG; from then on the same message must be passed
 * until TOFUI_DEC_FRAME. On TOFUI_DEC_FRAME the message holds the header
 * (origin forced to application, thl/bl set), text headers and body, and the
 * decoder is ready for the next frame. Errors: opcodes 10..15 give
 * TOFU_INVALID_OP_CODE, Welcome opcodes (never sent on the wire) give
 * TOFU_INVALID_MESSAGE, out of memory gives TOFU_ALLOCATION_FAILED. Never reads
 * past data[len-1]. */
tofui_dec_rc tofui_dec_feed(tofui_dec *d, tofu_msg *m, const void *data, size_t len,
                            size_t *used);

/* Where tofui_dec_feed_take gets the message for a frame whose header is
 * complete: rest is thl + bl, avail the bytes of the input after the
 * header. NULL: not now (the call returns TOFUI_DEC_NEED_MSG). */
typedef tofu_msg *(*tofui_dec_take)(void *ctx, size_t rest, size_t avail);

/* tofui_dec_feed with the message in *m (NULL until a header is complete),
 * which the decoder asks take for itself as soon as it has a header: a
 * frame that comes whole in the input is decoded in one call. With
 * TOFUI_DEC_FRAME the frame is in *m, which the caller takes (and sets to
 * NULL for the next frame). */
tofui_dec_rc tofui_dec_feed_take(tofui_dec *d, tofu_msg **m, tofui_dec_take take, void *ctx,
                                 const void *data, size_t len, size_t *used);

/* The decoder's fast path, for a read that brings whole frames: the length
 * on the wire of the frame at p[0..len) when the decoder is between frames
 * and the frame lies there whole, with an opcode below the Welcome pair
 * (which the header check passes at once); 0 otherwise, and then
 * tofui_dec_feed_take decodes (and refuses what it must). Inline: asked
 * once per received frame. */
static inline size_t tofui_dec_whole_len(const tofui_dec *d, const uint8_t *p, size_t len) {
    if (d->have_hdr || d->hdr_got != 0 || d->error != TOFU_SUCCESS || len < TOFUI_BHDR_SIZE)
        return 0;
    if ((p[TOFUI_WIRE_OFF_PROTO] & TOFUI_WIRE_OPCODE_MASK) >= TOFU_OP_WELCOME_REQUEST)
        return 0;
    size_t thl = (size_t)p[TOFUI_WIRE_OFF_THL] << 8 | p[TOFUI_WIRE_OFF_THL + 1];
    size_t bl = (size_t)p[TOFUI_WIRE_OFF_BL] << 8 | p[TOFUI_WIRE_OFF_BL + 1];
    size_t n = TOFUI_BHDR_SIZE + thl + bl;
    return n <= len ? n : 0;
}
/* Decodes the frame that tofui_dec_whole_len found at p into m, with the
 * result tofui_dec_feed_take would give: TOFUI_DEC_FRAME (the decoder stays
 * between frames), or TOFUI_DEC_ERROR when m's buffers cannot grow. */
tofui_dec_rc tofui_dec_whole(tofui_dec *d, tofu_msg *m, const uint8_t *p);
/* True when the decoder holds part of a frame (bytes seen, frame incomplete). */
bool tofui_dec_mid_frame(const tofui_dec *d);

#endif
