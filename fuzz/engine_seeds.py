#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_engine (fuzz/corpus/engine/).

Each seed is: byte 0 = the run's flags (FZ_* in fuzz_engine.c), byte 1 =
the seed of the piece sizes, then the bytes the fake peer sends. Run it
from anywhere; it rewrites the files it owns and leaves others alone.
"""
import os
import struct

UDS, RESET, HOLD, ANSWER, CLIENT, BYE, PIECES, READ_FIRST = (1 << i for i in range(8))
REQ, RESP, SIG, HELLO_REQ, HELLO_RESP, BYE_REQ, BYE_RESP, BYE_SIG, WELCOME_REQ = range(9)
HELLO_ID, BYE_ID = 1, 2  # the ids of the application's own HelloRequest and ByeRequest


def frame(op, mid, th=b"", body=b"", ch=7, status=0):
    return struct.pack(">HBBQHH", ch, op, status, mid, len(th), len(body)) + th + body


HELLO = frame(HELLO_REQ, 100, b"~connect_to:tcp|127.0.0.1|7099\r\n")


def requests(n, size=20):
    return b"".join(frame(REQ, 200 + i, body=bytes((i + j) & 0xFF for j in range(size)))
                    for i in range(n))


SEEDS = {
    # ordinary conversations
    "hello_requests_fin": (ANSWER, HELLO + requests(3)),
    "hello_requests_reset": (ANSWER | RESET, HELLO + requests(3)),
    "hello_requests_uds_fin": (ANSWER | UDS, HELLO + requests(3)),
    "hello_requests_uds_reset_read": (ANSWER | UDS | RESET | READ_FIRST, HELLO + requests(3)),
    "pieces_signals_more": (PIECES | ANSWER, HELLO + frame(SIG, 5) + frame(REQ | 0x20, 6, body=b"a")
                            + frame(REQ, 6, body=b"b" * 300)),
    "peer_bye_answered": (ANSWER, HELLO + requests(1) + frame(BYE_REQ, 300)),
    "peer_bye_unanswered_uds": (UDS, HELLO + frame(BYE_REQ, 300)),
    "peer_bye_signal": (ANSWER | RESET, HELLO + frame(BYE_SIG, 301)),
    "server_sends_bye": (BYE | ANSWER, HELLO + requests(2)),
    "server_bye_answered": (BYE, HELLO + frame(BYE_RESP, 0) + requests(1)),
    "client_hello_answered": (CLIENT | ANSWER, frame(HELLO_RESP, HELLO_ID) + requests(2)),
    "client_graceful_bye": (CLIENT | BYE, frame(HELLO_RESP, HELLO_ID) + frame(BYE_RESP, BYE_ID)),
    "client_simultaneous_bye_uds": (CLIENT | BYE | ANSWER | UDS,
                                    frame(HELLO_RESP, HELLO_ID) + frame(BYE_REQ, 50)
                                    + frame(BYE_RESP, BYE_ID)),
    # pool empty while the peer sends and leaves
    "stall_peer_leaves_fin": (HOLD, HELLO + requests(10)),
    "stall_peer_leaves_uds": (HOLD | UDS, HELLO + requests(10)),
    "stall_answers_peer_leaves": (HOLD | ANSWER | UDS, HELLO + requests(10)),
    "stall_partial_frame": (HOLD | PIECES, HELLO + requests(2) + frame(REQ, 9, body=b"x" * 900)[:500]),
    # issue 12, item 1: the peer's ByeRequest then its ByeResponse to ours
    # are queued when it leaves while the pool is empty
    "item1_stalled_bye_reset": (CLIENT | HOLD | BYE | ANSWER | RESET,
                                frame(HELLO_RESP, HELLO_ID) + frame(BYE_REQ, 50)
                                + frame(BYE_RESP, BYE_ID)),
    "item1_stalled_bye_uds": (CLIENT | HOLD | BYE | ANSWER | UDS,
                              frame(HELLO_RESP, HELLO_ID) + frame(BYE_REQ, 50)
                              + frame(BYE_RESP, BYE_ID)),
    "item1_stalled_bye_unanswered_fin": (CLIENT | HOLD | BYE,
                                         frame(HELLO_RESP, HELLO_ID) + frame(BYE_REQ, 50)
                                         + frame(BYE_RESP, BYE_ID)),
    # issue 12, item 4
    "item4a_unsolicited_bye_response": (ANSWER, HELLO + requests(1) + frame(BYE_RESP, 9)
                                        + requests(1)),
    "item4a_unsolicited_bye_response_uds_reset": (UDS | RESET, HELLO + frame(BYE_RESP, 9)),
    "item4a_bye_response_first_frame": (0, frame(BYE_RESP, 5, body=b"v0.0.9 hello")),
    "item4a_client_bye_response_without_bye": (CLIENT, frame(HELLO_RESP, HELLO_ID)
                                               + frame(BYE_RESP, BYE_ID)),
    "item4a_client_bye_response_other_id": (CLIENT | BYE, frame(HELLO_RESP, HELLO_ID)
                                            + frame(BYE_RESP, 99)),
    "item4b_hello_response_other_id": (CLIENT | ANSWER, frame(HELLO_RESP, 77) + requests(1)),
    "item4b_hello_response_other_then_own": (CLIENT | UDS, frame(HELLO_RESP, 77)
                                             + frame(HELLO_RESP, HELLO_ID)),
    "item4b_hello_response_other_id_reset": (CLIENT | RESET, frame(HELLO_RESP, 77)),
    "item4c_stalled_reset": (HOLD | RESET, HELLO + requests(10)),
    "item4c_stalled_reset_answers": (HOLD | RESET | ANSWER, HELLO + requests(10)),
    # found by the fuzzer: a ByeRequest with id 0 (its echo cannot be
    # posted) crossing ours while the pool is empty; the peer reads on
    "found_bye_request_id0_crossing": (UDS | HOLD | ANSWER | CLIENT | BYE,
                                       frame(HELLO_RESP, HELLO_ID) + frame(BYE_REQ, 0, ch=71)
                                       + frame(BYE_RESP, BYE_ID, ch=1)),
    # found by the fuzzer: the peer's HelloRequest has the id of ours; the
    # application's answer to it comes back from the engine at the close,
    # next to the engine's answer to our HelloRequest
    "found_peer_hello_with_our_id": (UDS | HOLD | ANSWER | CLIENT | BYE,
                                     frame(HELLO_REQ | 0xB0, HELLO_ID, ch=0)
                                     + frame(BYE_REQ, 268435506, ch=4103)
                                     + frame(REQ, 0, body=bytes(100), ch=0) + frame(REQ, 0, ch=0)
                                     + bytes(13)),
    # hostile
    "invalid_opcode": (0, HELLO + frame(12, 1, body=b"abcd")),
    "welcome_opcode_first": (0, frame(WELCOME_REQ, 1, b"~listen_on:tcp|127.0.0.1|1\r\n")),
    "huge_header_then_fin": (0, HELLO + struct.pack(">HBBQHH", 1, REQ, 0, 3, 65535, 65535) + b"z" * 40),
    "origin_bit_and_status": (ANSWER, HELLO + frame(REQ | 0x10 | 0x40 | 0x80, 4, status=200)),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "engine")
    os.makedirs(out, exist_ok=True)
    for name, (flags, stream) in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([flags, 0x5A]) + stream)


if __name__ == "__main__":
    main()
