"""Request/response server (synchronous): answers every Request with the
upper-cased body, and the handshakes (Hello, Bye) as the protocol wants.

    python examples/server.py tcp|127.0.0.1|7099

``serve(group)`` is the whole server; it returns when the group is closed
or woken with ``group.wake()``.
"""
import sys

import tofu


def serve(group: tofu.Group) -> int:
    """Serves until the group is closed or woken; returns the Requests answered."""
    answered = 0
    for msg in group:  # receives until the group is destroyed
        if msg.from_engine:
            if msg.status == tofu.Status.RECEIVER_UPDATE:
                return answered  # group.wake(): stop
            continue  # close Signals and engine notices: nothing to answer
        if msg.opcode == tofu.Opcode.REQUEST:
            group.reply(msg, msg.body.upper())  # same channel, same id
            answered += 1
        elif msg.opcode in (tofu.Opcode.HELLO_REQUEST, tofu.Opcode.BYE_REQUEST):
            group.reply(msg)  # HelloResponse / ByeResponse
    return answered


def main() -> None:
    address = sys.argv[1] if len(sys.argv) > 1 else tofu.tcp("127.0.0.1", 7099)
    with tofu.Engine() as engine, engine.group() as group:
        listener = group.listen(address)
        print("listening on", listener.address, flush=True)
        serve(group)


if __name__ == "__main__":
    main()
