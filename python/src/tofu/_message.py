"""Message: a Python object over one ``tofu_msg``.

Ownership is the C library's, made invisible: a Message owns its C message
until it is posted (then the engine owns it and the Message is spent: any
use raises :class:`MessageSpent`), or until it is collected or closed (then
it goes back to its engine's pool, or is freed when it has no engine or the
engine is closed). No C message is ever used after it was posted, and none
leaks (``tofu.live_messages()`` proves it).
"""
from __future__ import annotations

import enum
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

from . import _speed
from ._status import ShutdownStarted, Status, raise_for
from ._tofu import ffi, lib

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["Opcode", "Message", "MessageSpent", "Header", "BytesLike", "Posted"]

BytesLike = Union[bytes, bytearray, memoryview]
Header = Tuple[str, str]
MAX_PART_LEN = 65535


class MessageSpent(ValueError):
    """The Message was posted (the engine owns it now) or closed."""


class Posted(NamedTuple):
    """What a successful post assigned: the channel and the message id."""

    channel: int
    id: int


class Opcode(enum.IntEnum):
    """The ten operations of the protocol."""

    REQUEST = 0
    RESPONSE = 1
    SIGNAL = 2
    HELLO_REQUEST = 3
    HELLO_RESPONSE = 4
    BYE_REQUEST = 5
    BYE_RESPONSE = 6
    BYE_SIGNAL = 7
    WELCOME_REQUEST = 8
    WELCOME_RESPONSE = 9

    def __str__(self) -> str:
        return ffi.string(lib.tofu_op_name(self.value)).decode()

    def echo(self) -> "Opcode":
        """The reply opcode (Request -> Response, Signal -> Signal, ...)."""
        out = ffi.new("uint8_t *")
        raise_for(lib.tofu_op_echo(self.value, out), f"no reply to {self}")
        return Opcode(out[0])


_OPCODES = tuple(Opcode)
_STATUSES = tuple(Status)


def _encode(s: Union[str, bytes]) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


