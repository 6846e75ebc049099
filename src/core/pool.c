/* The message pool (SPEC §7): a mutex-protected LIFO stack of reset
 * messages. Allocation and freeing happen outside the lock so that other
 * threads never wait on malloc. */
#include <string.h>

#include "pool.h"

static void pool__push(tofui_pool *p, tofu_msg *m) {
    m->next = p->top;
    p->top = m;
    p->count++;
}

static tofu_msg *pool__pop(tofui_pool *p) {
    tofu_msg *m = p->top;
    if (m != NULL) {
        p->top = m->next;
        p->count--;
        m->next = NULL;
    }
    return m;
}

static void pool__free_list(tofu_msg *m) {
    while (m != NULL) {
        tofu_msg *next = m->next;
        tofu_msg_destroy(m);
        m = next;
    }
}

tofu_status tofui_pool_init(tofui_pool *p, uint16_t initial, uint16_t max) {
    memset(p, 0, sizeof *p);
    p->max = max == 0 ? TOFU_DEFAULT_MAX_POOL : max;
    size_t want = initial == 0 ? TOFU_DEFAULT_INITIAL_POOL : initial;
    if (p->max < want)
        p->max = want;
    tofui_mutex_init(&p->lock);
    for (size_t i = 0; i < want; i++) {
        tofu_msg *m;
        if (tofu_msg_create(&m) != TOFU_SUCCESS) {
            pool__free_list(p->top);
            tofui_mutex_fini(&p->lock);
            memset(p, 0, sizeof *p);
            return TOFU_ALLOCATION_FAILED;
        }
        pool__push(p, m);
    }
    return TOFU_SUCCESS;
}

void tofui_pool_close(tofui_pool *p) {
    tofui_mutex_lock(&p->lock);
    p->closed = true;
    tofu_msg *list = p->top;
    p->top = NULL;
    p->count = 0;
    tofui_mutex_unlock(&p->lock);
    pool__free_list(list);
}

void tofui_pool_fini(tofui_pool *p) {
    tofui_pool_close(p);
    tofui_mutex_fini(&p->lock);
}

static void pool__set_err(tofu_status *err, tofu_status st) {
    if (err != NULL)
        *err = st;
}

tofu_msg *tofui_pool_get(tofui_pool *p, tofu_alloc strategy, tofu_status *err) {
    tofui_mutex_lock(&p->lock);
    bool closed = p->closed;
    tofu_msg *m = closed ? NULL : pool__pop(p);
    if (!closed && m == NULL && strategy == TOFU_POOL_ONLY)
        p->empty_handed_out = true; /* the next put must wake whoever starves */
    tofui_mutex_unlock(&p->lock);

    if (closed) {
        pool__set_err(err, TOFU_NOT_ALLOWED);
        return NULL;
    }
    if (m != NULL) {
        tofui_msg_clear(m);
    } else if (strategy == TOFU_POOL_ONLY) {
        pool__set_err(err, TOFU_POOL_EMPTY);
        return NULL;
    } else if (tofu_msg_create(&m) != TOFU_SUCCESS) {
        pool__set_err(err, TOFU_ALLOCATION_FAILED);
        return NULL;
    }
    pool__set_err(err, TOFU_SUCCESS);
    return m;
}

/* Detaches up to want messages from the top; called under the lock. */
static tofu_msg *pool__pop_list(tofui_pool *p, size_t want) {
    tofu_msg *head = p->top, *last = NULL;
    for (size_t n = 0; n < want && p->top != NULL; n++) {
        last = p->top;
        p->top = last->next;
        p->count--;
    }
    if (last == NULL)
        return NULL;
    last->next = NULL;
    return head;
}

tofu_msg *tofui_pool_get_list(tofui_pool *p, size_t want) {
    tofui_mutex_lock(&p->lock);
    tofu_msg *list = p->closed ? NULL : pool__pop_list(p, want);
    if (!p->closed && list == NULL)
        p->empty_handed_out = true; /* as a POOL_ONLY get that found none */
    tofui_mutex_unlock(&p->lock);
    for (tofu_msg *m = list; m != NULL;) {
        tofu_msg *next = m->next;
        tofui_msg_clear(m);
        m->next = next;
        m = next;
    }
    return list;
}

bool tofui_pool_put(tofui_pool *p, tofu_msg **mp) {
    if (mp == NULL || *mp == NULL)
        return false;
    tofu_msg *m = *mp;
    *mp = NULL;
    tofui_msg_clear(m);

    bool refilled = false;
    tofui_mutex_lock(&p->lock);
    bool keep = !p->closed && p->count < p->max;
    if (keep) {
        pool__push(p, m);
        refilled = p->empty_handed_out;
        p->empty_handed_out = false;
    }
    tofui_mutex_unlock(&p->lock);

    if (!keep)
        tofu_msg_destroy(m);
    return refilled;
}

/* Pushes up to the pool's room from the list; returns what did not fit.
 * Called under the lock. */
static tofu_msg *pool__push_list(tofui_pool *p, tofu_msg *list) {
    while (list != NULL && !p->closed && p->count < p->max) {
        tofu_msg *next = list->next;
        pool__push(p, list);
        list = next;
    }
    return list;
}

bool tofui_pool_put_list(tofui_pool *p, tofu_msg *list) {
    if (list == NULL)
        return false;
    for (tofu_msg *m = list; m != NULL;) { /* clearing unlinks: save next */
        tofu_msg *next = m->next;
        tofui_msg_clear(m);
        m->next = next;
        m = next;
    }
    tofui_mutex_lock(&p->lock);
    tofu_msg *rest = pool__push_list(p, list);
    bool refilled = rest != list && p->empty_handed_out;
    if (rest != list)
        p->empty_handed_out = false;
    tofui_mutex_unlock(&p->lock);

    pool__free_list(rest);
    return refilled;
}

size_t tofui_pool_count(tofui_pool *p) {
    tofui_mutex_lock(&p->lock);
    size_t n = p->count;
    tofui_mutex_unlock(&p->lock);
    return n;
}
