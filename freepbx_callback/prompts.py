"""The shipped voice prompts: where they are and how they get into Asterisk's sounds folder."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

SOUNDS = Path(__file__).resolve().parent / "sounds"
ASTERISK_CONF = Path("/etc/asterisk/asterisk.conf")
# Debian's Asterisk: astdatadir => /usr/share/asterisk (its /var/lib/asterisk/sounds holds only custom/).
DEBIAN_SOUNDS = Path("/usr/share/asterisk/sounds")
_ASTDATADIR = re.compile(r"^\s*astdatadir\s*=>?\s*(\S+)", re.M)


class SoundsError(Exception):
    """The prompts cannot be installed; the message is one line naming the path."""


def shipped() -> list[Path]:
    return sorted(SOUNDS.glob("*/qcb-*.wav"))


def default_sounds_dir() -> Path:
    """``<astdatadir>/sounds`` of /etc/asterisk/asterisk.conf (FreePBX: /var/lib/asterisk), else Debian's."""
    try:
        match = _ASTDATADIR.search(ASTERISK_CONF.read_text(errors="replace"))
    except OSError:
        match = None
    return Path(match.group(1)) / "sounds" if match else DEBIAN_SOUNDS


def _check_not_dangling(path: Path) -> None:
    if path.is_symlink() and not path.exists():
        raise SoundsError(f"{path} is a link to {os.readlink(path)}, which does not exist")


def install_sounds(folder: Path) -> list[Path]:
    """Copy every ``<lang>/qcb-*.wav`` into ``folder/<lang>/``; returns the files written."""
    written = []
    _check_not_dangling(folder)
    for source in shipped():
        target = folder / source.parent.name / source.name
        _check_not_dangling(target.parent)
        _check_not_dangling(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        except OSError as exc:
            raise SoundsError(f"cannot write {exc.filename or target}: {exc.strerror or exc}") from None
        written.append(target)
    return written
