"""The local spool that keeps callback requests while the database cannot be reached.

One JSON file per request, written to a temporary name, fsync'ed and renamed (then the folder is
fsync'ed), so a file either holds a whole request or does not exist. Replaying a file and deleting it is
exactly-once because the request row carries the caller's channel uniqueid under a unique key: a replay
interrupted after the insert finds the row on the next run and only deletes the file. Several processes
may replay one folder at once (``serve`` and the cron ``dial``): a file that vanishes under one of them
was taken by another and is skipped.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .records import as_dict, record

DEFAULT_SPOOL = Path("/var/spool/asterisk/qcb")


def spool_folder() -> Path:
    return Path(os.environ.get("QCB_SPOOL") or DEFAULT_SPOOL)


@record(frozen=True)
class Entry:
    queue: str
    number: str
    requested_at: str  # ISO 8601, UTC
    did: str | None = None
    language: str | None = None
    uniqueid: str | None = None
    position: int | None = None
    waited: int | None = None
    kind: str = "request"


@record(frozen=True)
class LegEntry:
    """The end of one callback leg, reported while the database was down."""

    request_id: int
    attempt_no: int
    outcome: str | None
    talk_seconds: int = 0
    agent: str | None = None
    kind: str = "leg"


@record(frozen=True)
class Waiting:
    """A journal file not yet replayed, as seen without touching it."""

    path: Path
    kind: str  # request | leg | unreadable
    created: float  # epoch seconds (from the file name, which starts with its creation time in ns)


class Journal:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or spool_folder()

    def _sync_folder(self, folder: Path) -> None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, entry: Entry | LegEntry) -> Path:
        """Write ``entry`` durably; raises OSError if the spool cannot take it."""
        self.folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{os.urandom(16).hex()}"
        tmp = self.folder / f".{name}.tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(as_dict(entry), out)
            out.flush()
            os.fsync(out.fileno())
        final = self.folder / f"{name}.json"
        os.replace(tmp, final)
        self._sync_folder(self.folder)
        return final

    def pending(self) -> list[tuple[Path, Entry | LegEntry]]:
        """Journaled requests, oldest first; unreadable files are moved aside, never lost silently."""
        if not self.folder.is_dir():
            return []
        items = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                items.append((path, LegEntry(**data) if data.get("kind") == "leg" else Entry(**data)))
            except FileNotFoundError:
                continue  # another process (the cron `dial`, `journal replay`) replayed it meanwhile
            except (OSError, ValueError, TypeError) as exc:
                self.set_aside(path, f"unreadable: {exc}")
        return items

    def waiting(self) -> list[Waiting]:
        """What waits to be replayed, oldest first; reads only (OSError if the folder cannot be read)."""
        try:
            names = sorted(e.name for e in os.scandir(self.folder) if e.name.endswith(".json"))
        except FileNotFoundError:
            return []
        items = []
        for name in names:
            path = self.folder / name
            stamp = name.split("-", 1)[0]
            try:
                created = int(stamp) / 1e9 if stamp.isdigit() else path.stat().st_mtime
                kind = json.loads(path.read_text(encoding="utf-8")).get("kind", "request")
            except FileNotFoundError:
                continue  # replayed meanwhile
            except (OSError, ValueError, AttributeError):
                kind, created = "unreadable", path.stat().st_mtime if path.exists() else time.time()
            items.append(Waiting(path, kind if kind in ("request", "leg") else "unreadable", created))
        return items

    def rejected(self) -> int:
        """How many entries were set aside (see ``rejected/*.reason``)."""
        folder = self.folder / "rejected"
        return len(list(folder.glob("*.json"))) if folder.is_dir() else 0

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._sync_folder(self.folder)

    def set_aside(self, path: Path, reason: str) -> Path | None:
        """Move a journaled request that cannot be stored to ``rejected/`` with the reason beside it;
        None when another process took the file first (it replayed or set it aside itself)."""
        rejected = self.folder / "rejected"
        rejected.mkdir(mode=0o750, exist_ok=True)
        target = rejected / path.name
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None
        target.with_suffix(".reason").write_text(reason + "\n", encoding="utf-8")
        self._sync_folder(self.folder)
        return target
