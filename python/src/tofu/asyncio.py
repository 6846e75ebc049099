"""asyncio flavour: ``await group.receive()``.

Built on the group's pollable descriptor (``tofu_group_fd``) registered with
``loop.add_reader`` from a wait until it is found readable with no task
waiting (see _on_readable); nothing blocks the event loop and
no thread is used. The descriptor is level-triggered and readable exactly
while messages are queued, so a reader that takes only what it needs is
called again when more is left, and never when nothing is.

Cancellation-safe: a message is taken from the queue only for a waiter that
is still waiting; one handed to a waiter that is cancelled before it runs
goes back to the front of the queue.

    async with tofu.asyncio.Engine() as engine:
        async with engine.group() as group:
            listener = await group.listen(tofu.tcp("127.0.0.1", 0))
            msg = await group.receive()
"""
from __future__ import annotations

import asyncio
import collections
from typing import Deque, Dict, Iterable, Optional

from . import _engine
from ._engine import Listener, Posted
from ._message import Header, Message, Opcode
from ._status import ShutdownStarted, TofuError

__all__ = ["Engine", "Group"]


class Engine(_engine.Engine):
    """An engine whose groups are :class:`Group` (asyncio). Also an async
    context manager."""

    async def __aenter__(self) -> "Engine":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def group(self) -> "Group":  # type: ignore[override]
        return Group(self)


