"""The shipped voice prompts: where they are and how they get into Asterisk's sounds folder."""

from __future__ import annotations

import shutil
from pathlib import Path

SOUNDS = Path(__file__).resolve().parent / "sounds"


def shipped() -> list[Path]:
    return sorted(SOUNDS.glob("*/qcb-*.wav"))


def install_sounds(folder: Path) -> list[Path]:
    """Copy every ``<lang>/qcb-*.wav`` into ``folder/<lang>/``; returns the files written."""
    written = []
    for source in shipped():
        target = folder / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    return written
