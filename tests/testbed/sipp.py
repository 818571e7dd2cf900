"""SIPp callers and callees for the Asterisk test bed.

SIPp runs from the sid root (SIPp 3.8, joined to the instance's namespace), not from the host: the
host may have no SIPp at all (CI) or an older one (bookworm has 3.6), and the root always carries the
same version together with the ``dtmf_2833_*.pcap`` files that send RFC 2833 digits. Scenario
templates live in ``scenarios/``; each run renders its copy into the instance's run folder, which both
the host and the root see at the same path.
"""

from __future__ import annotations

import re
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.testbed.asterisk import AsteriskInstance, TestbedError, free_port, free_udp_pair
from tests.testbed.wait import wait_for

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
PCAP_DIR = "/usr/share/sip-tester"
SIPP = "sipp"

_MESSAGE_HEAD = re.compile(
    r"^-+ (?P<stamp>[^\n]*)\n(?P<transport>\w+) message (?P<dir>sent|received)[^\n]*\n\n", re.M
)


@dataclass
class SipMessage:
    direction: str  # "sent" or "received"
    text: str
    stamp: str = ""  # when SIPp logged it, e.g. "2026-01-31T10:00:00.123456Z"

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def method(self) -> str:
        """The request method, or "" for a response."""
        line = self.first_line
        return "" if line.startswith("SIP/2.0") else line.split(" ", 1)[0]

    @property
    def status(self) -> int:
        line = self.first_line
        return int(line.split()[1]) if line.startswith("SIP/2.0") else 0

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        short = {"from": "f", "to": "t", "call-id": "i", "contact": "m", "via": "v"}.get(wanted)
        for line in self.text.split("\n")[1:]:
            if not line.strip():
                break
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() in (wanted, short):
                return value.strip()
        return None


def parse_messages(path: Path) -> list[SipMessage]:
    """The SIP messages of a SIPp ``-trace_msg`` file, in order."""
    if not path.exists():
        return []
    text = path.read_text(errors="replace").replace("\r\n", "\n")
    heads = list(_MESSAGE_HEAD.finditer(text))
    messages = []
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(text)
        body = text[head.end() : end].strip("\n")
        messages.append(SipMessage(direction=head.group("dir"), text=body, stamp=head.group("stamp").strip()))
    return messages


