"""Queue changes on a real MariaDB: FreePBX's Apply Config bar, and what deleting a queue does.

On a FreePBX database (table ``admin`` exists) a change that alters the rendered dialplan sets
``admin.need_reload`` to 'true', as FreePBX's own needreload() does, so the admin sees Apply Config.
The ``admin`` table here is created the way FreePBX's framework install creates it.
"""

from __future__ import annotations

import pytest

from freepbx_callback.models import Outcome, Status
from freepbx_callback.policy import PolicyError
from freepbx_callback.service import CallbackService, NotFound
from freepbx_callback.store import Store

ADMIN = (
    "CREATE TABLE admin (variable VARCHAR(20) NOT NULL DEFAULT '', value VARCHAR(80) NOT NULL DEFAULT '', "
    "PRIMARY KEY (variable)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
)


def make_freepbx(store: Store) -> None:
    store._run(ADMIN)
    store._run("INSERT INTO admin (variable, value) VALUES ('need_reload', 'false'), ('version', '17.0.28')")


def need_reload(store: Store) -> str:
    return str(store._all("SELECT value FROM admin WHERE variable = 'need_reload'")[0][0])


def applied(store: Store) -> None:
    """What `fwconsole reload` does at its end."""
    store._run("UPDATE admin SET value = 'false' WHERE variable = 'need_reload'")


@pytest.fixture
def freepbx(store: Store) -> Store:
    make_freepbx(store)
    return store


def test_a_change_to_the_rendered_dialplan_raises_apply_config(
    freepbx: Store, service: CallbackService
) -> None:
    service.set_queue("400", enabled=True)
    assert need_reload(freepbx) == "true"
    applied(freepbx)
    for change in ({"offer_every": 45}, {"prompts": (("offer", "custom/our-offer"),)}, {"enabled": False}):
        service.set_queue("400", **change)
        assert need_reload(freepbx) == "true", change
        applied(freepbx)
    assert freepbx._all("SELECT value FROM admin WHERE variable = 'version'") == [("17.0.28",)]


def test_changes_read_at_call_time_leave_apply_config_alone(freepbx: Store, service: CallbackService) -> None:
    service.set_queue("400", enabled=True, offer_every=30)
    applied(freepbx)
    service.set_queue("400", attempts=3, did="5551000", retry_interval=600, language="ru", max_pending=5)
    service.set_queue("400", offer_every=30)  # the same value again
    service.set_queue("401", offer_every=45)  # a queue without callback renders nothing
    assert need_reload(freepbx) == "false"


def test_a_refused_change_leaves_apply_config_alone(freepbx: Store, service: CallbackService) -> None:
    service.set_queue("400", enabled=True)
    applied(freepbx)
    with pytest.raises(PolicyError):
        service.set_queue("400", offer_every=45, block_patterns=("_55;",))
    assert need_reload(freepbx) == "false"
    assert service.queue("400").offer_every == 30


def test_deleting_a_callback_queue_raises_apply_config(freepbx: Store, service: CallbackService) -> None:
    service.set_queue("400", enabled=True)
    service.set_queue("401", enabled=False)
    applied(freepbx)
    service.delete_queue("401")  # rendered nothing, so nothing to apply
    assert need_reload(freepbx) == "false"
    service.delete_queue("400")
    assert need_reload(freepbx) == "true"


def test_plain_asterisk_has_no_admin_table_and_needs_none(store: Store, service: CallbackService) -> None:
    service.set_queue("400", enabled=True)
    service.delete_queue("400")
    assert store._all("SHOW TABLES LIKE 'admin'") == []


def test_delete_queue_cancels_its_open_requests_and_only_those(service: CallbackService) -> None:
    service.set_queue("400", enabled=True)
    service.set_queue("500", enabled=True)
    pending = service.request("400", "2015551111").request
    dialing = service.request("400", "2015552222").request
    done = service.request("400", "2015553333").request
    other = service.request("500", "2015551111").request
    assert pending and dialing and done and other
    [(_, done_try)] = service.claim("400", 1, "n1")  # oldest first: 2015551111 ...
    service.record_outcome(pending.id, done_try.attempt_no, Outcome.NO_ANSWER)  # ... back to pending later
    claimed = dict((r.id, a) for r, a in service.claim("400", 5, "n1"))
    assert set(claimed) == {dialing.id, done.id}
    service.record_outcome(done.id, claimed[done.id].attempt_no, Outcome.ANSWERED, talk_seconds=60)
    assert service.get(dialing.id).status is Status.DIALING

    assert service.delete_queue("400") == 2

    assert service.get(pending.id).status is Status.CANCELLED
    assert service.get(dialing.id).status is Status.CANCELLED
    assert service.get(done.id).status is Status.DONE, "a closed request keeps its outcome"
    assert service.get(other.id).status is Status.PENDING, "another queue's request is untouched"
    assert [e for _, e, _ in service.history(dialing.id)[1]][-1] == "cancelled"
    # The call that was being placed ends later: its outcome is kept, the request stays cancelled.
    service.record_outcome(dialing.id, claimed[dialing.id].attempt_no, Outcome.NO_ANSWER)
    assert service.get(dialing.id).status is Status.CANCELLED
    assert service.claim("400", 5, "n1") == []
    # The queue is gone: a caller's key press is refused, not stored.
    assert service.request("400", "2015554444").kind == "disabled"
    with pytest.raises(NotFound):
        service.queue("400")
    with pytest.raises(NotFound):
        service.delete_queue("400")
