"""A 3-node MariaDB Galera cluster on 127.0.0.1, started for the tests and thrown away afterwards.

Debian's ``galera-4`` provider with three ``mariadbd`` processes, each with its own data folder, SQL port,
group-communication port and IST port. No state snapshot transfer is needed: node 1 bootstraps a new
cluster, gets the test user, and is stopped cleanly; its data folder is copied to nodes 2 and 3, so all
three start from the same cluster state and join at once. Every node accepts writes (multi-master), which
is what makes row locks node-local: only conflicting writes are certified cluster-wide.

``python -m tests.testbed.galera`` starts one, prints the DSNs and waits (Ctrl-C stops it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import MySQLdb

from freepbx_callback.config import Dsn
from tests.testbed.mariadb import TEST_USER, free_port

PROVIDER_PATHS = ("/usr/lib/galera/libgalera_smm.so", "/usr/lib/libgalera_smm.so")
NODES = 3


class GaleraUnavailable(RuntimeError):
    """This machine cannot run a Galera cluster (no provider or no mariadbd)."""


def provider() -> str:
    for path in PROVIDER_PATHS:
        if os.path.exists(path):
            return path
    raise GaleraUnavailable("no Galera provider: install Debian's galera-4 (make deps does)")


@dataclass
class Node:
    index: int
    datadir: Path
    port: int
    gcomm_port: int
    ist_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.datadir.parent / f"node{self.index}.sock"

    @property
    def log(self) -> Path:
        return self.datadir.parent / f"node{self.index}.log"


@dataclass
class Galera:
    workdir: Path
    nodes: list[Node]
    password: str = field(default_factory=lambda: "qcb-" + secrets.token_hex(8))
    databases: list[str] = field(default_factory=list)

    # --- lifecycle -----------------------------------------------------------------------------------

    @classmethod
    def start(cls) -> Galera:
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        install_db = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if not os.path.exists(mariadbd) or not install_db:
            raise GaleraUnavailable("MariaDB server is not installed (make deps)")
        provider()
        workdir = Path(tempfile.mkdtemp(prefix="qcb-galera-"))
        workdir.chmod(0o755)  # the joiner's rsync daemon (state transfer) drops to an unprivileged user
        nodes = [
            Node(i, workdir / f"data{i}", free_port(), free_port(), free_port()) for i in range(1, NODES + 1)
        ]
        bed = cls(workdir, nodes)
        try:
            user = ["--user=root"] if os.geteuid() == 0 else []
            subprocess.run(
                [install_db, f"--datadir={nodes[0].datadir}", "--skip-test-db", *user],
                check=True,
                capture_output=True,
            )
            bed._launch(nodes[0], bootstrap=True)
            bed._create_user(nodes[0])
            bed._stop_node(nodes[0])
            for node in nodes[1:]:
                shutil.copytree(nodes[0].datadir, node.datadir)
                node.datadir.chmod(0o777)  # the joiner's rsync daemon (IST sync) runs as nobody
            bed._launch(nodes[0], bootstrap=True)
            for node in nodes[1:]:
                bed._launch(node, bootstrap=False)
            bed._wait_cluster_size(NODES)
        except BaseException:
            for node in bed.nodes:
                bed._stop_node(node)
            raise
        return bed

    def _args(self, node: Node, bootstrap: bool) -> list[str]:
        cluster = ",".join(f"127.0.0.1:{n.gcomm_port}" for n in self.nodes)
        options = (
            f"gmcast.listen_addr=tcp://127.0.0.1:{node.gcomm_port};ist.recv_addr=127.0.0.1:{node.ist_port};"
            "gcache.size=32M;pc.wait_prim_timeout=PT30S"
        )
        args = [
            shutil.which("mariadbd") or "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={node.datadir}",
            f"--socket={node.socket}",
            f"--port={node.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={node.datadir.parent / f'node{node.index}.pid'}",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            "--max-connections=300",
            "--binlog-format=ROW",
            "--default-storage-engine=InnoDB",
            "--innodb-autoinc-lock-mode=2",
            "--wsrep-on=ON",
            f"--wsrep-provider={provider()}",
            f"--wsrep-cluster-address=gcomm://{cluster}",
            "--wsrep-cluster-name=qcb-test",
            f"--wsrep-node-name=node{node.index}",
            f"--wsrep-node-address=127.0.0.1:{node.gcomm_port}",
            f"--wsrep-provider-options={options}",
            "--wsrep-sst-method=rsync",
            f"--wsrep-sst-receive-address=127.0.0.1:{free_port()}",
        ]
        if os.geteuid() == 0:
            args.append("--user=root")
        if bootstrap:
            args.append("--wsrep-new-cluster")
        return args

    def _launch(self, node: Node, bootstrap: bool) -> None:
        if bootstrap:
            grastate = node.datadir / "grastate.dat"
            if grastate.exists():
                state = grastate.read_text()
                grastate.write_text(state.replace("safe_to_bootstrap: 0", "safe_to_bootstrap: 1"))
        log = open(node.log, "ab")  # noqa: SIM115 - owned by the server process
        node.process = subprocess.Popen(self._args(node, bootstrap), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            if node.process.poll() is not None:
                raise GaleraUnavailable(
                    f"galera node {node.index} exited (see {node.log}): {self._tail(node)}"
                )
            with contextlib.suppress(MySQLdb.Error):
                conn = MySQLdb.connect(unix_socket=str(node.socket), user="root", connect_timeout=2)
                try:
                    cur = conn.cursor()
                    cur.execute("SHOW STATUS LIKE 'wsrep_ready'")
                    row = cur.fetchone()
                    if row and row[1] == "ON":
                        return
                finally:
                    conn.close()
            if time.monotonic() > deadline:
                raise GaleraUnavailable(f"galera node {node.index} not ready within 90 s: {self._tail(node)}")
            time.sleep(0.3)

    @staticmethod
    def _tail(node: Node) -> str:
        try:
            return " | ".join(node.log.read_text(errors="replace").splitlines()[-8:])
        except OSError:
            return "(no log)"

    def _create_user(self, node: Node) -> None:
        conn = MySQLdb.connect(unix_socket=str(node.socket), user="root", connect_timeout=5)
        try:
            cur = conn.cursor()
            for host in ("127.0.0.1", "localhost"):
                account = f"'{TEST_USER}'@'{host}'"
                cur.execute(f"CREATE OR REPLACE USER {account} IDENTIFIED BY %s", (self.password,))
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")
        finally:
            conn.close()

    def _stop_node(self, node: Node) -> None:
        if node.process is None:
            return
        node.process.terminate()
        try:
            node.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()
        node.process = None

    def _wait_cluster_size(self, size: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            sizes = []
            for node in self.nodes:
                conn = self._connect(node)
                try:
                    cur = conn.cursor()
                    cur.execute("SHOW STATUS LIKE 'wsrep_cluster_size'")
                    sizes.append(int(cur.fetchone()[1]))
                finally:
                    conn.close()
            if all(s == size for s in sizes):
                return
            if time.monotonic() > deadline:
                raise GaleraUnavailable(f"cluster size {sizes}, expected {size}")
            time.sleep(0.3)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            self._stop_node(node)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- what the tests use ----------------------------------------------------------------------------

    def _connect(self, node: Node) -> MySQLdb.Connection:
        return MySQLdb.connect(
            host="127.0.0.1",
            port=node.port,
            user=TEST_USER,
            password=self.password,
            connect_timeout=5,
            autocommit=True,
        )

    def dsn(self, index: int, database: str) -> Dsn:
        """The DSN of ``database`` on node ``index`` (0-based)."""
        return Dsn(TEST_USER, self.password, "127.0.0.1", self.nodes[index].port, database)

    def create_database(self) -> str:
        """A new empty database (created on node 1, replicated to all); returns its name."""
        name = f"qcb_test_galera_{secrets.token_hex(3)}"
        conn = self._connect(self.nodes[0])
        try:
            conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        self.databases.append(name)
        # the other nodes apply the CREATE in the cluster's order, a moment later on a busy machine: a test
        # that connects to them at once must find the database there
        self.wait_synced()
        return name

    def drop_database(self, name: str) -> None:
        conn = self._connect(self.nodes[0])
        try:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()

    def wait_synced(self) -> None:
        """Until every node has applied every write it received (a read after this sees them all)."""
        for node in self.nodes:
            conn = self._connect(node)
            try:
                conn.cursor().execute("SET SESSION wsrep_sync_wait = 1")
                conn.cursor().execute("SELECT 1")
            finally:
                conn.close()


def main() -> None:
    bed = Galera.start()
    try:
        for index in range(NODES):
            print(f"node{index + 1}: {bed.dsn(index, 'mysql').url()}")
        print("Ctrl-C stops the cluster")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        bed.stop()


if __name__ == "__main__":
    main()
