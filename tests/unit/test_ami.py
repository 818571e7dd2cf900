"""The AMI client's protocol handling against a scripted manager on a local socket (the real Asterisk
runs the same client in tests/e2e)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from freepbx_callback.ami import Ami, AmiConfig, AmiError, AmiUnavailable

LOGIN_OK = "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"


def action_id(request: str) -> str:
    return next(line.split(": ", 1)[1] for line in request.split("\r\n") if line.startswith("ActionID"))


@pytest.fixture
def manager() -> Iterator[tuple[int, list[str], list[str]]]:
    """A manager that answers the login, then each action with the next scripted reply ('' = silence)."""
    replies: list[str] = []
    received: list[str] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"Asterisk Call Manager/9.0.0\r\n")
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buffer += chunk
                raw, buffer = buffer.split(b"\r\n\r\n", 1)
                request = raw.decode()
                received.append(request)
                reply = LOGIN_OK if "Action: Login" in request else (replies.pop(0) if replies else "")
                if reply:
                    conn.sendall(reply.format(id=action_id(request)).encode())

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], replies, received
    server.close()


def test_list_action_collects_events_until_complete(manager: tuple[int, list[str], list[str]]) -> None:
    port, replies, _ = manager
    replies.append(
        "Event: FullyBooted\r\n\r\n"  # an unrelated event in between is kept, not mixed in
        "Response: Success\r\nActionID: {id}\r\nEventList: start\r\n\r\n"
        "Event: QueueSummary\r\nQueue: 400\r\nAvailable: 2\r\nActionID: {id}\r\n\r\n"
        "Event: QueueSummaryComplete\r\nEventList: Complete\r\nActionID: {id}\r\n\r\n"
    )
    ami = Ami(AmiConfig("u", "s", "127.0.0.1", port), events="on")
    assert ami.queue_summary("400")["Available"] == "2"
    assert [e["Event"] for e in ami.events] == ["FullyBooted"]


def test_values_with_line_breaks_are_refused(manager: tuple[int, list[str], list[str]]) -> None:
    port, _, received = manager
    ami = Ami(AmiConfig("u", "s", "127.0.0.1", port))
    with pytest.raises(AmiError, match="line break"):
        ami.originate("Local/s@x", "ctx", "s", variables={"QCB_NUMBER": "555\r\nAction: Command"})
    assert not any("Originate" in r for r in received)


def test_silence_is_an_unavailable_manager_not_a_hang(manager: tuple[int, list[str], list[str]]) -> None:
    port, _, _ = manager
    ami = Ami(AmiConfig("u", "s", "127.0.0.1", port), timeout=0.5)
    with pytest.raises(AmiUnavailable, match="no AMI answer to QueueSummary"):
        ami.queue_summary("400")


def test_refused_login_and_closed_port() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(AmiUnavailable, match="cannot reach AMI"):
        Ami(AmiConfig("u", "s", "127.0.0.1", port), timeout=1)


@pytest.mark.parametrize("url", ["http://u:s@h:1", "ami://h:5038", "ami://u:s@h:notaport"])
def test_bad_ami_urls(url: str) -> None:
    with pytest.raises(AmiError):
        AmiConfig.parse(url)


def test_resolve_order() -> None:
    fallback = AmiConfig("freepbx", "x")
    assert AmiConfig.resolve("ami://a:b@127.0.0.1:1", fallback, {}).user == "a"
    assert AmiConfig.resolve(None, fallback, {"QCB_AMI": "ami://e:f@127.0.0.1"}).user == "e"
    assert AmiConfig.resolve(None, fallback, {}).user == "freepbx"
    with pytest.raises(AmiError, match="no AMI configured"):
        AmiConfig.resolve(None, None, {})
