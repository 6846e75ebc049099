"""Engine and Group (synchronous API).

An :class:`Engine` owns libtofu's I/O thread, the message pool and the
sockets; a :class:`Group` is a receive queue plus the channels opened
through it. Both are context managers. The asyncio flavour is in
``tofu.asyncio``.
"""
from __future__ import annotations

import collections
import threading
import time
import weakref
from typing import (Any, Deque, Dict, Iterable, List, NamedTuple, Optional, Set, Union)

from . import _speed
from ._message import BytesLike, Header, Message, Opcode, Posted
from ._status import ShutdownStarted, Status, TofuError, error_for, raise_for
from ._tofu import ffi, lib

__all__ = ["Engine", "Group", "Posted", "Listener", "tcp", "uds", "live_messages",
           "open_sockets"]

_FOREVER = 0xFFFFFFFFFFFFFFFF
_SLICE_NS = 500_000_000  # a blocking wait returns to Python this often (Ctrl-C)
_BATCH = 32


def live_messages() -> int:
    """C messages alive in this process (tests use it to prove no leak)."""
    return int(lib.tofu_live_messages())


def open_sockets() -> int:
    """Sockets and descriptors libtofu holds open in this process."""
    return int(lib.tofu_open_sockets())


def tcp(host: str = "127.0.0.1", port: int = 0) -> str:
    """A TCP address value, ``tcp|host|port`` (port 0: any free one, for
    listening)."""
    return f"tcp|{host}|{port}"


def uds(path: str) -> str:
    """A Unix-domain socket address value (``@name``: the Linux abstract
    namespace)."""
    return f"uds|{path}"


class Listener(NamedTuple):
    """A listening channel and the address it really bound."""

    channel: int
    address: str


def _ns(timeout: Optional[float]) -> int:
    if timeout is None:
        return _FOREVER
    return max(0, int(timeout * 1e9))


