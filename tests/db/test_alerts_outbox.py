"""The alert outbox on a real MariaDB: a row is written with the status change it reports (and only for
a queue that has addresses and that kind on), one sender claims it, and a row that keeps failing is
given up after MAX_TRIES tries against a real (closed) SMTP port."""

from __future__ import annotations

import pytest

from freepbx_callback import alerts, mailer
from freepbx_callback.config import Dsn
from freepbx_callback.dialing import NotFound
from freepbx_callback.models import Outcome, Status
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.conftest import Clock
from tests.testbed.smtp import free_port


def _alerting(service: CallbackService, kinds: str = "new,failed,expired") -> None:
    service.set_queue("400", enabled=True, attempts=1, window=600, timezone="Europe/Moscow")
    service.set_alerts("400", ("sales@example.com",), (kinds,))


def test_settings_default_and_validation(service: CallbackService) -> None:
    with pytest.raises(NotFound):
        service.set_alerts("401", ("a@example.com",))
    service.set_queue("400", enabled=True)
    assert service.alerts_of("400") == {"alert_to": [], "alert_on": []}
    # Addresses with no kinds chosen yet: every kind on.
    assert service.set_alerts("400", ("a@example.com, b@example.com",)) == {
        "alert_to": ["a@example.com", "b@example.com"],
        "alert_on": ["new", "failed", "expired"],
    }
    assert service.set_alerts("400", on=("expired",))["alert_on"] == ["expired"]
    with pytest.raises(alerts.AlertError):
        service.set_alerts("400", ("not an address",))
    # A queue setting saved later keeps the alert columns (they are not QueueSettings fields).
    service.set_queue("400", attempts=3)
    assert service.alerts_of("400")["alert_to"] == ["a@example.com", "b@example.com"]
    assert service.set_alerts("400", (), ()) == {"alert_to": [], "alert_on": []}


def test_new_request_writes_one_alert_row_with_its_request(service: CallbackService, clock: Clock) -> None:
    _alerting(service)
    created = service.request("400", "2015550123").request
    assert created is not None
    [row] = service.alerts(created.id)
    assert (row["kind"], row["queue"], row["number"], row["recipients"], row["status"]) == (
        "new",
        "400",
        "2015550123",
        "sales@example.com",
        "pending",
    )
    # A duplicate press and a refused number write nothing.
    service.request("400", "2015550123")
    service.request("400", "123")
    assert len(service.alerts()) == 1


def test_kind_off_or_no_address_writes_nothing(service: CallbackService) -> None:
    _alerting(service, "failed,expired")
    service.request("400", "2015550123")
    service.set_queue("500", enabled=True)
    service.request("500", "2015550124")
    assert service.alerts() == []


def test_failed_and_expired_write_their_alerts(service: CallbackService, clock: Clock) -> None:
    _alerting(service, "failed,expired")
    failing = service.request("400", "2015550123").request
    expiring = service.request("400", "2015550124").request
    assert failing is not None and expiring is not None
    claimed = service.claim("400", 1, "n")
    [(request, attempt)] = claimed
    assert request.id == failing.id
    clock.advance(30)
    closed = service.record_outcome(failing.id, attempt.attempt_no, Outcome.NO_ANSWER)
    assert closed.status is Status.FAILED
    clock.advance(600)
    assert service.expire_due("400") == [expiring.id]
    [failed] = service.alerts(failing.id)
    [expired] = service.alerts(expiring.id)
    assert failed["kind"] == "failed" and expired["kind"] == "expired"
    # What the message says is copied in with the change.
    rows = {r.request_id: r for r in _claimed_all(service)}
    assert rows[failing.id].attempts == 1 and "no attempts left" in (rows[failing.id].last_outcome or "")
    assert rows[expiring.id].last_outcome == "not dialled within the window"
    assert rows[expiring.id].timezone == "Europe/Moscow"


def _claimed_all(service: CallbackService) -> list[alerts.Alert]:
    out = []
    for alert_id in service.alerts_due():
        claimed = service.claim_alert(alert_id, "test")
        assert claimed is not None
        out.append(claimed)
    return out


