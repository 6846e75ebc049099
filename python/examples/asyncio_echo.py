"""asyncio echo server and client: one task serves every connection of a
group; each client is a coroutine with its own connection.

    python examples/asyncio_echo.py            # server and 100 clients, in one process

``serve(group)`` echoes every Request (same id, headers and body) until the
group is closed; ``client(group, address, n)`` connects and checks n echoes.
"""
import asyncio
import sys

import tofu
import tofu.asyncio


async def serve(group: tofu.asyncio.Group) -> int:
    """Echoes until the group is closed; returns the Requests echoed."""
    echoed = 0
    try:
        async for msg in group:
            if msg.from_engine:
                continue  # close Signals, pool_empty notices
            if msg.opcode in (tofu.Opcode.HELLO_REQUEST, tofu.Opcode.BYE_REQUEST,
                              tofu.Opcode.REQUEST):
                echoed += msg.opcode == tofu.Opcode.REQUEST
                group.reply(msg)
    except tofu.ShutdownStarted:
        pass  # closed while answering
    return echoed


async def next_answer(group: tofu.asyncio.Group) -> tofu.Message:
    """The next message that is not an engine notice (pool_empty: the
    engine's pool ran dry for a moment and refilled)."""
    while True:
        msg = await group.receive(timeout=20)
        if not (msg.from_engine and msg.status == tofu.Status.POOL_EMPTY):
            return msg


async def client(engine: tofu.asyncio.Engine, address: str, n: int, tag: int) -> int:
    """One connection in its own group: n Requests one after the other, each
    echo checked; then a graceful close. Returns the echoes received."""
    async with engine.group() as group:
        channel = await group.connect(address, timeout=20)
        for i in range(n):
            body = f"client {tag} message {i}".encode()
            posted = group.send(channel, body)
            answer = await next_answer(group)
            assert answer.opcode == tofu.Opcode.RESPONSE, answer
            assert answer.id == posted.id and answer.body == body, (answer, body)
        group.bye(channel)
        async for msg in group:  # ByeResponse, then the close Signal
            if msg.from_engine and msg.status == tofu.Status.CHANNEL_CLOSED:
                break
    return n


async def main(clients: int = 100, messages: int = 10) -> None:
    # A pool big enough for every connection's messages in flight at once.
    async with tofu.asyncio.Engine(initial_pool_msgs=256, max_pool_msgs=1024) as engine:
        async with engine.group() as server_group:
            listener = await server_group.listen(tofu.tcp("127.0.0.1", 0))
            server = asyncio.create_task(serve(server_group))
            done = await asyncio.gather(*(client(engine, listener.address, messages, i)
                                          for i in range(clients)))
            print(f"{len(done)} clients, {sum(done)} echoes on {listener.address}")
            server_group.close()
            await server


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
