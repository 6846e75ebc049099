"""The per-message calls in C (tofu._speed, csrc/speed.c): Message's fields
and body, collection back to the pool, send/post/reply from C, batched
receives, and the asyncio reader that stays registered between waits. Every
test also ends with no C message alive (conftest.no_leaks)."""
import asyncio
import gc
import threading
import weakref

import pytest

import tofu
import tofu.asyncio
from tofu import _speed


def _connect(sg, cg):
    """Connects cg to a listener of sg (the HelloRequest accepted here, the
    connect on a thread); returns cg's channel."""
    address = sg.listen(tofu.tcp("127.0.0.1", 0)).address
    got = []
    t = threading.Thread(target=lambda: got.append(cg.connect(address, timeout=10)))
    t.start()
    hello = sg.receive(10)
    assert hello.opcode == tofu.Opcode.HELLO_REQUEST
    sg.reply(hello)
    t.join(10)
    return got[0]


@pytest.fixture
def pair(engine):
    """A server group listening and a client group connected to it, one
    engine; yields (server group, client group, client channel)."""
    with engine.group() as sg, engine.group() as cg:
        yield sg, cg, _connect(sg, cg)


def _next_regular(g, timeout=5):
    while True:
        m = g.receive(timeout)
        if not m.from_engine:
            return m
        m.close()


def test_message_is_the_c_base_class_and_weakly_referable():
    m = tofu.Message(tofu.Opcode.SIGNAL, 3, b"abc")
    assert isinstance(m, _speed.Message) and isinstance(m, tofu.Message)
    r = weakref.ref(m)
    del m
    gc.collect()
    assert r() is None


def test_fields_read_and_write_in_c_and_reject_out_of_range():
    m = tofu.Message()
    m.channel, m.id, m.opcode = 65535, 2**64 - 1, tofu.Opcode.SIGNAL
    m.more, m.abort, m.internal_b = True, True, True
    assert (m.channel, m.id, m.opcode) == (65535, 2**64 - 1, tofu.Opcode.SIGNAL)
    assert m.more and m.abort and m.internal_b
    assert m.status is tofu.Status.SUCCESS and not m.from_engine
    for field, bad in (("channel", 65536), ("channel", -1), ("id", 2**64), ("opcode", 256)):
        with pytest.raises(OverflowError):
            setattr(m, field, bad)
    with pytest.raises(TypeError):
        m.channel = "1"
    with pytest.raises(AttributeError):
        del m.channel
    m.opcode = 12  # out of the protocol: stored, and reading it says so
    with pytest.raises(ValueError):
        m.opcode
    m.close()
    for field in ("opcode", "channel", "id", "status", "from_engine", "more", "body"):
        with pytest.raises(tofu.MessageSpent):
            getattr(m, field)
    with pytest.raises(tofu.MessageSpent):
        len(m)
    assert not m.alive


def test_body_setter_checks_before_it_changes_anything():
    m = tofu.Message(body=b"old")
    with pytest.raises(TypeError):
        m.body = "text"
    with pytest.raises(tofu.InvalidBodyLen):
        m.body = b"x" * 65536
    assert m.body == b"old"
    with m.body_view() as mv:
        assert bytes(mv) == b"old"
        with pytest.raises(BufferError):
            m.body = b"new"
    m.body = bytearray(b"new")
    assert m.body == b"new" and len(m) == 3
    m.body = memoryview(b"")
    assert m.body == b"" and len(m) == 0
    m.close()


def test_make_reply_in_c():
    m = tofu.Message(tofu.Opcode.REQUEST, 7, b"q", id=9)
    assert m.make_reply(b"a") is m
    assert (m.opcode, m.channel, m.id, m.body) == (tofu.Opcode.RESPONSE, 7, 9, b"a")
    with pytest.raises(tofu.InvalidOpCode):
        m.make_reply()  # a Response has no reply
    m.close()


def test_collected_messages_go_back_to_the_pool(pair):
    sg, cg, ch = pair
    warm = None
    for _ in range(4):
        for i in range(200):
            cg.signal(ch, b"%d" % i)
        got = [_next_regular(sg).body for _ in range(200)]
        assert got == [b"%d" % i for i in range(200)]
        del got
        gc.collect()
        if warm is None:
            # The pools make their messages on first need: the first round
            # makes what a round takes, the later ones only reuse them.
            warm = tofu.live_messages()
    # Received messages were collected as they went and went back to the
    # pool: 600 more rounds' messages would be alive if they leaked.
    assert tofu.live_messages() <= warm + 8


