"""The FreePBX 17 test bed's cache: imported sources and the built roots.

FreePBX's code never enters this repository. A one-time import copies it from two git directories into
the cache (``~/.cache/freepbx-callback/freepbx-src``, override with ``QCB_FREEPBX_CACHE``)::

    python -m tests.testbed.freepbx import --pbx GITDIR_OF_Long-aa/PBX --fw GITDIR_OF_Qiwa-eng/freepbxmodded
    python -m tests.testbed.freepbx build      # build the roots now (else the first FreePBX test does)
    python -m tests.testbed.freepbx status | clean

``--pbx`` is a FreePBX 17.0.28 web root (commit eb1e410a), ``--fw`` the framework source (commit 9f4e8002)
for the installer library, fwconsole and the base Asterisk configuration. The roots are built once per
recipe (a hash of kit.sh and its files) with debootstrap, under an flock, in a private mount namespace,
then renamed into place; every test run starts from that clean build through an overlay.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT_FILES = ("kit.sh", "init.php", "fixture.php", "pjsip_custom_post.conf", "ports.env", "branding.sql")
CACHE_ENV = "QCB_FREEPBX_CACHE"
PBX_COMMIT = "eb1e410a"
FW_COMMIT = "9f4e8002"
FW_PATHS = ("installlib", "amp_conf/bin", "amp_conf/astetc", "amp_conf/agi-bin", "upgrades")
READY = ".qcb-freepbx-ready"
IMPORT_HINT = (
    "import them once with `python -m tests.testbed.freepbx import --pbx <git dir of Long-aa/PBX> "
    "--fw <git dir of Qiwa-eng/freepbxmodded>` (see tests/freepbx/README.md)"
)


class KitUnavailable(RuntimeError):
    """The FreePBX bed cannot run here (no sources, not root...); FreePBX tests skip with this reason."""


class KitBuildError(RuntimeError):
    pass


def kit_command(verb: str, *paths: Path) -> list[str]:
    """``kit.sh VERB PATH...`` in a private mount namespace of its own (its mounts never reach the host)."""
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "bash",
        str(HERE / "kit.sh"),
        verb,
        *map(str, paths),
    ]


def cache_parent() -> Path:
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser() if override else Path.home() / ".cache" / "freepbx-callback"


def sources_dir() -> Path:
    return cache_parent() / "freepbx-src"


def recipe() -> str:
    digest = hashlib.sha256()
    for name in KIT_FILES:
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes())
    return digest.hexdigest()[:12]


def kit_path() -> Path:
    return cache_parent() / f"freepbx-root-{recipe()}"


def ports() -> dict[str, int]:
    out = {}
    for line in (HERE / "ports.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = int(value)
    return out


def sources_ready() -> bool:
    src = sources_dir()
    return all((src / name).is_file() for name in ("pbx.tar", "fw.tar", "SOURCES.json"))


def check_prerequisites() -> None:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise KitUnavailable(
            "the FreePBX test bed needs root on Linux (debootstrap, chroot, mount namespaces)"
        )
    if not sources_ready():
        raise KitUnavailable(f"the FreePBX sources are not imported into {sources_dir()}: {IMPORT_HINT}")
    for tool in ("unshare", "nsenter", "chroot", "mount"):
        if shutil.which(tool) is None:
            raise KitUnavailable(f"the FreePBX test bed needs `{tool}`")
    if not (kit_path() / READY).exists() and shutil.which("debootstrap") is None:
        raise KitUnavailable(
            "the FreePBX test bed needs debootstrap to build its roots (apt-get install debootstrap)"
        )


# ------------------------------------------------------------------------------------------- import


def _git(gitdir: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "--git-dir", str(gitdir), *args], capture_output=True, text=True, check=True, **kwargs
    )  # type: ignore[call-overload]


def import_sources(pbx: Path, fw: Path, pbx_commit: str = PBX_COMMIT, fw_commit: str = FW_COMMIT) -> Path:
    """Copy the two FreePBX trees out of their git directories into the cache as tar files."""
    for label, gitdir, commit in (("--pbx", pbx, pbx_commit), ("--fw", fw, fw_commit)):
        try:
            _git(gitdir, "cat-file", "-e", f"{commit}^{{commit}}")
        except (subprocess.CalledProcessError, FileNotFoundError):
            raise SystemExit(
                f"error: {label} {gitdir}: not a git directory holding commit {commit}"
            ) from None
    dest = sources_dir()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        tree = Path(tmp) / "pbx"
        tree.mkdir()
        # Some blobs of that repository are missing: check out through a private index without them.
        listing = _git(pbx, "ls-tree", "-r", "-l", pbx_commit).stdout.splitlines()
        missing = [line.split("\t", 1)[1] for line in listing if line.split()[3:4] == ["BAD"]]
        env = dict(os.environ, GIT_DIR=str(pbx), GIT_WORK_TREE=str(tree), GIT_INDEX_FILE=f"{tmp}/index")
        subprocess.run(["git", "read-tree", pbx_commit], env=env, check=True)
        if missing:
            subprocess.run(
                ["git", "update-index", "--force-remove", "--stdin"],
                env=env,
                check=True,
                input="\n".join(missing),
                text=True,
            )
        subprocess.run(["git", "checkout-index", "-a", "-f"], env=env, check=True)
        subprocess.run(["tar", "-C", str(tree), "-cf", f"{tmp}/pbx.tar", "."], check=True)
        with open(f"{tmp}/fw.tar", "wb") as out:
            subprocess.run(
                ["git", "--git-dir", str(fw), "archive", "--format=tar", fw_commit, "--", *FW_PATHS],
                stdout=out,
                check=True,
            )
        os.replace(f"{tmp}/pbx.tar", dest / "pbx.tar")
        os.replace(f"{tmp}/fw.tar", dest / "fw.tar")
    info = {
        "pbx": {"commit": pbx_commit, "missing_blobs": len(missing)},
        "fw": {"commit": fw_commit},
        "imported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (dest / "SOURCES.json").write_text(json.dumps(info, indent=2) + "\n")
    return dest


# -------------------------------------------------------------------------------------------- build


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    cache_parent().mkdir(parents=True, exist_ok=True)
    with open(cache_parent() / ".freepbx-build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_kit(verbose: bool = False) -> Path:
    """The built roots for the current recipe, built now when missing (minutes; cached afterwards)."""
    check_prerequisites()
    final = kit_path()
    if (final / READY).exists():
        return final
    with _lock():
        if (final / READY).exists():
            return final
        building = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
        started = time.monotonic()
        log = building / "build.log"
        try:
            with log.open("w") as out:
                done = subprocess.run(
                    kit_command("build", building, sources_dir()),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=3600,
                )
            _kill_rooted_under(building)
            if done.returncode != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise KitBuildError(f"building the FreePBX bed failed ({done.returncode}); {log}:\n{tail}")
            seconds = time.monotonic() - started
            (building / READY).write_text(
                json.dumps({"recipe": recipe(), "build_seconds": round(seconds)}) + "\n"
            )
            os.rename(building, final)
            if verbose:
                print(f"FreePBX bed built in {seconds:.0f} s: {final}", file=sys.stderr)
        except BaseException:
            _kill_rooted_under(building)
            if not os.environ.get("QCB_KEEP_TESTBED"):
                if log.exists():
                    shutil.copy2(log, final.parent / "freepbx-build-failed.log")
                shutil.rmtree(building, ignore_errors=True)
            raise
        for old in final.parent.glob("freepbx-root-*"):
            if old != final and (old / READY).exists():
                shutil.rmtree(old, ignore_errors=True)
        return final


def _kill_rooted_under(path: Path) -> None:
    """Daemons a build left behind (MariaDB, Apache, gpg-agent...) chrooted under ``path``."""
    prefix = str(path)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "root").startswith(prefix):
                    os.kill(int(entry.name), 9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.testbed.freepbx",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="copy the FreePBX sources from two git directories into the cache")
    imp.add_argument(
        "--pbx", type=Path, required=True, help="git directory of Long-aa/PBX (FreePBX 17.0.28 web root)"
    )
    imp.add_argument("--fw", type=Path, required=True, help="git directory of Qiwa-eng/freepbxmodded")
    imp.add_argument("--pbx-commit", default=PBX_COMMIT)
    imp.add_argument("--fw-commit", default=FW_COMMIT)
    sub.add_parser("build", help="build the roots now")
    sub.add_parser("status", help="where the sources and roots are")
    sub.add_parser("clean", help="remove the built roots (the imported sources stay)")
    args = parser.parse_args(argv)
    if args.command == "import":
        print(f"imported into {import_sources(args.pbx, args.fw, args.pbx_commit, args.fw_commit)}")
    elif args.command == "build":
        try:
            print(ensure_kit(verbose=True))
        except KitUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.command == "status":
        print(f"sources: {sources_dir()} ({'imported' if sources_ready() else 'absent: ' + IMPORT_HINT})")
        print(f"roots:   {kit_path()} ({'built' if (kit_path() / READY).exists() else 'not built'})")
    else:
        for old in cache_parent().glob("freepbx-root-*"):
            shutil.rmtree(old, ignore_errors=True)
        for old in cache_parent().glob(".freepbx-root-*"):
            shutil.rmtree(old, ignore_errors=True)
    return 0
