"""The header the install puts before an agi-bin script (module_xml/lib/Runtime.php pinScripts)."""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(
    r"#!/bin/sh\n''''\[ -x '(?P<python>[^']+)' \] && exec '(?P=python)' -S \"\$0\" \"\$@\"; "
    r"exec /usr/bin/env python3 \"\$0\" \"\$@\" # '''\n"
)


def pinned_python(script: Path | str) -> str | None:
    """The python a pinned script starts (``None``: not pinned). ``script``: a path or the script's text."""
    text = script.read_text() if isinstance(script, Path) else script
    match = _HEADER.match(text)
    return match.group("python") if match else None
