"""The service's backup side: every queue's settings and open requests out of the database, and back in
(``freepbx-callback backup`` / ``restore``, FreePBX's Backup & Restore). Mixed into
:class:`freepbx_callback.service.CallbackService` (``store``, ``clock``, the queue reads and the dialplan
check come from there).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from . import policy
from .models import QueueSettings, Status
from .records import Factory, record

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path loads this
if TYPE_CHECKING:
    from typing import Any

    from .backup import Backup, OpenRequest
    from .hours import Schedule
    from .store import Store


@record
class RestoreReport:
    queues: int = 0  # queue settings written
    created: list[int] = Factory(list)  # ids of the re-created open requests
    already_open: int = 0  # an open request for the same queue and number exists
    already_stored: int = 0  # the same request (same call, or same number and time) is in the database

    def summary(self) -> str:
        return (
            f"restored {self.queues} queue(s); re-created {len(self.created)} open request(s); "
            f"skipped {self.already_open} already open, {self.already_stored} already stored"
        )


class BackupService:
    if TYPE_CHECKING:
        store: Store
        clock: Callable[[], datetime]

        def settings(self, queue: str) -> QueueSettings: ...
        def schedule(self, settings: QueueSettings) -> Schedule: ...
        def set_agent_accept(self, queue: str, on: bool) -> bool: ...
        def _dialplan_changed(self, before: QueueSettings | None, after: QueueSettings | None) -> None: ...

    def backup(self) -> dict[str, Any]:
        """Every queue's settings and every open request, read from one snapshot."""
        from .backup import dump

        with self.store.transaction():
            data = dump(self.store.list_queues(), self.store.open_requests(), self.store.accept_queues())
            for queue in data["queues"]:
                queue.update(self.alerts_of(queue["queue"]))
            return data

    def restore(self, backup: Backup) -> RestoreReport:
        """Write a checked backup in one transaction: queue settings are upserted; each open request is
        re-created as pending unless the same queue and number has an open request, or the same request
        is already stored in any status (restoring twice, or onto the database it came from, never
        brings back a request that was since completed)."""
        from .backup import BackupError

        report = RestoreReport()
        now = self.clock()
        with self.store.transaction():
            for settings in backup.queues:
                current = self.store.get_queue(settings.queue, lock=True)
                self.store.save_queue(settings, now)
                self._dialplan_changed(current, settings)
                if settings.queue in backup.alerts:
                    to, on = backup.alerts[settings.queue]
                    self.store.set_alerts(settings.queue, ",".join(to) or None, ",".join(on))
                self.set_agent_accept(settings.queue, settings.queue in backup.accept)
                report.queues += 1
            for item in backup.requests:
                if self.store.get_queue(item.queue) is None:
                    raise BackupError(
                        f"request {item.backup_id} is for queue {item.queue}, which has callback settings "
                        "neither in the backup nor in the database"
                    )
                if self.store.find_open(item.queue, item.e164 or item.number) is not None:
                    report.already_open += 1
                elif self._stored(item):
                    report.already_stored += 1
                else:
                    report.created.append(self._recreate(item, now))
        return report

    def _stored(self, item: OpenRequest) -> bool:
        if item.caller_uniqueid:
            return self.store.find_by_call(item.caller_uniqueid, item.queue, item.number) is not None
        return self.store.find_requested(item.queue, item.number, item.requested_at) is not None

    def _recreate(self, item: OpenRequest, now: datetime) -> int:
        request_id = self.store.insert_request(
            {
                "queue": item.queue,
                "number": item.number,
                "e164": item.e164,
                "did": item.did,
                "language": item.language,
                "caller_uniqueid": item.caller_uniqueid,
                "position": item.position,
                "waited": item.waited,
                "source": item.source,
                "status": Status.PENDING.value,  # a call being placed when the backup was made is gone
                "attempts": item.attempts,
                "tries": item.attempts,
                "requested_at": item.requested_at,
                "next_attempt_at": item.next_attempt_at,
                # A restored request gets a window from its due time, or from now when that has passed.
                "expires_at": policy.window_end(
                    max(now, item.next_attempt_at),
                    self.settings(item.queue),
                    self.schedule(self.settings(item.queue)),
                ),
                "last_outcome": item.last_outcome,
            }
        )
        was = f" (was {item.status.value})" if item.status is not Status.PENDING else ""
        origin = f"request {item.backup_id}" if item.backup_id is not None else "a request"
        self.store.add_event(request_id, now, "restored", f"from a backup of {origin}{was}")
        return request_id
