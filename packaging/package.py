#!/usr/bin/env python3
"""Build the FreePBX module tarball and the Python wheel.

    python packaging/package.py [--dist DIR] [--no-wheel]

dist/queuecallback-<version>.tgz holds one top folder `queuecallback/` laid out as FreePBX expects
(admin/modules/<rawname>): module.xml, the BMO class and page, views/, lib/, assets/, i18n/ (with compiled
.mo files), agi-bin/ (the repository's agi-bin/) and sounds/ (freepbx_callback/sounds/).
`fwconsole reload` copies agi-bin/ into ASTAGIDIR and links sounds/<lang>/ into the Asterisk sounds folder.
The Python wheel (`pip wheel --no-deps .`) goes beside it; packaging/install.sh installs both.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE_SRC = REPO / "module_xml"
MODULE_FOLDER = "queuecallback"  # the FreePBX rawname; module.xml's <rawname> must say the same

# What goes into the module folder, relative to module_xml/ (sources) or the repository (agi-bin, sounds).
MODULE_PATTERNS = ("module.xml", "*.php", "views/*.php", "lib/*.php", "assets/**/*", "i18n/**/*")
EXECUTABLE = 0o755
FILE = 0o644


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
        if path.is_file() and path.suffix in (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".g722"):
            files[f"sounds/{path.relative_to(REPO / 'freepbx_callback' / 'sounds').as_posix()}"] = (
                path,
                FILE,
            )
    return [(src, f"{MODULE_FOLDER}/{name}", mode) for name, (src, mode) in sorted(files.items())]


def build_tarball(dist: Path, version: str) -> Path:
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


def build_wheel(dist: Path) -> Path:
    had_build = (REPO / "build").exists()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO), "-w", str(dist)],
        check=True,
    )
    if not had_build:
        shutil.rmtree(REPO / "build", ignore_errors=True)  # setuptools' scratch folder from this run
    wheels = sorted(dist.glob("freepbx_callback-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise SystemExit("error: pip wheel produced no freepbx_callback wheel")
    return wheels[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist")
    parser.add_argument("--no-wheel", action="store_true", help="build only the module tarball")
    args = parser.parse_args(argv)
    version = python_version()
    tarball = build_tarball(args.dist, version)
    print(f"built {tarball.relative_to(REPO) if tarball.is_relative_to(REPO) else tarball}")
    if not args.no_wheel:
        wheel = build_wheel(args.dist)
        print(f"built {wheel.relative_to(REPO) if wheel.is_relative_to(REPO) else wheel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
