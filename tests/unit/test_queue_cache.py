"""The queue settings kept beside the journal: written when they change, whatever this process remembers."""

from __future__ import annotations

from pathlib import Path

from freepbx_callback.models import QueueSettings
from freepbx_callback.queue_cache import QueueCache


def test_written_once_then_again_when_a_queue_changes_or_the_file_is_gone(tmp_path: Path) -> None:
    cache = QueueCache(tmp_path)
    queues = [QueueSettings(queue="400", enabled=True), QueueSettings(queue="401")]
    assert cache.remember(queues) is True
    assert cache.remember(list(queues)) is False  # the same settings: nothing written
    assert QueueCache(tmp_path).settings("401").enabled is False
    changed = [queues[0], QueueSettings(queue="401", enabled=True)]
    assert cache.remember(changed) is True
    assert QueueCache(tmp_path).settings("401").enabled is True
    cache.path.unlink()  # someone cleaned the spool folder
    assert cache.remember(changed) is True
    assert sorted(QueueCache(tmp_path).load() or {}) == ["400", "401"]
