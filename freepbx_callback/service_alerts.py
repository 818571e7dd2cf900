"""The service's alert side: each queue's department addresses and alert kinds, and the outbox the
sender (:mod:`freepbx_callback.mailer`) works through. Mixed into
:class:`freepbx_callback.service.CallbackService` (``store`` and ``clock`` come from there).

The alert rows themselves are written by the status changes (``_alert``), in their own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path loads this
if TYPE_CHECKING:
    from typing import Any

    from .alerts import Alert
    from .store import Store


class AlertsService:
    if TYPE_CHECKING:
        store: Store
        clock: Callable[[], datetime]

    def _alert(self, request_id: int, kind: str, at: datetime, queue: str | None = None) -> None:
        """Queue a mail about this change if the request's queue wants one (inside its transaction);
        ``queue``: the request's, whose settings this call just read (see Store.add_alert)."""
        self.store.add_alert(request_id, kind, at, queue)

    # --- settings ----------------------------------------------------------------------------------

    def alerts_of(self, queue: str) -> dict[str, Any]:
        """``{"alert_to": [...], "alert_on": [...]}`` of a queue (empty for one never set)."""
        from .alerts import decode, parse_kinds

        stored = self.store.get_alerts(queue) or (None, "")
        return {"alert_to": list(decode(stored[0])), "alert_on": list(parse_kinds(stored[1]))}

    def set_alerts(
        self, queue: str, to: tuple[str, ...] | None = None, on: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        """Change a configured queue's addresses and/or kinds (None: keep). Addresses given with no kinds
        ever chosen switch every kind on."""
        from . import policy
        from .alerts import encode, parse_addresses, parse_kinds
        from .dialing import NotFound

        with self.store.transaction():
            stored = self.store.get_alerts(policy.validate_queue_name(queue))
            if stored is None:
                raise NotFound(f"queue {queue} has no callback settings (queue set {queue} --enable ...)")
            kinds = parse_kinds(on) if on is not None else parse_kinds(stored[1])
            if on is None and to and not stored[1]:
                from .alerts import KINDS

                kinds = KINDS
            addresses = encode(parse_addresses(to)) if to is not None else stored[0]
            self.store.set_alerts(queue, addresses, ",".join(kinds))
        return self.alerts_of(queue)

    # --- the outbox (the sender's side) -------------------------------------------------------------

    def alerts_due(self, limit: int = 50) -> list[int]:
        return self.store.alerts_due(self.clock(), limit)

    def claim_alert(self, alert_id: int, node: str) -> Alert | None:
        from .alerts import LEASE_SECONDS

        now = self.clock()
        return self.store.claim_alert(alert_id, node, now, now + timedelta(seconds=LEASE_SECONDS))

    def alert_sent(self, alert_id: int, node: str) -> None:
        self.store.alert_sent(alert_id, node, self.clock())

    def alert_not_sent(
        self, alert: Alert, node: str, error: str, give_up: bool = False, first_backoff: int | None = None
    ) -> bool:
        """Record a failed try; True when the alert is given up (a permanent error, or MAX_TRIES)."""
        from .alerts import FIRST_BACKOFF, MAX_TRIES, next_try

        done = give_up or alert.tries >= MAX_TRIES
        retry_at = None if done else next_try(self.clock(), alert.tries, first_backoff or FIRST_BACKOFF)
        self.store.alert_not_sent(alert.id, node, error, retry_at)
        return done

    def alerts(self, request_id: int | None = None) -> list[dict[str, Any]]:
        return self.store.alert_rows(request_id)

    def alert_health(self) -> dict[str, Any]:
        """Outbox counts by status and the last error of a given-up alert (doctor)."""
        counts = self.store.alert_counts()
        return {
            "pending": counts.get("pending", 0) + counts.get("sending", 0),
            "sent": counts.get("sent", 0),
            "failed": counts.get("failed", 0),
            "last_error": self.store.last_alert_error("failed") if counts.get("failed") else None,
        }