def test_send_takes_any_bytes_like_object_and_refuses_str(pair):
    sg, cg, ch = pair
    for body in (b"b", bytearray(b"ba"), memoryview(b"mv"), b""):
        posted = cg.signal(ch, body)
        assert isinstance(posted, tofu.Posted) and posted.channel == ch and posted.id > 0
        assert _next_regular(sg).body == bytes(body)
    with pytest.raises(TypeError):
        cg.send(ch, "text")
    with pytest.raises(TypeError):
        cg.send(ch, 12)
    with pytest.raises(tofu.InvalidBodyLen):
        cg.send(ch, b"x" * 65536)
    with pytest.raises(OverflowError):
        cg.send(70000, b"x")


def test_send_reply_and_post_after_close_raise_shutdown_started(engine):
    g = engine.group()
    m = engine.message(tofu.Opcode.SIGNAL, 1, b"x")
    g.close()
    with pytest.raises(tofu.ShutdownStarted):
        g.send(1, b"x")
    with pytest.raises(tofu.ShutdownStarted):
        g.post(m)
    with pytest.raises(tofu.ShutdownStarted):
        g.try_receive()
    assert m.alive  # the caller keeps it
    m.close()


def test_a_refused_post_leaves_the_message_usable(engine):
    with engine.group() as g:
        m = engine.message(tofu.Opcode.REQUEST, 0, b"x")  # channel 0: none
        with pytest.raises(tofu.TofuError):
            g.post(m)
        assert m.alive and m.body == b"x"
        r = engine.message(tofu.Opcode.RESPONSE, 1, b"y")
        with pytest.raises(tofu.InvalidOpCode):
            g.reply(r)  # no reply to a Response; nothing was posted
        assert r.alive
        m.close()
        r.close()


def test_reply_spends_the_request_and_the_answer_arrives(pair):
    sg, cg, ch = pair
    posted = cg.send(ch, b"ping")
    req = _next_regular(sg)
    sg.reply(req, b"pong")
    assert not req.alive
    with pytest.raises(tofu.MessageSpent):
        sg.reply(req)
    ans = _next_regular(cg)
    assert (ans.opcode, ans.id, ans.body) == (tofu.Opcode.RESPONSE, posted.id, b"pong")


def test_receive_many_batches_and_messages_outlive_a_closed_engine():
    e = tofu.Engine()
    sg, cg = e.group(), e.group()
    ch = _connect(sg, cg)
    for i in range(100):
        cg.signal(ch, b"%d" % i)
    held = []
    while len(held) < 100:
        held += [m for m in sg.receive_many(64, timeout=5) if not m.from_engine]
    assert [m.body for m in held] == [b"%d" % i for i in range(100)]
    e.close()
    # the engine is gone: the messages still read, and collecting frees them
    assert held[99].body == b"99" and held[0].channel > 0
    del held


def test_asyncio_reader_stays_between_waits_and_never_spins():
    async def main():
        async with tofu.asyncio.Engine() as engine:
            async with engine.group() as sg, engine.group() as cg:
                listener = await sg.listen(tofu.tcp("127.0.0.1", 0))
                connecting = asyncio.ensure_future(cg.connect(listener.address))
                sg.reply(await sg.receive(5))
                ch = await connecting
                calls = 0
                on_readable = sg._on_readable

                def counted():
                    nonlocal calls
                    calls += 1
                    on_readable()

                sg._on_readable = counted
                for i in range(3):  # request/response: the reader stays
                    cg.send(ch, b"%d" % i)
                    m = await sg.receive(5)
                    assert m.body == b"%d" % i and sg._reading
                    sg.reply(m)
                    (await cg.receive(5)).close()
                # a message with nobody waiting: removed once, no spinning
                cg.signal(ch, b"late")
                await asyncio.sleep(0.2)
                assert not sg._reading
                before = calls
                await asyncio.sleep(0.1)
                assert calls == before
                assert (await sg.receive(5)).body == b"late"
                with pytest.raises(TimeoutError):
                    await sg.receive(0.05)
                assert not sg._waiters
                cg.bye(ch)

    asyncio.run(asyncio.wait_for(main(), 60))


def test_asyncio_group_still_refuses_a_second_loop_after_its_reader_stayed():
    engine = tofu.asyncio.Engine()
    group = engine.group()

    async def first():
        group.wake()  # a receiver_update Signal: the wait ends, the reader stays
        (await group.receive(5)).close()
        with pytest.raises(TimeoutError):
            await group.receive(0.01)

    async def second():
        with pytest.raises(RuntimeError):
            await group.receive(0.01)

    try:
        asyncio.run(first())
        asyncio.run(second())
    finally:
        group.close()
        engine.close()
