"""`make install` of a rebuilt package installs the new code, even at the same version.

The package is rebuilt from a copy of the work tree with one change, at the same version, and installed over
the installed module with packaging/install.sh (what `make install` runs): FreePBX's table step passes, the
new code runs in the FreePBX root's CLI and in the dialplan FreePBX loads into Asterisk, and the queue
settings and open requests stay. Then the same for tables an earlier build made (before schema migration 5).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from freepbx_callback import __version__
from tests.module.tools import copy_sources
from tests.testbed.freepbx.bed import FreePbx

from .calls import cli
from .conftest import CURRENT_PYTHON, install_product

FOREIGN_KEYS = {("qcb_attempts", "fk_attempt_request"), ("qcb_events", "fk_event_request")}


def rebuilt_sources(into: Path, mark: str) -> Path:
    """A copy of the work tree, version unchanged, whose package and dialplan carry ``mark``."""
    copy_sources(into)
    init = into / "freepbx_callback" / "__init__.py"
    init.write_text(init.read_text() + f'QCB_REBUILD_MARK = "{mark}"\n')
    template = into / "freepbx_callback" / "dialplan" / "templates" / "extensions.conf.j2"
    template.write_text(template.read_text() + f"\n[qcb-rebuild-mark]\nexten => s,1,NoOp({mark})\n")
    return into


def foreign_keys(fpbx: FreePbx) -> set[tuple[str, str]]:
    rows = fpbx.query(
        "SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS"
        " WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'qcb\\_%'"
    )
    return {(table, name) for table, name in rows}


def state(fpbx: FreePbx, request_id: int) -> dict[str, object]:
    """What must survive a reinstall: a queue's settings, an open request with its history."""
    return {
        "queue": cli(fpbx, "queue", "show", "401"),
        "request": fpbx.query(
            "SELECT queue, number, did, status, requested_at FROM qcb_requests WHERE id = %s", request_id
        ),
        "events": fpbx.query("SELECT event FROM qcb_events WHERE request_id = %s ORDER BY id", request_id),
    }


@pytest.fixture
def open_request(fpbx: FreePbx) -> Iterator[int]:
    cli(
        fpbx,
        "queue",
        "set",
        "401",
        "--enable",
        "--allow",
        "_555XXXX",
        "--did",
        "5551001",
        "--attempts",
        "3",
        "--retry-interval",
        "2m",
    )
    for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(row[0]))
    request_id = int(cli(fpbx, "request", "add", "401", "5551277")["request"]["id"])
    yield request_id
    cli(fpbx, "request", "cancel", str(request_id), check=False)


def assert_schema_whole(fpbx: FreePbx, request_id: int) -> None:
    """`db migrate` (run by install()) put back what FreePBX's table step cannot declare."""
    assert foreign_keys(fpbx) == FOREIGN_KEYS
    doctor = json.loads(fpbx.bw(["freepbx-callback", "doctor", "--json"], check=False).stdout)
    assert {c["check"]: c["ok"] for c in doctor["checks"]}.get("schema"), doctor
    unique = fpbx.query(
        "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qcb_requests' AND INDEX_NAME = 'uq_open_number'"
    )
    assert unique == [("queue,number_key,open_flag",)], unique
    duplicate = fpbx.bw(["freepbx-callback", "request", "add", "401", "5551277"], check=False)
    assert duplicate.returncode == 4, duplicate.stdout + duplicate.stderr
    assert f"request {request_id} is already open" in duplicate.stdout + duplicate.stderr


def test_a_rebuilt_package_of_the_same_version_installs_its_new_code(
    fpbx: FreePbx, open_request: int, tmp_path: Path
) -> None:
    before = state(fpbx, open_request)
    mark = f"rebuilt-{uuid.uuid4().hex[:12]}"
    done = install_product(fpbx, rebuilt_sources(tmp_path / "src", mark))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Can't DROP" not in done.stdout + done.stderr
    # the declared indexes carried it: nothing had to be loosened before FreePBX's table step
    assert "dropped for the table update" not in done.stdout, done.stdout

    # the new code: the runtime the module runs (its stored CLI path), at the same version
    cli_path = fpbx.query("SELECT val FROM kvstore_FreePBX_modules_Queuecallback WHERE `key` = 'cli_path'")
    assert cli_path == [(CURRENT_PYTHON.replace("/python", "/freepbx-callback"),)], cli_path
    probe = "import freepbx_callback as f; print(f.__version__, f.QCB_REBUILD_MARK)"
    assert fpbx.bw([CURRENT_PYTHON, "-c", probe]).stdout.split() == [__version__, mark]
    rendered = cli(fpbx, "dialplan", "--target", "freepbx")
    assert mark in rendered["dialplan"]
    # ... and the dialplan FreePBX rendered through the module's hook with it, loaded by Asterisk
    assert mark in fpbx.asterisk("dialplan show qcb-rebuild-mark")

    assert state(fpbx, open_request) == before
    assert_schema_whole(fpbx, open_request)


def test_a_reinstall_over_tables_an_earlier_build_made(fpbx: FreePbx, open_request: int) -> None:
    """Tables from before schema migration 5 (foreign keys on request_id without an index of their own):
    the first reinstall of a newer build passes FreePBX's table step too."""
    before = state(fpbx, open_request)
    fpbx.query("DROP INDEX ix_attempt_request ON qcb_attempts")
    fpbx.query(
        "ALTER TABLE qcb_events DROP INDEX ix_event_request, ADD INDEX ix_event_request (request_id, id)"
    )
    fpbx.query("DELETE FROM qcb_schema WHERE version >= 5")
    assert foreign_keys(fpbx) == FOREIGN_KEYS

    done = install_product(fpbx)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    loosened = "Foreign keys qcb_attempts.fk_attempt_request, qcb_events.fk_event_request dropped"
    assert loosened in done.stdout, done.stdout
    indexes = {
        (table, name): column
        for table, name, column in fpbx.query(
            "SELECT TABLE_NAME, INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)"
            " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
            " AND INDEX_NAME IN ('ix_attempt_request', 'ix_event_request') GROUP BY TABLE_NAME, INDEX_NAME"
        )
    }
    assert indexes == {
        ("qcb_attempts", "ix_attempt_request"): "request_id",
        ("qcb_events", "ix_event_request"): "request_id",
    }
    assert state(fpbx, open_request) == before
    assert_schema_whole(fpbx, open_request)
