"""The request handler's paths with a scripted caller and the real database (and a real spool folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from freepbx_callback.agi.request import handle_request
from freepbx_callback.journal import Journal
from freepbx_callback.models import Status
from freepbx_callback.queue_cache import QueueCache
from freepbx_callback.service import CallbackService
from freepbx_callback.store import StoreUnavailable
from tests.agi.scripted import ScriptedChannel


def caller(callerid: str = "2015551234", **kw: object) -> ScriptedChannel:
    env = {"agi_callerid": callerid, "agi_uniqueid": "1700000000.42"}
    variables = {"FROM_DID": "5551000", "CHANNEL(language)": "en", "QUEUEPOSITION": "2"}
    return ScriptedChannel(env=env, variables=variables, **kw)  # type: ignore[arg-type]


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "spool")


@pytest.fixture
def enabled(service: CallbackService) -> CallbackService:
    service.set_queue("400", enabled=True, did="5550000")
    return service


def test_normal_caller_is_stored_and_hears_confirmation(enabled: CallbackService, journal: Journal) -> None:
    ch = caller()
    out = handle_request(ch, lambda: enabled, "400", journal)
    assert (out.result, out.next) == ("created", "hangup")
    assert ch.log == ["play qcb-accepted", "hangup"]
    assert ch.variables["QCB_RESULT"] == "created" and ch.variables["QCB_NEXT"] == "hangup"
    [r] = enabled.list()
    assert (r.number, r.did, r.caller_uniqueid, r.position, r.source, r.status) == (
        "2015551234",
        "5551000",
        "1700000000.42",
        2,
        "agi",
        Status.PENDING,
    )


def test_already_requested(enabled: CallbackService, journal: Journal) -> None:
    enabled.request("400", "2015551234")
    ch = caller()
    assert handle_request(ch, lambda: enabled, "400", journal).result == "duplicate"
    assert ch.log == ["play qcb-already-requested", "hangup"]
    assert len(enabled.list()) == 1


@pytest.mark.parametrize(
    "setup,result",
    [
        ({"block_patterns": ("_201555XXXX",)}, "blocked"),
        ({"max_pending": 0}, "limit"),
        ({"enabled": False}, "disabled"),
    ],
)
def test_refused_callers_go_back_to_the_queue(
    enabled: CallbackService, journal: Journal, setup: dict[str, object], result: str
) -> None:
    enabled.set_queue("400", **setup)
    ch = caller()
    out = handle_request(ch, lambda: enabled, "400", journal)
    assert (out.result, out.next) == (result, "queue")
    assert ch.log == ["play qcb-not-available"] and not ch.hung_up
    assert enabled.list() == []


def test_withheld_caller_keys_in_a_number_and_confirms(enabled: CallbackService, journal: Journal) -> None:
    ch = caller("anonymous", entries=["2125551234"], keys={"qcb-confirm": "1"})
    out = handle_request(ch, lambda: enabled, "400", journal)
    assert (out.result, out.number) == ("created", "2125551234")
    assert ch.log == [
        "get qcb-enter-number",
        "play qcb-you-entered",
        "say 2125551234",
        "play qcb-confirm",
        "play qcb-accepted",
        "hangup",
    ]


def test_two_reenters_then_confirm(enabled: CallbackService, journal: Journal) -> None:
    ch = caller("", entries=["2125550000", "2125551111"], waits=["2", "1"])
    out = handle_request(ch, lambda: enabled, "400", journal)
    assert out.number == "2125551111" and out.result == "created"


def test_three_failures_return_to_the_queue(enabled: CallbackService, journal: Journal) -> None:
    ch = caller("restricted", entries=["", "12", "2125551234"], waits=["9"])
    out = handle_request(ch, lambda: enabled, "400", journal)
    assert (out.result, out.next) == ("no_number", "queue")
    assert ch.log.count("play qcb-invalid-number") == 2 and not ch.hung_up
    assert enabled.list() == []


def test_no_confirmation_three_times_returns_to_queue(enabled: CallbackService, journal: Journal) -> None:
    ch = caller("anonymous", entries=["2125551234"] * 3)
    out = handle_request(ch, lambda: enabled, "400", journal)
    assert (out.result, out.next) == ("no_number", "queue")
    assert ch.log.count("say 2125551234") == 3
    assert enabled.list() == []


def test_database_down_journals_and_confirms(service: CallbackService, journal: Journal) -> None:
    service.set_queue("400", enabled=True)

    def down() -> CallbackService:
        raise StoreUnavailable("cannot use database: refused")

    ch = caller()
    out = handle_request(ch, down, "400", journal)
    assert (out.result, out.next) == ("journaled", "hangup")
    assert ch.log == ["play qcb-accepted", "hangup"]
    [(path, entry)] = journal.pending()
    assert (entry.queue, entry.number, entry.did, entry.uniqueid) == (
        "400",
        "2015551234",
        "5551000",
        "1700000000.42",
    )
    assert service.replay(journal) == {"stored": 1, "duplicate": 0, "rejected": 0}
    assert service.replay(journal) == {"stored": 0, "duplicate": 0, "rejected": 0}
    [r] = service.list()
    assert r.source == "journal" and r.caller_uniqueid == "1700000000.42"


def test_replay_interrupted_after_insert_stores_once(service: CallbackService, journal: Journal) -> None:
    service.set_queue("400", enabled=True)
    from freepbx_callback.journal import Entry

    journal.append(Entry("400", "2015551234", "2026-01-01T10:00:00.000", uniqueid="u-1"))
    path = journal.pending()[0][0]
    copy = path.read_bytes()
    service.replay(journal)
    service.cancel(service.list()[0].id)  # closed meanwhile: the open-request key no longer guards it
    path.write_bytes(copy)  # the file survived a crash between insert and delete
    assert service.replay(journal) == {"stored": 0, "duplicate": 1, "rejected": 0}
    assert len(service.list()) == 1


def test_journal_failure_returns_to_queue(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    def down() -> CallbackService:
        raise StoreUnavailable("down")

    ch = caller()
    out = handle_request(ch, down, "400", Journal(blocker / "spool"))
    assert (out.result, out.next) == ("error", "queue")
    assert ch.log == ["play qcb-not-available"]


def test_prompt_overrides_are_played(enabled: CallbackService, journal: Journal) -> None:
    enabled.set_queue("400", prompts=(("accepted", "custom/thanks"),))
    ch = caller()
    handle_request(ch, lambda: enabled, "400", journal)
    assert ch.log[0] == "play custom/thanks"


def test_unreadable_journal_file_is_set_aside(journal: Journal) -> None:
    journal.folder.mkdir(parents=True)
    (journal.folder / "broken.json").write_text("{not json")
    assert journal.pending() == []
    assert (journal.folder / "rejected" / "broken.json").exists()
    assert "unreadable" in (journal.folder / "rejected" / "broken.reason").read_text()


@pytest.mark.parametrize("typed", ["911", "+8810000000", "00447911123456"])
def test_a_keyed_number_meets_the_same_rules(enabled: CallbackService, journal: Journal, typed: str) -> None:
    ch = caller("anonymous", entries=[typed], keys={"qcb-confirm": "1"})
    out = handle_request(ch, lambda: enabled, "400", journal)
    assert (out.result, out.next) == ("blocked", "queue")
    assert ch.log[-1] == "play qcb-not-available" and not ch.hung_up
    assert enabled.list() == []


def _selects(service: CallbackService) -> int:
    [(_, value)] = service.store._all("SHOW SESSION STATUS LIKE 'Com_select'")
    return int(value)


def test_a_request_reads_the_queues_once(enabled: CallbackService, journal: Journal) -> None:
    """One caller, default settings (no open-request limit): the queues are read once (for this queue's
    settings and the copy kept for when the database is down, which still lists every queue), and nothing
    else: the insert's unique key finds an open request for the number, and the stored row is returned as
    written. The queue's row (locked) and the open request are read first only for a queue with a limit,
    to serialise its count."""
    enabled.set_queue("401", enabled=True)
    before = _selects(enabled)
    assert handle_request(caller(), lambda: enabled, "400", journal).result == "created"
    assert _selects(enabled) - before == 1
    assert sorted(QueueCache(journal.folder).load() or {}) == ["400", "401"]
