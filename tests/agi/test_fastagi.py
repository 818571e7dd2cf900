"""The FastAGI server over a real socket and the real database, with Asterisk's side of the protocol
replayed from a recorded conversation (the real Asterisk runs the same route in tests/e2e)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from freepbx_callback.agi.fastagi import FastAgiServer
from freepbx_callback.agi.protocol import AgiSession, Hangup, SessionChannel, quote
from freepbx_callback.config import Dsn
from freepbx_callback.journal import Journal
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store

ENV = """agi_network: yes
agi_network_script: request
agi_request: agi://127.0.0.1:4577/request
agi_channel: PJSIP/caller-00000001
agi_language: en
agi_uniqueid: 1764200000.7
agi_callerid: 2015551234
agi_calleridname: Caller
agi_context: qcb-exit-400
agi_extension: 1
agi_priority: 4
agi_arg_1: 400

"""
# (command Asterisk receives, reply Asterisk sends) for a normal caller, in Asterisk 22's reply format.
# The first command marks the call as taken, so the dialplan's agi-bin fallback does not run it again.
SERVED = ('SET VARIABLE "QCB_SERVED_BY" "fastagi"', "200 result=1")
CONVERSATION = [
    SERVED,
    ('GET FULL VARIABLE "${QUEUEJOINTIME}"', "200 result=0"),
    ('GET FULL VARIABLE "${QUEUEWAIT}"', "200 result=1 (6)"),
    ('GET FULL VARIABLE "${FROM_DID}"', "200 result=1 (5551000)"),
    ('GET FULL VARIABLE "${CHANNEL(language)}"', "200 result=1 (en)"),
    ('GET FULL VARIABLE "${QUEUEPOSITION}"', "200 result=0"),
    ('STREAM FILE "qcb-accepted" ""', "200 result=0 endpos=63040"),
    ('SET VARIABLE "QCB_RESULT" "created"', "200 result=1"),
    ('SET VARIABLE "QCB_NEXT" "hangup"', "200 result=1"),
    ("HANGUP", "200 result=1"),
]


@pytest.fixture
def server(dsn: Dsn, tmp_path: Path) -> Iterator[FastAgiServer]:
    srv = FastAgiServer(
        ("127.0.0.1", 0), lambda: CallbackService(Store.connect(dsn)), Journal(tmp_path / "j")
    )
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def play_asterisk(port: int, env: str, conversation: list[tuple[str, str]]) -> list[str]:
    """Be Asterisk: send the env, answer each command; return the commands received."""
    got = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        f = sock.makefile("rwb")
        f.write(env.encode())
        f.flush()
        for _expected, reply in conversation:
            line = f.readline().decode().rstrip("\n")
            got.append(line)
            f.write((reply + "\n").encode())
            f.flush()
        tail = f.readline()
        assert tail == b"", f"unexpected extra command {tail!r}"
    return got


def test_request_route_stores_the_request(server: FastAgiServer, service: CallbackService) -> None:
    service.set_queue("400", enabled=True)
    got = play_asterisk(server.server_address[1], ENV, CONVERSATION)
    assert got == [cmd for cmd, _ in CONVERSATION]
    [r] = service.list()
    assert r.waited == 6
    assert (r.queue, r.number, r.did, r.caller_uniqueid, r.source) == (
        "400",
        "2015551234",
        "5551000",
        "1764200000.7",
        "agi",
    )


def test_unknown_route_closes_the_call_without_killing_the_server(
    server: FastAgiServer, service: CallbackService
) -> None:
    # Not marked as taken: the dialplan's fallback script (which has no such route either) may run.
    assert play_asterisk(server.server_address[1], ENV.replace("script: request", "script: nope"), []) == []
    service.set_queue("400", enabled=True)
    play_asterisk(server.server_address[1], ENV, CONVERSATION)
    assert len(service.list()) == 1


def test_outcome_route_marks_the_call_before_recording(
    server: FastAgiServer, service: CallbackService
) -> None:
    service.set_queue("400", enabled=True)
    request = service.request("400", "2015551234").request
    assert request is not None
    [(claimed, attempt)] = service.claim("400", 1, "n1")
    env = ENV.replace("script: request", "script: outcome").replace("agi_arg_1: 400", "agi_arg_1: customer")
    conversation = [
        SERVED,
        ('GET FULL VARIABLE "${QCB_REQUEST}"', f"200 result=1 ({request.id})"),
        ('GET FULL VARIABLE "${QCB_TRY}"', f"200 result=1 ({attempt.attempt_no})"),
        ('GET FULL VARIABLE "${MEMBERINTERFACE}"', "200 result=0"),
        ('GET FULL VARIABLE "${SHARED(QCB_UNREACHED)}"', "200 result=0"),
        ('GET FULL VARIABLE "${DIALSTATUS}"', "200 result=1 (BUSY)"),
    ]
    got = play_asterisk(server.server_address[1], env, conversation)
    assert got == [cmd for cmd, _ in conversation]
    assert service.history(request.id)[0][0].outcome == "busy"


def test_protocol_parses_digits_and_hangups() -> None:
    import io

    replies = (
        b"200 result=49 endpos=100\n200 result=0 endpos=5\n"
        b"200 result=123 (timeout)\n511 Command Not Permitted\n"
    )
    session = AgiSession(io.BytesIO(b"agi_uniqueid: 1\n\n" + replies), io.BytesIO())
    channel = SessionChannel(session)
    assert channel.play("x", "1") == "1"
    assert channel.play("x", "1") == ""
    assert channel.get_data("x", 1000, 20) == "123"
    with pytest.raises(Hangup):
        channel.wait_digit(100)


def test_quote_keeps_values_in_one_argument() -> None:
    assert quote('a "b" \\c\nd') == '"a \\"b\\" \\\\c d"'


def test_a_kept_connection_the_database_closed_is_replaced(
    server: FastAgiServer, service: CallbackService, store: Store
) -> None:
    """Calls reuse the database connections of finished calls; one the server dropped meanwhile (a
    restart, wait_timeout) is replaced before the next caller's request, which is stored as usual."""
    service.set_queue("400", enabled=True)
    play_asterisk(server.server_address[1], ENV, CONVERSATION)
    mine = store._all("SELECT CONNECTION_ID()")[0][0]
    database = store._all("SELECT DATABASE()")[0][0]
    others = [
        row[0]
        for row in store._all("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", (database,))
        if row[0] != mine
    ]
    assert others, "the finished call's connection is kept open"
    for conn_id in others:
        store._run(f"KILL CONNECTION {int(conn_id)}")
    again = ENV.replace("2015551234", "2015559876").replace("1764200000.7", "1764200000.8")
    got = play_asterisk(server.server_address[1], again, CONVERSATION)
    assert got == [cmd for cmd, _ in CONVERSATION]
    assert sorted(r.number for r in service.list()) == ["2015551234", "2015559876"]
