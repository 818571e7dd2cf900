"""The AMI client against a real Asterisk 22: it keeps only the events it asked for (bounded), and an
action has one deadline however many events keep arriving."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from freepbx_callback.ami import Ami, AmiConfig, AmiUnavailable
from freepbx_callback.loop import WAKE_EVENTS
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.proxy import TcpProxy

Factory = Callable[..., AsteriskInstance]
QUEUES = """
[400]
strategy = ringall
member => PJSIP/agent1
member => PJSIP/agent2
"""


def _pause(ami: Ami, n: int) -> None:
    paused = "true" if n % 2 == 0 else "false"
    ami.action({"Action": "QueuePause", "Interface": f"PJSIP/agent{n % 4 // 2 + 1}", "Paused": paused})


def test_500_actions_with_events_flowing_keep_the_event_buffer_bounded(asterisk: Factory) -> None:
    bed = asterisk(queues=QUEUES)
    config = AmiConfig.parse(bed.ami_dsn)
    quiet = Ami(config)  # asked for no events (a cron tick, a CLI): keeps none
    listening = Ami(config, max_events=50)
    assert listening.subscribe(WAKE_EVENTS), "the manager user may set a Filter"
    for n in range(500):
        _pause(quiet, n)
        listening.action({"Action": "Ping"})
    seen = bed.ami.wait_event(lambda e: e.get("Event") == "QueueMemberPause", timeout=5)
    assert seen  # the events did flow (the bed's client sees everything)
    assert quiet.events == [], f"{len(quiet.events)} events kept by a client that asked for none"
    assert 0 < len(listening.events) <= 50
    assert {e["Event"] for e in listening.events} <= set(WAKE_EVENTS)
    assert quiet.sent == 501 and listening.sent >= 501  # login + 500 (+ the subscription)
    quiet.close()
    listening.close()


def test_an_action_under_a_steady_event_stream_ends_at_its_deadline(asterisk: Factory) -> None:
    bed = asterisk(queues=QUEUES)
    stop = threading.Event()

    def stream() -> None:  # a UserEvent every 50 ms from another manager session
        n = 0
        while not stop.wait(0.05):
            bed.ami.action({"Action": "UserEvent", "UserEvent": "qcbtick", "N": n})
            n += 1

    with TcpProxy(bed.ami_port) as proxy:
        config = AmiConfig(bed.ami_user, bed.ami_secret, "127.0.0.1", proxy.port)
        ami = Ami(config, timeout=1.0)
        ami.subscribe(["UserEvent"])
        proxy.drop_replies = True  # Asterisk still answers; the answers never arrive
        streamer = threading.Thread(target=stream, daemon=True)
        streamer.start()
        outcome: list[BaseException | None] = []

        def ping() -> None:
            try:
                ami.action({"Action": "Ping"})
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                outcome.append(exc)

        caller = threading.Thread(target=ping, daemon=True)
        caller.start()
        caller.join(timeout=15)
        stop.set()
        streamer.join(timeout=5)
        assert not caller.is_alive(), "the action still waits 15 s after its 1 s deadline"
        [error] = outcome
        assert isinstance(error, AmiUnavailable) and "within 1.0 s" in str(error)
        assert any(e.get("UserEvent") == "qcbtick" for e in ami.events), "events flowed meanwhile"
    with pytest.raises(AmiUnavailable):
        ami.action({"Action": "Ping"})  # the proxy is gone: the connection is lost
