"""The queue settings as last read from the database, kept beside the journal for when it is unreachable.

The request handler writes the file whenever it has read the settings, and reads it only when the
database cannot be reached: then the number rules, the block and allow patterns and a disabled queue
still apply. The file is written to a temporary name and renamed, so a reader sees a whole file or the
previous one. Its name does not end in ``.json``: it is not a journal entry.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from pathlib import Path

from .models import QueueSettings

CACHE_NAME = "queue-settings.cache"
# What this process last found in or wrote to each file: a long-running server (FastAGI) compares the
# queues it read with these instead of encoding them and reading the file on every call.
_remembered: dict[Path, list[QueueSettings]] = {}


class QueueCache:
    def __init__(self, folder: Path) -> None:
        self.path = folder / CACHE_NAME

    def remember(self, queues: list[QueueSettings]) -> bool:
        """Keep ``queues`` (every queue with settings); True if the file changed. Never raises: without a
        writable spool the handler still works, it only falls back to the defaults while the database is
        down."""
        if _remembered.get(self.path) == queues and self.path.exists():
            return False
        text = json.dumps({"queues": [q.to_dict() for q in queues]}, sort_keys=True)
        with suppress(OSError):
            if self.path.read_text(encoding="utf-8") == text:
                _remembered[self.path] = list(queues)
                return False
        tmp = self.path.with_name(f".{CACHE_NAME}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            with suppress(OSError):
                tmp.unlink()
            return False
        _remembered[self.path] = list(queues)
        return True

    def load(self) -> dict[str, QueueSettings] | None:
        """The remembered settings by queue, or None when there are none (never written, unreadable)."""
        from .backup import BackupError, parse_queue  # only while the database is down

        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            items = data["queues"]
            queues = [parse_queue(f"{self.path}: queues[{i}]", item) for i, item in enumerate(items)]
        except (OSError, ValueError, KeyError, TypeError, BackupError):
            return None
        return {q.queue: q for q in queues}

    def settings(self, queue: str) -> QueueSettings:
        """What the handler applies while the database is down: the queue's remembered settings (a queue
        switched off stays off). For a queue the file does not list, or without the file, the defaults
        with callback on (the dialplan sends only callers of queues that offer callback here): the
        default number rules apply, national fixed and mobile numbers only."""
        known = self.load() or {}
        return known.get(queue) or QueueSettings(queue=queue, enabled=True)
