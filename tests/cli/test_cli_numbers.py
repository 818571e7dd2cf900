"""The operator's `request add` meets the same rules as a caller's key press (deny by default)."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import count_rows, run


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("911", "emergency"),
        ("411", "short_code"),
        ("+8810000000", "invalid"),
        ("00882123456", "bad_prefix"),
        ("+0012015550191", "bad_prefix"),
        ("8107495123456", "bad_prefix"),
        ("00447911123456", "bad_prefix"),
        ("+442079460000", "international"),
        ("+881612345678", "satellite"),
        ("19005551234", "premium"),
        ("18002345678", "special"),
    ],
)
def test_request_add_refuses_what_a_caller_could_not_ask_for(db_dsn: str, number: str, reason: str) -> None:
    run(db_dsn, "queue", "set", "400", "--enable")
    result = run(db_dsn, "request", "add", "400", number, "--json")
    data, _ = json.JSONDecoder().raw_decode(result.output)  # the JSON, then the error line
    assert result.exit_code != 0 and (data["result"], data["reason"]) == ("blocked", reason), result.output
    assert count_rows(db_dsn) == 0


def test_kind_allowances_are_queue_settings(db_dsn: str) -> None:
    shown = run(
        db_dsn,
        "queue",
        "set",
        "400",
        "--enable",
        "--allow-satellite",
        "--allow-shared-cost",
        "--allow-special",
        "--json",
    )
    data = json.loads(shown.output)
    assert (data["allow_satellite"], data["allow_shared_cost"], data["allow_special"]) == (True, True, True)
    assert run(db_dsn, "request", "add", "400", "+881612345678").exit_code == 0
    assert run(db_dsn, "request", "add", "400", "18002345678").exit_code == 0
    assert run(db_dsn, "request", "add", "400", "911").exit_code != 0  # never, whatever is allowed
    data = json.loads(run(db_dsn, "queue", "set", "400", "--block-satellite", "--json").output)
    assert data["allow_satellite"] is False and data["allow_special"] is True


def test_one_number_however_written_is_one_open_request(db_dsn: str) -> None:
    run(db_dsn, "queue", "set", "400", "--enable", "--region", "RU")
    assert run(db_dsn, "request", "add", "400", "84951234567").exit_code == 0
    again = run(db_dsn, "request", "add", "400", "+7 495 123 45 67")
    assert again.exit_code == 4 and "request 1 is already open" in again.output
    assert count_rows(db_dsn) == 1
