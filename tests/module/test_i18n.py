"""Translations: the .pot covers the PHP strings, Russian translates them all, the .mo matches the .po."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .tools import MODULE_DIR

I18N = MODULE_DIR / "i18n"
PO = I18N / "ru_RU" / "LC_MESSAGES" / "queuecallback.po"
needs_gettext = pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext is not installed")


def msgids(path: Path) -> set[str]:
    done = subprocess.run(
        ["msgcat", "--no-wrap", "--sort-output", str(path)], capture_output=True, text=True, check=True
    )
    return {
        line[7:-1] for line in done.stdout.splitlines() if line.startswith('msgid "') and line != 'msgid ""'
    }


@needs_gettext
def test_pot_is_current(tmp_path: Path) -> None:
    # every PHP file of the module: the BMO class, the page, Backup/Restore/Job, lib/ and the views
    sources = (
        sorted(MODULE_DIR.glob("*.php"))
        + sorted((MODULE_DIR / "lib").glob("*.php"))
        + sorted((MODULE_DIR / "views").glob("*.php"))
    )
    fresh = tmp_path / "fresh.pot"
    subprocess.run(
        [
            "xgettext",
            "--language=PHP",
            "--from-code=UTF-8",
            "--keyword=_",
            "--keyword=t",
            "-o",
            str(fresh),
            *map(str, sources),
        ],
        check=True,
        cwd=MODULE_DIR,
    )
    assert msgids(fresh) == msgids(I18N / "queuecallback.pot"), (
        "run xgettext again (see module_xml/README.md)"
    )


@needs_gettext
def test_russian_is_complete_and_compiled(tmp_path: Path) -> None:
    stats = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", str(tmp_path / "ru.mo"), str(PO)],
        capture_output=True,
        text=True,
    )
    assert stats.returncode == 0, stats.stderr
    assert "untranslated" not in stats.stderr and "fuzzy" not in stats.stderr, stats.stderr
    assert msgids(PO) == msgids(I18N / "queuecallback.pot")
    assert (tmp_path / "ru.mo").read_bytes() == PO.with_suffix(".mo").read_bytes(), (
        "recompile the .mo with msgfmt"
    )
