"""Dialer heartbeats in qcb_nodes on a real MariaDB: one row per node and kind, aged by the database."""

from __future__ import annotations

from freepbx_callback import __version__
from freepbx_callback.models import Heartbeat
from freepbx_callback.schema import LATEST
from freepbx_callback.service import CallbackService, utcnow
from freepbx_callback.store import Store


def beat(node: str = "pbx1", kind: str = "serve", pid: int = 4242, **changes: object) -> Heartbeat:
    values: dict[str, object] = {
        "node": node,
        "kind": kind,
        "pid": pid,
        "version": __version__,
        "started_at": utcnow(),
        "tick_seconds": 2.0,
        "ami_ok": True,
        "ami_error": None,
    }
    values.update(changes)
    return Heartbeat(**values)  # type: ignore[arg-type]


def age(store: Store, node: str, seconds: float) -> None:
    """Make the node's last tick ``seconds`` older (what a stopped or stuck dialer looks like)."""
    store._run(
        "UPDATE qcb_nodes SET last_tick_at = last_tick_at - INTERVAL %s MICROSECOND WHERE node = %s",
        (int(seconds * 1e6), node),
    )


def test_schema_has_the_nodes_table(store: Store) -> None:
    assert LATEST >= 4 and store.schema_version() == LATEST
    assert store._all("SHOW TABLES LIKE 'qcb\\_nodes'")


def test_a_heartbeat_is_one_row_per_node_and_kind(service: CallbackService, store: Store) -> None:
    service.heartbeat(beat())
    service.heartbeat(beat(ami_ok=False, ami_error="login refused"))
    service.heartbeat(beat(kind="cron", pid=99, tick_seconds=60.0, ami_ok=None))
    service.heartbeat(beat(node="pbx2"))
    nodes = {(n.node, n.kind): n for n in service.nodes()}
    assert set(nodes) == {("pbx1", "serve"), ("pbx1", "cron"), ("pbx2", "serve")}
    serve = nodes[("pbx1", "serve")]
    assert (serve.pid, serve.version, serve.ami_ok, serve.ami_error) == (
        4242,
        __version__,
        False,
        "login refused",
    )
    assert serve.up and 0 <= serve.age_s < 1.0 and serve.stopped_at is None
    assert nodes[("pbx1", "cron")].ami_ok is None and nodes[("pbx1", "cron")].tick_seconds == 60.0


def test_up_means_a_tick_within_three_intervals(service: CallbackService, store: Store) -> None:
    service.heartbeat(beat(tick_seconds=2.0))
    age(store, "pbx1", 5.0)
    [node] = service.nodes()
    assert node.up and 5.0 <= node.age_s < 6.0
    age(store, "pbx1", 1.5)
    [node] = service.nodes()
    assert not node.up, "6.5 s without a tick at a 2 s interval"
    service.heartbeat(beat(tick_seconds=2.0))
    assert service.nodes()[0].up, "the next tick brings it back"


def test_a_clean_stop_is_recorded_and_a_new_start_clears_it(service: CallbackService) -> None:
    service.heartbeat(beat(pid=1))
    service.node_stopped("pbx1", "serve", pid=2)  # another process's stop does not count
    assert service.nodes()[0].stopped_at is None
    service.node_stopped("pbx1", "serve", pid=1)
    [node] = service.nodes()
    assert node.stopped_at is not None and not node.up
    service.heartbeat(beat(pid=3))
    [node] = service.nodes()
    assert node.up and node.stopped_at is None and node.pid == 3


def test_migrate_gives_a_table_freepbx_created_millisecond_times(mariadb) -> None:  # type: ignore[no-untyped-def]
    """FreePBX creates module.xml's tables (DATETIME without fractions) before `db migrate` runs."""
    db = mariadb.create_database()
    store = Store.connect(db)
    try:
        store._run(
            "CREATE TABLE qcb_nodes (node VARCHAR(64) NOT NULL, kind VARCHAR(8) NOT NULL, pid INT NOT NULL, "
            "version VARCHAR(32) DEFAULT '' NOT NULL, started_at DATETIME NOT NULL, "
            "last_tick_at DATETIME NOT NULL, "
            "tick_ms INT NOT NULL, ami_ok TINYINT(1) DEFAULT NULL, ami_error VARCHAR(255) DEFAULT NULL, "
            "stopped_at DATETIME DEFAULT NULL, PRIMARY KEY(node, kind))"
        )
        store.migrate(utcnow())
        precision = store._all(
            "SELECT column_name, datetime_precision FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = 'qcb_nodes' AND data_type = 'datetime'"
        )
        assert sorted(precision) == [("last_tick_at", 3), ("started_at", 3), ("stopped_at", 3)]
    finally:
        store.close()
        mariadb.drop_database(db.database)
