/*
 * tofu._speed: the hot calls of the Python binding, hand-written against
 * the CPython API (python/README.md, "Why CFFI, and a small C extension").
 *
 * CFFI serves the rest of the package; what runs once per message is here,
 * where it costs one C call and no intermediate Python object:
 *   - Message, the base class of tofu.Message: it owns one tofu_msg; its
 *     header fields and body are read and written in C, and collecting it
 *     gives the C message back to the pool in tp_dealloc (no __del__);
 *   - send (build, fill and post a message from bytes), post, reply;
 *   - take: up to `cap` messages from a group's queue in one
 *     tofu_receive_many, wrapped as Messages in one list.
 * Non-blocking calls keep the GIL (the locks they take are never held by a
 * thread that waits for the GIL); take releases it when it may wait.
 *
 * Ownership (issue 15): a Message owns its C message until a post succeeds
 * (then ptr is NULL: spent) or it is closed or collected (then the message
 * goes back to its engine's pool, or is freed when the engine is closed or
 * it has none). EngineRef.closed is set, with the GIL held, before the
 * engine is destroyed, so no put can reach a destroyed pool.
 *
 * libtofu itself is compiled once, into tofu._tofu; this module calls it
 * through the table of tofu_py_api.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "tofu_py_api.h"

#define MAX_TAKE 64

static const tofu_py_api *api;
static PyObject *opcode_cls, *opcodes, *statuses, *message_spent, *shutdown_started,
    *raise_for;
static PyTypeObject *posted_type, *message_type;

/* reply opcodes (tofu_op_echo), 255: none */
static const uint8_t echo_of[10] = {1, 255, 2, 4, 255, 6, 255, 255, 9, 255};

/* Raises the status's exception through tofu._status.raise_for; NULL. */
static PyObject *raise_status(int st, const char *what) {
    PyObject *r = PyObject_CallFunction(raise_for, "is", st, what);
    Py_XDECREF(r);
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "tofu: raise_for did not raise");
    return NULL;
}

