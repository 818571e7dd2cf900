"""The shipped voice prompts: where they are and how they get into Asterisk's sounds folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

SOUNDS = Path(__file__).resolve().parent / "sounds"
# The FreePBX module's lib/Runtime.php builds the venv from the module's wheels/ and leaves this file in it,
# naming that folder. The module tarball carries the prompts once, in the module's sounds/ (beside
# wheels/), so the wheel inside it has none; the wheel for `pip install` has them in SOUNDS.
RUNTIME_MARKER = "freepbx-callback-runtime.json"
ASTERISK_CONF = Path("/etc/asterisk/asterisk.conf")
# Debian's Asterisk: astdatadir => /usr/share/asterisk (its /var/lib/asterisk/sounds holds only custom/).
DEBIAN_SOUNDS = Path("/usr/share/asterisk/sounds")
_ASTDATADIR = re.compile(r"^\s*astdatadir\s*=>?\s*(\S+)", re.M)


class SoundsError(Exception):
    """The prompts cannot be installed; the message is one line naming the path."""


def module_sounds(prefix: Path | None = None) -> Path | None:
    """``sounds/`` of the FreePBX module whose wheels/ built the venv at ``prefix`` (this one), if any."""
    marker = Path(prefix or sys.prefix) / RUNTIME_MARKER
    try:
        wheels = json.loads(marker.read_text())["wheels"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Path(wheels).parent / "sounds" if isinstance(wheels, str) and wheels else None


def sounds_dir() -> Path:
    """Where the prompts are: this package's sounds/, else the FreePBX module's that built this venv."""
    if any(SOUNDS.glob("*/qcb-*.wav")):
        return SOUNDS
    module = module_sounds()
    return module if module is not None and module.is_dir() else SOUNDS


def shipped() -> list[Path]:
    return sorted(sounds_dir().glob("*/qcb-*.wav"))


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
    sources = shipped()
    if not sources:
        raise SoundsError(f"no prompts to install: {sounds_dir()} holds no <lang>/qcb-*.wav")
    for source in sources:
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
