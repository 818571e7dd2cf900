"""`freepbx-callback serve` (the real command) in a process of its own, and the CLI beside it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from tests.testbed.asterisk import PROJECT_ROOT
from tests.testbed.wait import wait_for

CLI = [sys.executable, "-m", "freepbx_callback"]


class ServeProcess:
    def __init__(
        self,
        dsn: str,
        spool: Path,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        python: Sequence[str] | None = None,
    ) -> None:
        self.dsn, self.spool, self.args = dsn, spool, list(args)
        self.env = {**os.environ, **(env or {})}
        self.log = log or spool.parent / "serve.log"
        self.python = list(python) if python is not None else CLI
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready: bool = True) -> ServeProcess:
        self.spool.mkdir(parents=True, exist_ok=True)
        cmd = [*self.python, "--dsn", self.dsn, "serve", "--port", "0", "--spool", str(self.spool)]
        cmd += ["--http", "127.0.0.1:0", *self.args]  # a later --http (or --no-http) in args wins
        self.process = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log.open("wb")
        )
        if ready:
            wait_for(lambda: "FastAGI on agi://" in self.text(), 20, message=f"serve listening ({self.log})")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def text(self) -> str:
        if self.process is not None and self.process.poll() is not None and "FastAGI on" not in self.read():
            raise AssertionError(f"serve exited with {self.process.returncode}: {self.read()[-2000:]}")
        return self.read()

    def read(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def http_url(self) -> str:
        """The base URL of this serve's HTTP API, from its log."""
        match = re.search(r"HTTP API on (http://[^/\s]+)/", self.text())
        assert match, self.read()
        return match.group(1)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the CLI on the same database and journal folder (so it can wake this serve)."""
        env = {**self.env, "QCB_SPOOL": str(self.spool)}
        result = subprocess.run(
            [*CLI, "--dsn", self.dsn, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{args} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result

    def stop(self, timeout: float = 15) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(OSError):
            self.stop()
