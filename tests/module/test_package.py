"""packaging/package.py: the module tarball is laid out as FreePBX expects."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from freepbx_callback import __version__

from .tools import REPO


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext is not installed")
def test_tarball_layout(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "packaging" / "package.py"), "--dist", str(tmp_path), "--no-wheel"],
        check=True,
    )
    with tarfile.open(tmp_path / f"queuecallback-{__version__}.tgz") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert {name.split("/")[0] for name in members} == {"queuecallback"}
    for name in (
        "module.xml",
        "Queuecallback.class.php",
        "page.queuecallback.php",
        "lib/CliRunner.php",
        "views/main.php",
        "views/form.php",
        "views/queues_tab.php",
        "assets/js/queuecallback.js",
        "i18n/queuecallback.pot",
        "i18n/ru_RU/LC_MESSAGES/queuecallback.mo",
    ):
        assert f"queuecallback/{name}" in members, name
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
