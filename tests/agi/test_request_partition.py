"""A network partition between the request handler and MariaDB (a real server behind a TCP proxy that
stops forwarding mid-call): the caller is journaled and hears "accepted" within the database's I/O
timeout instead of sitting in silence until TCP gives up."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from freepbx_callback.agi.request import Outcome, handle_request
from freepbx_callback.agi.run import CALLER_IO_TIMEOUT, service_from_env
from freepbx_callback.config import Dsn
from freepbx_callback.journal import Journal
from freepbx_callback.records import replace
from freepbx_callback.service import CallbackService
from tests.agi.scripted import ScriptedChannel
from tests.testbed.proxy import TcpProxy


class PartitionedCaller(ScriptedChannel):
    """A caller whose channel variables are read after the queue's settings, before the insert: the
    partition starts right there."""

    proxy: TcpProxy | None = None

    def variable(self, name: str) -> str:
        if name == "QUEUEJOINTIME" and self.proxy is not None:
            self.proxy.partition()
        return super().variable(name)


def test_a_partition_mid_call_journals_the_request_within_the_io_timeout(
    dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000")
    journal = Journal(tmp_path / "spool")
    with TcpProxy(dsn.port, dsn.host) as proxy:
        behind = replace(dsn, port=proxy.port)
        channel = PartitionedCaller(env={"agi_callerid": "2015551234", "agi_uniqueid": "1700000000.7"})
        channel.proxy = proxy
        outcome: list[Outcome] = []
        started = time.monotonic()
        handler = threading.Thread(
            target=lambda: outcome.append(
                handle_request(channel, lambda: service_from_env(behind.url()), "400", journal)
            ),
            daemon=True,
        )
        handler.start()
        handler.join(timeout=60)
        took = time.monotonic() - started
        assert not handler.is_alive(), "the caller still waits 60 s into the partition"
    [result] = outcome
    assert (result.result, result.next) == ("journaled", "hangup")
    assert channel.log == ["play qcb-accepted", "hangup"]
    [(_, entry)] = journal.pending()
    assert (entry.queue, entry.number, entry.uniqueid) == ("400", "2015551234", "1700000000.7")
    assert service.list() == [], "nothing reached the database"
    print(f"journaled {took:.1f} s into the call (I/O timeout {CALLER_IO_TIMEOUT} s)")
