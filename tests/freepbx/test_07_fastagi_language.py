"""On the real FreePBX: the module's daemon serves the AGI calls and a daemon that is down loses nothing;
a Russian queue speaks Russian from the offer to the stored request."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.testbed.freepbx.bed import BW_ENV, FreePbx
from tests.testbed.wait import wait_for

from .calls import cli, press_1, request_row
from .test_03_calls import _new_request


@pytest.fixture(autouse=True)
def _no_open_requests(fpbx: FreePbx) -> None:
    for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(row[0]))


@pytest.fixture
def serve(fpbx: FreePbx) -> Iterator[subprocess.Popen[bytes]]:
    """`freepbx-callback serve` on the FreePBX host, as the asterisk user (what the systemd unit runs)."""
    log = (fpbx.logs / "serve.log").open("ab")
    cmd = fpbx._chroot("bw", ["runuser", "-u", "asterisk", "--", "freepbx-callback", "serve"], BW_ENV)
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: cli(fpbx, "doctor", check=False)["daemon"]["up"], 30, 0.5, "serve's heartbeat")
        yield process
    finally:
        if process.poll() is None:
            fpbx.bw(["pkill", "-f", "freepbx-callback serve"], check=False)
            process.wait(timeout=20)


def _calls_of(log: str, caller: str) -> list[str]:
    """The request handler's AGI lines of the channel that carried ``caller``'s press of 1."""
    channel = None
    for line in log.splitlines():
        if f'"CALLERID(number)={caller}"' in line and "PJSIP/pstn-" in line:
            channel = re.search(r'"(PJSIP/pstn-[0-9a-f]+)"', line)
    assert channel, f"no call from {caller} in the log"
    name = channel.group(1)
    return [
        line for line in log.splitlines() if f'"{name}"' in line and ("AGI(" in line or "FastAGI" in line)
    ]


def test_the_daemon_serves_fastagi_and_a_stopped_daemon_loses_no_request(
    fpbx: FreePbx, serve: subprocess.Popen[bytes]
) -> None:
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX", "--language", "en")
    fpbx.fw("reload")
    exit_400 = fpbx.asterisk("dialplan show 1@qcb-exit-400")
    assert "agi://127.0.0.1:4577/request" in exit_400 and "qcb-request.agi" in exit_400, exit_400
    # serve's dialer may take the stored request at once
    served = _new_request(fpbx, "5551000", "5551241", "400", statuses=("pending", "dialing"))
    lines = _calls_of(fpbx.full_log(), "5551241")
    assert any("agi://127.0.0.1:4577/request" in line for line in lines), lines
    assert not any("qcb-request.agi" in line and "Executing" in line for line in lines), (
        "the fallback ran too"
    )

    fpbx.bw(["pkill", "-f", "freepbx-callback serve"], check=False)
    serve.wait(timeout=20)
    kept = _new_request(fpbx, "5551000", "5551242", "400")
    lines = _calls_of(fpbx.full_log(), "5551242")
    assert any("qcb-request.agi" in line and "Executing" in line for line in lines), lines
    assert request_row(fpbx, kept)["status"] == "pending" and request_row(fpbx, served)["number"] == "5551241"


def test_a_russian_queue_speaks_russian(fpbx: FreePbx) -> None:
    cli(
        fpbx,
        "queue",
        "set",
        "401",
        "--enable",
        "--allow",
        "_555XXXX",
        "--language",
        "ru",
        "--offer-every",
        "10",
    )
    fpbx.fw("reload")
    for name in ("qcb-offer", "qcb-accepted"):
        found = fpbx.bw(["test", "-r", f"/var/lib/asterisk/sounds/ru/{name}.wav"], check=False)
        assert found.returncode == 0, f"sounds/ru/{name} not installed"
    fpbx.set_contacts(agent_port=9, customer_port=9)
    call = press_1(fpbx, did="5551001", caller="5551243", after_s=26)
    assert call.bye_received, call.summary()
    [(request_id, language)] = fpbx.query(
        "SELECT id, language FROM qcb_requests WHERE number LIKE %s AND status = 'pending'", "%5551243"
    )
    assert language == "ru"
    log = fpbx.full_log()
    for name in ("qcb-offer", "qcb-accepted"):
        played = [line for line in log.splitlines() if f"Playing '{name}." in line and "<PJSIP/pstn-" in line]
        assert played and all("(language 'ru')" in line for line in played[-1:]), played[-3:]
    cli(fpbx, "request", "cancel", str(request_id))
