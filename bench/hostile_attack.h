/*
 * The attackers of bench_hostile: N raw connections to a TCP port of
 * 127.0.0.1, each playing one mode over and over (hostile_attack.c).
 */
#ifndef TOFU_HOSTILE_ATTACK_H
#define TOFU_HOSTILE_ATTACK_H

#include <stdint.h>

typedef enum hostile_mode {
    HM_TRICKLE, /* max-frame header, then a byte every 100 ms */
    HM_STALL,   /* max-frame header and 100,000 bytes of it, then nothing */
    HM_GARBAGE, /* random bytes */
    HM_RESET,   /* max-frame header and 64 KiB, then a reset */
    HM_STORM,   /* connect, then a reset */
    HM_IDLE,    /* connect, send nothing */
    HM_NOREAD,  /* Requests, never reading the answers */
    HM_COUNT
} hostile_mode;

/* "trickle", ...; and what the mode does, in a few words. */
extern const char *const hostile_mode_names[HM_COUNT];
extern const char *const hostile_mode_what[HM_COUNT];

typedef struct attack_counts {
    uint64_t opened;         /* connections established */
    uint64_t server_closed;  /* ... that the server closed or reset */
    uint64_t self_reset;     /* ... that the attacker reset (reset, storm) */
    uint64_t connect_failed; /* connects that failed or took 3 s */
    uint64_t bytes;          /* bytes written */
} attack_counts;

typedef struct attack attack;

/* n attackers of `mode` against 127.0.0.1:port; noread's Requests have
 * `body` bytes. Nothing connects before the first step. Ends the program
 * when memory runs out. */
attack *attack_create(hostile_mode mode, uint32_t n, uint16_t port, uint32_t body);

/* One round: waits up to 10 ms for the sockets, then does what is due. */
void attack_step(attack *k);

const attack_counts *attack_counts_of(const attack *k);

/* Resets every connection still open and frees the attack. */
void attack_destroy(attack *k);

#endif
