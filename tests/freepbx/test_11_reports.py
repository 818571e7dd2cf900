"""Reports on the real FreePBX: a callback through FreePBX's own dialplan (the agent is a Local/…@from-queue
member, the customer is reached through an outbound route and its trunk) writes its lines into the
queue_log FreePBX's queue reports read, under the caller's queue call, and both legs keep the module's
CDR mark through FreePBX's dialplan (which sets account codes of its own on extensions and routes).

The bed's Asterisk writes no CDR by default (FreePBX's CDR goes through ODBC, which is off in the bed's
Asterisk root), so the test loads Asterisk's cdr_custom with a one-line mapping (and leaves it loaded).
"""

from __future__ import annotations

import csv

import pytest

from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.wait import wait_for

from .calls import cli, phones, tick, wait_status
from .test_03_calls import _new_request, configure

CDR_FOLDER = "/var/log/asterisk/cdr-custom"
MAPPING = (
    "[mappings]\nqcb-test.csv => ${CSV_QUOTE(${CDR(accountcode)})},${CSV_QUOTE(${CDR(channel)})},"
    "${CSV_QUOTE(${CDR(dstchannel)})}\n"
)


@pytest.fixture
def cdr_custom(fpbx: FreePbx) -> None:
    """cdr_custom with the test's mapping, left loaded for the rest of the session: unloading Asterisk
    22.10's cdr_custom and then posting a CDR crashed the bed's Asterisk (a segfault in the unloaded
    module's code), so the module and its one-line CSV stay; later calls only add lines to that file."""
    fpbx.run_in_root(["mkdir", "-p", CDR_FOLDER])
    fpbx.run_in_root(["chown", "asterisk:asterisk", CDR_FOLDER])  # FreePBX's Asterisk runs as asterisk
    fpbx.run_in_root(["sh", "-c", "printf '%s' \"$M\" > /etc/asterisk/cdr_custom.conf"], env={"M": MAPPING})
    if "cdr_custom" in fpbx.asterisk("module show like cdr_custom"):
        fpbx.asterisk("module reload cdr_custom.so")
    else:
        fpbx.asterisk("module load cdr_custom.so")
    assert "cdr_custom" in fpbx.asterisk("module show like cdr_custom"), "cdr_custom did not load"


def _queue_log(fpbx: FreePbx, callid: str) -> list[list[str]]:
    path = fpbx.bw_path("/var/log/asterisk/queue_log")
    rows = [line.split("|") for line in path.read_text().splitlines()] if path.exists() else []
    return [row for row in rows if len(row) > 4 and row[1] == callid and row[4].startswith("CALLBACK")]


def _marked_legs(fpbx: FreePbx, mark: str) -> set[str]:
    path = fpbx.bw_path(f"{CDR_FOLDER}/qcb-test.csv")
    records = list(csv.reader(path.read_text().splitlines())) if path.exists() else []
    return {channel for r in records if r and r[0] == mark for channel in r[1:3] if channel}


def _both_legs(channels: set[str]) -> bool:
    """A leg to extension 1002's phone and one out of the trunk."""
    agent = any(c.startswith(("PJSIP/1002-", "PJSIP/agent-")) for c in channels)
    return agent and any(c.startswith("PJSIP/pstn-") for c in channels)


def test_a_callback_is_in_freepbx_queue_log_and_marked_on_both_legs(fpbx: FreePbx, cdr_custom: None) -> None:
    configure(fpbx, "400", "--mode", "agent-first", "--no-notify-agents", "--min-talk", "1", "--no-did")
    request_id = _new_request(fpbx, "5551000", "5551281", "400")
    [(callid,)] = fpbx.query("SELECT caller_uniqueid FROM qcb_requests WHERE id = %s", request_id)
    assert callid, "the request keeps the uniqueid of the caller's queue call"
    agent, customer = phones(fpbx, customer_hangup_after_s=4)
    with agent, customer:
        report = tick(fpbx)
        assert request_id in report["dialled"], report
        assert wait_status(fpbx, request_id, {"done", "failed", "pending"}, timeout=60) == "done"
    tick(fpbx)  # the answer's line is written by the tick after the call
    lines = wait_for(lambda: q if len(q := _queue_log(fpbx, callid)) >= 3 else None, 15, 0.5, "queue_log")
    events = [row[4] for row in lines]
    assert events == ["CALLBACKREQUEST", "CALLBACKATTEMPT", "CALLBACKANSWERED"], lines
    assert all(row[2] == "400" and row[5] == str(request_id) and row[6].endswith("5551281") for row in lines)
    assert tick(fpbx) is not None and len(_queue_log(fpbx, callid)) == 3, "a line was written twice"

    # the agent's leg (the extension behind FreePBX's Local member) and the customer's (the trunk)
    mark = f"qcb:{request_id}"
    try:
        wait_for(lambda: _both_legs(_marked_legs(fpbx, mark)), 15, 0.5, "both callback legs marked in CDR")
    except AssertionError:
        path = fpbx.bw_path(f"{CDR_FOLDER}/qcb-test.csv")
        records = path.read_text() if path.exists() else "none"
        status = fpbx.asterisk("cdr show status")
        raise AssertionError(f"CDR records ({mark}): {records}\n{status}") from None
    cli(fpbx, "queue", "set", "400", "--notify-agents")
