"""The FastAGI server over a real socket and the real database, with Asterisk's side of the protocol
replayed from a recorded conversation (the real Asterisk runs the same route in tests/e2e)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from freepbx_callback.agi import fastagi
from freepbx_callback.agi.fastagi import FastAgiServer
from freepbx_callback.agi.protocol import AgiSession, Hangup, SessionChannel, quote
from freepbx_callback.config import Dsn
from freepbx_callback.journal import Journal
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.testbed.wait import wait_for

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
MARK = "${SET(QCB_SERVED_BY=fastagi)}|"  # the served-by mark, set by the call's first command
VARIABLES = '"${QUEUEJOINTIME}|${QUEUEWAIT}|${FROM_DID}|${CHANNEL(language)}|${QUEUEPOSITION}"'
CONVERSATION = [
    # the mark and the caller's variables in one command (one round trip), before any work: join time,
    # wait, DID, language, position
    (f'GET FULL VARIABLE "{MARK}{VARIABLES[1:]}', "200 result=1 (fastagi||6|5551000|en|)"),
    ('STREAM FILE "qcb-accepted" ""', "200 result=0 endpos=63040"),
    # the result and what the dialplan does next, in one command; the dialplan hangs up (no AGI HANGUP)
    ('EXEC MSet "QCB_RESULT=created,QCB_NEXT=hangup"', "200 result=0"),
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


def test_the_mark_goes_alone_where_the_read_did_not_set_it(
    server: FastAgiServer, service: CallbackService
) -> None:
    """An Asterisk that answered the first read without evaluating the SET (the mark's value missing from
    the answer): the mark is set with its own command and the variables are read again."""
    service.set_queue("400", enabled=True)
    conversation = [
        (f'GET FULL VARIABLE "{MARK}{VARIABLES[1:]}', "200 result=1 (|6|5551000|en|)"),
        SERVED,
        (f"GET FULL VARIABLE {VARIABLES}", "200 result=1 (|6|5551000|en|)"),
        *CONVERSATION[1:],
    ]
    got = play_asterisk(server.server_address[1], ENV, conversation)
    assert got == [cmd for cmd, _ in conversation]
    [r] = service.list()
    assert (r.waited, r.did, r.language) == (6, "5551000", "en")


def test_outcome_route_marks_the_call_before_recording(
    server: FastAgiServer, service: CallbackService
) -> None:
    service.set_queue("400", enabled=True)
    request = service.request("400", "2015551234").request
    assert request is not None
    [(claimed, attempt)] = service.claim("400", 1, "n1")
    env = ENV.replace("script: request", "script: outcome").replace("agi_arg_1: 400", "agi_arg_1: customer")
    conversation = [
        (f'GET FULL VARIABLE "{MARK}${{QCB_REQUEST}}"', f"200 result=1 (fastagi|{request.id})"),
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


def test_variables_in_one_command_and_a_value_with_the_separator() -> None:
    import io

    replies = b"200 result=1 (1|x)\n200 result=1 (a|b)\n200 result=1 (1|a|b)\n"
    replies += b"200 result=1 (1)\n200 result=1 (a|b)\n"
    out = io.BytesIO()
    channel = SessionChannel(AgiSession(io.BytesIO(b"agi_uniqueid: 1\n\n" + replies), out))
    assert channel.read_variables(["A", "B"]) == {"A": "1", "B": "x"}
    assert channel.read_variables(["A", "B"]) == {"A": "a", "B": "b"}
    # three values for two names: one holds a '|', so each is read alone
    assert channel.read_variables(["A", "B"]) == {"A": "1", "B": "a|b"}
    assert out.getvalue().decode().splitlines() == [
        'GET FULL VARIABLE "${A}|${B}"',
        'GET FULL VARIABLE "${A}|${B}"',
        'GET FULL VARIABLE "${A}|${B}"',
        'GET FULL VARIABLE "${A}"',
        'GET FULL VARIABLE "${B}"',
    ]


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


def _env_for(n: int) -> str:
    return ENV.replace("2015551234", f"2015552{n:03d}").replace("1764200000.7", f"1764200000.{n}")


def test_database_sections_run_a_bounded_number_of_calls_at_once(
    dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """20 callers at once, one slot: no two calls are ever inside their database section together (the
    service factory is where a call's database work starts), and every request is stored once."""
    service.set_queue("400", enabled=True)
    inside, peak, lock = [0], [0], threading.Lock()

    def factory() -> CallbackService:
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.005)  # long enough that unbounded calls overlap here
        with lock:
            inside[0] -= 1
        return CallbackService(Store.connect(dsn))

    srv = FastAgiServer(("127.0.0.1", 0), factory, Journal(tmp_path / "j"), cpu_slots=1)
    srv.gate.STALL_S = 30  # no slot opens over a stall here, however slow this machine is
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        port = srv.server_address[1]
        callers = [
            threading.Thread(target=play_asterisk, args=(port, _env_for(n), CONVERSATION)) for n in range(20)
        ]
        for t in callers:
            t.start()
        for t in callers:
            t.join(60)
    finally:
        srv.shutdown()
        srv.server_close()
    assert peak[0] == 1
    stored = sorted(r.number for r in service.list())
    assert stored == [f"2015552{n:03d}" for n in range(20)]


