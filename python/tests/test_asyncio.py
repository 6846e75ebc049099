"""The asyncio API: the echo example with 100 concurrent clients,
cancellation safety, timeouts, shutdown of waiters."""
import asyncio

import pytest

import tofu
import tofu.asyncio
import asyncio_echo


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_echo_example_serves_100_concurrent_clients():
    async def main():
        async with tofu.asyncio.Engine(initial_pool_msgs=256, max_pool_msgs=1024) as engine:
            async with engine.group() as server_group:
                listener = await server_group.listen(tofu.tcp("127.0.0.1", 0))
                server = asyncio.create_task(asyncio_echo.serve(server_group))
                done = await asyncio.gather(*(asyncio_echo.client(engine, listener.address, 5, i)
                                              for i in range(100)))
                assert done == [5] * 100
                server_group.close()
                assert await server == 500

    run(main())


def test_concurrent_connects_on_one_group():
    async def main():
        async with tofu.asyncio.Engine() as engine:
            async with engine.group() as sg, engine.group() as cg:
                listener = await sg.listen(tofu.tcp("127.0.0.1", 0))
                server = asyncio.create_task(asyncio_echo.serve(sg))
                channels = await asyncio.gather(*(cg.connect(listener.address) for _ in range(20)))
                assert len(set(channels)) == 20
                for ch in channels:
                    cg.send(ch, b"x")
                answers = [await cg.receive(10) for _ in channels]
                assert sorted(a.channel for a in answers) == sorted(channels)
                del answers
                sg.close()
                await server

    run(main())


def test_cancelled_receive_loses_nothing():
    async def main():
        async with tofu.asyncio.Engine() as engine:
            async with engine.group() as g:
                for round_ in range(50):
                    task = asyncio.create_task(g.receive())
                    await asyncio.sleep(0)  # the task waits
                    g.wake()
                    if round_ % 2:
                        await asyncio.sleep(0)  # let the reader hand it over first
                    task.cancel()
                    try:
                        m = await task
                    except asyncio.CancelledError:
                        m = await g.receive(5)  # it is still there
                    assert m.status == tofu.Status.RECEIVER_UPDATE
                assert g.try_receive() is None

    run(main())


def test_receive_timeout_and_many():
    async def main():
        async with tofu.asyncio.Engine() as engine:
            async with engine.group() as g:
                with pytest.raises((TimeoutError, asyncio.TimeoutError)):
                    await g.receive(timeout=0.1)
                for _ in range(5):
                    g.wake()
                got = await g.receive_many(3)
                assert len(got) == 3
                got += await g.receive_many(10, timeout=1)
                assert len(got) == 5

    run(main())


def test_closing_wakes_every_waiter_with_shutdown_started():
    async def main():
        engine = tofu.asyncio.Engine()
        g = engine.group()
        waiters = [asyncio.create_task(g.receive()) for _ in range(5)]
        await asyncio.sleep(0.05)
        g.close()
        for w in waiters:
            with pytest.raises(tofu.ShutdownStarted):
                await w
        g2 = engine.group()
        w2 = asyncio.create_task(g2.receive())
        await asyncio.sleep(0.05)
        engine.close()  # takes the reader off the loop before the descriptor goes
        with pytest.raises(tofu.ShutdownStarted):
            await w2

    run(main())


def test_async_connect_failure():
    async def main():
        async with tofu.asyncio.Engine() as engine:
            async with engine.group() as g:
                with pytest.raises(tofu.UdsPathNotFound):
                    await g.connect(tofu.uds("/nonexistent/dir/tofu.sock"), timeout=10)

    run(main())
