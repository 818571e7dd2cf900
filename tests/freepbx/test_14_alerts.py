"""Department alerts on the real FreePBX, with FreePBX's own mail settings: no --smtp is given, so the
module does what FreePBX's Mail class does (SMTP to the local MTA on localhost:25), and the From address
is User Management's "Email From: Address" (AMPUSERMANEMAILFROM) where FreePBX has that module, else
the Asterisk user at the host (the bed has no User Management). A real SMTP server (aiosmtpd) stands in
for the host's MTA on 127.0.0.1:25 (the bed shares the host's network). A real caller presses 1; the
request's "new" alert reaches the department's address with the number and the queue."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.smtp import SmtpServer

from .calls import cli, press_1

FROM = "pbx-alerts@example.com"


@pytest.fixture
def mta(fpbx: FreePbx) -> Iterator[SmtpServer]:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 25)) == 0:
            pytest.skip("something already listens on 127.0.0.1:25 (a real MTA): the test needs the port")
    server = SmtpServer(port=25).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def from_address(fpbx: FreePbx) -> Iterator[str]:
    """What the From must hold: User Management's "Email From: Address" where the bed has that setting
    (set here for the test), else FreePBX's fallback, the Asterisk user at this host."""
    rows = fpbx.query("SELECT value FROM freepbx_settings WHERE keyword = 'AMPUSERMANEMAILFROM'")
    if not rows:
        user = fpbx.query("SELECT value FROM freepbx_settings WHERE keyword = 'AMPASTERISKUSER'")
        yield f"{user[0][0] if user and user[0][0] else 'asterisk'}@"
        return
    fpbx.query("UPDATE freepbx_settings SET value = %s WHERE keyword = 'AMPUSERMANEMAILFROM'", FROM)
    try:
        yield FROM
    finally:
        fpbx.query("UPDATE freepbx_settings SET value = %s WHERE keyword = 'AMPUSERMANEMAILFROM'", rows[0][0])


def test_a_new_request_alert_goes_out_through_freepbx_mail(
    fpbx: FreePbx, mta: SmtpServer, from_address: str
) -> None:
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX")
    shown = cli(fpbx, "queue", "set", "400", "--alert-to", "sales@example.com", "--alert-on", "new")
    assert shown["alert_to"] == ["sales@example.com"] and shown["alert_on"] == ["new"], shown
    fpbx.fw("reload")
    fpbx.set_contacts(agent_port=9, customer_port=9)
    try:
        call = press_1(fpbx, did="5551000", caller="5551301")
        assert call.bye_received, call.summary()
        [(request_id,)] = fpbx.query(
            "SELECT id FROM qcb_requests WHERE number LIKE %s AND status = 'pending'", "%5551301"
        )
        sent = fpbx.bw(["freepbx-callback", "alert", "send"])  # what serve and the cron dial do
        assert "1 sent" in sent.stdout, sent.stdout + sent.stderr
        [message] = mta.wait_for(1)
        assert message["To"] == "sales@example.com", message["To"]
        assert from_address in (message["From"] or ""), message["From"]
        body = message.get_payload(decode=True).decode()
        assert "5551301" in (message["Subject"] or "") and "400" in message["Subject"], message["Subject"]
        assert "5551301" in body and f"{request_id}" in body, body
        again = fpbx.bw(["freepbx-callback", "alert", "send"])
        assert "1 sent" not in again.stdout and len(mta.messages()) == 1, "the alert was sent twice"
    finally:
        cli(fpbx, "queue", "set", "400", "--no-alerts")
        for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
            cli(fpbx, "request", "cancel", str(row[0]))
