"""Build (once) and cache a Debian sid root that holds a real Asterisk, SIPp and python3.

Debian bookworm ships no asterisk package; sid does (22.x). The root is built with debootstrap into a
temporary sibling folder, configured, then renamed into place atomically, under an flock so concurrent
builders never collide. Nothing stays mounted after a build, whether it succeeded or failed.

CLI::

    python3 -m tests.testbed.asterisk_root build   # build if missing, print the path
    python3 -m tests.testbed.asterisk_root path    # print the path (built or not)
    python3 -m tests.testbed.asterisk_root clean   # remove the cached root
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

# Bump whenever the recipe below changes: a new version builds a new root beside the old one.
RECIPE_VERSION = 1

SUITE = "sid"
PACKAGES = [
    "asterisk",
    "asterisk-modules",
    "asterisk-config",
    "asterisk-core-sounds-en",
    "sip-tester",
    "python3",
    "python3-mysqldb",
    "python3-phonenumbers",
    "python3-jinja2",
    "python3-click",
]
# Installed when the suite has them (checked with apt-cache inside the root at build time).
OPTIONAL_PACKAGES = ["asterisk-core-sounds-ru"]

READY_MARKER = ".qcb-asterisk-root-ready"
CACHE_ENV = "QCB_ASTERISK_ROOT_CACHE"
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
    "HOME": "/root",
}


class AsteriskRootUnavailable(RuntimeError):
    """The root cannot be built on this machine (not root, no debootstrap...); tests skip with this."""


class AsteriskRootBuildError(RuntimeError):
    """A build step failed; the message holds the command and the tail of its output."""


def cache_parent() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "freepbx-callback"


def root_path() -> Path:
    return cache_parent() / f"asterisk-root-{RECIPE_VERSION}"


def is_ready(path: Path | None = None) -> bool:
    return ((path or root_path()) / READY_MARKER).is_file()


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def check_prerequisites() -> None:
    """Raise AsteriskRootUnavailable with the reason when this machine cannot build or run the root."""
    if not sys.platform.startswith("linux"):
        raise AsteriskRootUnavailable(f"the Asterisk test bed needs Linux, this is {sys.platform}")
    if os.geteuid() != 0:
        raise AsteriskRootUnavailable("the Asterisk test bed needs root (debootstrap, chroot and mount)")
    for tool in ("chroot", "mount", "umount"):
        if _which(tool) is None:
            raise AsteriskRootUnavailable(f"the Asterisk test bed needs `{tool}` on PATH")
    if not is_ready() and _which("debootstrap") is None:
        raise AsteriskRootUnavailable(
            "the Asterisk test bed needs debootstrap to build its Debian sid root "
            "(apt-get install debootstrap)"
        )


# --------------------------------------------------------------------------------------------- mounts


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path`` (deepest first), read from /proc/self/mountinfo."""
    prefix = str(Path(os.path.realpath(path)))
    found: list[Path] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def mount(args: Sequence[str]) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise AsteriskRootBuildError(f"mount {' '.join(args)} failed: {result.stderr.strip()}")


def umount(point: Path) -> None:
    """Unmount ``point``; fall back to a lazy unmount when it is busy."""
    result = subprocess.run(["umount", str(point)], capture_output=True, text=True)
    if result.returncode != 0 and point in mounts_under(point):
        subprocess.run(["umount", "-l", str(point)], capture_output=True, text=True)


def umount_all(path: Path) -> None:
    """Unmount everything at or below ``path``; raise if something is still mounted afterwards."""
    for _ in range(3):
        points = mounts_under(path)
        if not points:
            return
        for point in points:
            umount(point)
    left = mounts_under(path)
    if left:
        raise AsteriskRootBuildError(f"still mounted after cleanup: {', '.join(map(str, left))}")


@contextlib.contextmanager
def chroot_mounts(root: Path) -> Iterator[None]:
    """proc and a private devpts instance inside ``root`` while the block runs, unmounted after."""
    proc = root / "proc"
    pts = root / "dev" / "pts"
    proc.mkdir(parents=True, exist_ok=True)
    pts.mkdir(parents=True, exist_ok=True)
    try:
        mount(["-t", "proc", "proc", str(proc)])
        mount(["-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620", "devpts", str(pts)])
        yield
    finally:
        umount_all(pts)
        umount_all(proc)