def test_a_call_waiting_on_a_prompt_holds_no_slot(dsn: Dsn, service: CallbackService, tmp_path: Path) -> None:
    """One slot; caller A is stuck in its "accepted" prompt (Asterisk has not answered STREAM FILE):
    caller B is served meanwhile, then A finishes."""
    service.set_queue("400", enabled=True)
    srv = FastAgiServer(
        ("127.0.0.1", 0), lambda: CallbackService(Store.connect(dsn)), Journal(tmp_path / "j"), cpu_slots=1
    )
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        port = srv.server_address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as a:
            fa = a.makefile("rwb")
            fa.write(_env_for(1).encode())
            fa.flush()
            prompt = CONVERSATION.index(('STREAM FILE "qcb-accepted" ""', "200 result=0 endpos=63040"))
            for _cmd, reply in CONVERSATION[:prompt]:
                fa.readline()
                fa.write((reply + "\n").encode())
                fa.flush()
            assert fa.readline().startswith(b"STREAM FILE")  # A now waits on its prompt
            got = play_asterisk(port, _env_for(2), CONVERSATION)  # B, while A holds its prompt
            assert got == [cmd for cmd, _ in CONVERSATION]
            for _cmd, reply in CONVERSATION[prompt:]:
                fa.write((reply + "\n").encode())
                fa.flush()
                fa.readline()
    finally:
        srv.shutdown()
        srv.server_close()
    assert sorted(r.number for r in service.list()) == ["2015552001", "2015552002"]


def test_each_call_reports_its_handler_time(dsn: Dsn, service: CallbackService, tmp_path: Path) -> None:
    """The server hands each call's handler time (first byte of the environment to the connection
    closed) to ``on_timing``: one figure per call."""
    service.set_queue("400", enabled=True)
    times: list[float] = []
    srv = FastAgiServer(
        ("127.0.0.1", 0), lambda: CallbackService(Store.connect(dsn)), Journal(tmp_path / "j")
    )
    srv.on_timing = times.append
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        for n in range(3):
            play_asterisk(srv.server_address[1], _env_for(n), CONVERSATION)
        wait_for(lambda: len(times) == 3, 10, message="three handler times")
    finally:
        srv.shutdown()
        srv.server_close()
    assert len(times) == 3 and all(t > 0 for t in times)


