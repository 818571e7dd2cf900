"""The store's side of agent acceptance: the per-queue switch ``qcb_queues.agent_accept``.

Mixed into :class:`freepbx_callback.store.Store`, which provides ``_run`` and ``_all``. The column lives
in the queue's row but outside :class:`~freepbx_callback.models.QueueSettings`: saving a queue's other
settings (an upsert of their columns) leaves it as it is.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path loads the store
if TYPE_CHECKING:
    from typing import Any

    import MySQLdb


class AcceptStore:
    if TYPE_CHECKING:

        def _run(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> MySQLdb.cursors.Cursor: ...

        def _all(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]: ...

    def agent_accept(self, queue: str) -> bool:
        rows = self._all("SELECT agent_accept FROM qcb_queues WHERE queue = %s", (queue,))
        return bool(rows and rows[0][0])

    def set_agent_accept(self, queue: str, on: bool) -> None:
        """Set the switch of a queue whose row exists."""
        self._run("UPDATE qcb_queues SET agent_accept = %s WHERE queue = %s", (1 if on else 0, queue))

    def accept_queues(self) -> set[str]:
        """Queues whose switch is on (enabled or not, in any mode)."""
        return {str(q) for (q,) in self._all("SELECT queue FROM qcb_queues WHERE agent_accept = 1")}
