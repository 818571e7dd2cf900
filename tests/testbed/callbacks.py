"""The callback half of the test bed: agents and customers as SIPp callees, a queue with members, the
rendered dialplan, and a dialer wired to this Asterisk's AMI."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from freepbx_callback.ami import Ami, AmiConfig
from freepbx_callback.config import Dsn
from freepbx_callback.dialer import Dialer, DialerConfig
from freepbx_callback.dialplan.render import render
from freepbx_callback.journal import Journal
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.sipp import PCAP_DIR, SCENARIOS, Uas, _common_args, pjsip_peer
from tests.testbed.wait import wait_for


class PressingUas(Uas):
    """A callee that answers and presses ``digit`` ``press_after_s`` seconds later (a person, not a
    machine), then waits for the far end's BYE or hangs up after ``hangup_after_s``."""

    def __init__(
        self,
        bed: AsteriskInstance,
        press_after_s: float,
        digit: str = "1",
        hangup_after_s: float | None = None,
    ) -> None:
        super().__init__(bed, "answer", hangup_after_s=hangup_after_s)
        self.press_after_s, self.digit = press_after_s, digit

    def start(self) -> PressingUas:
        text = (SCENARIOS / "uas_answer.xml").read_text()
        marker = '<recv request="ACK" rtd="true" crlf="true"/>'
        assert marker in text
        pcap = f"{PCAP_DIR}/dtmf_2833_{self.digit}.pcap"
        press = (
            f'\n  <pause milliseconds="{int(self.press_after_s * 1000)}"/>\n'
            f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>'
        )
        wait = (
            f'timeout="{int(self.hangup_after_s * 1000)}" ontimeout="9"'
            if self.hangup_after_s is not None
            else ""
        )
        text = (
            text.replace(marker, marker + press).replace("@@RING_MS@@", "300").replace("@@BYE_WAIT@@", wait)
        )
        scenario = self.workdir / "uas_press.xml"
        scenario.write_text(text)
        self.process = self.bed.popen_in_root(
            _common_args(self.workdir, scenario, self.port, self.media_port),
            stdin=subprocess.DEVNULL,
            stdout=(self.workdir / "stdout.log").open("wb"),
            stderr=(self.workdir / "stderr.log").open("wb"),
        )
        wait_for(self._listening, 10, 0.05, f"SIPp UAS listening on UDP {self.port}")
        return self


QUEUE = """
[general]
persistentmembers = no

[{queue}]
strategy = {strategy}
timeout = 15
retry = 1
wrapuptime = 0
joinempty = yes
leavewhenempty = no
ringinuse = no
context =
periodic-announce-frequency = 0
{members}
#include queues_qcb.conf
"""

EXTENSIONS = """
[qcb-test-in]
exten => {queue},1,Answer()
 same => n,Queue({queue})
 same => n,Hangup()

#include extensions_qcb.conf
"""


@dataclass
class CallbackBed:
    """Asterisk with queue ``queue`` whose members are SIPp agents, a SIPp 'trunk' for customers."""

    bed: AsteriskInstance
    dsn: Dsn
    queue: str = "400"
    agents: dict[str, Uas] = field(default_factory=dict)
    customer: Uas | None = None

    @staticmethod
    def configure(
        bed: AsteriskInstance,
        queue: str,
        agents: dict[str, Uas],
        customer: Uas | None,
        extra_members: str = "",
        strategy: str = "ringall",
    ) -> None:
        """Write pjsip peers and queues/extensions that include the rendered files (before start)."""
        peers = [pjsip_peer(name, uas.port) for name, uas in agents.items()]
        if customer is not None:
            peers.append(pjsip_peer("trunk", customer.port))
        bed.pjsip_extra = "\n".join(peers)
        members = "\n".join(f"member => PJSIP/{name}" for name in agents) + extra_members
        bed.queues = QUEUE.format(queue=queue, members=members, strategy=strategy)
        bed.extensions = EXTENSIONS.format(queue=queue)

    @classmethod
    def start(
        cls,
        bed: AsteriskInstance,
        dsn: Dsn,
        service: CallbackService,
        agents: dict[str, Uas],
        customer: Uas | None,
        queue: str = "400",
        asterisk_version: str = "22",
    ) -> CallbackBed:
        """Configure the phones and queue, render the project's dialplan, start Asterisk."""
        cls.configure(bed, queue, agents, customer)
        cb = cls(bed, dsn, queue)
        cb.render(service, asterisk_version=asterisk_version)
        bed.start()
        return cb

    def render(self, service: CallbackService, agi: str | None = None, asterisk_version: str = "22") -> None:
        rendered = render(
            service.queues(),
            "asterisk",
            agi or str(self.bed.agi_dir),
            asterisk_version,
            accept=service.accepting(),
        )
        rendered.write(self.bed.etc)

    def dialer(self, journal: Path, **config: object) -> Dialer:
        settings = {
            "dial_template": "PJSIP/{number}@trunk",
            "agent_timeout": 15,
            "ring_timeout": 8,
            "node": "test-node",
            **config,
        }
        ami = AmiConfig.parse(self.bed.ami_dsn)
        return Dialer(
            lambda: CallbackService(Store.connect(self.dsn)),
            lambda: Ami(ami),
            Journal(journal),
            DialerConfig(**settings),
        )  # type: ignore[arg-type]