class Message(_speed.Message):
    """One tofu message: binary header fields, text headers, body.

    Create one with ``Message(...)`` (allocated, not from a pool) or
    ``engine.message(...)`` (from the engine's pool: cheaper); receive them
    from a :class:`~tofu.Group`. Text headers are an ordered list of
    ``(name, value)`` strings; the body is bytes.

    The per-message parts are in C (``tofu._speed.Message``, the base
    class): ``opcode``, ``channel``, ``id``, ``status``, ``from_engine``,
    ``more``, ``abort``, ``internal_b``, ``body`` (a copy; assignable),
    ``len()``, ``alive``, ``close()``, ``make_reply(body=None)``; collecting
    a Message gives its C message back to the pool (or frees it).
    """

    __slots__ = ()

    def __init__(
        self,
        opcode: Union[Opcode, int] = Opcode.REQUEST,
        channel: int = 0,
        body: BytesLike = b"",
        *,
        headers: Iterable[Header] = (),
        id: int = 0,
        more: bool = False,
    ) -> None:
        out = ffi.new("tofu_msg **")
        raise_for(lib.tofu_msg_create(out), "tofu_msg_create")
        self._adopt(_address(out[0]), None)
        self._fill(opcode, channel, body, headers, id, more)

    # ---- ownership ----------------------------------------------------

    @classmethod
    def _wrap(cls, ptr: object, engine: "Optional[Engine]") -> "Message":
        m = cls.__new__(cls)
        m._adopt(_address(ptr), None if engine is None else engine._ref)
        return m

    def _fill(self, opcode: Union[Opcode, int], channel: int, body: BytesLike,
              headers: Iterable[Header], id: int, more: bool) -> None:
        self.opcode = int(opcode)
        self.channel = channel
        self.id = id
        self.more = more
        for name, value in headers:
            self.add_header(name, value)
        if body:
            self.append_body(body)

    def _live(self) -> object:
        """The C message (cdata); MessageSpent once posted or closed."""
        return ffi.cast("tofu_msg *", self._addr)

    @property
    def _h(self) -> object:
        """The binary header (cdata ``tofu_bhdr *``)."""
        return lib.tofu_msg_bhdr(self._live())

    def __enter__(self) -> "Message":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def clone(self) -> "Message":
        """A deep copy (headers, body, timeout), not from any pool."""
        out = ffi.new("tofu_msg **")
        raise_for(lib.tofu_msg_clone(self._live(), out), "tofu_msg_clone")
        return Message._wrap(out[0], None)

    def reset(self) -> None:
        """Zeroes the header, empties text headers and body."""
        if self._views:
            raise BufferError("a body_view() of this message is still open")
        lib.tofu_msg_reset(self._live())

    # ---- binary header (the fields are C getters and setters) ---------------

    @property
    def late(self) -> bool:
        """A Response that answers no waiting Request (tofu_msg_late)."""
        return bool(lib.tofu_msg_late(self._live()))

    @property
    def timed_out(self) -> bool:
        """The engine's answer to a Request whose deadline passed."""
        return bool(lib.tofu_msg_timed_out(self._live()))

    @property
    def timeout(self) -> Optional[float]:
        """A Request's deadline in seconds (None: the engine's default)."""
        ms = ffi.new("uint32_t *")
        if not lib.tofu_msg_timeout(self._live(), ms):
            return None
        return None if ms[0] == lib.TOFU_TIMEOUT_NONE else ms[0] / 1000.0

    @timeout.setter
    def timeout(self, seconds: Optional[float]) -> None:
        ms = lib.TOFU_TIMEOUT_NONE if seconds is None else max(0, int(seconds * 1000))
        lib.tofu_msg_set_timeout(self._live(), ms)

    # ---- text headers ---------------------------------------------------

    @property
    def headers(self) -> List[Header]:
        """The text headers, in order, as (name, value) strings (UTF-8,
        undecodable bytes escaped)."""
        ptr = self._live()
        it = ffi.new("tofu_hdr_iter *")
        h = ffi.new("tofu_header *")
        lib.tofu_msg_hdr_iter(ptr, it)
        out = []
        while lib.tofu_hdr_iter_next(it, h):
            out.append((ffi.unpack(h.name, h.name_len).decode("utf-8", "surrogateescape"),
                        ffi.unpack(h.value, h.value_len).decode("utf-8", "surrogateescape")))
        return out

    @headers.setter
    def headers(self, items: Iterable[Header]) -> None:
        lib.tofu_msg_clear_headers(self._live())
        for name, value in items:
            self.add_header(name, value)

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The value of the first header called ``name`` (case-sensitive)."""
        h = ffi.new("tofu_header *")
        if not lib.tofu_msg_find_header(self._live(), _encode(name), h):
            return default
        return ffi.unpack(h.value, h.value_len).decode("utf-8", "surrogateescape")

    def add_header(self, name: str, value: str) -> None:
        """Appends ``name:value``. Raises InvalidMessage for an empty name
        or value, a ':' in the name, CR/LF/NUL anywhere;
        InvalidHeadersLen past 65535 bytes."""
        n, v = _encode(name), _encode(value)
        raise_for(lib.tofu_msg_add_header_n(self._live(), n, len(n), v, len(v)),
                  f"header {name!r}")

    def clear_headers(self) -> None:
        lib.tofu_msg_clear_headers(self._live())

    @property
    def raw_headers(self) -> bytes:
        """The text-header block as it is on the wire."""
        n = ffi.new("size_t *")
        p = lib.tofu_msg_headers(self._live(), n)
        return ffi.unpack(p, n[0]) if n[0] else b""

    # ---- body -----------------------------------------------------------

    def append_body(self, data: BytesLike) -> None:
        """Appends bytes; InvalidBodyLen past 65535 bytes (body unchanged)."""
        if self._views:
            raise BufferError("a body_view() of this message is still open")
        ptr = self._live()
        if isinstance(data, str):
            raise TypeError("body takes bytes, not str (encode it)")
        if len(data) == 0:
            return
        buf = ffi.from_buffer(data)
        raise_for(lib.tofu_msg_append_body(ptr, buf, len(buf)), "body")

    @contextmanager
    def body_view(self) -> Iterator[memoryview]:
        """The body without a copy, as a read-only memoryview valid inside
        the ``with`` block. While it is open the message cannot be posted,
        closed or have its body changed (BufferError)."""
        n = ffi.new("size_t *")
        p = lib.tofu_msg_body(self._live(), n)
        mv = memoryview(ffi.buffer(p, n[0])).toreadonly()
        self._views += 1
        try:
            yield mv
        finally:
            mv.release()  # a view still exported keeps the block open: BufferError
            self._views -= 1

    def __repr__(self) -> str:
        if not self.alive:
            return "<tofu.Message spent>"
        h = self._h
        try:
            op = str(Opcode(h.opcode))
        except ValueError:
            op = f"opcode={h.opcode}"
        return (f"<tofu.Message {op} channel={h.channel} id={h.message_id} "
                f"status={Status.from_byte(h.status)}{' engine' if h.origin else ''} "
                f"body={len(self)}B>")


def _address(ptr: object) -> int:
    return int(ffi.cast("uintptr_t", ptr))


_speed.bind(int(lib.tofu_py_api_address()), Opcode, _OPCODES, _STATUSES, MessageSpent,
            ShutdownStarted, raise_for, Posted, Message)
