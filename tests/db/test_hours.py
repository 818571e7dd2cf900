"""Callback hours on a real MariaDB with a settable clock: a queue's callbacks are claimed only while it
is open, a request made out of hours is due at the opening, the window counts open time only, and a
retry that falls after closing waits for the opening. On FreePBX a Time Group (timegroups_details, read
from the database) is the schedule."""

from __future__ import annotations

from datetime import datetime

import pytest

from freepbx_callback import hours
from freepbx_callback.models import Outcome, Status
from freepbx_callback.policy import PolicyError
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.conftest import Clock

TUESDAY_1655 = datetime(2026, 12, 1, 16, 55)  # Europe/Moscow is UTC+3: 19:55 local
SCHEDULE = {"hours": ("mon-fri 09:00-17:00", "sat 10:00-14:00"), "timezone": "UTC"}


def _request(service: CallbackService, number: str = "2015551234") -> int:
    result = service.request("400", number)
    assert result.kind == "created", result
    assert result.request is not None
    return result.request.id


def test_settings_keep_hours_and_time_zone(service: CallbackService) -> None:
    service.set_queue("400", enabled=True, hours=("mon-fri 09:00-17:00",), timezone="Europe/Moscow")
    settings = service.queue("400")
    assert settings.hours == ("mon-fri 09:00-17:00",) and settings.timezone == "Europe/Moscow"
    with pytest.raises(PolicyError):
        service.set_queue("400", hours=("mon-fri 9-5",))
    with pytest.raises(PolicyError):
        service.set_queue("400", timezone="Mars/Olympus")


def test_window_counts_open_time_and_claims_wait_for_the_opening(
    service: CallbackService, clock: Clock
) -> None:
    service.set_queue("400", enabled=True, window=600, **SCHEDULE)
    clock.now = TUESDAY_1655
    rid = _request(service)
    request = service.get(rid)
    assert request.next_attempt_at == TUESDAY_1655  # open now: due at once
    assert request.expires_at == datetime(2026, 12, 2, 9, 5)  # 5 open minutes today, 5 tomorrow
    clock.now = datetime(2026, 12, 1, 17, 0)  # closed
    assert service.claim("400", 1, "n") == []
    assert service.expire_due("400") == []
    clock.now = datetime(2026, 12, 2, 8, 59)
    assert service.claim("400", 1, "n") == []
    clock.now = datetime(2026, 12, 2, 9, 0)  # opens
    [(claimed, _)] = service.claim("400", 1, "n")
    assert claimed.id == rid


def test_request_out_of_hours_is_due_at_the_opening(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600, **SCHEDULE)
    clock.now = datetime(2026, 12, 4, 18, 30)  # Friday evening: next opening Saturday 10:00
    rid = _request(service)
    request = service.get(rid)
    assert request.next_attempt_at == datetime(2026, 12, 5, 10, 0)
    assert request.expires_at == datetime(2026, 12, 5, 10, 10)
    assert service.when_due(request) == datetime(2026, 12, 5, 10, 0)
    clock.now = datetime(2026, 12, 5, 10, 11)
    assert service.expire_due("400") == [rid]


def test_retry_after_closing_waits_for_the_opening(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600, retry_interval=300, **SCHEDULE)
    clock.now = datetime(2026, 12, 1, 16, 50)
    rid = _request(service)
    [(_, attempt)] = service.claim("400", 1, "n")
    clock.now = datetime(2026, 12, 1, 16, 57)
    request = service.record_outcome(rid, attempt.attempt_no, Outcome.NO_ANSWER)
    assert request.status is Status.PENDING
    assert request.next_attempt_at == datetime(2026, 12, 2, 9, 0)  # 17:02 is closed
    assert request.expires_at == datetime(2026, 12, 2, 9, 10)


def test_no_hours_keeps_plain_time(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600)
    clock.now = TUESDAY_1655
    request = service.get(_request(service))
    assert request.expires_at == datetime(2026, 12, 1, 17, 5)


def test_freepbx_time_group_governs_the_queue(service: CallbackService, store: Store, clock: Clock) -> None:
    # The tables FreePBX's timeconditions module keeps (their shape as FreePBX 17 creates them).
    store._run(
        "CREATE TABLE IF NOT EXISTS timegroups_groups (id INT AUTO_INCREMENT PRIMARY KEY, "
        "description VARCHAR(50) NOT NULL DEFAULT '')"
    )
    store._run(
        "CREATE TABLE IF NOT EXISTS timegroups_details (id INT AUTO_INCREMENT PRIMARY KEY, "
        "timegroupid INT NOT NULL DEFAULT 0, time VARCHAR(100) NOT NULL DEFAULT '')"
    )
    store._run("INSERT INTO timegroups_groups (description) VALUES ('Office')")
    [(group,)] = store._all("SELECT LAST_INSERT_ID()")
    for line in ("09:00-17:00|mon-fri|*|*", "10:00-14:00|sat|*|*"):
        store._run("INSERT INTO timegroups_details (timegroupid, time) VALUES (%s, %s)", (group, line))
    service.set_queue("400", enabled=True, window=600, timegroup=int(group))
    assert service.schedule(service.queue("400")).rules == hours.schedule(SCHEDULE["hours"]).rules
    assert service.time_groups() == [(int(group), "Office")]
    clock.now = datetime(2026, 12, 4, 18, 30)
    request = service.get(_request(service))
    assert request.next_attempt_at == datetime(2026, 12, 5, 10, 0)
    clock.now = datetime(2026, 12, 5, 9, 59)
    assert service.claim("400", 1, "n") == []
    clock.now = datetime(2026, 12, 5, 10, 0)
    assert len(service.claim("400", 1, "n")) == 1
