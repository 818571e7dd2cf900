"""Alerts delivered to a real SMTP server (aiosmtpd on 127.0.0.1, started by the test): what arrives for
a new, a failed and an expired request; a mail server that is down never holds up a request and gets
the alert once it is back, exactly once; two senders at once send each alert once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from freepbx_callback import alerts, mailer
from freepbx_callback.config import Dsn
from freepbx_callback.models import Outcome, Status
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.conftest import Clock
from tests.testbed.smtp import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


def _config(server: SmtpServer) -> mailer.MailConfig:
    return mailer.MailConfig(alerts.parse_transport(server.url), "Callbacks <pbx@example.com>")


def _alerting(service: CallbackService, kinds: str = "new,failed,expired") -> None:
    service.set_queue("400", enabled=True, attempts=1, window=600, timezone="Europe/Moscow")
    service.set_alerts("400", ("sales@example.com", "boss@example.com"), (kinds,))


def test_new_request_mail_arrives(service: CallbackService, clock: Clock, smtp: SmtpServer) -> None:
    _alerting(service)
    created = service.request("400", "2015550123").request
    assert created is not None
    assert mailer.send_due(service, _config(smtp), "n") == {"sent": 1, "retry": 0, "failed": 0}
    [(rcpt, msg)] = smtp.received
    assert rcpt == ["sales@example.com", "boss@example.com"]
    assert msg["Subject"] == "Callback requested: 2015550123 (queue 400)"
    assert msg["From"] == "Callbacks <pbx@example.com>"
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@example.com>")
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
    text = msg.get_payload(decode=True).decode()
    local = alerts.local_time(created.requested_at, "Europe/Moscow")
    assert "2015550123" in text and "Queue:      400" in text and local in text and "MSK" in local
    assert service.alerts(created.id)[0]["status"] == "sent"
    assert mailer.send_due(service, _config(smtp), "n") == {"sent": 0, "retry": 0, "failed": 0}


def test_failed_and_expired_mails_arrive(service: CallbackService, clock: Clock, smtp: SmtpServer) -> None:
    _alerting(service, "failed,expired")
    failing = service.request("400", "2015550123").request
    expiring = service.request("400", "2015550124").request
    assert failing is not None and expiring is not None
    [(_, attempt)] = service.claim("400", 1, "n")
    clock.advance(40)
    assert service.record_outcome(failing.id, attempt.attempt_no, Outcome.BUSY).status is Status.FAILED
    clock.advance(600)
    assert service.expire_due("400") == [expiring.id]
    assert mailer.send_due(service, _config(smtp), "n")["sent"] == 2
    by_subject = {m["Subject"]: m.get_payload(decode=True).decode() for m in smtp.messages()}
    failed = by_subject["Callback failed: 2015550123 (queue 400)"]
    assert "Attempts:   1" in failed and "busy" in failed
    expired = by_subject["Callback expired: 2015550124 (queue 400)"]
    assert "Attempts:   0" in expired and "not dialled within the window" in expired
    assert "Queue:      400" in failed and "Queue:      400" in expired


def test_mail_server_down_then_back_exactly_once(service: CallbackService, clock: Clock) -> None:
    _alerting(service)
    server = SmtpServer()  # not started: its port refuses connections
    config = _config(server)
    created = service.request("400", "2015550123")
    assert created.kind == "created"  # the request never waits for mail
    assert mailer.send_due(service, config, "n") == {"sent": 0, "retry": 1, "failed": 0}
    [row] = service.alerts()
    assert row["status"] == "pending" and row["tries"] == 1 and "127.0.0.1" in row["last_error"]
    server.start()
    try:
        # Not before its next try ...
        assert mailer.send_due(service, config, "n") == {"sent": 0, "retry": 0, "failed": 0}
        assert server.messages() == []
        clock.advance(alerts.backoff(1))
        # ... then delivered, once.
        assert mailer.send_due(service, config, "n")["sent"] == 1
        clock.advance(3600)
        assert mailer.send_due(service, config, "n")["sent"] == 0
        [msg] = server.messages()
        assert "2015550123" in msg["Subject"]
        assert service.alerts()[0]["status"] == "sent"
    finally:
        server.stop()


def test_permanent_refusal_is_given_up_at_once(service: CallbackService, smtp: SmtpServer) -> None:
    service.set_queue("400", enabled=True)
    service.set_alerts("400", ("nobody@example.com",), ("new",))
    service.request("400", "2015550123")

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]  # noqa: N802, ANN001
            return "550 5.1.1 no such user"

    smtp.stop()
    from aiosmtpd.controller import Controller

    controller = Controller(Refusing(), hostname="127.0.0.1", port=smtp.port)
    controller.start()
    try:
        assert mailer.send_due(service, _config(smtp), "n") == {"sent": 0, "retry": 0, "failed": 1}
    finally:
        controller.stop()
    [row] = service.alerts()
    assert row["status"] == "failed" and "550" in row["last_error"]
    assert service.alert_health()["failed"] == 1


def test_two_senders_at_once_send_each_alert_once(
    service: CallbackService, dsn: Dsn, clock: Clock, smtp: SmtpServer
) -> None:
    _alerting(service, "new")
    for n in range(12):
        service.request("400", f"20155501{n:02d}")
    services = [CallbackService(Store.connect(dsn), clock) for _ in range(2)]
    start = threading.Barrier(2)
    counts: list[dict[str, int]] = []

    def run(svc: CallbackService, node: str) -> None:
        start.wait()
        counts.append(mailer.send_due(svc, _config(smtp), node))

    threads = [threading.Thread(target=run, args=(s, f"node{i}")) for i, s in enumerate(services)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in services:
            s.store.close()
    subjects = [m["Subject"] for m in smtp.messages()]
    assert len(subjects) == 12 and len(set(subjects)) == 12
    assert sum(c["sent"] for c in counts) == 12
    assert {r["status"] for r in service.alerts()} == {"sent"}


# aiosmtpd warns about AUTH without TLS: on loopback, in a test, that is the point.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_from_the_url(service: CallbackService, clock: Clock) -> None:
    _alerting(service, "new")
    service.request("400", "2015550123")
    service.request("400", "2015550124")
    server = SmtpServer(login=("alerts@example.com", "s:cret")).start()
    try:
        wrong = mailer.MailConfig(
            alerts.parse_transport(f"smtp://alerts%40example.com:nope@127.0.0.1:{server.port}"),
            "pbx@example.com",
        )
        # A refused login is a setting to fix: retried (and the pass stops), not given up.
        assert mailer.send_due(service, wrong, "n") == {"sent": 0, "retry": 1, "failed": 0}
        assert "535" in service.alerts()[0]["last_error"] and server.messages() == []
        assert [r["tries"] for r in service.alerts()] == [1, 0]
        right = mailer.MailConfig(
            alerts.parse_transport(f"smtp://alerts%40example.com:s%3Acret@127.0.0.1:{server.port}"),
            "pbx@example.com",
        )
        clock.advance(alerts.backoff(1))
        assert mailer.send_due(service, right, "n")["sent"] == 2
        assert sorted(m["Subject"] for m in server.messages()) == [
            "Callback requested: 2015550123 (queue 400)",
            "Callback requested: 2015550124 (queue 400)",
        ]
    finally:
        server.stop()


def test_sendmail_transport_hands_the_message_to_the_program(
    service: CallbackService, tmp_path: Path
) -> None:
    """``sendmail:`` runs the MTA's sendmail -t with the message on stdin (here a program that keeps what
    it was given, where the MTA's would queue it); a failing program is a retried try."""
    program = tmp_path / "sendmail"
    program.write_text(
        f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat > {tmp_path}/message\nexit ${{QCB_FAKE_EXIT:-0}}\n'
    )
    program.chmod(0o755)
    _alerting(service, "new")
    service.request("400", "2015550123")
    config = mailer.MailConfig(alerts.parse_transport(f"sendmail://{program}"), "PBX <pbx@example.com>")
    assert config.transport.sendmail == str(program)
    assert mailer.send_due(service, config, "n")["sent"] == 1
    assert (tmp_path / "args").read_text().split() == ["-t", "-oi", "-f", "pbx@example.com"]
    msg = message_from_bytes((tmp_path / "message").read_bytes())
    assert msg["To"] == "sales@example.com, boss@example.com"
    assert msg["Subject"] == "Callback requested: 2015550123 (queue 400)"
    program.write_text("#!/bin/sh\necho 'queue full' >&2\nexit 75\n")
    service.request("400", "2015550124")
    assert mailer.send_due(service, config, "n") == {"sent": 0, "retry": 1, "failed": 0}
    assert "exited 75: queue full" in service.alerts()[-1]["last_error"]