static int check_bound(void) {
    if (api == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tofu._speed is not bound");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* EngineRef, GroupRef: the C pointers and their closed flags               */

typedef struct {
    PyObject_HEAD
    tofu_engine *e;
    int closed;
} EngineRef;

static PyTypeObject EngineRef_Type;

static PyObject *EngineRef_new(PyTypeObject *t, PyObject *args, PyObject *kw) {
    unsigned long long addr;
    if (!PyArg_ParseTuple(args, "K", &addr))
        return NULL;
    EngineRef *self = (EngineRef *)t->tp_alloc(t, 0);
    if (self != NULL)
        self->e = (tofu_engine *)(uintptr_t)addr;
    return (PyObject *)self;
}

static PyObject *EngineRef_close(EngineRef *self, PyObject *unused) {
    self->closed = 1;
    Py_RETURN_NONE;
}

static PyMethodDef EngineRef_methods[] = {
    {"close", (PyCFunction)EngineRef_close, METH_NOARGS,
     "Marks the engine closed: from now on messages are freed, not pooled."},
    {0}};

static PyMemberDef EngineRef_members[] = {
    {"closed", T_INT, offsetof(EngineRef, closed), READONLY, NULL}, {0}};

static PyTypeObject EngineRef_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tofu._speed.EngineRef",
    .tp_basicsize = sizeof(EngineRef),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = EngineRef_new,
    .tp_methods = EngineRef_methods,
    .tp_members = EngineRef_members,
};

typedef struct {
    PyObject_HEAD
    EngineRef *eng;
    tofu_group *g;
    int closed;
} GroupRef;

static PyTypeObject GroupRef_Type;

static PyObject *GroupRef_new(PyTypeObject *t, PyObject *args, PyObject *kw) {
    EngineRef *eng;
    unsigned long long addr;
    if (!PyArg_ParseTuple(args, "O!K", &EngineRef_Type, &eng, &addr))
        return NULL;
    GroupRef *self = (GroupRef *)t->tp_alloc(t, 0);
    if (self != NULL) {
        Py_INCREF(eng);
        self->eng = eng;
        self->g = (tofu_group *)(uintptr_t)addr;
    }
    return (PyObject *)self;
}

static void GroupRef_dealloc(GroupRef *self) {
    Py_XDECREF(self->eng);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *GroupRef_close(GroupRef *self, PyObject *unused) {
    self->closed = 1;
    Py_RETURN_NONE;
}

static PyMethodDef GroupRef_methods[] = {
    {"close", (PyCFunction)GroupRef_close, METH_NOARGS, "Marks the group closed."}, {0}};

static PyTypeObject GroupRef_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tofu._speed.GroupRef",
    .tp_basicsize = sizeof(GroupRef),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = GroupRef_new,
    .tp_dealloc = (destructor)GroupRef_dealloc,
    .tp_methods = GroupRef_methods,
};

/* The group's pointer, or NULL with ShutdownStarted raised. */
static tofu_group *group_live(PyObject *o) {
    if (!PyObject_TypeCheck(o, &GroupRef_Type)) {
        PyErr_SetString(PyExc_TypeError, "tofu._speed: a GroupRef is expected");
        return NULL;
    }
    GroupRef *gr = (GroupRef *)o;
    if (gr->closed || gr->eng->closed) {
        PyErr_SetString(shutdown_started,
                        gr->eng->closed ? "the engine is closed" : "the group is closed");
        return NULL;
    }
    return gr->g;
}

/* ------------------------------------------------------------------------ */
/* Message                                                                  */

typedef struct {
    PyObject_HEAD
    tofu_msg *ptr;
    tofu_bhdr *h;
    EngineRef *eng; /* NULL: not from a pool */
    int views;      /* open body_view()s */
    PyObject *weakrefs;
} Message;

static PyTypeObject Message_Type;

/* Gives the C message back: to the pool while the engine is open, else
 * frees it. */
static void msg_release(Message *self) {
    tofu_msg *m = self->ptr;
    self->ptr = NULL;
    self->h = NULL;
    if (m == NULL)
        return;
    if (self->eng != NULL && !self->eng->closed)
        api->put(self->eng->e, &m);
    else
        api->msg_destroy(m);
}

static void msg_adopt(Message *self, tofu_msg *m, EngineRef *eng) {
    self->ptr = m;
    self->h = api->bhdr(m);
    Py_XINCREF(eng);
    Py_XSETREF(self->eng, eng);
    self->views = 0;
}

/* A new tofu.Message owning m (from eng's pool, or none). */
static PyObject *msg_wrap(tofu_msg *m, EngineRef *eng) {
    Message *self = (Message *)message_type->tp_alloc(message_type, 0);
    if (self == NULL)
        return NULL;
    msg_adopt(self, m, eng);
    return (PyObject *)self;
}

static int msg_live(Message *self) {
    if (self->ptr == NULL) {
        PyErr_SetString(message_spent, "this message was posted or closed");
        return -1;
    }
    return 0;
}

static int msg_no_views(Message *self) {
    if (self->views > 0) {
        PyErr_SetString(PyExc_BufferError, "a body_view() of this message is still open");
        return -1;
    }
    return 0;
}

static void Message_dealloc(Message *self) {
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (api != NULL)
        msg_release(self);
    Py_CLEAR(self->eng);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Message_adopt(Message *self, PyObject *args) {
    unsigned long long addr;
    PyObject *eng;
    if (check_bound() || !PyArg_ParseTuple(args, "KO", &addr, &eng))
        return NULL;
    if (eng != Py_None && !PyObject_TypeCheck(eng, &EngineRef_Type)) {
        PyErr_SetString(PyExc_TypeError, "_adopt: an EngineRef or None");
        return NULL;
    }
    msg_release(self); /* __init__ called again */
    msg_adopt(self, (tofu_msg *)(uintptr_t)addr, eng == Py_None ? NULL : (EngineRef *)eng);
    Py_RETURN_NONE;
}

static PyObject *Message_close(Message *self, PyObject *unused) {
    if (self->ptr == NULL)
        Py_RETURN_NONE;
    if (msg_no_views(self))
        return NULL;
    msg_release(self);
    Py_RETURN_NONE;
}

static PyObject *Message_take(Message *self, PyObject *unused) {
    if (msg_live(self) || msg_no_views(self))
        return NULL;
    uintptr_t a = (uintptr_t)self->ptr;
    self->ptr = NULL;
    self->h = NULL;
    return PyLong_FromUnsignedLongLong(a);
}

static PyObject *Message_give_back(Message *self, PyObject *arg) {
    unsigned long long a = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    self->ptr = (tofu_msg *)(uintptr_t)a;
    self->h = api->bhdr(self->ptr);
    Py_RETURN_NONE;
}

/* Replaces the body; BufferError while a view is open, TypeError for str,
 * InvalidBodyLen past the limit (the old body stays). */
static int msg_set_body(Message *self, PyObject *data) {
    if (msg_live(self) || msg_no_views(self))
        return -1;
    if (PyUnicode_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "body takes bytes, not str (encode it)");
        return -1;
    }
    Py_buffer b;
    if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE) < 0)
        return -1;
    tofu_status st = TOFU_SUCCESS;
    if (b.len > TOFU_MAX_PART_LEN) {
        st = TOFU_INVALID_BODY_LEN;
    } else {
        api->clear_body(self->ptr);
        if (b.len > 0)
            st = api->append_body(self->ptr, b.buf, (size_t)b.len);
    }
    PyBuffer_Release(&b);
    if (st != TOFU_SUCCESS) {
        raise_status(st, "body");
        return -1;
    }
    return 0;
}

