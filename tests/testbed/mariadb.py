"""A MariaDB server for the tests: the one already running, or a private one started here.

Order: ``QCB_TEST_ADMIN_DSN`` (a DSN whose user may create databases), else the local server's root over
its unix socket (Debian's default), else a private ``mariadbd`` on a free 127.0.0.1 port with a
throw-away data folder, stopped again by :meth:`MariaDB.stop`. Each test run gets its own database.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import MySQLdb

from freepbx_callback.config import Dsn

SYSTEM_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock")
TEST_USER = "qcb_test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _root_via_socket(path: str) -> MySQLdb.Connection | None:
    if not os.path.exists(path):
        return None
    try:
        return MySQLdb.connect(unix_socket=path, user="root", connect_timeout=3)
    except MySQLdb.Error:
        return None


@dataclass
class MariaDB:
    """An admin DSN over TCP (what the project and Asterisk's AGIs will use) and what to clean up."""

    admin: Dsn
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None
    databases: list[str] = field(default_factory=list)

    def create_database(self, prefix: str = "qcb_test") -> Dsn:
        name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
        conn = connect(self.admin)
        try:
            conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        self.databases.append(name)
        return Dsn(self.admin.user, self.admin.password, self.admin.host, self.admin.port, name)

    def drop_database(self, name: str) -> None:
        conn = connect(self.admin)
        try:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()
        if name in self.databases:
            self.databases.remove(name)

    def stop(self) -> None:
        for name in list(self.databases):
            with contextlib.suppress(MySQLdb.Error):
                self.drop_database(name)
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def connect(dsn: Dsn) -> MySQLdb.Connection:
    return MySQLdb.connect(
        host=dsn.host, port=dsn.port, user=dsn.user, password=dsn.password, connect_timeout=5, autocommit=True
    )


def _tcp_user_from_root(root: MySQLdb.Connection) -> Dsn | None:
    cur = root.cursor()
    cur.execute("SELECT @@port, @@skip_networking")
    port, skip_networking = cur.fetchone()
    if skip_networking:
        return None
    password = "qcb-" + secrets.token_hex(8)
    for host in ("127.0.0.1", "localhost"):
        cur.execute(f"CREATE OR REPLACE USER '{TEST_USER}'@'{host}' IDENTIFIED BY %s", (password,))
        cur.execute(f"GRANT ALL PRIVILEGES ON `qcb\\_test\\_%`.* TO '{TEST_USER}'@'{host}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON `qcb\\_bench\\_%`.* TO '{TEST_USER}'@'{host}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON `qcb\\_demo\\_%`.* TO '{TEST_USER}'@'{host}'")
    root.close()
    return Dsn(TEST_USER, password, "127.0.0.1", int(port), "mysql")


def _start_private() -> MariaDB:
    mariadbd = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
    install_db = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not os.path.exists(mariadbd) or not install_db:
        raise RuntimeError(
            "MariaDB server is not installed: run `make deps` (apt-get install mariadb-server)"
        )
    workdir = Path(tempfile.mkdtemp(prefix="qcb-mariadb-"))
    data, sock, port = workdir / "data", workdir / "mysqld.sock", free_port()
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            install_db,
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ],
        check=True,
        capture_output=True,
    )
    log = open(workdir / "mariadbd.log", "wb")  # noqa: SIM115 - owned by the server process
    process = subprocess.Popen(
        [
            mariadbd,
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={sock}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={workdir / 'mysqld.pid'}",
            "--innodb-buffer-pool-size=128M",
            "--max-connections=500",
            *user,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"private mariadbd exited: see {workdir / 'mariadbd.log'}")
        root = _root_via_socket(str(sock))
        if root is not None:
            break
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"private mariadbd did not start within 60 s: see {workdir / 'mariadbd.log'}")
        time.sleep(0.2)
    admin = _tcp_user_from_root(root)
    assert admin is not None
    return MariaDB(admin=admin, process=process, workdir=workdir)


def ensure_server() -> MariaDB:
    if os.environ.get("QCB_TEST_ADMIN_DSN"):
        return MariaDB(admin=Dsn.parse(os.environ["QCB_TEST_ADMIN_DSN"]))
    for path in SYSTEM_SOCKETS:
        root = _root_via_socket(path)
        if root is not None:
            admin = _tcp_user_from_root(root)
            if admin is not None:
                return MariaDB(admin=admin)
    return _start_private()
