"""Message: fields, text headers, body, ownership; statuses and opcodes."""
import pytest

import tofu


def test_fields_round_trip():
    m = tofu.Message(tofu.Opcode.SIGNAL, 7, b"body", headers=[("a", "1")], id=42, more=True)
    assert (m.opcode, m.channel, m.id, m.more) == (tofu.Opcode.SIGNAL, 7, 42, True)
    assert m.status == tofu.Status.SUCCESS and not m.from_engine
    m.abort = True
    m.internal_b = True
    assert m.abort and m.internal_b
    assert m.body == b"body" and len(m) == 4
    assert not m.late and not m.timed_out
    m.close()
    assert not m.alive


def test_headers_are_ordered_and_searchable():
    m = tofu.Message(headers=[("x", "1"), ("y", "2"), ("x", "3")])
    assert m.headers == [("x", "1"), ("y", "2"), ("x", "3")]
    assert m.header("x") == "1" and m.header("y") == "2"
    assert m.header("missing") is None and m.header("missing", "d") == "d"
    assert m.raw_headers == b"x:1\r\ny:2\r\nx:3\r\n"
    m.headers = [("only", "one")]
    assert m.headers == [("only", "one")]
    m.clear_headers()
    assert m.headers == []
    m.add_header("ünï", "cödé")
    assert m.headers == [("ünï", "cödé")]
    m.close()


@pytest.mark.parametrize("name,value", [("", "v"), ("a:b", "v"), ("n", ""), ("n", "a\r\nb")])
def test_bad_headers_raise_invalid_message(name, value):
    with tofu.Message() as m:
        with pytest.raises(tofu.InvalidMessage) as info:
            m.add_header(name, value)
        assert info.value.status == tofu.Status.INVALID_MESSAGE
        assert m.headers == []


def test_body_limits_and_types():
    with tofu.Message() as m:
        m.body = bytearray(b"abc")
        m.append_body(memoryview(b"def"))
        assert m.body == b"abcdef"
        with pytest.raises(TypeError):
            m.body = "text"  # type: ignore[assignment]
        with pytest.raises(tofu.InvalidBodyLen):
            m.append_body(b"x" * 65535)
        assert m.body == b"abcdef"  # unchanged


def test_body_view_is_zero_copy_and_blocks_changes():
    with tofu.Message(body=b"hello") as m:
        with m.body_view() as view:
            assert bytes(view) == b"hello" and view.readonly
            with pytest.raises(BufferError):
                m.body = b"other"
            with pytest.raises(BufferError):
                m.close()
        m.body = b"other"
        assert m.body == b"other"


def test_clone_and_reply():
    with tofu.Message(tofu.Opcode.REQUEST, 3, b"q", id=9) as m:
        c = m.clone()
        assert (c.opcode, c.channel, c.id, c.body) == (m.opcode, 3, 9, b"q")
        c.make_reply(b"a")
        assert (c.opcode, c.id, c.body) == (tofu.Opcode.RESPONSE, 9, b"a")
        c.close()
    with tofu.Message(tofu.Opcode.RESPONSE) as m:
        with pytest.raises(tofu.InvalidOpCode):
            m.make_reply()


def test_timeout_property():
    with tofu.Message() as m:
        assert m.timeout is None
        m.timeout = 1.5
        assert m.timeout == 1.5


def test_spent_message_refuses_every_use():
    m = tofu.Message()
    m.close()
    for use in (lambda: m.body, lambda: m.opcode, lambda: m.headers, lambda: m.clone()):
        with pytest.raises(tofu.MessageSpent):
            use()
    assert repr(m) == "<tofu.Message spent>"
    m.close()  # idempotent


def test_collected_messages_are_freed():
    before = tofu.live_messages()
    msgs = [tofu.Message(body=b"x") for _ in range(50)]
    assert tofu.live_messages() == before + 50
    del msgs
    assert tofu.live_messages() == before


def test_every_status_has_a_name_and_an_exception():
    for st in tofu.Status:
        assert str(st) == st.tofu_name
        if st == tofu.Status.SUCCESS:
            continue
        cls = tofu.error_for(st)
        assert issubclass(cls, tofu.TofuError) and cls.status == st
        with pytest.raises(cls):
            tofu.raise_for(st)
    assert str(tofu.Status.INVALID_MCHN_GROUP) == "invelid_mchn_group"  # as the original
    assert tofu.Status.from_byte(200) == tofu.Status.UNKNOWN_ERROR
    tofu.raise_for(0)  # success: nothing


def test_opcodes():
    assert str(tofu.Opcode.HELLO_REQUEST) == "HelloRequest"
    assert tofu.Opcode.REQUEST.echo() == tofu.Opcode.RESPONSE
    assert tofu.Opcode.SIGNAL.echo() == tofu.Opcode.SIGNAL
    with pytest.raises(tofu.InvalidOpCode):
        tofu.Opcode.BYE_SIGNAL.echo()