def test_a_silent_connection_holds_no_slot(dsn: Dsn, service: CallbackService, tmp_path: Path) -> None:
    """One slot; a connection that sends nothing (a port probe) does not keep the next caller waiting."""
    service.set_queue("400", enabled=True)
    srv = FastAgiServer(
        ("127.0.0.1", 0), lambda: CallbackService(Store.connect(dsn)), Journal(tmp_path / "j"), cpu_slots=1
    )
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=10):
            time.sleep(0.2)  # the server has taken the silent connection
            got = play_asterisk(srv.server_address[1], _env_for(3), CONVERSATION)
            assert got == [cmd for cmd, _ in CONVERSATION]
    finally:
        srv.shutdown()
        srv.server_close()
    assert [r.number for r in service.list()] == ["2015552003"]


def test_a_call_stuck_on_the_database_does_not_hold_up_the_others(
    dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """One slot; the first caller's database does not answer (a connect that waits for its timeout): the
    slot is not the CPU's any more, so the next caller is admitted and served meanwhile."""
    service.set_queue("400", enabled=True)
    entered, answer, first = threading.Event(), threading.Event(), [True]

    def factory() -> CallbackService:
        if first[0]:
            first[0] = False
            entered.set()
            answer.wait(30)
        return CallbackService(Store.connect(dsn))

    srv = FastAgiServer(("127.0.0.1", 0), factory, Journal(tmp_path / "j"), cpu_slots=1)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = srv.server_address[1]
    stuck = threading.Thread(target=play_asterisk, args=(port, _env_for(1), CONVERSATION))
    try:
        stuck.start()
        assert entered.wait(10)
        got = play_asterisk(port, _env_for(2), CONVERSATION)  # within its 10 s socket timeout
        assert got == [cmd for cmd, _ in CONVERSATION]
        assert not answer.is_set() and stuck.is_alive()
    finally:
        answer.set()
        stuck.join(30)
        srv.shutdown()
        srv.server_close()
    assert sorted(r.number for r in service.list()) == ["2015552001", "2015552002"]


def test_calls_reuse_the_threads_of_calls_that_ended(
    dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """One call after another runs on one thread. 20 calls at once (each held at its prompt) run on 20,
    the one kept waiting and 19 started; once they end, IDLE_WORKERS of them wait for the next calls, the
    others end, and closing the server ends those that wait."""
    service.set_queue("400", enabled=True)
    srv = FastAgiServer(
        ("127.0.0.1", 0), lambda: CallbackService(Store.connect(dsn)), Journal(tmp_path / "j"), cpu_slots=1
    )
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = srv.server_address[1]

    def workers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == f"fastagi:{port}"]

    prompt = CONVERSATION.index(('STREAM FILE "qcb-accepted" ""', "200 result=0 endpos=63040"))
    try:
        for n in range(5):
            assert play_asterisk(port, _env_for(n), CONVERSATION) == [cmd for cmd, _ in CONVERSATION]
            wait_for(lambda: srv._idle == 1, 10, message="the call's thread waits for the next one")
        assert srv.workers_started == 1 and len(workers()) == 1
        held = []
        for n in range(10, 30):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            f = sock.makefile("rwb")
            f.write(_env_for(n).encode())
            f.flush()
            for _cmd, reply in CONVERSATION[:prompt]:
                f.readline()
                f.write((reply + "\n").encode())
                f.flush()
            assert f.readline().startswith(b"STREAM FILE")  # this call now waits on its prompt
            held.append((sock, f))
        assert srv.workers_started == 20 and len(workers()) == 20
        for sock, f in held:
            for _cmd, reply in CONVERSATION[prompt:]:
                f.write((reply + "\n").encode())
                f.flush()
                f.readline()
            sock.close()
        wait_for(lambda: len(workers()) == fastagi.IDLE_WORKERS, 10, message="the extra threads ended")
        wait_for(lambda: srv._idle == fastagi.IDLE_WORKERS, 10, message="the others wait for calls")
    finally:
        srv.shutdown()
        srv.server_close()
    wait_for(lambda: not workers(), 10, message="closing the server ends its waiting threads")
    assert len(service.list()) == 25
