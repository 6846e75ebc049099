/*
 * The tofu wire format (SPEC §1): a 16-byte big-endian binary header followed
 * by thl bytes of text headers and bl bytes of body. Pure code, no I/O: the
 * engine and the fuzz targets drive it.
 */
#ifndef TOFUI_WIRE_H
#define TOFUI_WIRE_H

#include "msg/msg.h"
#include "platform/platform.h" /* tofui_iov only */

#define TOFUI_BHDR_SIZE 16u

/* The ProtoFields byte (offset 2): opcode bits 0-3, origin bit 4, more bit 5,
 * internal_a bit 6, internal_b bit 7. */
uint8_t tofui_proto_pack(const tofu_bhdr *h);
void tofui_proto_unpack(uint8_t proto, tofu_bhdr *h);

/* Marshals h (including h->thl and h->bl) field by field, byte-exact with
 * SPEC §1.2 on any host byte order. */
void tofui_bhdr_pack(const tofu_bhdr *h, uint8_t out[TOFUI_BHDR_SIZE]);
void tofui_bhdr_unpack(const uint8_t in[TOFUI_BHDR_SIZE], tofu_bhdr *h);

/* ---- encoder ---- */

/* A frame ready for a gather write: the packed header plus pointers to the
 * message's own text-header and body buffers (no copy). The header bytes live
 * in the frame, so iovecs are rebuilt from (frame, offset) before each write
 * and never go stale. */
typedef struct tofui_frame {
    uint8_t hdr[TOFUI_BHDR_SIZE];
    const void *thdrs;
    size_t thl;
    const void *body;
    size_t bl;
} tofui_frame;

/* Packs m's header with thl/bl taken from its buffers and points the frame
 * at them. The message must not change until the frame is written. */
void tofui_frame_encode(const tofu_msg *m, tofui_frame *f);

/* Total bytes of the frame. */
size_t tofui_frame_size(const tofui_frame *f);

/* Fills out[] (room for 3) with what remains to be written after `sent`
 * bytes; returns the number of non-empty parts (0 when complete). */
int tofui_frame_iov(const tofui_frame *f, size_t sent, tofui_iov out[3]);

/* ---- streaming decoder ---- */

typedef enum tofui_dec_rc {
    TOFUI_DEC_MORE = 0,  /* all given bytes consumed; no frame complete yet */
    TOFUI_DEC_NEED_MSG,  /* a valid header is complete: call again with a message */
    TOFUI_DEC_FRAME,     /* the frame is complete in the message given */
    TOFUI_DEC_ERROR      /* protocol error: see dec->error; the stream is dead */
} tofui_dec_rc;

typedef struct tofui_dec {
    uint8_t hdr[TOFUI_BHDR_SIZE];
    size_t hdr_got;    /* header bytes collected */
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

/* True when the decoder holds part of a frame (bytes seen, frame incomplete). */
bool tofui_dec_mid_frame(const tofui_dec *d);

#endif
