"""The request handler while the database is really unreachable: every check that needs no database still
applies (the number rules, block and allow patterns, a disabled queue), with the queue's settings as the
last call that reached the database saw them; only the open-request limit waits for the replay."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from freepbx_callback import health
from freepbx_callback.agi.request import handle_request
from freepbx_callback.config import Dsn
from freepbx_callback.journal import Journal
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.agi.scripted import ScriptedChannel


def caller(callerid: str, uniqueid: str = "1700000000.42") -> ScriptedChannel:
    env = {"agi_callerid": callerid, "agi_uniqueid": uniqueid}
    return ScriptedChannel(env=env, variables={"FROM_DID": "5551000", "CHANNEL(language)": "en"})


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "spool")


@pytest.fixture
def unreachable(dsn: Dsn) -> Callable[[], CallbackService]:
    """A service factory whose database is a closed port: Store.connect really fails."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = Dsn(dsn.user, dsn.password, "127.0.0.1", port, dsn.database)
    return lambda: CallbackService(Store.connect(closed, timeout=2))


@pytest.fixture
def up(dsn: Dsn) -> Callable[[], CallbackService]:
    return lambda: CallbackService(Store.connect(dsn))


def refused(ch: ScriptedChannel, result: str) -> bool:
    return ch.variables["QCB_RESULT"] == result and ch.log == ["play qcb-not-available"] and not ch.hung_up


@pytest.mark.parametrize(
    ("number", "result"),
    [
        ("911", "blocked"),
        ("+8810000000", "blocked"),
        ("+442079460000", "blocked"),
        ("19005551234", "blocked"),
    ],
)
def test_without_a_cache_the_default_rules_apply(
    unreachable: Callable[[], CallbackService], journal: Journal, number: str, result: str
) -> None:
    ch = caller(number)
    out = handle_request(ch, unreachable, "400", journal)
    assert (out.result, out.next) == (result, "queue") and refused(ch, result)
    assert journal.pending() == []


def test_without_a_cache_a_national_number_is_journaled(
    unreachable: Callable[[], CallbackService], journal: Journal
) -> None:
    ch = caller("2015551234")
    assert handle_request(ch, unreachable, "400", journal).result == "journaled"
    assert ch.log == ["play qcb-accepted", "hangup"] and len(journal.pending()) == 1


def test_the_settings_the_last_call_read_apply_while_the_database_is_down(
    service: CallbackService,
    up: Callable[[], CallbackService],
    unreachable: Callable[[], CallbackService],
    journal: Journal,
) -> None:
    service.set_queue("400", enabled=True, allow_international=True, block_patterns=("_212555XXXX",))
    assert handle_request(caller("2015551234", "u-1"), up, "400", journal).result == "created"

    abroad = caller("+442079460000", "u-2")
    assert handle_request(abroad, unreachable, "400", journal).result == "journaled"  # allowed by the queue
    blocked = caller("2125551234", "u-3")
    assert handle_request(blocked, unreachable, "400", journal).result == "blocked"  # its block pattern
    assert refused(blocked, "blocked")
    assert [e.number for _, e in journal.pending()] == ["+442079460000"]

    # A queue the last call did not know: the default rules, as without any cache.
    assert handle_request(caller("2015550001", "u-6"), unreachable, "402", journal).result == "journaled"
    assert handle_request(caller("+442079460001", "u-7"), unreachable, "402", journal).result == "blocked"

    service.set_queue("400", enabled=False)
    assert handle_request(caller("2015559876", "u-4"), up, "400", journal).result == "disabled"
    off = caller("2015550000", "u-5")
    assert handle_request(off, unreachable, "400", journal).result == "disabled"
    assert refused(off, "disabled")
    assert len(journal.pending()) == 2


def test_the_cache_is_not_a_journal_entry_and_holds_every_queue(
    service: CallbackService, up: Callable[[], CallbackService], journal: Journal
) -> None:
    service.set_queue("400", enabled=True)
    service.set_queue("401", enabled=True, region="RU")
    handle_request(caller("2015551234"), up, "400", journal)
    assert journal.pending() == [] and journal.waiting() == []
    [cache] = [p for p in journal.folder.iterdir() if p.is_file()]
    assert {q["queue"]: q["region"] for q in json.loads(cache.read_text())["queues"]} == {
        "400": "US",
        "401": "RU",
    }


def test_the_limit_waits_for_the_replay_which_sets_a_refused_request_aside_visibly(
    service: CallbackService,
    up: Callable[[], CallbackService],
    unreachable: Callable[[], CallbackService],
    journal: Journal,
) -> None:
    service.set_queue("400", enabled=True, max_pending=1)
    assert handle_request(caller("2015551234", "u-1"), up, "400", journal).result == "created"
    assert handle_request(caller("2015559876", "u-2"), up, "400", journal).result == "limit"
    # Without the database the open requests cannot be counted: the caller is journaled.
    assert handle_request(caller("2015559876", "u-3"), unreachable, "400", journal).result == "journaled"

    assert service.replay(journal) == {"stored": 0, "duplicate": 0, "rejected": 1}
    assert journal.pending() == [] and journal.rejected() == 1
    [reason] = (journal.folder / "rejected").glob("*.reason")
    assert reason.read_text().startswith("limit:")
    [kept] = (journal.folder / "rejected").glob("*.json")
    assert json.loads(kept.read_text())["number"] == "2015559876"  # the caller's request is kept
    check, _ = health.journal(journal)
    assert f"1 set aside in {journal.folder / 'rejected'}" in check.detail
