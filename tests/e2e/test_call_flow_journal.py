"""Database unreachable: the caller still gets the confirmation, the request waits in the journal.

Asterisk runs the agi-bin handler with QCB_DSN on a closed port and QCB_SPOOL in the bed's run folder
(the chroot sees it at the same path). Afterwards `journal replay` stores the journaled request in the
real database exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.testbed import demo
from tests.testbed.asterisk import AsteriskInstance, free_port
from tests.testbed.demo import CALLER, DID, PRESS_AFTER_S, QUEUE
from tests.testbed.sipp import call_with_keys

pytestmark = pytest.mark.e2e
NewBed = Callable[..., AsteriskInstance]


def test_unreachable_database_journals_the_request_and_replay_stores_it_once(
    asterisk: NewBed, db_dsn: str
) -> None:
    demo.enable_queue(db_dsn)
    bed = demo.callback_bed(asterisk, db_dsn, start=False)
    spool = bed.run_dir / "qcb-spool"
    bed.env.update(
        QCB_DSN=f"mysql://qcb:nothing@127.0.0.1:{free_port()}/asterisk",  # nothing listens there
        QCB_SPOOL=str(spool),
    )
    bed.start()

    call = call_with_keys(bed, QUEUE, [(PRESS_AFTER_S, "1")], hold_s=30, caller_id=CALLER)

    assert call.bye_received and call.exit_code == 0, call.summary()
    assert len(demo.played(bed, "qcb-accepted")) == 1, "the caller did not hear the confirmation"
    assert demo.played(bed, "qcb-not-available") == []
    files = sorted(spool.glob("*.json"))
    assert len(files) == 1, sorted(spool.iterdir()) if spool.exists() else "no spool folder"
    entry = json.loads(files[0].read_text())
    assert (entry["queue"], entry["number"]) == (QUEUE, CALLER), entry
    assert entry["uniqueid"], entry
    assert demo.requests(db_dsn) == []

    first = demo.run_cli(db_dsn, "journal", "replay", "--spool", str(spool))
    assert first.output.startswith("1 stored"), first.output
    rows = demo.requests(db_dsn)
    assert [(r["queue"], r["number"], r["did"], r["source"]) for r in rows] == [
        (QUEUE, CALLER, DID, "journal")
    ], rows
    assert rows[0]["caller_uniqueid"] == entry["uniqueid"]
    assert list(spool.glob("*.json")) == []

    second = demo.run_cli(db_dsn, "journal", "replay", "--spool", str(spool))
    assert second.output.startswith("0 stored"), second.output
    assert len(demo.requests(db_dsn)) == 1
