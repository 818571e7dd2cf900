"""The packaged module in a real FreePBX container (packaging/docker-compose.yml), through the docker SDK.

Needs a Docker engine; skips with the reason when there is none. Set QCB_FREEPBX_CONTAINER to the name of a
running, fully started FreePBX container to reuse it (e.g. the compose service's container); otherwise the
test starts `tiredofit/freepbx` + `mariadb:10.11` itself and waits for FreePBX to finish installing
(QCB_FREEPBX_TIMEOUT seconds, default 1200).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .tools import REPO

pytestmark = pytest.mark.docker


def docker_client():  # noqa: ANN201
    docker = pytest.importorskip("docker", reason="the docker SDK is not installed (pip install docker)")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no engine to talk to"
        pytest.skip(f"no Docker engine: {exc.__class__.__name__}: {str(exc)[:160]}")
    return client


def run(container, command: str, timeout_note: str = "") -> str:  # noqa: ANN001
    code, output = container.exec_run(["sh", "-c", command])
    text = output.decode(errors="replace")
    assert code == 0, f"{command}{timeout_note}: exit {code}\n{text[-3000:]}"
    return text


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, str(REPO / "packaging" / "package.py"), "--dist", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def freepbx() -> Iterator[object]:
    client = docker_client()
    name = os.environ.get("QCB_FREEPBX_CONTAINER")
    if name:
        yield client.containers.get(name)
        return
    network = client.networks.create(f"qcb-test-{os.getpid()}")
    db = client.containers.run(
        "mariadb:10.11",
        detach=True,
        name=f"qcb-db-{os.getpid()}",
        network=network.name,
        environment={
            "MARIADB_ROOT_PASSWORD": "qcb-root",
            "MARIADB_DATABASE": "asterisk",
            "MARIADB_USER": "asterisk",
            "MARIADB_PASSWORD": "qcb-asterisk",
        },
    )
    pbx = client.containers.run(
        "tiredofit/freepbx:latest",
        detach=True,
        name=f"qcb-freepbx-{os.getpid()}",
        network=network.name,
        environment={
            "DB_EMBEDDED": "FALSE",
            "DB_HOST": db.name,
            "DB_NAME": "asterisk",
            "DB_USER": "asterisk",
            "DB_PASS": "qcb-asterisk",
        },
    )
    try:
        deadline = time.monotonic() + int(os.environ.get("QCB_FREEPBX_TIMEOUT", "1200"))
        while time.monotonic() < deadline:
            code, _ = pbx.exec_run(["sh", "-c", "fwconsole ma list 2>/dev/null | grep -q '| queues '"])
            if code == 0:
                break
            time.sleep(10)
        else:
            pytest.fail("FreePBX did not finish installing in time")
        yield pbx
    finally:
        for container in (pbx, db):
            container.remove(force=True)
        network.remove()


def put_dir(container, local: Path, remote: str) -> None:  # noqa: ANN001
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in local.iterdir():
            tar.add(path, arcname=path.name)
    container.exec_run(["mkdir", "-p", remote])
    assert container.put_archive(remote, buf.getvalue())


def test_install_the_package_into_freepbx(freepbx, dist: Path) -> None:  # noqa: ANN001
    put_dir(freepbx, dist, "/tmp/qcb-dist")
    put_dir(freepbx, REPO / "packaging", "/tmp/qcb-packaging")
    run(freepbx, "sh /tmp/qcb-packaging/install.sh /tmp/qcb-dist")
    listing = run(freepbx, "fwconsole ma list")
    line = next((row for row in listing.splitlines() if "| queuecallback " in row), "")
    assert "Enabled" in line, listing
    # A queue with callback on: after a reload its queues_additional.conf section carries our lines.
    run(
        freepbx,
        'mysql -h "$DB_HOST" -u"$DB_USER" -p"$DB_PASS" "$DB_NAME" -e '
        '"INSERT IGNORE INTO queues_config (extension, descr, ivr_id, callback_id)'
        " VALUES ('4400', 'qcb test', '', '')\"",
    )
    run(freepbx, "freepbx-callback queue set 4400 --enable --offer-every 45")
    run(freepbx, "fwconsole reload")
    conf = run(freepbx, "sed -n '/^\\[4400\\]/,/^\\[/p' /etc/asterisk/queues_additional.conf")
    assert "context=qcb-exit-4400" in conf
    assert "periodic-announce-frequency=45" in conf
    assert "[qcb-exit-4400]" in run(freepbx, "cat /etc/asterisk/extensions_additional.conf")
    assert "qcb-request.agi" in run(freepbx, "ls /var/lib/asterisk/agi-bin/")
