"""tofu: Python binding of libtofu (asynchronous, message-based,
peer-to-peer communication over TCP and Unix-domain sockets,
wire-compatible with the original tofu).

Synchronous API here (:class:`Engine`, :class:`Group`, :class:`Message`);
asyncio in :mod:`tofu.asyncio`. Every libtofu status is a :class:`Status`
and every error status an exception class (subclass of :class:`TofuError`).

    import tofu
    with tofu.Engine() as engine, engine.group() as group:
        channel = group.connect(tofu.tcp("127.0.0.1", 7099))
        group.send(channel, b"hello")
        answer = group.receive(timeout=5)
        print(answer.body)
"""
from ._engine import (Engine, Group, Listener, Posted, live_messages, open_sockets, tcp,
                      uds)
from ._message import Message, MessageSpent, Opcode
from ._status import *  # noqa: F401,F403  (Status, TofuError and one class per status)
from ._status import Status, TofuError, error_for, raise_for
from . import _status

__version__ = "0.1.0"

__all__ = ["Engine", "Group", "Message", "MessageSpent", "Opcode", "Posted", "Listener",
           "Status", "TofuError", "error_for", "raise_for", "tcp", "uds", "live_messages",
           "open_sockets", "__version__"] + [n for n in _status.__all__ if n not in (
               "Status", "TofuError", "error_for", "raise_for")]
