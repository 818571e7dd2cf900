"""Agent acceptance (optional per queue): in agent-first mode the agent hears the whisper, then
"press 1 to accept", and the customer is dialled only after the 1.

Without the key within :data:`~freepbx_callback.policy.ACCEPT_SECONDS` the dialplan hangs up the agent's
leg and the callback's queue leg before it is answered, so the customer is never dialled; that leg's
hangup handler records the try as ``no_agent`` (with the agent who did not accept), which does not count
against the customer's attempts, and the request is offered to the queue again.

Mixed into :class:`freepbx_callback.service.CallbackService`: the switch is kept in the queue's row
(``qcb_queues.agent_accept``) beside, not inside, :class:`~freepbx_callback.models.QueueSettings`.
"""

from __future__ import annotations

from . import policy
from .models import QueueSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from .store import Store


class AcceptService:
    store: Store
    clock: Callable[[], datetime]

    def agent_accept(self, queue: str) -> bool:
        """The queue's switch (off for a queue without settings)."""
        return self.store.agent_accept(queue)

    def set_agent_accept(self, queue: str, on: bool) -> bool:
        """Switch agent acceptance of ``queue`` on or off (a queue without settings gets the defaults,
        callback off). On FreePBX a change that alters the rendered dialplan raises Apply Config."""
        policy.validate_queue_name(queue)
        with self.store.transaction():
            current = self.store.get_queue(queue, lock=True)
            if current is None:
                current = QueueSettings(queue=queue)
                self.store.save_queue(current, self.clock())
            before = self.accepting()
            self.store.set_agent_accept(queue, on)
            if self.accepting() != before:
                self.store.flag_freepbx_reload()
        return on

    def accepting(self) -> frozenset[str]:
        """The queues whose callbacks wait for the agent's 1 (switch on, enabled, agent-first): what the
        dialplan is rendered for and what the dialer tells each callback."""
        switched = self.store.accept_queues()
        if not switched:
            return frozenset()
        return frozenset(
            q.queue for q in self.store.list_queues() if policy.asks_agent(q, q.queue in switched)
        )
