#!/usr/bin/env python3
"""Build the FreePBX module tarball, with the Python runtime inside it, and the Python wheel.

    python packaging/package.py [--dist DIR] [--no-wheel]

dist/queuecallback-<version>.tgz holds one top folder `queuecallback/` laid out as FreePBX expects
(admin/modules/<rawname>): module.xml, the BMO class and page, views/, lib/, assets/, i18n/ (with compiled
.mo files), agi-bin/ (the repository's agi-bin/), sounds/ (freepbx_callback/sounds/) and wheels/.
`fwconsole reload` copies agi-bin/ into ASTAGIDIR and links sounds/<lang>/ into the Asterisk sounds folder.
The prompts travel once: the wheel inside wheels/ is built without them (its `sounds install` finds the
module's sounds/ through the venv's runtime marker), which keeps the tarball under Module Admin's upload limit
(PHP's post_max_size, 8 MiB by default).

wheels/ is what the module's lib/Runtime.php needs to build the freepbx-callback virtualenv OFFLINE on the
FreePBX host (`pip install --no-index --find-links wheels/`): our wheel, a wheel of every dependency built or
downloaded for the Python running this script (`pip wheel`), the source of every dependency that has compiled
code (so another Python can build it when a compiler is there), the pip wheel (so python3-venv/ensurepip is
not needed) and setuptools (to build those sources), listed in wheels/manifest.json.
Limits: compiled wheels fit only this script's CPython version and machine (mysqlclient has no manylinux wheel
on PyPI, so it is built here against this host's libmariadb); package on the FreePBX hosts' Python (Debian 12:
3.11, x86_64).
Building needs network access to the package index, or a warm pip cache, and a compiler with the MariaDB
headers for mysqlclient. --no-wheel leaves wheels/ out (a tarball that cannot build its runtime).
The Python wheel also goes beside the tarball, for installing the CLI anywhere with pip: that one is
complete, prompts included.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE_SRC = REPO / "module_xml"
MODULE_FOLDER = "queuecallback"  # the FreePBX rawname; module.xml's <rawname> must say the same
DEFAULT_DIST = REPO / "dist"  # docker-compose.yml mounts this folder
WHEELS_FOLDER = "wheels"  # inside the module folder; module_xml/lib/Runtime.php reads it
TOOLS_PINS = Path(__file__).resolve().parent / "runtime-tools.txt"  # pip and setuptools for wheels/

# What goes into the module folder, relative to module_xml/ (sources) or the repository (agi-bin, sounds).
MODULE_PATTERNS = ("module.xml", "*.php", "views/*.php", "lib/*.php", "assets/**/*", "i18n/**/*")
EXECUTABLE = 0o755
FILE = 0o644
SOUND_SUFFIXES = (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".g722")  # what Asterisk plays natively


def python_version() -> str:
    text = (REPO / "freepbx_callback" / "__init__.py").read_text()
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("error: no __version__ in freepbx_callback/__init__.py")
    return match.group(1)


def check_module_xml(version: str) -> None:
    root = ET.parse(MODULE_SRC / "module.xml").getroot()
    if root.findtext("rawname") != MODULE_FOLDER:
        raise SystemExit(
            f"error: module.xml rawname is {root.findtext('rawname')!r}, expected {MODULE_FOLDER!r}"
        )
    if root.findtext("version") != version:
        raise SystemExit(f"error: module.xml version {root.findtext('version')!r} != Python {version!r}")


def compile_translations(target: Path) -> None:
    """Compile every i18n/<locale>/LC_MESSAGES/*.po into a .mo next to it (msgfmt from gettext)."""
    for po in sorted((target / "i18n").glob("*/LC_MESSAGES/*.po")):
        subprocess.run(["msgfmt", "--check", "-o", str(po.with_suffix(".mo")), str(po)], check=True)


def module_files() -> list[tuple[Path, str, int]]:
    """(source path, path inside the tarball, mode) for every file of the module."""
    files: dict[str, tuple[Path, int]] = {}
    for pattern in MODULE_PATTERNS:
        for path in MODULE_SRC.glob(pattern):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(MODULE_SRC).as_posix()] = (path, FILE)
    for path in sorted((REPO / "agi-bin").glob("qcb-*.agi")):
        files[f"agi-bin/{path.name}"] = (path, EXECUTABLE)
    for path in sorted((REPO / "freepbx_callback" / "sounds").rglob("*")):
        if path.is_file() and path.suffix in SOUND_SUFFIXES:
            files[f"sounds/{path.relative_to(REPO / 'freepbx_callback' / 'sounds').as_posix()}"] = (
                path,
                FILE,
            )
    return [(src, f"{MODULE_FOLDER}/{name}", mode) for name, (src, mode) in sorted(files.items())]


def build_tarball(dist: Path, version: str, wheelhouse: Path | None = None) -> Path:
    """The module tarball; with `wheelhouse` (build_wheelhouse) its files go into queuecallback/wheels/."""
    check_module_xml(version)
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / f"{MODULE_FOLDER}-{version}.tgz"
    with tempfile.TemporaryDirectory() as tmp:
        # Compile .mo files from the .po sources into a scratch copy so the work tree is not touched.
        scratch = Path(tmp)
        for po in MODULE_SRC.glob("i18n/*/LC_MESSAGES/*.po"):
            dest = scratch / po.relative_to(MODULE_SRC)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(po.read_bytes())
        compile_translations(scratch)
        compiled = {
            f"{MODULE_FOLDER}/{mo.relative_to(scratch).as_posix()}": mo for mo in scratch.rglob("*.mo")
        }
        entries = [(s, n, m) for s, n, m in module_files() if n not in compiled]
        entries += [(src, name, FILE) for name, src in compiled.items()]
        if wheelhouse is not None:
            entries += [
                (path, f"{MODULE_FOLDER}/{WHEELS_FOLDER}/{path.name}", FILE)
                for path in sorted(wheelhouse.iterdir())
                if path.is_file()
            ]
        with tarfile.open(out, "w:gz") as tar:
            folders = sorted({str(Path(n).parent) for _, n, _ in entries} | {MODULE_FOLDER})
            for folder in folders:
                parts = Path(folder).parts
                for i in range(1, len(parts) + 1):
                    name = "/".join(parts[:i])
                    if name not in tar.getnames():
                        info = tarfile.TarInfo(name)
                        info.type, info.mode, info.mtime = tarfile.DIRTYPE, EXECUTABLE, 0
                        tar.addfile(info)
            for src, name, mode in sorted(entries, key=lambda e: e[1]):
                data = src.read_bytes()
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), mode, int(src.stat().st_mtime)
                info.uname = info.gname = "root"
                tar.addfile(info, io.BytesIO(data))
    return out


# What setup.py reads: the wheel is built from a scratch copy of these, so that parallel builds never share
# (or delete) the work tree's build/ and *.egg-info folders.
WHEEL_SOURCES = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "requirements.txt",
    "requirements-dev.txt",
    "freepbx_callback",
)


def build_wheel(dist: Path, prompts: bool = True) -> Path:
    """Our wheel, into `dist`; without `prompts` it leaves out the sound files (for the tarball's wheels/,
    whose module carries them in sounds/)."""
    ignore = ["__pycache__", "*.pyc"] + ([] if prompts else [f"*{suffix}" for suffix in SOUND_SUFFIXES])
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in WHEEL_SOURCES:
            path = REPO / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(*ignore))
            elif path.exists():
                shutil.copy2(path, src / name)
        out = Path(tmp) / "out"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(src), "-w", str(out)],
            check=True,
        )
        wheels = sorted(out.glob("freepbx_callback-*.whl"))
        if len(wheels) != 1:
            raise SystemExit(f"error: pip wheel produced {len(wheels)} freepbx_callback wheels")
        dist.mkdir(parents=True, exist_ok=True)
        target = dist / wheels[0].name
        shutil.copy2(wheels[0], target)
    return target


WHEEL_NAME = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)


def wheel_info(path: Path) -> dict[str, str]:
    match = WHEEL_NAME.match(path.name)
    if not match:
        raise SystemExit(f"error: {path.name} is not a wheel file name")
    info = match.groupdict()
    info["name"] = re.sub(r"[-_.]+", "-", info["name"]).lower()
    return info


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tool_pins() -> list[str]:
    lines = TOOLS_PINS.read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def build_wheelhouse(own_wheel: Path, target: Path) -> dict:
    """Fill `target` with everything lib/Runtime.php needs offline; returns the manifest it also writes."""
    target.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    quiet = ["-q", "--disable-pip-version-check"]
    # Our wheel and a wheel of every dependency, for the Python running this script.
    subprocess.run([*pip, "wheel", *quiet, "--wheel-dir", str(target), str(own_wheel)], check=True)
    own_info = wheel_info(own_wheel)
    requirements = []
    python_tags: set[str] = set()
    for path in sorted(target.glob("*.whl")):
        info = wheel_info(path)
        if info["name"] == own_info["name"]:
            continue
        pure = info["abi"] == "none" and info["plat"] == "any"
        requirements.append(
            {
                "name": info["name"],
                "version": info["version"],
                "wheel": path.name,
                "pure": pure,
                "sha256": sha256(path),
                "sdist": None,
            }
        )
        if not pure:
            python_tags.update(tag for tag in info["py"].split(".") if tag.startswith("cp"))
    # The sources of compiled dependencies: another Python version can build them (needs a compiler).
    for req in requirements:
        if req["pure"]:
            continue
        before = set(target.iterdir())
        subprocess.run(
            [
                *pip,
                "download",
                *quiet,
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(target),
                f"{req['name']}=={req['version']}",
            ],
            check=True,
        )
        new = [p for p in set(target.iterdir()) - before if p.name.endswith((".tar.gz", ".zip"))]
        sdists = new or [
            p
            for p in target.iterdir()
            if p.name.lower().startswith(req["name"].replace("-", "_") + "-") and p.name.endswith(".tar.gz")
        ]
        if not sdists:
            raise SystemExit(f"error: pip download found no source of {req['name']} {req['version']}")
        req["sdist"] = sdists[0].name
    # pip (so the host needs no ensurepip/python3-venv) and setuptools (to build those sources).
    subprocess.run(
        [*pip, "download", *quiet, "--no-deps", "--only-binary", ":all:", "-d", str(target), *tool_pins()],
        check=True,
    )
    tools = {}
    for pin in tool_pins():
        name, _, version = pin.partition("==")
        found = [p for p in target.glob(f"{name}-{version}-*.whl")]
        if not found:
            raise SystemExit(f"error: pip download found no wheel for {pin}")
        tools[name] = found[0].name
    version = own_info["version"]
    manifest = {
        "project": "freepbx-callback",
        "version": version,
        "wheel": {"file": own_wheel.name, "sha256": sha256(target / own_wheel.name)},
        "requirements": requirements,
        "tools": tools,
        "python_tags": sorted(python_tags),
        "built_with": {
            "python": ".".join(map(str, sys.version_info[:3])),
            "platform": sysconfig.get_platform(),
        },
        "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def show(path: Path) -> str:
    return str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=DEFAULT_DIST)
    parser.add_argument(
        "--no-wheel",
        action="store_true",
        help="build only the module tarball, without the Python runtime (wheels/) and the wheel",
    )
    args = parser.parse_args(argv)
    version = python_version()
    dist = args.dist.resolve()
    if args.no_wheel:
        tarball = build_tarball(dist, version)
        print(f"built {show(tarball)} (no Python runtime inside)")
        return 0
    check_module_xml(version)
    dist.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(dist)
    print(f"built {show(wheel)}")
    with tempfile.TemporaryDirectory() as tmp:
        wheelhouse = Path(tmp) / WHEELS_FOLDER
        # the module's sounds/ carries the prompts; the runtime's wheel does without them
        lean = build_wheel(Path(tmp) / "lean", prompts=False)
        manifest = build_wheelhouse(lean, wheelhouse)
        tarball = build_tarball(dist, version, wheelhouse)
    compiled = ", ".join(r["name"] for r in manifest["requirements"] if not r["pure"]) or "none"
    built_with = manifest["built_with"]
    tools = ", ".join(f"{k} {Path(v).name.split('-')[1]}" for k, v in manifest["tools"].items())
    print(
        f"built {show(tarball)} ({tarball.stat().st_size / 1e6:.1f} MB): {len(manifest['requirements'])} "
        f"dependency wheels for Python {built_with['python']} on {built_with['platform']} "
        f"(compiled: {compiled}; their sources too), {tools}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