def test_one_claim_per_alert(service: CallbackService, dsn: Dsn, clock: Clock) -> None:
    _alerting(service)
    service.request("400", "2015550123")
    other = CallbackService(Store.connect(dsn), clock)
    try:
        [alert_id] = service.alerts_due()
        assert other.alerts_due() == [alert_id]
        assert service.claim_alert(alert_id, "a") is not None
        assert other.claim_alert(alert_id, "b") is None
        assert other.alerts_due() == []  # claimed, lease running
        # A sender that died holding it: after the lease another one takes it.
        clock.advance(alerts.LEASE_SECONDS + 1)
        taken = other.claim_alert(alert_id, "b")
        assert taken is not None and taken.tries == 2
        service.alert_sent(alert_id, "a")  # the dead sender's late word changes nothing
        assert service.alerts()[0]["status"] == "sending"
        other.alert_sent(alert_id, "b")
        assert service.alerts()[0]["status"] == "sent"
    finally:
        other.store.close()


def test_retried_with_backoff_then_given_up(service: CallbackService, clock: Clock) -> None:
    _alerting(service)
    service.request("400", "2015550123")
    closed = mailer.MailConfig(alerts.parse_transport(f"smtp://127.0.0.1:{free_port()}"), "pbx@example.com")
    waits = []
    for tries in range(1, alerts.MAX_TRIES + 1):
        assert mailer.send_due(service, closed, "n") == (
            {"sent": 0, "retry": 1, "failed": 0}
            if tries < alerts.MAX_TRIES
            else {"sent": 0, "retry": 0, "failed": 1}
        )
        [row] = service.alerts()
        assert row["tries"] == tries and row["last_error"]
        if tries < alerts.MAX_TRIES:
            assert row["status"] == "pending"
            waits.append((row["next_try_at"] - clock.now).total_seconds())
            assert mailer.send_due(service, closed, "n") == {"sent": 0, "retry": 0, "failed": 0}  # not due
            clock.advance(waits[-1])
    assert waits == [alerts.backoff(n) for n in range(1, alerts.MAX_TRIES)]
    assert service.alerts()[0]["status"] == "failed"
    health = service.alert_health()
    assert health["failed"] == 1 and health["pending"] == 0 and health["last_error"]


def test_purge_forgets_old_finished_alerts_only(service: CallbackService, clock: Clock) -> None:
    _alerting(service, "new")
    old = service.request("400", "2015550123").request
    assert old is not None
    [alert_id] = service.alerts_due()
    assert service.claim_alert(alert_id, "n") is not None
    service.alert_sent(alert_id, "n")
    service.cancel(old.id)
    clock.advance(86400 * 31)
    waiting = service.request("400", "2015550124").request  # not sent yet: kept whatever its age
    assert waiting is not None
    clock.advance(86400 * 31)
    assert service.purge(86400 * 30) == 1
    assert [r["request_id"] for r in service.alerts()] == [waiting.id]


def test_kinds_read_with_the_settings_skip_the_outbox_only_while_fresh(
    dsn: Dsn, service: CallbackService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller's request reuses the alert kinds its settings read brought (no outbox statement for a queue
    without alerts); a change made elsewhere applies once that read is older than the trusted span, and a
    change made on the same connection at once."""
    from freepbx_callback import store_alerts

    service.set_queue("400", enabled=True)
    caller = CallbackService(Store.connect(dsn))
    statements: list[str] = []
    run = caller.store._run

    def counting(sql: str, args: object = ()) -> object:
        statements.append(sql.split()[0] + " " + sql.split()[2 if sql.startswith("INSERT") else 1])
        return run(sql, args)  # type: ignore[arg-type]

    caller.store._run = counting  # type: ignore[method-assign]
    [known] = caller.queues()
    assert caller.request("400", "2015550101", settings=known).kind == "created"
    assert "INSERT qcb_alerts" not in statements and service.alerts() == []

    service.set_alerts("400", ("sales@example.com",), ("new",))  # another connection (the CLI, the page)
    monkeypatch.setattr(store_alerts, "ALERT_KINDS_TRUSTED_S", 0.0)
    assert caller.request("400", "2015550102", settings=known).kind == "created"
    assert [a["number"] for a in service.alerts()] == ["2015550102"]

    monkeypatch.setattr(store_alerts, "ALERT_KINDS_TRUSTED_S", 3600.0)
    [known] = caller.queues()
    caller.set_alerts("400", on=("failed",))
    caller.set_alerts("400", on=("new",))  # this connection's own change drops what it had read
    assert caller.request("400", "2015550103", settings=known).kind == "created"
    assert [a["number"] for a in service.alerts()] == ["2015550102", "2015550103"]
    caller.store.close()