/* Turns the message into its reply in place (same channel and id). */
static int msg_make_reply(Message *self, PyObject *body) {
    if (msg_live(self))
        return -1;
    unsigned op = self->h->opcode;
    uint8_t reply = op < 10 ? echo_of[op] : 255;
    if (reply == 255) {
        char what[40];
        snprintf(what, sizeof what, "no reply to opcode %u", op);
        raise_status(TOFU_INVALID_OP_CODE, what);
        return -1;
    }
    self->h->opcode = reply;
    if (body != NULL && body != Py_None)
        return msg_set_body(self, body);
    return 0;
}

static PyObject *Message_make_reply(Message *self, PyObject *const *args, Py_ssize_t n) {
    if (n > 1) {
        PyErr_SetString(PyExc_TypeError, "make_reply(body=None)");
        return NULL;
    }
    if (msg_make_reply(self, n == 1 ? args[0] : NULL))
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyMethodDef Message_methods[] = {
    {"_adopt", (PyCFunction)Message_adopt, METH_VARARGS, NULL},
    {"_take", (PyCFunction)Message_take, METH_NOARGS,
     "Gives the C message away (a post): the Message is spent."},
    {"_give_back", (PyCFunction)Message_give_back, METH_O, "A failed post: the caller keeps it."},
    {"close", (PyCFunction)Message_close, METH_NOARGS,
     "Gives the message back now (to the pool, or frees it). Idempotent."},
    {"make_reply", (PyCFunction)(void (*)(void))Message_make_reply, METH_FASTCALL,
     "Turns this message into its reply in place (Request -> Response, same\n"
     "channel and id; headers kept) and returns it, ready to post. ``body``,\n"
     "if given, replaces the body."},
    {0}};

#define HDR_OR_RAISE(self)                                                                         \
    do {                                                                                           \
        if (msg_live(self))                                                                        \
            return NULL;                                                                           \
    } while (0)

static PyObject *Message_get_addr(Message *self, void *c) {
    HDR_OR_RAISE(self);
    return PyLong_FromUnsignedLongLong((uintptr_t)self->ptr);
}

static PyObject *Message_get_alive(Message *self, void *c) {
    return PyBool_FromLong(self->ptr != NULL);
}

static PyObject *Message_get_opcode(Message *self, void *c) {
    HDR_OR_RAISE(self);
    unsigned op = self->h->opcode;
    if (op < 10) {
        PyObject *r = PyTuple_GET_ITEM(opcodes, op);
        Py_INCREF(r);
        return r;
    }
    return PyObject_CallFunction(opcode_cls, "I", op); /* ValueError */
}

/* An int for the header's uint fields; -1 with an error. */
static int set_uint(PyObject *v, unsigned long long max, unsigned long long *out) {
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a message field");
        return -1;
    }
    unsigned long long x = PyLong_AsUnsignedLongLong(v);
    if (x == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    if (x > max) {
        PyErr_SetString(PyExc_OverflowError, "value out of range for this field");
        return -1;
    }
    *out = x;
    return 0;
}

static int Message_set_opcode(Message *self, PyObject *v, void *c) {
    unsigned long long x;
    if (msg_live(self) || set_uint(v, 255, &x))
        return -1;
    self->h->opcode = (uint8_t)x;
    return 0;
}

static PyObject *Message_get_channel(Message *self, void *c) {
    HDR_OR_RAISE(self);
    return PyLong_FromLong(self->h->channel);
}

static int Message_set_channel(Message *self, PyObject *v, void *c) {
    unsigned long long x;
    if (msg_live(self) || set_uint(v, 65535, &x))
        return -1;
    self->h->channel = (uint16_t)x;
    return 0;
}

static PyObject *Message_get_id(Message *self, void *c) {
    HDR_OR_RAISE(self);
    return PyLong_FromUnsignedLongLong(self->h->message_id);
}

static int Message_set_id(Message *self, PyObject *v, void *c) {
    unsigned long long x;
    if (msg_live(self) || set_uint(v, UINT64_MAX, &x))
        return -1;
    self->h->message_id = x;
    return 0;
}

static PyObject *Message_get_status(Message *self, void *c) {
    HDR_OR_RAISE(self);
    unsigned st = self->h->status;
    PyObject *r = PyTuple_GET_ITEM(statuses, st < 32 ? st : TOFU_UNKNOWN_ERROR);
    Py_INCREF(r);
    return r;
}

static PyObject *Message_get_from_engine(Message *self, void *c) {
    HDR_OR_RAISE(self);
    return PyBool_FromLong(self->h->origin != 0);
}

/* The three flag bits, by offset in tofu_bhdr. */
static PyObject *Message_get_flag(Message *self, void *c) {
    HDR_OR_RAISE(self);
    return PyBool_FromLong(*(bool *)((char *)self->h + (size_t)c));
}

static int Message_set_flag(Message *self, PyObject *v, void *c) {
    if (msg_live(self))
        return -1;
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a message field");
        return -1;
    }
    int t = PyObject_IsTrue(v);
    if (t < 0)
        return -1;
    *(bool *)((char *)self->h + (size_t)c) = t != 0;
    return 0;
}

