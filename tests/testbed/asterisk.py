"""A real Asterisk, started inside the cached Debian sid root, with its own run folder and free ports.

Each instance gets a private mount namespace (``unshare --mount``) held open by a small holder process
that lives chrooted in the root. Inside that namespace, and only there, the run folder is bind-mounted
at the SAME path inside the root, and proc plus a new devpts instance are mounted. Asterisk, its CLI
and SIPp join the namespace with ``nsenter``. The host's mount table never sees these mounts, so no
mount outlives the instance, even when the test process is killed; ``stop()`` ends every process of
the namespace, after which the kernel drops its mounts.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from freepbx_callback.ami import Ami, AmiConfig, AmiUnavailable
from tests.testbed.asterisk_root import CHROOT_ENV, mounts_under
from tests.testbed.wait import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODULE_DIR = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
DATA_DIR = "/usr/share/asterisk"
KEEP_ENV = "QCB_KEEP_TESTBED"
# Where the project keeps its prompts (<folder>/<language>/<name>.<format>); every one that exists is
# staged into the instance's sounds folder.
SOUND_SOURCES = [
    PROJECT_ROOT / "freepbx_callback" / "sounds",
    PROJECT_ROOT / "sounds",
    PROJECT_ROOT / "module_xml" / "sounds",
]

# Modules that log a WARNING or ERROR when they start here (no config of their own, a database,
# hardware or a service that is not there, a duplicate registration, a deprecation notice), and the
# modules that depend on them. Everything else autoloads, as on a FreePBX box (pbx_spool for call
# files, app_amd, the PJSIP extras...). Checked by booting with an empty list.
_NOLOAD = """
# channel drivers we do not use; each declines or warns without its config
chan_iax2 chan_unistim chan_console chan_websocket chan_dahdi chan_mobile chan_motif
chan_ooh323 res_xmpp
# CDR/CEL back ends that want a database or a config file
cdr_pgsql cdr_odbc cdr_adaptive_odbc cdr_tds cdr_sqlite3_custom cdr_radius cdr_beanstalkd
cdr_custom cdr_csv cdr_manager cel_pgsql cel_odbc cel_tds cel_sqlite3_custom cel_radius
cel_beanstalkd cel_custom
# realtime back ends, services and their dependants
res_config_pgsql res_config_odbc res_config_ldap res_config_sqlite3 res_odbc
res_odbc_transaction func_odbc res_snmp res_hep res_hep_pjsip res_hep_rtcp res_corosync
res_calendar res_calendar_caldav res_calendar_ews res_calendar_exchange res_calendar_icalendar
res_phoneprov res_pjsip_phoneprov_provider res_prometheus res_statsd res_stun_monitor
res_clialiases res_parking res_pjsip_notify res_pjsip_config_wizard res_crypto func_aes
res_stir_shaken res_pjsip_stir_shaken res_geolocation res_pjsip_geolocation res_aeap
res_speech_aeap res_musiconhold res_fax res_fax_spandsp res_smdi res_http_media_cache
# ARI and Stasis: app_stasis of this build does not load (undefined symbol), so neither do these
app_stasis app_stasis_broadcast res_stasis res_stasis_answer res_stasis_broadcast
res_stasis_device_state res_stasis_playback res_stasis_recording res_stasis_snoop
res_stasis_test res_websocket_client res_ari res_ari_model res_ari_applications
res_ari_asterisk res_ari_bridges res_ari_channels res_ari_device_states res_ari_endpoints
res_ari_events res_ari_mailboxes res_ari_playbacks res_ari_recordings res_ari_sounds
res_ari_websocket res_http_websocket res_pjsip_transport_websocket res_mwi_external
res_mwi_external_ami
# applications that warn without config, register duplicates, or are deprecated
app_voicemail app_voicemail_imap app_voicemail_odbc app_minivm app_followme app_festival
app_adsiprog app_getcpeid res_adsi app_meetme app_jack app_sms app_alarmreceiver
pbx_lua pbx_dundi pbx_ael app_agent_pool app_confbridge app_page
"""
NOLOAD_MODULES = [
    f"{name}.so" for line in _NOLOAD.splitlines() if not line.startswith("#") for name in line.split()
]


class TestbedError(RuntimeError):
    """The test bed could not start or talk to Asterisk; the message says what and where to look."""


# ----------------------------------------------------------------------------------------- helpers


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port that was free on ``host`` a moment ago (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_udp_pair(host: str = "127.0.0.1") -> int:
    """An even UDP port whose successor is free too (RTP/RTCP style)."""
    for _ in range(200):
        port = free_port(socket.SOCK_DGRAM, host)
        if port % 2 or port >= 65534:
            continue
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
            ):
                a.bind((host, port))
                b.bind((host, port + 1))
        except OSError:
            continue
        return port
    raise TestbedError("no free even UDP port pair found")


def namespace_pids(mnt_ns: str | None) -> list[int]:
    """The processes of mount namespace ``mnt_ns`` (a readlink of /proc/PID/ns/mnt); none for None."""
    if mnt_ns is None:
        return []
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "ns" / "mnt") == mnt_ns:
                    pids.append(int(entry.name))
    return pids


def _die_with_parent() -> None:
    """Popen preexec: the child gets SIGKILL when the test process dies, so nothing is left running."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def stage_python(dest: Path) -> Path:
    """Copy the project's ``freepbx_callback``, pyst2's ``asterisk`` package and ``six`` into ``dest``.

    The root's python3 (3.13+) then imports them through PYTHONPATH=dest. Their third-party imports
    (MySQLdb, phonenumbers, jinja2, click) come from the root's Debian packages.
    """
    import importlib.util

    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    package = PROJECT_ROOT / "freepbx_callback"
    if not package.is_dir():
        raise TestbedError(f"the project package is missing: {package}")
    shutil.copytree(package, dest / "freepbx_callback", ignore=ignore, dirs_exist_ok=True)
    spec = importlib.util.find_spec("asterisk")
    if spec is None or not spec.submodule_search_locations:
        raise TestbedError(
            "pyst2 is not installed on the host (pip install -r requirements.txt); "
            "AGI scripts in the test bed import its `asterisk` package"
        )
    pyst_dir = Path(next(iter(spec.submodule_search_locations)))
    shutil.copytree(pyst_dir, dest / "asterisk", ignore=ignore, dirs_exist_ok=True)
    # pyst2 imports six (a single module); the root has no python3-six, so it travels along.
    six = importlib.util.find_spec("six")
    if six is None or six.origin is None:
        raise TestbedError("six (a dependency of pyst2) is not installed on the host")
    shutil.copy2(six.origin, dest / "six.py")
    return dest


