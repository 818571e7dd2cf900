"""The FreePBX 17 container of packaging/ (Dockerfile + docker-compose.yml) and the module installed in it.

Two parts:
- static checks, everywhere: every file, path and name the Dockerfile, the compose file and the first-boot
  script rely on exists and agrees with packaging/package.py (no Docker needed);
- the real thing (marker `docker`), only where a Docker engine answers: build the image, boot it (systemd runs
  Sangoma's installer, then installs our tarball the way the compose file does), check the module works.
  Set QCB_FREEPBX_CONTAINER to the name of a running container whose first boot finished to reuse it;
  QCB_FREEPBX_TIMEOUT (seconds, default 3600) bounds the first boot; QCB_INSTALL_WITH as in the compose file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .tools import REPO

PACKAGING = REPO / "packaging"
DOCKERFILE = PACKAGING / "Dockerfile"
COMPOSE = PACKAGING / "docker-compose.yml"
FIRSTBOOT = PACKAGING / "docker" / "qcb-firstboot.sh"
UNIT = PACKAGING / "docker" / "qcb-firstboot.service"
STATE = "/var/lib/qcb-firstboot"


# --- static: what the container files name exists --------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def compose_service() -> dict[str, object]:
    """The one service of docker-compose.yml: build context/dockerfile, volumes, environment (a small reader
    for the plain block style that file uses; no YAML library needed)."""
    lines = COMPOSE.read_text().splitlines()
    service: dict[str, object] = {"volumes": [], "environment": {}}
    section = ""
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 4:
            section = text.rstrip(":") if text.endswith(":") else ""
            key, _, value = text.partition(":")
            if value.strip():
                service[key] = value.strip()
        elif indent == 6 and section == "build":
            key, _, value = text.partition(":")
            service[f"build.{key}"] = value.strip()
        elif indent == 6 and section == "volumes" and text.startswith("- "):
            service["volumes"].append(text[2:].strip().strip('"'))  # type: ignore[union-attr]
        elif indent == 6 and section == "environment":
            key, _, value = text.partition(":")
            service["environment"][key] = value.strip()  # type: ignore[index]
    return service


def mounts() -> dict[str, Path]:
    """container path -> host path of the compose file's bind mounts (relative to the compose file)."""
    out = {}
    for volume in compose_service()["volumes"]:  # type: ignore[union-attr]
        host, container = volume.split(":")[:2]
        out[container] = (COMPOSE.parent / host).resolve() if not host.startswith("/") else Path(host)
    return out


def test_dockerfile_installs_freepbx17_on_debian12_with_sangomas_pinned_installer() -> None:
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "debian:12")
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG")
    assert re.fullmatch(r"[0-9a-f]{40}", args["SNG_INSTALLER_COMMIT"])
    assert re.fullmatch(r"[0-9a-f]{64}", args["SNG_INSTALLER_SHA256"])
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    url = (
        "https://raw.githubusercontent.com/FreePBX/sng_freepbx_debian_install/${SNG_INSTALLER_COMMIT}"
        "/sng_freepbx_debian_install.sh"
    )
    assert url in runs
    assert "${SNG_INSTALLER_SHA256}  /usr/local/sbin/sng_freepbx_debian_install.sh" in runs
    assert "sha256sum -c" in runs
    # the first-boot script runs the very file the Dockerfile downloaded
    assert "bash /usr/local/sbin/sng_freepbx_debian_install.sh" in FIRSTBOOT.read_text()
    assert ("CMD", '["/lib/systemd/systemd"]') in steps


def test_dockerfile_copies_files_that_exist_to_where_they_are_used() -> None:
    service = compose_service()
    context = (COMPOSE.parent / str(service["build.context"])).resolve()
    assert context == PACKAGING
    assert (context / str(service["build.dockerfile"])).resolve() == DOCKERFILE
    copies = {}
    for word, rest in dockerfile_instructions():
        if word in ("COPY", "ADD"):
            *sources, dest = rest.split()
            for src in sources:
                assert (context / src).is_file(), f"{word} {src}: no such file in {context}"
                copies[dest] = context / src
    assert copies["/usr/local/sbin/qcb-firstboot"] == FIRSTBOOT
    assert copies["/etc/systemd/system/qcb-firstboot.service"] == UNIT
    unit = UNIT.read_text()
    assert "ExecStart=/usr/local/sbin/qcb-firstboot\n" in unit
    assert "WantedBy=multi-user.target" in unit
    assert f"ConditionPathExists=!{STATE}/done" in unit
    runs = " ".join(rest for word, rest in dockerfile_instructions() if word == "RUN")
    assert "systemctl enable qcb-firstboot.service" in runs
    assert "chmod 0755 /usr/local/sbin/qcb-firstboot" in runs
    # the variables the script reads reach it through the unit
    passed = re.search(r"^PassEnvironment=(.*)$", unit, re.M)
    assert passed and {"SNG_INSTALLER_ARGS", "QCB_INSTALL_WITH"} <= set(passed.group(1).split())