static PyObject *Message_get_body(Message *self, void *c) {
    HDR_OR_RAISE(self);
    size_t n;
    const void *p = api->body(self->ptr, &n);
    return PyBytes_FromStringAndSize(n ? (const char *)p : NULL, (Py_ssize_t)n);
}

static int Message_set_body(Message *self, PyObject *v, void *c) {
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete the body");
        return -1;
    }
    return msg_set_body(self, v);
}

static Py_ssize_t Message_len(Message *self) {
    if (msg_live(self))
        return -1;
    size_t n;
    api->body(self->ptr, &n);
    return (Py_ssize_t)n;
}

#define FLAG(name, field, doc)                                                                     \
    {name, (getter)Message_get_flag, (setter)Message_set_flag, doc,                                \
     (void *)offsetof(tofu_bhdr, field)}

static PyGetSetDef Message_getset[] = {
    {"_addr", (getter)Message_get_addr, NULL, "the C message's address (MessageSpent)", NULL},
    {"alive", (getter)Message_get_alive, NULL, "False once posted or closed.", NULL},
    {"opcode", (getter)Message_get_opcode, (setter)Message_set_opcode,
     "The operation (an :class:`Opcode`; invalid values raise ValueError).", NULL},
    {"channel", (getter)Message_get_channel, (setter)Message_set_channel,
     "The local channel number (0: not assigned yet).", NULL},
    {"id", (getter)Message_get_id, (setter)Message_set_id, "The message id (0: assigned at post).",
     NULL},
    {"status", (getter)Message_get_status, NULL, "The status byte (a :class:`~tofu.Status`).",
     NULL},
    {"from_engine", (getter)Message_get_from_engine, NULL,
     "True for messages the engine made (origin bit set).", NULL},
    FLAG("more", more, "The \"more parts follow\" flag (regular opcodes)."),
    FLAG("abort", internal_a, "Bit 6 (internal_a): on a ByeSignal, an abortive close."),
    FLAG("internal_b", internal_b, "Bit 7: carried, never interpreted."),
    {"body", (getter)Message_get_body, (setter)Message_set_body,
     "A copy of the body (assignable from any bytes-like object; InvalidBodyLen\n"
     "past 65535 bytes, the old body then stays).",
     NULL},
    {0}};