class Engine:
    """A libtofu engine. ``Engine(**options)``; options are the fields of
    ``tofu_options`` (``initial_pool_msgs``, ``max_pool_msgs``,
    ``max_send_queue``, ``connect_timeout_ms``, ``handshake_timeout_ms``,
    ``bye_linger_ms``, ``request_timeout_ms``, ``frame_timeout_ms``,
    ``max_partial_bytes``).

    ``close()`` (or leaving the ``with`` block) destroys every group, closes
    every channel and stops the I/O thread; Messages still held stay usable
    (they no longer belong to a pool). Do not close an engine while other
    threads are still calling it.
    """

    _group_class: type = None  # type: ignore[assignment]  # set below

    def __init__(self, **options: int) -> None:
        opt = ffi.new("tofu_options *")
        lib.tofu_options_init(opt)
        for k, v in options.items():
            if not hasattr(opt, k):
                raise TypeError(f"unknown engine option {k!r}")
            setattr(opt, k, v)
        out = ffi.new("tofu_engine **")
        raise_for(lib.tofu_engine_create(opt, out), "tofu_engine_create")
        self._e = out[0]
        # The pointer and closed flag that the C side (_speed) reads: a
        # Message collected after close() is freed, not pooled.
        self._ref = _speed.EngineRef(int(ffi.cast("uintptr_t", self._e)))
        self._closed = False
        self._lock = threading.Lock()
        self._groups: "weakref.WeakSet[Group]" = weakref.WeakSet()

    # ---- lifetime -------------------------------------------------------

    def _check(self) -> Any:
        if self._closed:
            raise ShutdownStarted("the engine is closed")
        return self._e

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Destroys the engine (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            # No tofu_put from here on: the puts run in C with the GIL held
            # and read this flag first.
            self._ref.close()
        for g in list(self._groups):
            g._engine_closing()
        lib.tofu_engine_destroy(self._e)
        self._e = ffi.NULL

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    # ---- messages and groups ------------------------------------------

    def message(
        self,
        opcode: Union[Opcode, int] = Opcode.REQUEST,
        channel: int = 0,
        body: BytesLike = b"",
        *,
        headers: Iterable[Header] = (),
        id: int = 0,
        more: bool = False,
    ) -> Message:
        """A Message from the engine's pool (it goes back there when
        collected or closed)."""
        ptr = lib.tofu_get(self._check(), lib.TOFU_ALWAYS)
        if ptr == ffi.NULL:
            raise error_for(Status.ALLOCATION_FAILED)("tofu_get")
        m = Message._wrap(ptr, self)
        m._fill(opcode, channel, body, headers, id, more)
        return m

    def group(self) -> "Group":
        """A new group (a context manager)."""
        return self._group_class(self)


class Group:
    """A channel group: post messages, receive what its channels deliver.

    Receiving is for one thread at a time (as in C); posting is from any
    thread. ``fileno()`` is the group's pollable descriptor: readable
    exactly while a receive would get something (usable with ``selectors``).
    """

    def __init__(self, engine: Engine) -> None:
        out = ffi.new("tofu_group **")
        raise_for(lib.tofu_group_create(engine._check(), out), "tofu_group_create")
        self._g = out[0]
        self._ref = _speed.GroupRef(engine._ref, int(ffi.cast("uintptr_t", self._g)))
        self._engine = engine
        self._closed = False
        # Messages taken from C and not handed out yet, oldest first.
        self._pending: Deque[Message] = collections.deque()
        # Channels whose close Signal a failed connect/listen helper swallows.
        self._swallow: Set[int] = set()
        engine._groups.add(self)

    # ---- lifetime -------------------------------------------------------

    def _check(self) -> Any:
        if self._closed:
            raise ShutdownStarted("the group is closed")
        self._engine._check()
        return self._g

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def closed(self) -> bool:
        return self._closed

    def _drop_pending(self) -> None:
        while self._pending:
            self._pending.popleft().close()

    def _engine_closing(self) -> None:
        self._closed = True
        self._ref.close()
        self._drop_pending()

    def close(self) -> None:
        """Destroys the group: closes its channels, frees what is queued.
        Idempotent; a no-op once the engine is closed."""
        if self._closed:
            return
        self._closed = True
        self._ref.close()
        self._drop_pending()
        if not self._engine._closed:
            lib.tofu_group_destroy(self._engine._e, self._g)

    def __enter__(self) -> "Group":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        """The pollable descriptor (tofu_group_fd): level-triggered, readable
        while a receive would get a message (or the group was destroyed).
        Valid until the engine is closed; never read or close it."""
        out = ffi.new("tofu_fd *")
        raise_for(lib.tofu_group_fd(self._check(), out), "tofu_group_fd")
        return int(out[0])

    # ---- posting --------------------------------------------------------

    def post(self, msg: Message) -> Posted:
        """Hands ``msg`` to the engine: the Message is spent afterwards
        (MessageSpent on any use). Returns the channel and id it got. On
        error raises the status's exception and the caller keeps ``msg``
        (its ``status`` says what was wrong)."""
        return _speed.post(self._ref, msg)

    def send(self, channel: int, body: BytesLike = b"", *,
             opcode: Union[Opcode, int] = Opcode.REQUEST, headers: Iterable[Header] = (),
             more: bool = False, timeout: Optional[float] = None) -> Posted:
        """Builds a message from the pool and posts it (default: a Request;
        ``timeout``: its deadline in seconds)."""
        if not headers and timeout is None:  # the common case: one C call
            return _speed.send(self._ref, channel, body, opcode, more)
        m = self._engine.message(opcode, channel, body, headers=headers, more=more)
        if timeout is not None:
            m.timeout = timeout
        try:
            return self.post(m)
        finally:
            m.close()  # a no-op once posted

    def signal(self, channel: int, body: BytesLike = b"", *,
               headers: Iterable[Header] = ()) -> Posted:
        """Posts a Signal (no answer expected)."""
        if not headers:
            return _speed.send(self._ref, channel, body, 2, False)
        return self.send(channel, body, opcode=Opcode.SIGNAL, headers=headers)

    def reply(self, msg: Message, body: Optional[BytesLike] = None) -> Posted:
        """Answers a received Request (or Hello/Bye request, or Signal) with
        the same message turned into its reply (same channel and id)."""
        return _speed.reply(self._ref, msg, body)

    def bye(self, channel: int) -> Posted:
        """Starts a graceful close of ``channel`` (a ByeRequest)."""
        return self.send(channel, opcode=Opcode.BYE_REQUEST)

    def wake(self) -> None:
        """Queues a receiver_update Signal (wakes a blocked receive)."""
        raise_for(lib.tofu_update_receiver(self._check(), ffi.NULL), "update_receiver")

    def _prepare_open(self, opcode: Opcode, address: str,
                      headers: Iterable[Header]) -> Message:
        a = ffi.new("tofu_address *")
        v = address.encode()
        raise_for(lib.tofu_address_parse(v, len(v), a), f"address {address!r}")
        m = self._engine.message(headers=headers)
        fn = lib.tofu_msg_connect if opcode == Opcode.HELLO_REQUEST else lib.tofu_msg_listen
        raise_for(fn(m._live(), a), f"address {address!r}")
        return m

    # ---- receiving --------------------------------------------------------

    @staticmethod
    def _is_close_of(m: Message, channel: int) -> bool:
        h = m._h
        return bool(h.origin and h.status == Status.CHANNEL_CLOSED and h.channel == channel
                    and h.opcode == Opcode.SIGNAL)

    def _swallow_close(self, channel: int) -> None:
        """Drops the close Signal of a channel whose opening failed (the
        caller got an exception): now if it was received already, else
        when it comes."""
        for m in self._pending:
            if self._is_close_of(m, channel):
                self._pending.remove(m)
                m.close()
                return
        self._swallow.add(channel)

    def _keep(self, m: Message) -> bool:
        """False for a close Signal that a failed helper swallows."""
        if self._swallow and m._h.channel in self._swallow and self._is_close_of(m, m._h.channel):
            self._swallow.discard(m._h.channel)
            m.close()
            return False
        return True

    def _filters(self) -> bool:
        """True while some received messages are routed or dropped (see
        _keep) instead of queued as they come."""
        return bool(self._swallow)

    def _take(self, timeout_ns: int) -> int:
        """Moves up to _BATCH messages from C to _pending, waiting up to
        timeout_ns for the first; returns how many left C. Raises
        ShutdownStarted."""
        st, msgs = _speed.take(self._ref, timeout_ns, _BATCH)
        if self._filters():
            for m in msgs:
                if self._keep(m):
                    self._pending.append(m)
        else:
            self._pending.extend(msgs)
        if st != 0:
            raise_for(st, "receive")
        return len(msgs)

    def try_receive(self) -> Optional[Message]:
        """The next message, or None when nothing is queued (never waits).
        Raises ShutdownStarted once the group is destroyed."""
        if not self._pending:
            self._take(0)
            if not self._pending:
                return None
        return self._pending.popleft()

    def receive_many(self, max: int = _BATCH, timeout: Optional[float] = 0) -> List[Message]:
        """Up to ``max`` queued messages, waiting up to ``timeout`` seconds
        (None: forever) for the first; [] on timeout."""
        if not self._pending:
            self.receive_into_pending(timeout)
        out = []
        while self._pending and len(out) < max:
            out.append(self._pending.popleft())
        return out

    def receive_into_pending(self, timeout: Optional[float]) -> None:
        total = _ns(timeout)
        deadline = None if timeout is None else time.monotonic_ns() + total
        while not self._pending:
            if deadline is None:
                wait = _SLICE_NS
            else:
                wait = min(_SLICE_NS, max(0, deadline - time.monotonic_ns()))
            self._take(wait)
            if deadline is not None and time.monotonic_ns() >= deadline:
                return

    def receive(self, timeout: Optional[float] = None) -> Message:
        """The next message, waiting up to ``timeout`` seconds (None:
        forever). Raises TimeoutError when none came, ShutdownStarted when
        the group or engine is destroyed."""
        if not self._pending:
            self.receive_into_pending(timeout)
            if not self._pending:
                raise TimeoutError("no message within the timeout")
        return self._pending.popleft()

    def __iter__(self) -> "Group":
        return self

    def __next__(self) -> Message:
        """Iterating a group receives until it is destroyed."""
        try:
            return self.receive()
        except ShutdownStarted:
            raise StopIteration from None

    # ---- connect / listen --------------------------------------------------

    def _await_answer(self, posted: Posted, timeout: Optional[float]) -> Message:
        """Receives until the engine's answer to ``posted`` (same id and
        channel); the other messages stay queued, in order, for later."""
        held: List[Message] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                m = self.receive(left)
                if m.id == posted.id and m.channel == posted.channel and m.opcode in (
                        Opcode.HELLO_RESPONSE, Opcode.WELCOME_RESPONSE):
                    return m
                held.append(m)
        finally:
            self._pending.extendleft(reversed(held))

    def _opened(self, answer: Message, posted: Posted, what: str) -> None:
        st = answer.status
        if st != Status.SUCCESS:
            reason = answer.header("~reason")
            answer.close()
            self._swallow_close(posted.channel)  # its close Signal follows
            raise error_for(st)(f"{what}: {st}" + (f" ({reason})" if reason else ""), st)

    def connect(self, address: str, *, headers: Iterable[Header] = (),
                timeout: Optional[float] = 30.0) -> int:
        """Opens a connection (``tofu.tcp(host, port)``, ``tofu.uds(path)``
        or a ``tcp|host|port`` value) and waits for the handshake. Returns
        the channel. Raises ConnectFailed, UdsPathNotFound, ... (the
        channel's close Signal is then swallowed)."""
        posted = self.post(self._prepare_open(Opcode.HELLO_REQUEST, address, headers))
        answer = self._await_answer(posted, timeout)
        self._opened(answer, posted, f"connect {address}")
        answer.close()
        return posted.channel

    def listen(self, address: str, *, timeout: Optional[float] = 30.0) -> Listener:
        """Starts a listener and waits until it is bound. Returns its
        channel and the address really bound (the port chosen for port 0)."""
        posted = self.post(self._prepare_open(Opcode.WELCOME_REQUEST, address, ()))
        answer = self._await_answer(posted, timeout)
        self._opened(answer, posted, f"listen {address}")
        bound = answer.header("~listen_on") or address
        answer.close()
        return Listener(posted.channel, bound)

    def __repr__(self) -> str:
        return f"<tofu.Group{' closed' if self._closed else ''}>"


Engine._group_class = Group
