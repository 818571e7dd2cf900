"""``stats --json``: what it printed before, plus the figures per queue and day."""

from __future__ import annotations

import json

from freepbx_callback.config import Dsn
from freepbx_callback.store import Store
from tests.cli.test_cli import run
from tests.db.test_stats_by_day import known_rows


def test_stats_json_per_queue_and_day(db_dsn: str) -> None:
    store = Store.connect(Dsn.parse(db_dsn))
    known_rows(store)
    store.close()
    out = json.loads(run(db_dsn, "stats", "--json").output)
    assert out["requested"] == 9 and out["by_status"]["done"] == 4  # as before
    assert "median_seconds_to_callback" in out
    day = out["by_queue_and_day"][0]
    assert (day["queue"], day["day"], day["accepted"], day["answered"]) == ("400", "2026-11-30", 6, 3)
    assert (day["failed"], day["expired"]) == (1, 1)
    assert (day["median_seconds_to_callback"], day["p90_seconds_to_callback"]) == (180.0, 500.0)
    assert "offered" not in day and "offered" in out["notes"][0]


def test_stats_text_shows_the_days(db_dsn: str) -> None:
    store = Store.connect(Dsn.parse(db_dsn))
    known_rows(store)
    store.close()
    text = run(db_dsn, "stats").output
    assert "median time to callback" in text
    line = next(row for row in text.splitlines() if row.startswith("400") and "2026-11-30" in row)
    assert line.split() == ["400", "2026-11-30", "6", "3", "1", "1", "180.0", "500.0"]