static PyMemberDef Message_members[] = {
    {"_views", T_INT, offsetof(Message, views), 0, "open body_view()s"}, {0}};

static PySequenceMethods Message_as_sequence = {.sq_length = (lenfunc)Message_len};

static PyTypeObject Message_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tofu._speed.Message",
    .tp_basicsize = sizeof(Message),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Message_dealloc,
    .tp_weaklistoffset = offsetof(Message, weakrefs),
    .tp_methods = Message_methods,
    .tp_getset = Message_getset,
    .tp_members = Message_members,
    .tp_as_sequence = &Message_as_sequence,
};

/* ------------------------------------------------------------------------ */
/* module functions                                                         */

/* Posted(channel, id), a tuple subclass, without calling its __new__. */
static PyObject *posted(unsigned channel, uint64_t id) {
    PyObject *t = posted_type->tp_alloc(posted_type, 2);
    if (t == NULL)
        return NULL;
    PyObject *a = PyLong_FromLong(channel), *b = PyLong_FromUnsignedLongLong(id);
    if (a == NULL || b == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_DECREF(t);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, a);
    PyTuple_SET_ITEM(t, 1, b);
    return t;
}

/* send(group, channel, body, opcode, more) -> Posted: a pooled message
 * with no text header, the body copied in, posted. */
