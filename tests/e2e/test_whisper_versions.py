"""Queue()'s gosub slot moved in Asterisk 21 (app_macro went away): the whisper follows the rendering.

This Asterisk is 22. Rendered for 22, the agent hears "callback for <number>"; rendered for 20, the gosub
sits in the 8th argument, which Asterisk 22 reads as the queue rule, so no whisper runs: the slot matters
and `--asterisk-version` decides it. (No Asterisk 18/20 package exists for this machine to run the
20 rendering where it belongs; the unit tests check its argument positions.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]


@pytest.mark.parametrize("version,whisper", [("22.10.1", True), ("20.5.0", False)])
def test_whisper_runs_only_in_the_slot_of_the_running_version(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path, version: str, whisper: bool
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=True, min_talk=1)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.2)
    customer = Uas(bed, "answer", ring_s=0.2, hangup_after_s=2)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer, asterisk_version=version)
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        assert cb.dialer(tmp_path / "spool").tick().dialled == [request.id]
        wait_for(lambda: service.get(request.id).status is Status.DONE, 40, 0.2, "the callback done")
        assert len(customer.invites()) == 1
    ran = [line for line in bed.log_text().splitlines() if "Executing [s@qcb-callback-whisper:" in line]
    assert bool(ran) is whisper, ran[:3]
    if whisper:
        assert any("qcb-callback-for" in line for line in ran)
