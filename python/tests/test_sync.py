"""The synchronous API against a server thread: request/response over TCP
and Unix sockets, ownership, timeouts, selectors, error paths."""
import os
import selectors
import socket
import tempfile
import threading
import time

import pytest

import tofu
from client import ask
from server import serve


class ServerThread:
    """examples/server.py's serve() on its own engine and thread."""

    def __init__(self, address):
        self.engine = tofu.Engine()
        self.group = self.engine.group()
        self.listener = self.group.listen(address)
        self.answered = None
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        self.answered = serve(self.group)

    def stop(self):
        self.group.wake()
        self.thread.join(10)
        assert not self.thread.is_alive()
        self.engine.close()


@pytest.fixture
def server():
    s = ServerThread(tofu.tcp("127.0.0.1", 0))
    yield s
    s.stop()


def test_request_response_over_tcp(server):
    assert ask(server.listener.address, [b"one", b"two", b"three"]) == [b"ONE", b"TWO", b"THREE"]
    server.stop()
    assert server.answered == 3
    server.stop = lambda: None


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")
def test_request_response_over_a_socket_file():
    path = os.path.join(tempfile.gettempdir(), f"tofu-py-{os.getpid()}.sock")
    s = ServerThread(tofu.uds(path))
    try:
        assert ask(s.listener.address, [b"uds"]) == [b"UDS"]
    finally:
        s.stop()


def test_posted_message_is_spent_and_headers_travel(server, engine):
    with engine.group() as g:
        ch = g.connect(server.listener.address)
        m = engine.message(tofu.Opcode.REQUEST, ch, b"abc", headers=[("k", "v"), ("k2", "v2")])
        posted = g.post(m)
        assert posted.channel == ch and posted.id > 0
        assert not m.alive
        with pytest.raises(tofu.MessageSpent):
            m.body
        answer = g.receive(10)
        assert (answer.opcode, answer.id, answer.body) == (tofu.Opcode.RESPONSE, posted.id, b"ABC")
        assert answer.headers == [("k", "v"), ("k2", "v2")]


def test_failed_post_leaves_the_message_with_the_caller(engine):
    with engine.group() as g:
        m = engine.message(tofu.Opcode.REQUEST, 0, b"x")  # channel 0: not a channel
        with pytest.raises(tofu.InvalidChannelNumber):
            g.post(m)
        assert m.alive and m.status == tofu.Status.INVALID_CHANNEL_NUMBER
        m.opcode = 12  # not an opcode
        with pytest.raises(tofu.InvalidOpCode):
            g.post(m)
        m.close()


def test_connect_failure_raises_and_swallows_the_close_signal(engine):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with engine.group() as g:
        with pytest.raises(tofu.ConnectFailed):
            g.connect(tofu.tcp("127.0.0.1", port), timeout=10)
        with pytest.raises(TimeoutError):
            g.receive(0.3)  # the channel's close Signal was swallowed
        with pytest.raises(tofu.InvalidAddress):
            g.connect("nonsense")


def test_listen_on_a_port_in_use_raises_listen_failed(server, engine):
    with engine.group() as g:
        with pytest.raises(tofu.ListenFailed):
            g.listen(server.listener.address)


def test_timeouts_and_non_blocking_receives(engine):
    with engine.group() as g:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            g.receive(0.2)
        assert time.monotonic() - t0 >= 0.15
        assert g.try_receive() is None
        assert g.receive_many(8, timeout=0) == []
        for _ in range(3):
            g.wake()
        got = g.receive_many(8)
        assert len(got) == 3 and all(m.status == tofu.Status.RECEIVER_UPDATE for m in got)


def test_wake_from_another_thread_ends_a_blocking_receive(engine):
    with engine.group() as g:
        threading.Timer(0.2, g.wake).start()
        m = g.receive()  # no timeout
        assert m.status == tofu.Status.RECEIVER_UPDATE


def test_fileno_works_with_selectors(engine):
    with engine.group() as g, selectors.DefaultSelector() as sel:
        sel.register(g.fileno(), selectors.EVENT_READ)
        assert sel.select(0) == []
        g.wake()
        assert len(sel.select(5)) == 1
        assert g.try_receive() is not None
        assert sel.select(0) == []  # level-triggered: cleared by the receive
        sel.unregister(g.fileno())


def test_closed_group_and_engine_say_shutdown_started():
    engine = tofu.Engine()
    g = engine.group()
    g.wake()
    g.close()
    with pytest.raises(tofu.ShutdownStarted):
        g.receive(0)
    with pytest.raises(tofu.ShutdownStarted):
        g.send(1, b"x")
    held = engine.message(body=b"kept")
    other = engine.group()
    engine.close()
    assert held.body == b"kept"  # still usable after the engine is gone
    with pytest.raises(tofu.ShutdownStarted):
        other.try_receive()
    with pytest.raises(tofu.ShutdownStarted):
        engine.message()
    assert list(other) == []  # iteration ends on shutdown
    held.close()
    engine.close()  # idempotent


def test_received_messages_go_back_to_the_pool_when_collected(server, engine):
    with engine.group() as g:
        ch = g.connect(server.listener.address)
        base = tofu.live_messages()
        for i in range(200):
            g.send(ch, b"%d" % i)
            assert g.receive(10).body == b"%d" % i
        # every answer was collected and returned: nothing accumulates
        assert tofu.live_messages() <= base + 2


def test_unknown_engine_option_is_refused():
    with pytest.raises(TypeError):
        tofu.Engine(no_such_option=1)