static PyObject *speed_send(PyObject *mod, PyObject *const *args, Py_ssize_t n) {
    if (n != 5) {
        PyErr_SetString(PyExc_TypeError, "send(group, channel, body, opcode, more)");
        return NULL;
    }
    tofu_group *g = group_live(args[0]);
    if (g == NULL)
        return NULL;
    unsigned long long channel, opcode;
    if (set_uint(args[1], 65535, &channel) || set_uint(args[3], 255, &opcode))
        return NULL;
    int more = PyObject_IsTrue(args[4]);
    if (more < 0)
        return NULL;
    PyObject *body = args[2];
    const char *data;
    Py_ssize_t len;
    Py_buffer b;
    int has_buf = 0;
    if (PyBytes_CheckExact(body)) {
        data = PyBytes_AS_STRING(body);
        len = PyBytes_GET_SIZE(body);
    } else if (PyUnicode_Check(body)) {
        PyErr_SetString(PyExc_TypeError, "body takes bytes, not str (encode it)");
        return NULL;
    } else {
        if (PyObject_GetBuffer(body, &b, PyBUF_SIMPLE) < 0)
            return NULL;
        has_buf = 1;
        data = b.buf;
        len = b.len;
    }
    tofu_engine *e = ((GroupRef *)args[0])->eng->e;
    tofu_status st = TOFU_ALLOCATION_FAILED;
    tofu_bhdr out;
    tofu_msg *m = api->get(e, TOFU_ALWAYS);
    if (m != NULL) {
        tofu_bhdr *h = api->bhdr(m);
        h->opcode = (uint8_t)opcode;
        h->channel = (uint16_t)channel;
        h->more = more != 0;
        st = len > 0 ? api->append_body(m, data, (size_t)len) : TOFU_SUCCESS;
        if (st == TOFU_SUCCESS)
            st = api->post(g, &m, &out);
        if (st != TOFU_SUCCESS)
            api->put(e, &m);
    }
    if (has_buf)
        PyBuffer_Release(&b);
    if (st != TOFU_SUCCESS)
        return raise_status(st, "send");
    return posted(out.channel, out.message_id);
}

static Message *as_message(PyObject *o) {
    if (!PyObject_TypeCheck(o, &Message_Type)) {
        PyErr_SetString(PyExc_TypeError, "a tofu.Message is expected");
        return NULL;
    }
    return (Message *)o;
}

/* Posts a live Message: spent on success; on error it keeps its C message
 * (whose status says what was wrong) and the status is raised. */
static PyObject *post_message(tofu_group *g, Message *msg) {
    if (msg_live(msg) || msg_no_views(msg))
        return NULL;
    tofu_msg *m = msg->ptr;
    tofu_bhdr out;
    tofu_status st = api->post(g, &m, &out);
    if (st != TOFU_SUCCESS) /* the caller keeps a refused message (tofu.h) */
        return raise_status(st, "post");
    msg->ptr = NULL;
    msg->h = NULL;
    return posted(out.channel, out.message_id);
}

/* post(group, msg) -> Posted */
static PyObject *speed_post(PyObject *mod, PyObject *const *args, Py_ssize_t n) {
    if (n != 2) {
        PyErr_SetString(PyExc_TypeError, "post(group, msg)");
        return NULL;
    }
    tofu_group *g = group_live(args[0]);
    Message *msg = g != NULL ? as_message(args[1]) : NULL;
    return msg != NULL ? post_message(g, msg) : NULL;
}

/* reply(group, msg, body) -> Posted: make_reply(body) and post. */
static PyObject *speed_reply(PyObject *mod, PyObject *const *args, Py_ssize_t n) {
    if (n != 3) {
        PyErr_SetString(PyExc_TypeError, "reply(group, msg, body)");
        return NULL;
    }
    tofu_group *g = group_live(args[0]);
    Message *msg = g != NULL ? as_message(args[1]) : NULL;
    if (msg == NULL || msg_make_reply(msg, args[2]))
        return NULL;
    return post_message(g, msg);
}

/* take(group, timeout_ns, cap) -> (status, [Message]): one
 * tofu_receive_many; the GIL is released only when it may wait. */
