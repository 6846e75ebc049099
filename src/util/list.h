/*
 * Intrusive containers shared by the engine, header only: a circular doubly
 * linked list through an embedded tofui_link, and a FIFO of messages through
 * tofu_msg.next. Neither allocates, so putting a record on a list cannot
 * fail; a record that is on no list has NULL links.
 */
#ifndef TOFUI_UTIL_LIST_H
#define TOFUI_UTIL_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "msg/msg.h" /* tofu_msg.next, for the message FIFO */

/* ---- intrusive doubly linked list (circular, with a head node) ---- */

typedef struct tofui_link {
    struct tofui_link *prev;
    struct tofui_link *next;
} tofui_link;

#define TOFUI_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void tofui_list_init(tofui_link *head) {
    head->prev = head;
    head->next = head;
}

static inline bool tofui_list_empty(const tofui_link *head) {
    return head->next == head;
}

/* A node that is in no list has NULL links (zeroed records start that way). */
static inline bool tofui_list_linked(const tofui_link *node) {
    return node->next != NULL;
}

static inline void tofui_list_push_back(tofui_link *head, tofui_link *node) {
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void tofui_list_remove(tofui_link *node) {
    if (!tofui_list_linked(node))
        return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = NULL;
    node->next = NULL;
}

/* ---- message FIFO through msg->next ---- */

typedef struct tofui_mq {
    tofu_msg *head;
    tofu_msg *tail;
} tofui_mq;

static inline void tofui_mq_push(tofui_mq *q, tofu_msg *m) {
    m->next = NULL;
    if (q->tail != NULL)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
}

static inline tofu_msg *tofui_mq_pop(tofui_mq *q) {
    tofu_msg *m = q->head;
    if (m != NULL) {
        q->head = m->next;
        if (q->head == NULL)
            q->tail = NULL;
        m->next = NULL;
    }
    return m;
}

/* Moves every message of src to the end of dst; src becomes empty. */
static inline void tofui_mq_append(tofui_mq *dst, tofui_mq *src) {
    if (src->head == NULL)
        return;
    if (dst->tail != NULL)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    src->head = NULL;
    src->tail = NULL;
}

#endif