# --------------------------------------------------------------------------------------------- AMI


AmiMessage = dict[str, str]


class AmiClient(Ami):
    """The project's AMI client, with the test bed's habits: it sees every event (the last
    ``MAX_EVENTS`` are kept), login errors are TestbedErrors and waiting for an event that never comes
    fails the test."""

    def __init__(self, host: str, port: int, username: str, secret: str, timeout: float = 10.0) -> None:
        try:
            super().__init__(AmiConfig(username, secret, host, port), timeout, events="on")
        except AmiUnavailable as exc:
            raise TestbedError(str(exc)) from None

    def wait_event(self, predicate: Callable[[AmiMessage], bool], timeout: float) -> AmiMessage:
        """Return (and remove) the first kept or incoming event that matches ``predicate``."""
        event = super().wait_event(predicate, timeout)
        if event is None:
            raise AssertionError(f"no matching AMI event within {timeout:.1f} s; kept: {self.events[-5:]}")
        return event


# ---------------------------------------------------------------------------------------- instance


class AsteriskInstance:
    """One Asterisk process in the sid root, configured from scratch in a fresh run folder."""

    def __init__(
        self,
        root: Path,
        extensions: str = "",
        queues: str = "",
        env: Mapping[str, str] | None = None,
        caller_context: str = "qcb-test-in",
        caller_language: str = "en",
        pjsip_extra: str = "",
        extra_configs: Mapping[str, str] | None = None,
        agi_scripts: Mapping[str, str] | None = None,
        python: bool = True,
        boot_timeout: float = 30.0,
    ) -> None:
        self.root = Path(root)
        self.run_dir = Path(tempfile.mkdtemp(prefix="qcb-ast-", dir="/tmp"))
        self.run_dir.chmod(0o755)
        self.etc = self.run_dir / "etc"
        self.agi_dir = self.run_dir / "agi-bin"
        self.log_dir = self.run_dir / "log"
        self.spool_dir = self.run_dir / "spool"
        self.python_dir = self.run_dir / "python"
        self.conf = self.etc / "asterisk.conf"
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.ami_port = free_port(socket.SOCK_STREAM)
        self.ami_user = "qcbtest"
        self.ami_secret = secrets.token_hex(8)
        self.extensions = extensions
        self.queues = queues
        self.caller_context = caller_context
        self.caller_language = caller_language
        self.pjsip_extra = pjsip_extra
        self.extra_configs = dict(extra_configs or {})
        self.agi_scripts = dict(agi_scripts or {})
        self.python = python
        self.boot_timeout = boot_timeout
        self.env = dict(env or {})
        self.holder: subprocess.Popen[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._ami: AmiClient | None = None
        self._mnt_ns: str | None = None
        self.started_at = 0.0
        self.boot_seconds = 0.0

    # ---------------------------------------------------------------- paths and config

    @property
    def full_log(self) -> Path:
        return self.log_dir / "full"

    @property
    def sip_address(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    @property
    def ami_dsn(self) -> str:
        return f"ami://{self.ami_user}:{self.ami_secret}@127.0.0.1:{self.ami_port}"

    def _write_configs(self) -> None:
        run = self.run_dir
        for folder in (
            self.etc,
            self.agi_dir,
            self.log_dir,
            self.spool_dir,
            run / "run",
            run / "lib",
            run / "cache",
            self.spool_dir / "outgoing",
            self.spool_dir / "tmp",
        ):
            folder.mkdir(parents=True, exist_ok=True)
        configs: dict[str, str] = {
            "asterisk.conf": f"""[directories]
astcachedir => {run}/cache
astetcdir => {self.etc}
astmoddir => {MODULE_DIR}
astvarlibdir => {run}/lib
astdbdir => {run}/lib
astkeydir => {run}/lib
astdatadir => {run}/data
astagidir => {self.agi_dir}
astspooldir => {self.spool_dir}
astrundir => {run}/run
astlogdir => {self.log_dir}
astsbindir => /usr/sbin

[options]
verbose = 3
debug = 0
systemname = qcb-testbed
defaultlanguage = en
""",
            "modules.conf": "[modules]\nautoload = yes\n"
            + "".join(f"noload => {name}\n" for name in NOLOAD_MODULES),
            "logger.conf": """[general]
dateformat = %F %T.%3q

[logfiles]
full => notice,warning,error,verbose(3),dtmf
console => notice,warning,error
""",
            "manager.conf": f"""[general]
enabled = yes
bindaddr = 127.0.0.1
port = {self.ami_port}

[{self.ami_user}]
secret = {self.ami_secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = all
write = all
""",
            "pjsip.conf": f"""[global]
type = global
user_agent = qcb-testbed

[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{self.sip_port}

; every request from 127.0.0.1 that no other identify claims is the SIPp caller
[sipp-caller]
type = endpoint
transport = transport-udp
context = {self.caller_context}
disallow = all
allow = ulaw
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
force_rport = yes
rewrite_contact = yes
language = {self.caller_language}

[sipp-caller-identify]
type = identify
endpoint = sipp-caller
match = 127.0.0.1

{self.pjsip_extra}
""",
            "extensions.conf": f"""[general]
static = yes
writeprotect = yes
clearglobalvars = no

[globals]

{self.extensions}
""",
            "queues.conf": f"""[general]
persistentmembers = no
autofill = yes
monitor-type = MixMonitor

{self.queues}
""",
            "rtp.conf": "[general]\nrtpstart = 10000\nrtpend = 20000\n",
        }
        # Core and module configs that must exist (an absent one is logged as a WARNING or ERROR).
        for name in ("ccss.conf", "cdr.conf", "cel.conf", "features.conf", "udptl.conf", "pjproject.conf"):
            configs[name] = "[general]\n"
        configs["acl.conf"] = "; no named ACLs\n"
        configs["cdr.conf"] = "[general]\nenable = no\n"
        # The package's own samples where they are plain data (tones, AMD thresholds).
        for name in ("indications.conf", "amd.conf"):
            sample = self.root / "etc" / "asterisk" / name
            configs[name] = sample.read_text() if sample.exists() else "[general]\n"
        configs.update(self.extra_configs)
        for name, text in configs.items():
            (self.etc / name).write_text(text)

    def _in_root(self, path: str) -> Path:
        """The host path of ``path`` inside the root, following the root's own (absolute) symlinks."""
        current = self.root / path.lstrip("/")
        for _ in range(20):
            if not current.is_symlink():
                return current
            target = os.readlink(current)
            current = self.root / target.lstrip("/") if target.startswith("/") else current.parent / target
        raise TestbedError(f"symlink loop at {path} in the root")

    def _stage_data(self) -> None:
        """astdatadir: the root's data folder, linked entry by entry, with the project's sounds added.

        Inside ``sounds/<language>/`` every stock prompt is a symlink into the root (resolved by Asterisk
        inside the chroot) and the project's ``<SOUND_SOURCES>/<language>/*`` files are real copies, the way
        FreePBX exposes a module's sounds in the sounds folder.
        """
        data = self.run_dir / "data"
        sounds = data / "sounds"
        sounds.mkdir(parents=True, exist_ok=True)
        root_data = self._in_root(DATA_DIR)
        for entry in root_data.iterdir():
            if entry.name != "sounds":
                (data / entry.name).symlink_to(f"{DATA_DIR}/{entry.name}")
        for language in self._in_root(f"{DATA_DIR}/sounds").iterdir():
            target = sounds / language.name
            target.mkdir(exist_ok=True)
            real = self._in_root(f"{DATA_DIR}/sounds/{language.name}")
            if not real.is_dir():
                continue
            for item in real.iterdir():
                (target / item.name).symlink_to(f"{DATA_DIR}/sounds/{language.name}/{item.name}")
        for project_sounds in SOUND_SOURCES:
            if not project_sounds.is_dir():
                continue
            for language in project_sounds.iterdir():
                if not language.is_dir():
                    continue
                target = sounds / language.name
                target.mkdir(exist_ok=True)
                for item in language.iterdir():
                    if item.is_file():
                        dest = target / item.name
                        if dest.is_symlink():
                            dest.unlink()
                        shutil.copy2(item, dest)

    def _stage_agi(self) -> None:
        project_agi = PROJECT_ROOT / "agi-bin"
        if project_agi.is_dir():
            for script in project_agi.iterdir():
                if script.is_file():
                    target = self.agi_dir / script.name
                    shutil.copy2(script, target)
                    target.chmod(0o755)
        for name, text in self.agi_scripts.items():
            target = self.agi_dir / name
            target.write_text(text)
            target.chmod(0o755)

    # ---------------------------------------------------------------- namespace and processes

    def _nsenter(self, cmd: Sequence[str]) -> list[str]:
        if self.holder is None:
            raise TestbedError("the test bed namespace is not running")
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-r", "-w", "--", *cmd]

    def root_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(CHROOT_ENV)
        env["TZ"] = "UTC"
        env.update(self.env)
        env.update(extra or {})
        return env

    def run_in_root(
        self, cmd: Sequence[str], timeout: float = 30.0, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the root (joined to this instance's mounts)."""
        return subprocess.run(
            self._nsenter(cmd), capture_output=True, text=True, timeout=timeout, env=self.root_env(env)
        )

    def popen_in_root(
        self, cmd: Sequence[str], env: Mapping[str, str] | None = None, **kwargs: object
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._nsenter(cmd),
            env=self.root_env(env),  # type: ignore[call-overload]
            preexec_fn=_die_with_parent,
            **kwargs,
        )

    def _remove_stale_mount_points(self) -> None:
        """Empty mount-point folders left in the root by instances whose run folder is gone."""
        for stale in (self.root / "tmp").glob("qcb-ast-*"):
            if Path("/tmp", stale.name).exists() or mounts_under(stale):
                continue
            with contextlib.suppress(OSError):
                stale.rmdir()

    def _start_holder(self) -> None:
        self._remove_stale_mount_points()
        root, run = self.root, self.run_dir
        mount_point = Path(str(root) + str(run))
        mount_point.mkdir(parents=True, exist_ok=True)
        script = (
            "set -e; "
            f"mount --bind '{run}' '{mount_point}'; "
            f"mount -t proc proc '{root}/proc'; "
            f"mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts '{root}/dev/pts'; "
            f"exec chroot '{root}' /bin/sleep infinity"
        )
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
            stdout=subprocess.DEVNULL,
            stderr=(self.log_dir / "holder.err").open("wb"),
            preexec_fn=_die_with_parent,
        )

        def holder_ready() -> bool:
            if self.holder is None or self.holder.poll() is not None:
                err = (self.log_dir / "holder.err").read_text(errors="replace")
                raise TestbedError(f"the namespace holder exited: {err.strip()}")
            return os.readlink(f"/proc/{self.holder.pid}/root") == str(root)

        wait_for(holder_ready, 10, 0.02, "namespace holder chrooted")
        self._mnt_ns = os.readlink(f"/proc/{self.holder.pid}/ns/mnt")

    def start(self) -> AsteriskInstance:
        self._write_configs()
        self._stage_data()
        self._stage_agi()
        if self.python:
            stage_python(self.python_dir)
            self.env.setdefault("PYTHONPATH", str(self.python_dir))
        self.env.setdefault("QCB_AMI", self.ami_dsn)
        try:
            self._start_holder()
            self.started_at = time.monotonic()
            out = (self.log_dir / "asterisk.out").open("wb")
            self.process = self.popen_in_root(
                ["asterisk", "-f", "-n", "-C", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            self._wait_booted()
            self.boot_seconds = time.monotonic() - self.started_at
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_booted(self) -> None:
        deadline = time.monotonic() + self.boot_timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise TestbedError(
                    f"Asterisk exited during start-up; see {self.log_dir}: "
                    f"{self._tail(self.log_dir / 'asterisk.out')}"
                )
            result = self.run_in_root(
                ["asterisk", "-C", str(self.conf), "-rx", "core waitfullybooted"],
                timeout=max(1.0, deadline - time.monotonic()),
            )
            last = (result.stdout + result.stderr).strip()
            if result.returncode == 0 and "fully booted" in last.lower():
                break
            time.sleep(0.05)
        else:
            raise TestbedError(
                f"Asterisk did not boot within {self.boot_timeout} s: {last}; {self._tail(self.full_log)}"
            )
        self._ami = wait_for(self._ami_login, 10, 0.1, "AMI login")

    def _ami_login(self) -> AmiClient:
        return AmiClient("127.0.0.1", self.ami_port, self.ami_user, self.ami_secret)

    @staticmethod
    def _tail(path: Path, lines: int = 20) -> str:
        if not path.exists():
            return f"({path} missing)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # ---------------------------------------------------------------- control

    def cli(self, command: str, timeout: float = 15.0) -> str:
        result = self.run_in_root(["asterisk", "-C", str(self.conf), "-rx", command], timeout=timeout)
        if result.returncode != 0:
            raise TestbedError(f"CLI `{command}` failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def reload_dialplan(self) -> str:
        return self.cli("dialplan reload")

    @property
    def ami(self) -> AmiClient:
        if self._ami is None:
            raise TestbedError("AMI is not connected (instance not started?)")
        return self._ami

    def ami_action(self, fields: Mapping[str, str], timeout: float | None = None) -> list[AmiMessage]:
        return self.ami.action(fields, timeout)

    def log_text(self) -> str:
        return self.full_log.read_text(errors="replace") if self.full_log.exists() else ""

    def warnings(self) -> list[str]:
        """WARNING and ERROR lines of the full log."""
        return [line for line in self.log_text().splitlines() if "] WARNING[" in line or "] ERROR[" in line]

    # ---------------------------------------------------------------- teardown

    def _namespace_pids(self) -> list[int]:
        return namespace_pids(self._mnt_ns)

    def stop(self) -> None:
        """Stop Asterisk, end every process of the namespace (its mounts go with it); safe to repeat."""
        if self._ami is not None:
            with contextlib.suppress(OSError):
                self._ami.close()
            self._ami = None
        if self.process is not None and self.process.poll() is None and self.holder is not None:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                self.run_in_root(["asterisk", "-C", str(self.conf), "-rx", "core stop now"], timeout=10)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=10)
        for pid in self._namespace_pids():
            if self.holder is None or pid != self.holder.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.holder is not None:
            if self.holder.poll() is None:
                self.holder.kill()
            self.holder.wait(timeout=10)
        wait_for(lambda: not self._namespace_pids(), 10, 0.05, "namespace processes gone")
        self.holder = None
        mount_point = Path(str(self.root) + str(self.run_dir))
        if mount_point.is_dir() and not mounts_under(mount_point):
            with contextlib.suppress(OSError):
                mount_point.rmdir()

    def remove_run_dir(self) -> None:
        if os.environ.get(KEEP_ENV):
            return
        if self.run_dir.exists() and not mounts_under(self.run_dir):
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> AsteriskInstance:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if exc_type is None:
            self.remove_run_dir()