static PyObject *speed_take(PyObject *mod, PyObject *const *args, Py_ssize_t n) {
    if (n != 3) {
        PyErr_SetString(PyExc_TypeError, "take(group, timeout_ns, cap)");
        return NULL;
    }
    tofu_group *g = group_live(args[0]);
    if (g == NULL)
        return NULL;
    unsigned long long timeout_ns, cap;
    if (set_uint(args[1], UINT64_MAX, &timeout_ns) || set_uint(args[2], MAX_TAKE, &cap))
        return NULL;
    tofu_msg *v[MAX_TAKE];
    size_t got = 0;
    tofu_status st;
    if (timeout_ns == 0) {
        st = api->receive_many(g, 0, v, (size_t)cap, &got);
    } else {
        Py_BEGIN_ALLOW_THREADS
        st = api->receive_many(g, timeout_ns, v, (size_t)cap, &got);
        Py_END_ALLOW_THREADS
    }
    EngineRef *eng = ((GroupRef *)args[0])->eng;
    PyObject *list = PyList_New((Py_ssize_t)got);
    for (size_t i = 0; i < got; i++) {
        PyObject *m = list != NULL ? msg_wrap(v[i], eng) : NULL;
        if (m == NULL) { /* out of memory: free what is not wrapped */
            Py_CLEAR(list);
            for (size_t j = i; j < got; j++)
                api->put(eng->e, &v[j]);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, m);
    }
    if (list == NULL)
        return NULL;
    return Py_BuildValue("(iN)", (int)st, list);
}

/* bind(api_address, Opcode, opcodes, statuses, MessageSpent,
 *      ShutdownStarted, raise_for, Posted, Message) */
static PyObject *speed_bind(PyObject *mod, PyObject *args) {
    unsigned long long addr;
    PyObject *oc, *ops, *sts, *spent, *shut, *rf, *pt, *mt;
    if (!PyArg_ParseTuple(args, "KOO!O!OOOO!O!", &addr, &oc, &PyTuple_Type, &ops, &PyTuple_Type,
                          &sts, &spent, &shut, &rf, &PyType_Type, &pt, &PyType_Type, &mt))
        return NULL;
    const tofu_py_api *a = (const tofu_py_api *)(uintptr_t)addr;
    if (a == NULL || a->version != TOFU_PY_API_VERSION) {
        PyErr_SetString(PyExc_ImportError, "tofu._speed and tofu._tofu were built apart");
        return NULL;
    }
    if (PyTuple_GET_SIZE(ops) != 10 || PyTuple_GET_SIZE(sts) != 32 ||
        !PyType_IsSubtype((PyTypeObject *)pt, &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)mt, &Message_Type)) {
        PyErr_SetString(PyExc_TypeError, "tofu._speed.bind: unexpected arguments");
        return NULL;
    }
    PyObject *keep[] = {oc, ops, sts, spent, shut, rf, pt, mt};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        Py_INCREF(keep[i]);
    opcode_cls = oc, opcodes = ops, statuses = sts, message_spent = spent;
    shutdown_started = shut, raise_for = rf;
    posted_type = (PyTypeObject *)pt, message_type = (PyTypeObject *)mt;
    api = a;
    Py_RETURN_NONE;
}

static PyMethodDef speed_functions[] = {
    {"bind", speed_bind, METH_VARARGS, NULL},
    {"send", (PyCFunction)(void (*)(void))speed_send, METH_FASTCALL,
     "send(group, channel, body, opcode, more) -> Posted"},
    {"post", (PyCFunction)(void (*)(void))speed_post, METH_FASTCALL, "post(group, msg) -> Posted"},
    {"reply", (PyCFunction)(void (*)(void))speed_reply, METH_FASTCALL,
     "reply(group, msg, body) -> Posted"},
    {"take", (PyCFunction)(void (*)(void))speed_take, METH_FASTCALL,
     "take(group, timeout_ns, cap) -> (status, [Message])"},
    {0}};

static struct PyModuleDef speed_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tofu._speed",
    .m_doc = "The hot calls of tofu (see speed.c).",
    .m_size = -1,
    .m_methods = speed_functions,
};

PyMODINIT_FUNC PyInit__speed(void) {
    PyTypeObject *types[] = {&EngineRef_Type, &GroupRef_Type, &Message_Type};
    const char *names[] = {"EngineRef", "GroupRef", "Message"};
    PyObject *m = PyModule_Create(&speed_module);
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < 3; i++) {
        if (PyType_Ready(types[i]) < 0)
            goto fail;
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
            Py_DECREF(types[i]);
            goto fail;
        }
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
