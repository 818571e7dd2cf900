"""packaging/: the module tarball, the Python runtime inside it (module_xml/lib/Runtime.php) and install.sh.

The runtime tests build real virtualenvs from real wheels in temporary folders: `php lib/Runtime.php ensure`
is exactly what the module's install() and packaging/install.sh run on a FreePBX host.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from freepbx_callback import __version__
from tests.testbed.pinned import pinned_python

from .tools import REPO, copy_sources

needs_msgfmt = pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext is not installed")
needs_php = pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is not installed")
TARBALL = f"queuecallback-{__version__}.tgz"
# PHP's default post_max_size: a bigger tarball cannot be uploaded in Module Admin on a stock php.ini.
POST_MAX_SIZE = 8 * 1024 * 1024
# The package stays this far below it, so that a few more prompts or a dependency update do not break uploads.
MARGIN = 512 * 1024


def build(dist: Path, *args: str, repo: Path = REPO) -> str:
    done = subprocess.run(
        [sys.executable, str(repo / "packaging" / "package.py"), "--dist", str(dist), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    return done.stdout


SOUNDS = (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".g722")
MODULE_SOUNDS = "queuecallback/sounds/"


def wheel_files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as whl:
        return {name: whl.read(name) for name in whl.namelist() if not name.endswith("/")}


def unpack(tgz: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as tar:
        tar.extractall(into, filter="tar")
    return into / "queuecallback"


def runtime(module: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`php <module>/lib/Runtime.php ensure ARGS` (the module's own copy, as on a FreePBX host)."""
    return subprocess.run(
        ["php", str(module / "lib" / "Runtime.php"), "ensure", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def python_of(venv: Path, code: str) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", code],  # -I: not the work tree's package in the cwd
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full package (tarball with wheels/) of this work tree; its dist folder."""
    if shutil.which("msgfmt") is None:
        pytest.skip("gettext is not installed")
    dist = tmp_path_factory.mktemp("dist")
    started = time.monotonic()
    out = build(dist)
    print(out.strip(), f"[{time.monotonic() - started:.1f} s]")
    return dist


@needs_msgfmt
def test_tarball_layout(tmp_path: Path) -> None:
    out = build(tmp_path, "--no-wheel")
    assert "no Python runtime" in out
    with tarfile.open(tmp_path / TARBALL) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert {name.split("/")[0] for name in members} == {"queuecallback"}
    for name in (
        "module.xml",
        "Queuecallback.class.php",
        "page.queuecallback.php",
        "lib/CliRunner.php",
        "lib/Runtime.php",
        "views/main.php",
        "views/form.php",
        "views/queues_tab.php",
        "assets/js/queuecallback.js",
        "i18n/queuecallback.pot",
        "i18n/ru_RU/LC_MESSAGES/queuecallback.mo",
    ):
        assert f"queuecallback/{name}" in members, name
    # every PHP file of the module, in any folder (lib/ included), or FreePBX fails on a missing require
    php = sorted(p.relative_to(REPO / "module_xml").as_posix() for p in (REPO / "module_xml").rglob("*.php"))
    assert "lib/Runtime.php" in php and "Backup.php" in php
    missing = [name for name in php if f"queuecallback/{name}" not in members]
    assert not missing, f"module_xml PHP files not in the tarball: {missing}"
    agis = [m for n, m in members.items() if n.startswith("queuecallback/agi-bin/")]
    assert agis and all(m.name.rsplit("/", 1)[1].startswith("qcb-") and m.mode & 0o111 for m in agis)
    assert {p.name for p in (REPO / "agi-bin").glob("qcb-*.agi")} == {m.name.rsplit("/", 1)[1] for m in agis}
    sounds = {n for n in members if n.startswith("queuecallback/sounds/") and members[n].isfile()}
    shipped = {
        f"queuecallback/sounds/{p.relative_to(REPO / 'freepbx_callback' / 'sounds').as_posix()}"
        for p in (REPO / "freepbx_callback" / "sounds").rglob("*")
        if p.is_file() and p.suffix in (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".g722")
    }
    assert sounds == shipped
    assert not any("__pycache__" in n or n.endswith(".py") for n in members)
    assert not any(n.startswith("queuecallback/wheels/") for n in members)  # --no-wheel: no runtime inside


def test_tarball_carries_the_python_runtime(package: Path) -> None:
    tgz = package / TARBALL
    with tarfile.open(tgz) as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        manifest = json.load(tar.extractfile("queuecallback/wheels/manifest.json"))  # type: ignore[arg-type]
        own = tar.extractfile(f"queuecallback/wheels/{manifest['wheel']['file']}").read()  # type: ignore[union-attr]
    wheels = {n.rsplit("/", 1)[1] for n in members if n.startswith("queuecallback/wheels/")}
    assert manifest["version"] == __version__
    assert manifest["wheel"]["file"] == f"freepbx_callback-{__version__}-py3-none-any.whl"
    assert hashlib.sha256(own).hexdigest() == manifest["wheel"]["sha256"]
    # the prompts travel once: in the module's sounds/ (FreePBX links them), not again inside our wheel
    inner = wheel_files(own)
    beside = wheel_files((package / manifest["wheel"]["file"]).read_bytes())
    prompts = {n for n in beside if n.startswith("freepbx_callback/sounds/") and Path(n).suffix in SOUNDS}
    in_module = {n.removeprefix(MODULE_SOUNDS) for n in members if n.startswith(MODULE_SOUNDS)}
    assert prompts == {f"freepbx_callback/sounds/{n}" for n in in_module}
    assert not [n for n in inner if Path(n).suffix in SOUNDS]
    # the wheel beside the tarball (pip install anywhere) is complete: the same code, plus the prompts
    assert set(beside) - set(inner) == prompts
    code = [n for n in inner if ".dist-info/" not in n]
    assert code and all(inner[n] == beside[n] for n in code)
    # every pinned dependency, at its pinned version, with a wheel; compiled ones also with their source
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.strip().partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    shipped = {req["name"]: req for req in manifest["requirements"]}
    for name, version in pins.items():
        assert name in shipped, name
        assert shipped[name]["version"] == version, name
    for req in manifest["requirements"]:
        assert req["wheel"] in wheels, req
        if not req["pure"]:
            assert req["sdist"] in wheels, req
    assert "mysqlclient" in [r["name"] for r in manifest["requirements"] if not r["pure"]]
    assert manifest["python_tags"] == [f"cp{sys.version_info[0]}{sys.version_info[1]}"]
    tools = (REPO / "packaging" / "runtime-tools.txt").read_text().split()
    for pin in (p for p in tools if "==" in p):
        name, _, version = pin.partition("==")
        assert manifest["tools"][name].startswith(f"{name}-{version}-"), pin
        assert manifest["tools"][name] in wheels
    assert all(members[f"queuecallback/wheels/{w}"].mode & 0o777 == 0o644 for w in wheels)
    size = tgz.stat().st_size
    print(f"{TARBALL}: {size / 1e6:.2f} MB, wheels/ {len(wheels)} files")
    assert size < POST_MAX_SIZE, f"{TARBALL} is {size} bytes: Module Admin uploads stop at 8 MiB by default"
    assert size <= POST_MAX_SIZE - MARGIN, f"{TARBALL} is {size} bytes: less than {MARGIN} bytes to spare"


@needs_php
def test_runtime_builds_the_venv_offline(package: Path, tmp_path: Path) -> None:
    module = unpack(package / TARBALL, tmp_path / "modules")
    prefix, varlib = tmp_path / "opt", tmp_path / "varlib"
    env = dict(os.environ, PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_FIND_LINKS="/nonexistent")
    started = time.monotonic()
    done = runtime(module, "--prefix", str(prefix), "--varlib", str(varlib), env=env)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    print(f"venv built in {took:.1f} s:\n{done.stderr}")
    cli = Path(done.stdout.strip())
    assert cli == varlib / "freepbx-callback" / "current" / "bin" / "freepbx-callback"
    assert (varlib / "freepbx-callback" / "current").resolve() == (prefix / "venv").resolve()
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and __version__ in version.stdout
    venv = prefix / "venv"
    assert "MySQLdb" in python_of(venv, "import MySQLdb; print(MySQLdb.__name__)")
    # the request path's bytecode is compiled at install (Asterisk's user cannot write __pycache__ there)
    code = "import sys; sys.dont_write_bytecode = True; import freepbx_callback.agi.{0} as m;"
    code += " print(m.__cached__)"
    for name in ("run", "request", "protocol"):
        assert Path(python_of(venv, code.format(name))).is_file(), name
    marker = json.loads((venv / "freepbx-callback-runtime.json").read_text())
    assert marker["version"] == __version__
    # the module's agi-bin scripts (fwconsole reload copies them into ASTAGIDIR) start the runtime's python
    # alone, without site (-S: the script puts the runtime's site-packages on its path itself): one
    # interpreter (one import of the handler under PYTHONPROFILEIMPORTTIME, no `site`), which has the package
    for name in ("qcb-request.agi", "qcb-outcome.agi"):
        script = module / "agi-bin" / name
        assert pinned_python(script) == str(cli.parent / "python"), name
        assert os.access(script, os.X_OK)
        started = subprocess.run(  # no AGI conversation: the end of input is a hang-up, a quiet end
            [str(script), "400"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "PYTHONPROFILEIMPORTTIME": "1"},
            cwd="/",
        )
        assert started.returncode == 0, started.stderr[-2000:]
        assert not any(line.endswith("| site") for line in started.stderr.splitlines()), started.stderr
        handler = [ln for ln in started.stderr.splitlines() if ln.endswith("| freepbx_callback.agi.run")]
        assert len(handler) == 1 and "Traceback" not in started.stderr, started.stderr
    # pip came from the shipped wheel (no ensurepip) and was isolated from this machine's pip settings
    assert "installing pip" in done.stderr
    assert re.search(r"installing \d+ dependencies", done.stderr)
    # a second run finds it current and builds nothing
    again = runtime(module, "--prefix", str(prefix), "--varlib", str(varlib))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(cli)
    assert "up to date" in again.stderr and "installing" not in again.stderr
    # what CliRunner::locate should find
    located = subprocess.run(
        [
            "php",
            str(module / "lib" / "Runtime.php"),
            "locate",
            "--varlib",
            str(varlib),
            "--prefix",
            str(prefix),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert located.returncode == 0 and located.stdout.strip() == str(cli)


@needs_php
def test_sounds_install_of_the_runtime_finds_the_modules_prompts(package: Path, tmp_path: Path) -> None:
    """The venv built from the tarball has no prompts of its own (they ship once, in the module's sounds/):
    its `freepbx-callback sounds install` takes them from the module that built it."""
    module = unpack(package / TARBALL, tmp_path / "modules")
    venv = tmp_path / "venv"
    done = runtime(module, "--venv", str(venv), "--varlib", str(tmp_path / "varlib"))
    assert done.returncode == 0, done.stderr
    packaged = python_of(venv, "import freepbx_callback.prompts as p; print(p.SOUNDS)")
    assert not [p for p in Path(packaged).rglob("*") if p.suffix in SOUNDS]
    installed, shipped = _install_sounds_like_the_module(venv, module, tmp_path / "sounds")
    assert f"installed {len(shipped)} prompt file(s)" in installed


def test_the_wheel_beside_the_tarball_installs_its_own_prompts(package: Path, tmp_path: Path) -> None:
    """`pip install` of the wheel beside the tarball (plain Asterisk): complete, its `sounds install` works
    with no FreePBX module around. Its dependencies come from the tarball's wheels/, offline."""
    module = unpack(package / TARBALL, tmp_path / "modules")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    [wheel] = package.glob("freepbx_callback-*.whl")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index"]
    done = subprocess.run(
        [*pip, "--find-links", str(module / "wheels"), str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _install_sounds_like_the_module(venv, module, tmp_path / "sounds")


@needs_php
def test_runtime_falls_back_to_astvarlibdir_when_the_prefix_is_out_of_reach(
    package: Path, tmp_path: Path
) -> None:
    """Module Admin runs as the web user, who cannot write /opt: the venv goes under ASTVARLIBDIR."""
    module = unpack(package / TARBALL, tmp_path / "modules")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    varlib = tmp_path / "varlib"
    done = runtime(module, "--prefix", str(blocker / "opt"), "--varlib", str(varlib))
    assert done.returncode == 0, done.stderr
    assert f"cannot write {blocker}/opt/venv" in done.stderr
    assert (varlib / "freepbx-callback" / "current").resolve() == (
        varlib / "freepbx-callback" / "venv"
    ).resolve()
    assert Path(done.stdout.strip()) == varlib / "freepbx-callback" / "current" / "bin" / "freepbx-callback"


@needs_php
def test_runtime_for_module_takes_freepbx_settings(tmp_path: Path) -> None:
    script = (
        f"require {json.dumps(str(REPO / 'module_xml' / 'lib' / 'Runtime.php'))};"
        "class Cfg { public function get($k) { return array('ASTVARLIBDIR' => '/srv/ast',"
        " 'AMPASTERISKWEBUSER' => 'pbx', 'AMPASTERISKWEBGROUP' => 'pbxg')[$k] ?? null; } }"
        "$fp = new stdClass; $fp->Config = new Cfg;"
        "$r = FreePBX\\modules\\Queuecallback\\Runtime::forModule('/m/queuecallback', $fp);"
        "echo json_encode(array($r->wheelDir(), $r->venvCandidates(),"
        " FreePBX\\modules\\Queuecallback\\Runtime::cliCandidates('/srv/ast')));"
    )
    done = subprocess.run(["php", "-r", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    wheels, venvs, clis = json.loads(done.stdout)
    assert wheels == "/m/queuecallback/wheels"
    assert venvs == ["/opt/freepbx-callback/venv", "/srv/ast/freepbx-callback/venv"]
    assert clis == [
        "/srv/ast/freepbx-callback/current/bin/freepbx-callback",
        "/opt/freepbx-callback/venv/bin/freepbx-callback",
        "/srv/ast/freepbx-callback/venv/bin/freepbx-callback",
    ]


@needs_php
def test_runtime_needs_no_ensurepip(package: Path, tmp_path: Path) -> None:
    """python3 without python3-venv (Debian: no ensurepip) still gets its venv: pip comes from wheels/.

    The interpreter here behaves as Debian's without python3-venv: `-m venv` fails unless --without-pip,
    `-m ensurepip` fails. (Checked for real on Debian 12 with python3.11-venv removed.)
    """
    module = unpack(package / TARBALL, tmp_path / "modules")
    real = Path(sys.executable).resolve()
    wrapper = tmp_path / "python3"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" -m ensurepip "*) echo "No module named ensurepip" >&2; exit 1;; esac\n'
        'case " $* " in *" -m venv "*) case " $* " in *" --without-pip "*) ;; *)\n'
        '  echo "The virtual environment was not created successfully because ensurepip is not available."'
        " >&2; exit 1;; esac;; esac\n"
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    plain = subprocess.run(
        [str(wrapper), "-m", "venv", str(tmp_path / "plain")], capture_output=True, text=True
    )
    assert plain.returncode != 0 and "ensurepip" in plain.stderr
    done = runtime(module, "--venv", str(tmp_path / "venv"), "--varlib", str(tmp_path / "varlib"),
                   "--python", str(wrapper))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--without-pip" in (tmp_path / "venv" / "pyvenv.cfg").read_text()
    assert python_of(tmp_path / "venv", "import pip, freepbx_callback; print('ok')") == "ok"


def doctored_wheelhouse(package: Path, tmp_path: Path) -> Path:
    """The package's module whose mysqlclient wheel fits no Python (as for a host with another Python)."""
    module = unpack(package / TARBALL, tmp_path / "modules")
    wheels = module / "wheels"
    manifest = json.loads((wheels / "manifest.json").read_text())
    for req in manifest["requirements"]:
        if req["name"] == "mysqlclient":
            old = wheels / req["wheel"]
            new = old.name.replace(manifest["python_tags"][0], "cp399")
            old.rename(wheels / new)
            req["wheel"] = new
    manifest["python_tags"] = ["cp399"]
    (wheels / "manifest.json").write_text(json.dumps(manifest))
    return module


@needs_php
def test_runtime_names_the_debian_packages_it_misses(package: Path, tmp_path: Path) -> None:
    module = doctored_wheelhouse(package, tmp_path)
    bare = tmp_path / "bin"  # a PATH with python and nothing else: no compiler, no pkg-config
    bare.mkdir()
    (bare / "python3").symlink_to(Path(sys.executable).resolve())
    done = runtime(module, "--venv", str(tmp_path / "venv"), "--varlib", str(tmp_path / "varlib"),
                   "--path", str(bare))  # fmt: skip
    assert done.returncode == 3, done.stderr
    packages = done.stdout.split()
    assert {"gcc", "pkg-config"} <= set(packages), done.stdout
    assert "Run as root: apt-get install -y " + " ".join(packages) in done.stderr
    assert "mysqlclient" in done.stderr


@needs_php
@pytest.mark.skipif(
    shutil.which("gcc") is None or shutil.which("pkg-config") is None, reason="no compiler here"
)
def test_runtime_compiles_what_has_no_wheel(package: Path, tmp_path: Path) -> None:
    """Another Python than the package's: mysqlclient is built from the shipped source, still offline."""
    module = doctored_wheelhouse(package, tmp_path)
    done = runtime(module, "--venv", str(tmp_path / "venv"), "--varlib", str(tmp_path / "varlib"))
    assert done.returncode == 0, done.stderr
    assert "building mysqlclient from source" in done.stderr
    assert python_of(tmp_path / "venv", "import MySQLdb; print('ok')") == "ok"


@needs_php
@pytest.mark.skipif(os.geteuid() != 0, reason="packaging/install.sh runs as root")
def test_install_sh_installs_only_queuecallback_and_replaces_code_of_the_same_version(
    package: Path, tmp_path: Path
) -> None:
    web, varlib, prefix, bindir = (tmp_path / d for d in ("web", "varlib", "opt", "bin"))
    (web / "admin" / "modules").mkdir(parents=True)
    fake = tmp_path / "fake"  # fwconsole that records what it is asked to do
    fake.mkdir()
    calls = tmp_path / "fwconsole.calls"
    (fake / "fwconsole").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    (fake / "fwconsole").chmod(0o755)
    env = dict(
        os.environ,
        PATH=f"{fake}:{os.environ['PATH']}",
        AMPWEBROOT=str(web),
        ASTVARLIBDIR=str(varlib),
        AMPASTERISKWEBUSER="qcb-no-such-user",
        QCB_PREFIX=str(prefix),
        QCB_BINDIR=str(bindir),
        QCB_NO_APT="1",
        QCB_NO_SERVICE="1",  # never a real systemd unit on the test machine
        QCB_DSN="mysql://nobody:x@127.0.0.1:9/none",
    )

    def install(dist: Path) -> None:
        done = subprocess.run(
            ["sh", str(REPO / "packaging" / "install.sh"), str(dist)],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    install(package)
    # then reload, and fwconsole chown: what root's fwconsole left root-owned would stop the GUI (web user)
    assert calls.read_text().splitlines() == ["ma install queuecallback", "reload", "chown"]
    assert (web / "admin" / "modules" / "queuecallback" / "wheels" / "manifest.json").is_file()
    cli = bindir / "freepbx-callback"
    assert os.readlink(cli) == str(varlib / "freepbx-callback" / "current" / "bin" / "freepbx-callback")
    venv = prefix / "venv"
    assert python_of(venv, "import freepbx_callback as f; print(getattr(f, 'QCB_REBUILD_MARK', '-'))") == "-"

    # Rebuild with a changed file at the SAME version, install again: the new code runs.
    second = copy_sources(tmp_path / "src")
    init = second / "freepbx_callback" / "__init__.py"
    init.write_text(init.read_text() + 'QCB_REBUILD_MARK = "second build"\n')
    dist2 = tmp_path / "dist2"
    build(dist2, repo=second)
    assert (dist2 / TARBALL).is_file()
    install(dist2)
    assert python_of(venv, "import freepbx_callback as f; print(f.__version__, f.QCB_REBUILD_MARK)") == (
        f"{__version__} second build"
    )
    assert "installlocal" not in calls.read_text()
    assert calls.read_text().splitlines() == ["ma install queuecallback", "reload", "chown"] * 2
    assert stat.S_IMODE((venv / "bin" / "freepbx-callback").stat().st_mode) & 0o111


def _install_sounds_like_the_module(venv: Path, module: Path, target: Path) -> tuple[str, list[Path]]:
    """`sounds install --dir target` of the venv's CLI installs exactly the module's prompts, byte for byte;
    returns its output and the prompts' relative paths."""
    installed = subprocess.run(
        [str(venv / "bin" / "freepbx-callback"), "sounds", "install", "--dir", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    shipped = sorted(p.relative_to(module / "sounds") for p in (module / "sounds").rglob("qcb-*.wav"))
    assert shipped and sorted(p.relative_to(target) for p in target.rglob("qcb-*.wav")) == shipped
    assert all((target / p).read_bytes() == (module / "sounds" / p).read_bytes() for p in shipped)
    return installed.stdout, shipped
