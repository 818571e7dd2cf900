"""End-to-end fixtures: a real Asterisk in the cached Debian sid root, SIPp as caller and callee.

Every test in this folder is marked ``e2e`` (select with ``-m e2e``, leave out with ``-m "not e2e"``).
The root is built on first use (about a minute, cached under ~/.cache/freepbx-callback); the tests skip,
saying why, only where it cannot be built at all (not root, no debootstrap).
On failure the instance's logs and SIPp traces are copied to test-artifacts/e2e/<test name>/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.testbed.asterisk import PROJECT_ROOT, AsteriskInstance
from tests.testbed.asterisk_root import AsteriskRootUnavailable, ensure_root

E2E_DIR = Path(__file__).resolve().parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "e2e"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end test against a real Asterisk and SIPp (needs root)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    setattr(item, f"qcb_report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def asterisk_root() -> Path:
    """The cached sid root with Asterisk, built now if missing."""
    try:
        return ensure_root(verbose=True)
    except AsteriskRootUnavailable as exc:
        pytest.skip(f"no Asterisk test bed: {exc}")


AsteriskFactory = Callable[..., AsteriskInstance]


def _save_artifacts(instance: AsteriskInstance, node_name: str) -> Path:
    dest = ARTIFACTS / re.sub(r"[^\w.-]+", "_", node_name)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in ("log", "sipp", "etc"):
        source = instance.run_dir / name
        if source.is_dir():
            shutil.copytree(source, dest / name, dirs_exist_ok=True)
    return dest


@pytest.fixture
def asterisk(asterisk_root: Path, request: pytest.FixtureRequest) -> Iterator[AsteriskFactory]:
    """Factory: ``asterisk(extensions=..., queues=..., env=..., start=True)`` -> a running instance.

    With ``start=False`` the instance is returned unstarted (its run folder and ports already chosen,
    e.g. to put ``instance.agi_dir`` into the dialplan); call ``.start()`` on it. Every instance is
    stopped at teardown, also when the test failed.
    """
    instances: list[AsteriskInstance] = []

    def factory(start: bool = True, **kwargs: Any) -> AsteriskInstance:
        instance = AsteriskInstance(asterisk_root, **kwargs)
        instances.append(instance)
        return instance.start() if start else instance

    yield factory

    report = getattr(request.node, "qcb_report_call", None)
    failed = report is None or report.failed
    for instance in instances:
        try:
            instance.stop()
        finally:
            if failed:
                saved = _save_artifacts(instance, request.node.name)
                print(f"\nAsterisk test bed logs saved in {saved}")
            instance.remove_run_dir()