def _render(template: str, dest: Path, values: dict[str, str]) -> Path:
    text = (SCENARIOS / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    leftover = re.findall(r"@@\w+@@", text)
    if leftover:
        raise TestbedError(f"scenario {template}: unfilled placeholders {leftover}")
    dest.write_text(text)
    return dest


def _from_header(caller_id: str | None, display: str | None) -> tuple[str, str]:
    """From header value (without tag) and Contact user for a caller ID; None means withheld."""
    if caller_id is None:
        return '"Anonymous" <sip:anonymous@anonymous.invalid>', "anonymous"
    name = f'"{display}" ' if display else ""
    return f"{name}<sip:{caller_id}@[local_ip]:[local_port]>", caller_id


@dataclass
class CallResult:
    exit_code: int
    bye_received: bool
    messages: list[SipMessage]
    workdir: Path
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    errors: str = field(default="")
    byes: int = 0  # distinct calls that received a BYE
    stats: dict[str, str] = field(default_factory=dict)  # last row of SIPp's statistics file

    def counter(self, name: str) -> int:
        """A cumulative SIPp counter, e.g. ``SuccessfulCall`` or ``FailedCall``."""
        return int(self.stats.get(f"{name}(C)", "0") or 0)

    @property
    def received(self) -> list[SipMessage]:
        return [m for m in self.messages if m.direction == "received"]

    def summary(self) -> str:
        lines = [f"{m.direction:8} {m.first_line}" for m in self.messages]
        return (
            f"exit={self.exit_code} bye_received={self.bye_received} in {self.duration:.1f} s\n"
            + "\n".join(lines)
            + (f"\nerrors:\n{self.errors}" if self.errors else "")
        )


_run_counter = 0


def _workdir(bed: AsteriskInstance, prefix: str) -> Path:
    global _run_counter
    _run_counter += 1
    path = bed.run_dir / "sipp" / f"{prefix}-{_run_counter}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _common_args(workdir: Path, scenario: Path, port: int, media_port: int) -> list[str]:
    return [
        SIPP,
        "-sf",
        str(scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(media_port),
        "-nostdin",
        "-trace_msg",
        "-message_file",
        str(workdir / "messages.log"),
        "-trace_err",
        "-error_file",
        str(workdir / "errors.log"),
        "-trace_stat",
        "-stf",
        str(workdir / "stats.csv"),
    ]


def call_and_press(
    bed: AsteriskInstance,
    target: str,
    dtmf_after_s: float = 7.0,
    hold_s: float = 30.0,
    digit: str = "1",
    caller_id: str | None = "2015551234",
    display_name: str | None = None,
) -> CallResult:
    """Call ``target`` (an extension in the caller context), press ``digit`` after ``dtmf_after_s``
    seconds of answered call, then wait up to ``hold_s`` seconds for Asterisk's BYE.

    ``caller_id=None`` places a withheld call (From: anonymous@anonymous.invalid).
    """
    pcap_name = {"*": "star", "#": "pound"}.get(digit, digit)
    pcap = f"{PCAP_DIR}/dtmf_2833_{pcap_name}.pcap"
    if not (bed.root / pcap.lstrip("/")).exists():
        raise TestbedError(f"no DTMF pcap for digit {digit!r} in the root ({pcap})")
    workdir = _workdir(bed, "call")
    from_value, contact_user = _from_header(caller_id, display_name)
    scenario = _render(
        "caller_press.xml",
        workdir / "caller_press.xml",
        {
            "FROM": from_value,
            "CONTACT_USER": contact_user,
            "DTMF_AFTER_MS": str(int(dtmf_after_s * 1000)),
            "HOLD_MS": str(int(hold_s * 1000)),
            "PCAP": pcap,
        },
    )
    cmd = _common_args(workdir, scenario, free_port(socket.SOCK_DGRAM), free_udp_pair()) + [
        "-s",
        target,
        "-m",
        "1",
        "-l",
        "1",
        "-timeout",
        f"{int(dtmf_after_s + hold_s + 30)}s",
        "-timeout_error",
        bed.sip_address,
    ]
    started = time.monotonic()
    try:
        result = bed.run_in_root(cmd, timeout=dtmf_after_s + hold_s + 60)
        exit_code, stdout, stderr = result.returncode, result.stdout, result.stderr
    except subprocess.TimeoutExpired as exc:
        exit_code = -1
        stdout = _text(exc.stdout)
        stderr = _text(exc.stderr) + "\n(timed out)"
    (workdir / "stdout.log").write_text(stdout)
    (workdir / "stderr.log").write_text(stderr)
    messages = parse_messages(workdir / "messages.log")
    errors_file = workdir / "errors.log"
    return CallResult(
        exit_code=exit_code,
        bye_received=any(m.direction == "received" and m.method == "BYE" for m in messages),
        messages=messages,
        workdir=workdir,
        stdout=stdout,
        stderr=stderr,
        duration=time.monotonic() - started,
        errors=errors_file.read_text(errors="replace") if errors_file.exists() else "",
    )


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


# ------------------------------------------------------------------------------ key schedules

Keys = Sequence[tuple[float, str]]
"""A DTMF schedule: (seconds after the previous key, or after the answer for the first one, key)."""

MIN_KEY_GAP_S = 0.3  # one sip-tester DTMF pcap lasts 140 ms; the next key must not cut it short
_SEQ_BASE, _SEQ_STEP = 1000, 16  # RTP sequence numbers of key i: 1000 + 16 i + packet number
_TS_BASE, _TS_STEP = 80000, 16000  # RTP timestamp of key i (one RFC 2833 event per key)


def dtmf_pcap(bed: AsteriskInstance, key: str) -> str:
    """The root's sip-tester pcap that sends ``key`` as RFC 2833 (``0``-``9``, ``*``, ``#``)."""
    name = {"*": "star", "#": "pound"}.get(key, key)
    pcap = f"{PCAP_DIR}/dtmf_2833_{name}.pcap"
    if len(key) != 1 or not (bed.root / pcap.lstrip("/")).exists():
        raise TestbedError(f"no DTMF pcap for key {key!r} in the root ({pcap})")
    return pcap


def key_pcap(bed: AsteriskInstance, key: str, index: int, dest: Path) -> Path:
    """A copy of the sip-tester pcap for ``key`` renumbered as the ``index``-th key of one call.

    Each sip-tester pcap carries fixed RTP sequence numbers and timestamps ('1' has lower ones than
    '2'..'9', '#', '0' the highest). Asterisk drops an RFC 2833 event whose sequence number is below
    the previous event's, so played as they are, a repeated key or '1' after '9' is lost (seen here:
    "2135679048#" arrived as "235679#"). The copy gets sequence numbers and a timestamp that grow with
    ``index``; the UDP checksum is zeroed (IPv4: none), the SSRC is kept.
    """
    data = (bed.root / dtmf_pcap(bed, key).lstrip("/")).read_bytes()
    if struct.unpack("<I", data[20:24])[0] != 1:
        raise TestbedError(f"{dtmf_pcap(bed, key)}: expected an Ethernet capture")
    out, offset, first_seq = bytearray(data[:24]), 24, None
    while offset < len(data):
        head = data[offset : offset + 16]
        length = struct.unpack("<I", head[8:12])[0]
        packet = bytearray(data[offset + 16 : offset + 16 + length])
        offset += 16 + length
        udp = 14 + (packet[14] & 0x0F) * 4
        rtp = udp + 8
        seq = struct.unpack("!H", packet[rtp + 2 : rtp + 4])[0]
        first_seq = seq if first_seq is None else first_seq
        new_seq = (_SEQ_BASE + index * _SEQ_STEP + seq - first_seq) & 0xFFFF
        struct.pack_into("!HI", packet, rtp + 2, new_seq, (_TS_BASE + index * _TS_STEP) & 0xFFFFFFFF)
        struct.pack_into("!H", packet, udp + 6, 0)
        out += head + packet
    dest.write_bytes(bytes(out))
    return dest


def keys_then(first_after_s: float, text: str, gap_s: float = 0.6) -> list[tuple[float, str]]:
    """``text`` typed ``gap_s`` apart, the first key ``first_after_s`` after the previous one."""
    return [(first_after_s if i == 0 else gap_s, key) for i, key in enumerate(text)]


def _keys_xml(bed: AsteriskInstance, keys: Keys, workdir: Path) -> str:
    blocks = []
    for index, (delay, key) in enumerate(keys):
        if index and delay < MIN_KEY_GAP_S:
            raise TestbedError(
                f"key {index} ({key!r}) follows the previous one after {delay} s < {MIN_KEY_GAP_S}"
            )
        pcap = key_pcap(bed, key, index, workdir / f"key-{index:02d}.pcap")
        blocks.append(
            f'  <pause milliseconds="{int(delay * 1000)}"/>\n'
            f"  <nop>\n    <action>\n"
            f'      <exec play_pcap_audio="{pcap}"/>\n'
            f"    </action>\n  </nop>\n"
        )
    return "".join(blocks)


def _last_stats(path: Path) -> dict[str, str]:
    """The last row of a SIPp ``-trace_stat`` file (semicolon separated, header first)."""
    if not path.exists():
        return {}
    rows = [line.split(";") for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}


class Caller:
    """One SIPp run that places calls to ``target`` and keys ``keys`` in each, then waits for the BYE.

    ``caller_id=None`` withholds the number. ``caller_ids`` places one call per number (an injection
    file fills the From user part), ``rate`` calls per second. ``start()`` returns at once (the test
    can watch Asterisk meanwhile); ``wait()`` collects the :class:`CallResult`. If no BYE arrives
    ``hold_s`` seconds after the last key, the caller hangs up itself.
    """

    def __init__(
        self,
        bed: AsteriskInstance,
        target: str,
        keys: Keys,
        hold_s: float = 30.0,
        caller_id: str | None = "2015551234",
        display_name: str | None = None,
        caller_ids: Sequence[str] | None = None,
        rate: float = 10.0,
    ) -> None:
        self.bed, self.target, self.keys, self.hold_s = bed, target, list(keys), hold_s
        self.calls = len(caller_ids) if caller_ids else 1
        self.rate = rate
        self.workdir = _workdir(bed, "caller")
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        values = {"KEYS": _keys_xml(bed, self.keys, self.workdir), "HOLD_MS": str(int(hold_s * 1000))}
        inject: list[str] = []
        if caller_ids:
            for number in caller_ids:
                if not number.isdigit():
                    raise TestbedError(f"caller ID {number!r}: digits only")
            (self.workdir / "callers.csv").write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in caller_ids))
            inject = ["-inf", str(self.workdir / "callers.csv")]
            caller_id = "[field0]"
        values["FROM"], values["CONTACT_USER"] = _from_header(caller_id, display_name)
        scenario = _render("caller_keys.xml", self.workdir / "caller_keys.xml", values)
        self.budget_s = sum(d for d, _ in self.keys) + hold_s + self.calls / rate + 30
        self.cmd = (
            _common_args(self.workdir, scenario, free_port(socket.SOCK_DGRAM), free_udp_pair())
            + inject
            + ["-s", target, "-m", str(self.calls), "-l", str(self.calls), "-r", str(rate), "-rp", "1000"]
            + ["-timeout", f"{int(self.budget_s)}s", "-timeout_error", self.bed.sip_address]
        )

    def start(self) -> Caller:
        self.started = time.monotonic()
        with (self.workdir / "stdout.log").open("wb") as out, (self.workdir / "stderr.log").open("wb") as err:
            self.process = self.bed.popen_in_root(self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout: float | None = None) -> CallResult:
        if self.process is None:
            raise TestbedError("the caller was not started")
        try:
            exit_code = self.process.wait(timeout=timeout or self.budget_s + 30)
        except subprocess.TimeoutExpired:
            self.stop()
            exit_code = -1
        return self.result(exit_code)

    def result(self, exit_code: int) -> CallResult:
        messages = parse_messages(self.workdir / "messages.log")
        errors_file = self.workdir / "errors.log"
        byes = {m.header("Call-ID") for m in messages if m.direction == "received" and m.method == "BYE"}
        stats = _last_stats(self.workdir / "stats.csv")
        return CallResult(
            exit_code=exit_code,
            bye_received=bool(byes),
            messages=messages,
            workdir=self.workdir,
            stdout=(self.workdir / "stdout.log").read_text(errors="replace"),
            stderr=(self.workdir / "stderr.log").read_text(errors="replace"),
            duration=time.monotonic() - self.started,
            errors=errors_file.read_text(errors="replace") if errors_file.exists() else "",
            byes=len(byes),
            stats=stats,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> Caller:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def call_with_keys(
    bed: AsteriskInstance, target: str, keys: Keys, hold_s: float = 30.0, **kwargs: Any
) -> CallResult:
    """Place one call (or ``caller_ids`` calls) that keys ``keys``; return when SIPp is done."""
    return Caller(bed, target, keys, hold_s, **kwargs).start().wait()


class Uas:
    """A SIPp callee on a free UDP port of 127.0.0.1 that keeps running until ``stop()``.

    ``mode``: "answer" (180, then 200 after ``ring_s``; hangs up after ``hangup_after_s`` when set,
    else waits for the far end's BYE), "noanswer" (rings until CANCEL), "busy" (486) or "unavailable"
    (503: a trunk whose network fails).
    Asterisk reaches it through a PJSIP endpoint such as ``pjsip_peer("uas", uas.port)``.
    """

    def __init__(
        self,
        bed: AsteriskInstance,
        mode: str = "answer",
        ring_s: float = 0.5,
        hangup_after_s: float | None = None,
        port: int | None = None,
    ) -> None:
        if mode not in ("answer", "noanswer", "busy", "unavailable"):
            raise ValueError(f"unknown UAS mode {mode!r}")
        self.bed = bed
        self.mode = mode
        self.ring_s = ring_s
        self.hangup_after_s = hangup_after_s
        self.port = port or free_port(socket.SOCK_DGRAM)
        self.media_port = free_udp_pair()
        self.workdir = _workdir(bed, f"uas-{mode}")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"

    def start(self) -> Uas:
        values: dict[str, str] = {}
        if self.mode == "answer":
            values["RING_MS"] = str(int(self.ring_s * 1000))
            values["BYE_WAIT"] = (
                f'timeout="{int(self.hangup_after_s * 1000)}" ontimeout="9"'
                if self.hangup_after_s is not None
                else ""
            )
        scenario = _render(f"uas_{self.mode}.xml", self.workdir / f"uas_{self.mode}.xml", values)
        cmd = _common_args(self.workdir, scenario, self.port, self.media_port)
        self.process = self.bed.popen_in_root(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=(self.workdir / "stdout.log").open("wb"),
            stderr=(self.workdir / "stderr.log").open("wb"),
        )
        wait_for(self._listening, 10, 0.05, f"SIPp UAS listening on UDP {self.port}")
        return self

    def _listening(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            err = (self.workdir / "stderr.log").read_text(errors="replace")
            raise TestbedError(f"SIPp UAS exited: {err.strip()}")
        hex_port = f":{self.port:04X} "
        with open("/proc/net/udp", encoding="ascii") as table:
            return any(hex_port in line.split("\n")[0] for line in table)

    def messages(self) -> list[SipMessage]:
        return parse_messages(self.workdir / "messages.log")

    def received(self, method: str) -> int:
        """How many ``method`` requests (CANCEL, ACK, ...) the callee received so far."""
        return sum(1 for m in self.messages() if m.direction == "received" and m.method == method)

    def invites(self) -> list[SipMessage]:
        """Every INVITE received so far (retransmissions included once per Call-ID + CSeq)."""
        seen: set[tuple[str | None, str | None]] = set()
        out = []
        for message in self.messages():
            if message.direction == "received" and message.method == "INVITE":
                key = (message.header("Call-ID"), message.header("CSeq"))
                if key not in seen:
                    seen.add(key)
                    out.append(message)
        return out

    def invite_from_headers(self) -> list[str]:
        return [m.header("From") or "" for m in self.invites()]

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)  # SIPp: finish and quit
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> Uas:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def pjsip_peer(name: str, port: int, context: str = "qcb-test-in") -> str:
    """pjsip.conf text for an endpoint that Asterisk dials at sip:127.0.0.1:<port> (a SIPp UAS)."""
    return f"""
[{name}]
type = aor
contact = sip:127.0.0.1:{port}
qualify_frequency = 0

[{name}]
type = endpoint
transport = transport-udp
context = {context}
aors = {name}
disallow = all
allow = ulaw
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
send_pai = no
"""
