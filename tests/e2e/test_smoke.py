"""Smoke: a caller waiting in a queue presses 1 after the offer; a pending callback request is stored.

Real path: SIPp -> PJSIP -> Queue(400) with periodic-announce and ``context=qcb-exit-400`` -> the digit
takes the caller out of the queue -> the project's ``agi-bin/qcb-request.agi`` (chroot python3, project
package staged on PYTHONPATH) -> MariaDB on the host (QCB_DSN) -> Hangup -> BYE to SIPp.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import MySQLdb
from click.testing import CliRunner

from freepbx_callback.cli import cli
from freepbx_callback.config import Dsn
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.sipp import call_and_press
from tests.testbed.wait import wait_for

QUEUES = """
[400]
strategy = ringall
periodic-announce = queue-periodic-announce
periodic-announce-frequency = 5
context = qcb-exit-400
joinempty = yes
leavewhenempty = no
"""

EXTENSIONS = """
[qcb-test-in]
exten => 400,1,Answer()
 same => n,Queue(400)
 same => n,Hangup()

[qcb-exit-400]
exten => 1,1,AGI({agi_dir}/qcb-request.agi,400)
 same => n,Hangup()
"""

# WARNING/ERROR lines that a clean run may log, with the reason. Empty: a clean start and this call
# log none (the test bed writes every config file that Asterisk would otherwise miss).
EXPECTED_WARNINGS: list[str] = []


def requests(db_dsn: str) -> list[dict[str, Any]]:
    dsn = Dsn.parse(db_dsn)
    conn = MySQLdb.connect(
        host=dsn.host,
        port=dsn.port,
        user=dsn.user,
        password=dsn.password,
        database=dsn.database,
        charset="utf8mb4",
    )
    try:
        cursor = conn.cursor(MySQLdb.cursors.DictCursor)
        cursor.execute("SELECT queue, number, status, did, source FROM qcb_requests ORDER BY id")
        return list(cursor.fetchall())
    finally:
        conn.close()


def test_caller_pressing_1_in_queue_stores_a_pending_request(
    asterisk: Callable[..., AsteriskInstance], db_dsn: str
) -> None:
    enabled = CliRunner().invoke(
        cli, ["--dsn", db_dsn, "queue", "set", "400", "--enable", "--did", "5551000"]
    )
    assert enabled.exit_code == 0, enabled.output

    bed = asterisk(start=False, queues=QUEUES, env={"QCB_DSN": db_dsn})
    bed.extensions = EXTENSIONS.format(agi_dir=bed.agi_dir)
    bed.start()

    call = call_and_press(bed, "400", dtmf_after_s=7, hold_s=30, digit="1", caller_id="2015551234")

    assert call.bye_received, f"Asterisk never hung up the caller:\n{call.summary()}"
    assert call.exit_code == 0, call.summary()
    log = bed.log_text()
    assert "Playing 'queue-periodic-announce" in log, "the queue never played the offer"
    assert "DTMF end '1' received" in log
    assert "Executing [1@qcb-exit-400:1] AGI(" in log, "the digit did not take the caller out of the queue"
    assert "qcb-request.agi completed" in log

    rows = wait_for(lambda: requests(db_dsn), timeout=10, message="a callback request row")
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["queue"], row["number"], row["status"]) == ("400", "2015551234", "pending"), row

    unexpected = [line for line in bed.warnings() if not any(w in line for w in EXPECTED_WARNINGS)]
    assert unexpected == [], "\n".join(unexpected)
