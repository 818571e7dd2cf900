"""What holds on a 3-node Galera cluster when the product runs on several nodes at once."""

from __future__ import annotations

from freepbx_callback.schema import LATEST, VERSIONS
from freepbx_callback.service import utcnow
from freepbx_callback.store import Store
from tests.db.test_store import in_parallel
from tests.galera.conftest import Cluster


def test_migrations_run_at_once_on_every_node(empty_cluster: Cluster) -> None:
    """Three installs (one per node) migrate one empty database at the same moment: all succeed, and the
    schema is complete and recorded once."""
    stores = [Store.connect(empty_cluster.dsn(i % 3)) for i in range(6)]
    try:
        results = in_parallel(6, lambda i: stores[i].migrate(utcnow()))
    finally:
        for store in stores:
            store.close()
    assert sorted(v for applied in results for v in applied) == VERSIONS
    for node in range(3):
        store = Store.connect(empty_cluster.dsn(node))
        try:
            assert store.schema_version() == LATEST
            assert store.migrate(utcnow()) == []
        finally:
            store.close()


def test_max_pending_holds_across_nodes(cluster: Cluster) -> None:
    cluster.service(0).set_queue("400", enabled=True, max_pending=3, allow_patterns=("_555XXXX",))
    cluster.bed.wait_synced()
    services = [cluster.service(i % 3) for i in range(12)]
    results = in_parallel(12, lambda i: services[i].request("400", f"55510{i:02d}"))
    cluster.bed.wait_synced()
    kinds = sorted(r.kind for r in results)
    assert set(kinds) <= {"created", "limit"}, kinds
    assert kinds.count("created") == 3, kinds
    assert cluster.service(1).store.count_open("400") == 3


def test_one_open_request_per_number_across_nodes(cluster: Cluster) -> None:
    cluster.service(0).set_queue("400", enabled=True, allow_patterns=("_555XXXX",))
    cluster.bed.wait_synced()
    services = [cluster.service(i % 3) for i in range(9)]
    results = in_parallel(9, lambda i: services[i].request("400", "5551234"))
    cluster.bed.wait_synced()
    kinds = sorted(r.kind for r in results)
    assert kinds == ["created"] + ["duplicate"] * 8, kinds
    assert len({r.request.id for r in results if r.request}) == 1


def test_claims_on_different_nodes_never_share_a_request(cluster: Cluster) -> None:
    setup = cluster.service(0)
    setup.set_queue("400", enabled=True, allow_patterns=("_555XXXX",))
    for n in range(30):
        assert setup.request("400", f"55520{n:02d}").kind == "created"
    cluster.bed.wait_synced()
    services = [cluster.service(i % 3) for i in range(6)]

    def drain(i: int) -> list[int]:
        got: list[int] = []
        for _ in range(20):
            got += [r.id for r, _ in services[i].claim("400", 3, f"node{i}")]
        return got

    claimed = [rid for batch in in_parallel(6, drain) for rid in batch]
    cluster.bed.wait_synced()
    assert len(claimed) == len(set(claimed)), "a request was claimed twice"
    rows = setup.store._all("SELECT COUNT(*) FROM qcb_attempts")
    assert rows[0][0] == len(claimed)