def test_compose_mounts_the_tarball_that_package_py_builds() -> None:
    sys.path.insert(0, str(PACKAGING))
    try:
        import package  # packaging/package.py
    finally:
        sys.path.remove(str(PACKAGING))
    where = mounts()
    # /dist: the folder package.py writes by default, holding <rawname>-<version>.tgz
    assert where["/dist"] == package.DEFAULT_DIST == REPO / "dist"
    script = FIRSTBOOT.read_text()
    assert f"/dist/{package.MODULE_FOLDER}-*.tgz" in script
    assert package.MODULE_FOLDER == "queuecallback"
    # /qcb/packaging: this folder, for install.sh
    assert where["/qcb/packaging"] == PACKAGING
    for used in re.findall(r"/qcb/packaging/(\S+)", script):
        assert (PACKAGING / used).is_file(), used
    # the modes the script knows are the ones the compose file may choose
    mode = compose_service()["environment"]["QCB_INSTALL_WITH"]  # type: ignore[index]
    assert f"\n{mode})\n" in script
    assert re.search(r"fwconsole ma downloadinstall \"http://127\.0\.0\.1/qcb-dist/", script)
    for path in (FIRSTBOOT, PACKAGING / "install.sh"):  # one module, never every module in admin/modules
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        assert not [line for line in code if "installlocal" in line], path


def test_container_scripts_parse() -> None:
    for script in (FIRSTBOOT, PACKAGING / "install.sh"):
        done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, f"{script}: {done.stderr}"
    assert FIRSTBOOT.stat().st_mode & 0o111


# --- the real container --------------------------------------------------------------------------------


def docker_client():  # noqa: ANN201
    docker = pytest.importorskip("docker", reason="the docker SDK is not installed (pip install docker)")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no engine to talk to"
        pytest.skip(f"no Docker engine: {exc.__class__.__name__}: {str(exc)[:160]}")
    return client


def run(container, command: str) -> str:  # noqa: ANN001
    code, output = container.exec_run(["sh", "-c", command])
    text = output.decode(errors="replace")
    assert code == 0, f"{command}: exit {code}\n{text[-3000:]}"
    return text


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, str(PACKAGING / "package.py"), "--dist", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def freepbx(request: pytest.FixtureRequest) -> Iterator[object]:
    """A booted container of packaging/Dockerfile whose first boot (FreePBX + our module) finished."""
    client = docker_client()  # skips first where no engine answers
    name = os.environ.get("QCB_FREEPBX_CONTAINER")
    if name:
        yield client.containers.get(name)
        return
    dist: Path = request.getfixturevalue("dist")
    image, _ = client.images.build(
        path=str(PACKAGING), dockerfile="Dockerfile", tag="qcb-freepbx17:test", rm=True
    )
    pbx = client.containers.run(  # the settings of docker-compose.yml
        image.id,
        detach=True,
        name=f"qcb-freepbx-{os.getpid()}",
        hostname="freepbx",
        domainname="qcb.test",
        privileged=True,
        cgroupns="host",
        tmpfs={"/run": "", "/run/lock": ""},
        environment={"QCB_INSTALL_WITH": os.environ.get("QCB_INSTALL_WITH", "moduleadmin")},
        volumes={
            "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
            str(dist): {"bind": "/dist", "mode": "ro"},
            str(PACKAGING): {"bind": "/qcb/packaging", "mode": "ro"},
        },
        stop_signal="SIGRTMIN+3",
    )
    try:
        deadline = time.monotonic() + int(os.environ.get("QCB_FREEPBX_TIMEOUT", "3600"))
        while time.monotonic() < deadline:
            code, _ = pbx.exec_run(["test", "-e", f"{STATE}/done"])
            if code == 0:
                break
            failed, _ = pbx.exec_run(["test", "-e", f"{STATE}/failed"])
            if failed == 0:
                _, log = pbx.exec_run(["journalctl", "-u", "qcb-firstboot", "--no-pager", "-n", "80"])
                pytest.fail("first boot failed:\n" + log.decode(errors="replace"))
            time.sleep(15)
        else:
            pytest.fail("FreePBX and the module did not finish installing in time")
        yield pbx
    finally:
        pbx.remove(force=True)


@pytest.mark.docker
def test_the_tarball_installs_and_works_in_freepbx17(freepbx) -> None:  # noqa: ANN001
    listing = run(freepbx, "fwconsole ma list")
    line = next((row for row in listing.splitlines() if "| queuecallback " in row), "")
    assert "Enabled" in line, listing
    cli = run(freepbx, "php /var/www/html/admin/modules/queuecallback/lib/Runtime.php locate").strip()
    assert cli.endswith("/bin/freepbx-callback")
    assert run(freepbx, f"{cli} doctor").count("ok ") >= 3
    # A queue with callback on: after a reload its queues_additional.conf section carries our lines.
    run(
        freepbx,
        'mysql asterisk -e "INSERT IGNORE INTO queues_config (extension, descr, ivr_id, callback_id)'
        " VALUES ('4400', 'qcb test', '', '')\"",
    )
    run(freepbx, f"{cli} queue set 4400 --enable --offer-every 45")
    run(freepbx, "fwconsole reload")
    conf = run(freepbx, "sed -n '/^\\[4400\\]/,/^\\[/p' /etc/asterisk/queues_additional.conf")
    assert "context=qcb-exit-4400" in conf
    assert "periodic-announce-frequency=45" in conf
    assert "[qcb-exit-4400]" in run(freepbx, "cat /etc/asterisk/extensions_additional.conf")
    assert "qcb-request.agi" in run(freepbx, "ls /var/lib/asterisk/agi-bin/")