def safe_rmtree(path: Path) -> None:
    """Remove a root folder, but never walk into something still mounted (e.g. the host's /proc)."""
    if not path.exists():
        return
    umount_all(path)
    shutil.rmtree(path)


# ---------------------------------------------------------------------------------------------- build


def _run(
    cmd: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise AsteriskRootBuildError(f"`{' '.join(cmd)}` exited {result.returncode}; log {log}:\n{tail}")
    return result


def in_chroot(root: Path, cmd: Sequence[str]) -> list[str]:
    return [_which("chroot") or "chroot", str(root), *cmd]


def _configure(root: Path) -> None:
    apt_conf = root / "etc" / "apt" / "apt.conf.d"
    apt_conf.mkdir(parents=True, exist_ok=True)
    (apt_conf / "99qcb-testbed").write_text(
        'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\nAcquire::Retries "3";\n'
    )
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\n# test bed root: never start services from package scripts\nexit 101\n")
    policy.chmod(0o755)


def _package_exists(root: Path, name: str) -> bool:
    cmd = in_chroot(root, ["apt-cache", "show", "--no-all-versions", name])
    result = subprocess.run(cmd, capture_output=True, text=True, env=CHROOT_ENV)
    return result.returncode == 0 and f"Package: {name}" in result.stdout


def _build_into(tmp: Path, log: Path) -> None:
    debootstrap = _which("debootstrap")
    if debootstrap is None:
        raise AsteriskRootUnavailable("debootstrap is not installed")
    _run([debootstrap, "--variant=minbase", SUITE, str(tmp)], log)
    _configure(tmp)
    with chroot_mounts(tmp):
        _run(in_chroot(tmp, ["apt-get", "update"]), log, env=CHROOT_ENV)
        extra = [name for name in OPTIONAL_PACKAGES if _package_exists(tmp, name)]
        with log.open("a", encoding="utf-8") as out:
            out.write(f"\noptional packages present in {SUITE}: {extra or 'none'}\n")
        _run(
            in_chroot(tmp, ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES, *extra]),
            log,
            env=CHROOT_ENV,
        )
        _run(in_chroot(tmp, ["apt-get", "clean"]), log, env=CHROOT_ENV)
        # A package may have started a daemon despite policy-rc.d; nothing may keep the root busy.
        subprocess.run(["fuser", "-k", "-M", str(tmp)], capture_output=True)
    (tmp / READY_MARKER).write_text(
        f"recipe {RECIPE_VERSION}\nsuite {SUITE}\npackages {' '.join(PACKAGES + extra)}\n"
        f"built {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n"
    )


@contextlib.contextmanager
def _lock(parent: Path) -> Iterator[None]:
    lock_file = parent / f"asterisk-root-{RECIPE_VERSION}.lock"
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_root(verbose: bool = False) -> Path:
    """Return the cached root, building it first when it is missing. Safe to call concurrently."""
    check_prerequisites()
    final = root_path()
    if is_ready(final):
        return final
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    with _lock(parent):
        if is_ready(final):
            return final
        if final.exists():  # a half-finished folder from an older, interrupted recipe run
            safe_rmtree(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".asterisk-root-{RECIPE_VERSION}.build-", dir=parent))
        log = parent / f"asterisk-root-{RECIPE_VERSION}.build.log"
        log.write_text(f"building {final} in {tmp}\n")
        started = time.monotonic()
        if verbose:
            print(f"building Asterisk root in {tmp} (log: {log})", file=sys.stderr)
        try:
            _build_into(tmp, log)
            umount_all(tmp)
            tmp.chmod(0o755)
            os.rename(tmp, final)
        except BaseException:
            with contextlib.suppress(Exception):
                safe_rmtree(tmp)
            raise
        if verbose:
            print(f"built in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return final


def clean() -> Path:
    final = root_path()
    parent = final.parent
    if not parent.exists():
        return final
    with _lock(parent):
        safe_rmtree(final)
        for stale in parent.glob(f".asterisk-root-{RECIPE_VERSION}.build-*"):
            safe_rmtree(stale)
    return final


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "path"
    try:
        if command == "build":
            print(ensure_root(verbose=True))
        elif command == "path":
            print(root_path())
        elif command == "clean":
            print(clean())
        else:
            print("usage: python3 -m tests.testbed.asterisk_root build|path|clean", file=sys.stderr)
            return 2
    except AsteriskRootUnavailable as exc:
        print(f"unavailable: {exc}", file=sys.stderr)
        return 3
    except AsteriskRootBuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
