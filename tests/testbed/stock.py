"""A stock Asterisk for the README test: Debian's own /etc/asterisk from the sid root, and a bash session
that runs an admin's commands with explicit stand-ins (stubs) for what a test machine cannot do."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.testbed.asterisk import DATA_DIR, AsteriskInstance, stage_python
from tests.testbed.mariadb import MariaDB

STEP_TIMEOUT = 600.0


# ------------------------------------------------------------------------------------------- Asterisk


def site_transport_and_caller(sip_port: int, context: str) -> str:
    """pjsip.conf of the site: a UDP transport and an endpoint for every caller from 127.0.0.1 (SIPp),
    whose calls start in ``context``."""
    return f"""[global]
type = global
user_agent = site

[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{sip_port}

[customer-line]
type = endpoint
transport = transport-udp
context = {context}
disallow = all
allow = ulaw
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes
force_rport = yes
rewrite_contact = yes

[customer-line-identify]
type = identify
endpoint = customer-line
match = 127.0.0.1
"""


class StockAsterisk(AsteriskInstance):
    """Debian's own /etc/asterisk from the root, with only the test bed's machinery files on top."""

    MACHINERY = ("asterisk.conf", "modules.conf", "logger.conf", "rtp.conf")

    def __init__(self, *args: object, site_pjsip: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.site_pjsip = site_pjsip
        self.pidfile = self.run_dir / "holder.pid"

    def _write_configs(self) -> None:
        super()._write_configs()
        machinery = {name: (self.etc / name).read_text() for name in self.MACHINERY}
        for path in self.etc.iterdir():
            if path.is_file():
                path.unlink()
        shutil.copytree(self.root / "etc" / "asterisk", self.etc, dirs_exist_ok=True)
        for name, text in machinery.items():
            (self.etc / name).write_text(text)
        manager = (self.etc / "manager.conf").read_text()
        assert "port = 5038" in manager, "Debian's manager.conf changed"
        (self.etc / "manager.conf").write_text(manager.replace("port = 5038", f"port = {self.ami_port}"))
        # The test bed's own AMI user (for its client), in a file of its own beside the README's.
        (self.etc / "manager.d" / "testbed.conf").write_text(
            f"[{self.ami_user}]\nsecret = {self.ami_secret}\npermit = 127.0.0.1/255.255.255.255\n"
            "read = all\nwrite = all\n"
        )
        (self.etc / "pjsip.conf").write_text(self.site_pjsip)

    def _stage_data(self) -> None:
        """The root's data folder, its sounds linked file by file (no project prompts: the README installs
        them)."""
        data = self.run_dir / "data"
        sounds = data / "sounds"
        sounds.mkdir(parents=True, exist_ok=True)
        for entry in self._in_root(DATA_DIR).iterdir():
            if entry.name != "sounds":
                (data / entry.name).symlink_to(f"{DATA_DIR}/{entry.name}")
        for language in self._in_root(f"{DATA_DIR}/sounds").iterdir():
            real = self._in_root(f"{DATA_DIR}/sounds/{language.name}")
            if not real.is_dir():
                continue
            (sounds / language.name).mkdir(exist_ok=True)
            for item in real.iterdir():
                (sounds / language.name / item.name).symlink_to(
                    f"{DATA_DIR}/sounds/{language.name}/{item.name}"
                )

    def _stage_agi(self) -> None:
        """Nothing: the README installs the scripts."""

    def start(self) -> StockAsterisk:
        self._write_configs()
        self._stage_data()
        stage_python(self.python_dir)
        self.boot({})
        return self

    def boot(self, env: dict[str, str]) -> None:
        """(Re)start Asterisk with ``env`` as its environment (what systemd's EnvironmentFile gives it)."""
        self.stop()
        self.env = {"PYTHONPATH": str(self.python_dir), **env}
        try:
            self._start_holder()
            assert self.holder is not None
            self.pidfile.write_text(str(self.holder.pid))
            out = (self.log_dir / "asterisk.out").open("ab")
            self.process = self.popen_in_root(
                ["asterisk", "-f", "-n", "-C", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            self._wait_booted()
        except BaseException:
            self.stop()
            raise


# ------------------------------------------------------------------------------------------- the shell


def write_stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def make_stubs(folder: Path, bed: StockAsterisk, db: MariaDB, systemctl_log: Path) -> None:
    folder.mkdir()
    write_stub(
        folder,
        "apt-get",
        '[ "$1" = install ] || { echo "apt-get stub: only install" >&2; exit 2; }\nshift\n'
        'for p in "$@"; do case "$p" in -*) ;; *) dpkg -s "$p" >/dev/null 2>&1 || '
        '{ echo "apt-get stub: $p is not installed here" >&2; exit 1; };; esac; done\n',
    )
    assert db.workdir is not None
    write_stub(folder, "mysql", f'exec /usr/bin/mysql --socket={db.workdir / "mysqld.sock"} "$@"\n')
    write_stub(
        folder,
        "chown",
        'if [ "$1" = root:asterisk ] && ! getent group asterisk >/dev/null; then exit 0; fi\n'
        'exec /bin/chown "$@"\n',
    )
    write_stub(
        folder,
        "asterisk",
        f'exec nsenter -t "$(cat {bed.pidfile})" -m -r -w -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin '
        f'asterisk -C {bed.conf} "$@" </dev/null\n',
    )
    write_stub(folder, "systemctl", f'echo "$*" >> {systemctl_log}\n')


class Shell:
    """One bash session; each step is sourced from a file, stdin from /dev/null, under ``set -e``."""

    def __init__(self, cwd: Path, env: dict[str, str], workdir: Path) -> None:
        self.workdir = workdir
        self.log = workdir / "shell.log"
        self.process = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.send("set -eo pipefail\n")

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def run(self, index: int, text: str) -> str:
        script = self.workdir / f"step-{index:02}.sh"
        script.write_text(text)
        start = len(self.output())
        done = f"@@step {index} done@@"
        self.send(f". {script} </dev/null\necho '{done}'\n")
        deadline = time.monotonic() + STEP_TIMEOUT
        while done not in self.output()[start:]:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"README step {index} failed:\n{text}\n--- output:\n{self.output()[start:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"README step {index} took over {STEP_TIMEOUT} s:\n{text}\n{self.output()[start:]}"
                )
            time.sleep(0.1)
        return self.output()[start:].replace(done, "")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


def env_file_text(text: str) -> dict[str, str]:
    """KEY=VALUE lines (systemd's EnvironmentFile, cron's variables)."""
    lines = (line for line in text.splitlines() if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line))
    return {key: value.strip() for key, value in (line.split("=", 1) for line in lines)}


def env_file(path: Path) -> dict[str, str]:
    return env_file_text(path.read_text())


def unit_value(text: str, key: str) -> str:
    match = re.search(rf"^{key}=(.*)$", text, re.M)
    assert match, f"no {key}= in the unit"
    return match.group(1).strip()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