class Group(_engine.Group):
    """A group whose ``receive``, ``receive_many``, ``connect`` and ``listen``
    are coroutines. Use it from one event loop. ``post``, ``send``,
    ``reply`` and ``try_receive`` never block and stay plain calls."""

    def __init__(self, engine: _engine.Engine) -> None:
        super().__init__(engine)
        self._waiters: Deque["asyncio.Future[Message]"] = collections.deque()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._fd = -1
        self._reading = False
        # connect/listen answers awaited, by message id
        self._expect: Dict[int, "asyncio.Future[Message]"] = {}

    async def __aenter__(self) -> "Group":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # ---- the reader -------------------------------------------------------

    def _arm(self) -> None:
        if self._reading and self._loop is asyncio.get_running_loop():
            return  # still registered from an earlier wait
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._fd = self.fileno()
        elif self._loop is not loop:
            raise RuntimeError("a tofu.asyncio.Group is bound to one event loop")
        loop.add_reader(self._fd, self._on_readable)
        self._reading = True

    def _disarm(self) -> None:
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _pop_nowait(self) -> Optional[Message]:
        if self._pending:
            return self._pending.popleft()
        return super().try_receive()

    def _on_readable(self) -> None:
        """Hands queued messages to the waiters, oldest waiter first; with
        only connects/listens waiting, moves the C queue to the Python one
        (routing their answers) so that the descriptor clears.

        The reader stays registered after the wait it was added for (a
        request/response loop then pays no add_reader/remove_reader per
        message); it is removed here, the first time the descriptor is
        readable while no task waits, so the loop never spins on it."""
        waiters = self._waiters
        if not waiters and not self._expect:
            self._disarm()
            return
        try:
            while waiters:
                fut = waiters[0]
                if fut.done():  # cancelled: its receive() cleans up
                    waiters.popleft()
                    continue
                m = self._pop_nowait()
                if m is None:
                    break
                waiters.popleft()
                fut.set_result(m)
            if not waiters and self._expect:
                while self._take(0) > 0:
                    pass
        except TofuError as exc:
            self._fail_all(exc)

    def _fail_all(self, exc: BaseException) -> None:
        futs = list(self._waiters) + list(self._expect.values())
        self._waiters.clear()
        self._expect.clear()
        for fut in futs:
            if not fut.done():
                fut.set_exception(type(exc)(*exc.args))
        self._disarm()

    def _engine_closing(self) -> None:
        self._disarm()  # before engine destroy closes the descriptor
        self._fail_all(ShutdownStarted("the engine is closed"))
        super()._engine_closing()

    def close(self) -> None:
        if not self._closed:
            self._disarm()
            self._fail_all(ShutdownStarted("the group is closed"))
        super().close()

    # ---- receiving --------------------------------------------------------

    async def receive(self, timeout: Optional[float] = None) -> Message:  # type: ignore[override]
        """The next message. ``timeout`` in seconds (None: forever) raises
        TimeoutError; cancelling the task loses nothing."""
        m = self._pop_nowait()
        if m is not None:
            return m
        return await self._wait(timeout)

    @staticmethod
    def _expire(fut: "asyncio.Future[Message]") -> None:
        if not fut.done():
            fut.set_exception(TimeoutError("no message within the timeout"))

    async def _wait(self, timeout: Optional[float] = None) -> Message:
        # The timeout is a timer on the waiter's own future, not
        # asyncio.wait_for (which wraps the wait in a Task of its own).
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[Message]" = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, self._expire, fut)
        self._waiters.append(fut)
        self._arm()
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                # Handed to us just before the cancel: back to the front.
                self._pending.appendleft(fut.result())
                if self._waiters:
                    loop.call_soon(self._on_readable)
            raise
        finally:
            if timer is not None:
                timer.cancel()
            try:
                self._waiters.remove(fut)
            except ValueError:
                pass

    async def receive_many(self, max: int = 32,  # type: ignore[override]
                           timeout: Optional[float] = None) -> list:
        """At least one message (waiting up to ``timeout``), then whatever
        else is queued, up to ``max``."""
        first = await self.receive(timeout)
        out = [first]
        while len(out) < max:
            m = self._pop_nowait()
            if m is None:
                break
            out.append(m)
        return out

    def __aiter__(self) -> "Group":
        return self

    async def __anext__(self) -> Message:
        """``async for msg in group`` receives until the group is destroyed."""
        try:
            return await self.receive()
        except ShutdownStarted:
            raise StopAsyncIteration from None

    # ---- connect / listen --------------------------------------------------

    def _filters(self) -> bool:
        return bool(self._expect) or super()._filters()

    def _keep(self, m: Message) -> bool:
        """Routes the engine's answer to a pending connect/listen to it, as
        the message leaves the C queue (whoever takes it)."""
        if self._expect:
            fut = self._expect.get(m.id)
            if fut is not None and m.opcode in (Opcode.HELLO_RESPONSE, Opcode.WELCOME_RESPONSE):
                del self._expect[m.id]
                if not fut.done():
                    fut.set_result(m)
                    return False
        return super()._keep(m)

    async def _open(self, opcode: Opcode, address: str, headers: Iterable[Header],
                    timeout: Optional[float]) -> "tuple[Posted, Message]":
        loop = asyncio.get_running_loop()
        msg = self._prepare_open(opcode, address, headers)
        fut: "asyncio.Future[Message]" = loop.create_future()
        posted = self.post(msg)
        self._expect[posted.id] = fut
        self._arm()
        try:
            if timeout is None:
                answer = await fut
            else:
                answer = await asyncio.wait_for(fut, timeout)
        except BaseException:
            self._expect.pop(posted.id, None)
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                fut.result().close()
            raise
        return posted, answer

    async def connect(self, address: str, *,  # type: ignore[override]
                      headers: Iterable[Header] = (), timeout: Optional[float] = 30.0) -> int:
        """As :meth:`tofu.Group.connect`, awaiting the handshake. Many
        connects (and receives) may run at once on one group."""
        posted, answer = await self._open(Opcode.HELLO_REQUEST, address, headers, timeout)
        self._opened(answer, posted, f"connect {address}")
        answer.close()
        return posted.channel

    async def listen(self, address: str, *,  # type: ignore[override]
                     timeout: Optional[float] = 30.0) -> Listener:
        """As :meth:`tofu.Group.listen`, awaiting the WelcomeResponse."""
        posted, answer = await self._open(Opcode.WELCOME_REQUEST, address, (), timeout)
        self._opened(answer, posted, f"listen {address}")
        bound = answer.header("~listen_on") or address
        answer.close()
        return Listener(posted.channel, bound)
