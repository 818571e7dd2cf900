"""One running FreePBX 17: the cached roots under an overlay, in a private mount namespace.

``FreePbx.start()`` runs ``kit.sh up`` under ``unshare --mount``: the roots are overlaid (every change of
the run lands in the run folder's ``upper/`` and is thrown away with it), MariaDB, Asterisk and Apache
start, and the holder keeps the namespace open. Commands join it with ``nsenter``. Nothing is mounted
on the host, so a killed test leaves no mount behind; ``stop()`` ends every process of the namespace.

The instance offers what tests/testbed/sipp.py expects of a bed (``root``, ``run_dir``, ``sip_address``,
``run_in_root``, ``popen_in_root``), so the project's SIPp callers and callees work against it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import MySQLdb

from tests.testbed.asterisk import AmiClient, TestbedError, _die_with_parent, namespace_pids
from tests.testbed.wait import wait_for

from .kit import kit_command, ports

KEEP_ENV = "QCB_KEEP_TESTBED"
BW_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
    "TZ": "UTC",
}
SID_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "TZ": "UTC"}


class FreePbx:
    def __init__(self, kit: Path) -> None:
        self.kit = Path(kit)
        self.ports = ports()
        self.secrets = dict(
            line.split("=", 1) for line in (self.kit / "secrets.env").read_text().split() if "=" in line
        )
        self.run = Path(tempfile.mkdtemp(prefix="qcb-fpbx-", dir="/tmp"))
        self.run.chmod(0o755)
        self.run_dir = self.run / "work"  # same path inside both roots
        self.run_dir.mkdir(mode=0o777)
        self.run_dir.chmod(0o777)
        self.logs = self.run / "logs"
        self.logs.mkdir()
        self.root = self.kit / "sid"  # read-only view of the Asterisk root (SIPp's pcap files)
        self.holder: subprocess.Popen[bytes] | None = None
        self._mnt_ns: str | None = None
        self._ami: AmiClient | None = None
        self._lock: IO[str] | None = None

    # ------------------------------------------------------------------ addresses

    @property
    def sip_address(self) -> str:
        return f"127.0.0.1:{self.ports['SIP_PORT']}"

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.ports['WEB_PORT']}/admin/"

    def bw_path(self, path: str) -> Path:
        """A path of the FreePBX (bookworm) root, as the host can read it through the namespace."""
        if self.holder is None:
            raise TestbedError("the FreePBX bed is not running")
        return Path(f"/proc/{self.holder.pid}/root{self.run}/root/bw{path}")

    # ------------------------------------------------------------------ processes

    def _nsenter(self, cmd: Sequence[str]) -> list[str]:
        if self.holder is None:
            raise TestbedError("the FreePBX bed is not running")
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--", *cmd]

    def _chroot(self, which: str, cmd: Sequence[str], env: Mapping[str, str]) -> list[str]:
        pairs = [f"{k}={v}" for k, v in env.items()]
        return self._nsenter(["chroot", f"{self.run}/root/{which}", "/usr/bin/env", "-i", *pairs, *cmd])

    def bw(
        self,
        cmd: Sequence[str],
        timeout: float = 120,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        user: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the FreePBX root (as root, or as ``user``)."""
        full = {**BW_ENV, **(env or {})}
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        done = subprocess.run(self._chroot("bw", cmd, full), capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise TestbedError(
                f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def popen(
        self, cmd: Sequence[str], env: Mapping[str, str] | None = None, **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        """Start a command in the FreePBX root (as root) and return at once: a daemon such as serve."""
        return subprocess.Popen(
            self._chroot("bw", cmd, {**BW_ENV, **(env or {})}), preexec_fn=_die_with_parent, **kwargs
        )

    def fw(self, *args: str, timeout: float = 300) -> str:
        self.wait_signature_check()
        return self.bw(["fwconsole", *args], timeout=timeout).stdout

    def _signature_checks(self) -> list[int]:
        found = []
        for pid in self._namespace_pids():
            with contextlib.suppress(OSError):
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if any(a.endswith(b"fwconsole") for a in argv) and b"signaturecheck" in argv:
                    found.append(pid)
        return found

    def wait_signature_check(self, timeout: float = 180) -> None:
        """Wait for the module signature check that every ``fwconsole reload`` leaves running.

        FreePBX's reload starts ``fwconsole util signaturecheck`` in the background. That check runs gpg,
        and a second fwconsole command started meanwhile can fail in GPG's permission check: it lists
        ``pubring.kbx.lock`` and the check's gpg removes the file before it is stat'ed ("stat failed for
        /home/asterisk/.gnupg/pubring.kbx.lock"). An admin typing commands never meets this; a test bed
        issuing them back to back does, so the bed runs them one after the other.
        """
        wait_for(lambda: not self._signature_checks(), timeout, 0.2, "FreePBX's background signature check")

    def run_in_root(
        self, cmd: Sequence[str], timeout: float = 30.0, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the Asterisk (sid) root: SIPp, the Asterisk CLI."""
        return subprocess.run(
            self._chroot("sid", cmd, {**SID_ENV, **(env or {})}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen_in_root(
        self, cmd: Sequence[str], env: Mapping[str, str] | None = None, **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._chroot("sid", cmd, {**SID_ENV, **(env or {})}), preexec_fn=_die_with_parent, **kwargs
        )

    def asterisk(self, command: str, timeout: float = 20) -> str:
        done = self.run_in_root(["asterisk", "-rx", command], timeout=timeout)
        if done.returncode != 0:
            raise TestbedError(f"asterisk -rx {command!r}: {done.stderr.strip()}")
        return done.stdout

    # ------------------------------------------------------------------ life cycle

    def start(self, timeout: float = 180) -> FreePbx:
        # the bed's ports are fixed: one running bed per machine; a second session waits its turn
        self._lock = (self.kit.parent / ".freepbx-run.lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        out = (self.logs / "holder.out").open("wb")
        self.holder = subprocess.Popen(
            kit_command("up", self.kit, self.run),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        try:
            deadline = time.monotonic() + timeout
            while not self._up():
                if time.monotonic() > deadline:
                    raise TestbedError(
                        f"the FreePBX bed did not come up within {timeout:.0f} s; see {self.logs}"
                    )
                time.sleep(0.2)
            self._mnt_ns = os.readlink(f"/proc/{self.holder.pid}/ns/mnt")
            # A Debian host has a machine id (systemd-machine-id-setup); debootstrap's root has none, and
            # Module Admin's process step dies without one (modulefunctions.class.php: preg_replace on null).
            machine_id = "tr -d - </proc/sys/kernel/random/uuid >/etc/machine-id"
            self.bw(["sh", "-c", f"[ -s /etc/machine-id ] || {machine_id}"])
            self._ami = wait_for(self._ami_login, 20, 0.2, "AMI login")
        except BaseException:
            self.stop()
            raise
        return self

    def _up(self) -> bool:
        text = (self.logs / "holder.out").read_text(errors="replace")
        if self.holder is None or self.holder.poll() is not None:
            raise TestbedError(f"the FreePBX bed did not come up:\n{text[-3000:]}")
        return "kit-up" in text

    def _ami_login(self) -> AmiClient:
        return AmiClient("127.0.0.1", self.ports["AMI_PORT"], "admin", self.secrets["MGRPASS"])

    def _namespace_pids(self) -> list[int]:
        return namespace_pids(self._mnt_ns)

    def stop(self) -> None:
        if self._ami is not None:
            with contextlib.suppress(OSError):
                self._ami.close()
            self._ami = None
        if self.holder is not None and self.holder.poll() is None:
            with contextlib.suppress(Exception):
                self.run_in_root(["asterisk", "-rx", "core stop now"], timeout=15)
            with contextlib.suppress(Exception):
                self.bw(["apache2ctl", "stop"], timeout=15, check=False)
            with contextlib.suppress(Exception):
                self.bw(["mariadb-admin", "shutdown"], timeout=30, check=False)
        for pid in self._namespace_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.holder is not None:
            if self.holder.poll() is None:
                self.holder.kill()
            self.holder.wait(timeout=10)
        with contextlib.suppress(TestbedError):
            wait_for(lambda: not self._namespace_pids(), 15, 0.1, "FreePBX bed processes gone")
        self.holder = None
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def remove(self) -> None:
        if not os.environ.get(KEEP_ENV):
            shutil.rmtree(self.run, ignore_errors=True)

    # ------------------------------------------------------------------ the outside world

    def set_contacts(self, agent_port: int, customer_port: int) -> None:
        """Point PJSIP's `agent` (extension 1002's phone) and `pstn` (the trunk) at SIPp callees."""
        conf = self.bw_path("/etc/asterisk/pjsip_custom_post.conf")
        text = conf.read_text()
        lines = []
        section = None
        for line in text.splitlines():
            if line.startswith("["):
                section = line
            if line.startswith("contact=") and section == "[agent]":
                line = f"contact=sip:agent@127.0.0.1:{agent_port}"
            elif line.startswith("contact=") and section == "[pstn]":
                line = f"contact=sip:127.0.0.1:{customer_port}"
            lines.append(line)
        conf.write_text("\n".join(lines) + "\n")
        self.asterisk("module reload res_pjsip.so")
        wait_for(lambda: str(agent_port) in self.asterisk("pjsip show aor agent"), 10, 0.2, "agent contact")

    # ------------------------------------------------------------------ database

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        conn = MySQLdb.connect(
            host="127.0.0.1",
            port=self.ports["DB_PORT"],
            user="freepbxuser",
            passwd=self.secrets["DBPASS"],
            db="asterisk",
            connect_timeout=10,
        )
        try:
            cur = conn.cursor()
            cur.execute(sql, params or None)
            rows = list(cur.fetchall())
            conn.commit()
            return rows
        finally:
            conn.close()

    def full_log(self) -> str:
        path = self.bw_path("/var/log/asterisk/full")
        return path.read_text(errors="replace") if path.exists() else ""

    def save_logs(self, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for src in ("/var/log/asterisk/full", "/var/log/asterisk/freepbx.log", "/var/log/apache2/error.log"):
            with contextlib.suppress(OSError, TestbedError):
                shutil.copy2(self.bw_path(src), dest / Path(src).name)
        for log in self.logs.iterdir():
            shutil.copy2(log, dest / log.name)
        with contextlib.suppress(OSError):
            shutil.copytree(self.run_dir / "sipp", dest / "sipp", dirs_exist_ok=True)
