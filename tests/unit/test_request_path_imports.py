"""What the agi-bin request handler loads: a process starts per call, so nothing its path does not use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Modules the request path never uses: other entry points' (CLI, renderer, pyst2), the backup reader,
# randomness and statistics, typing (annotations only), zoneinfo (queues on UTC, the default), and
# dataclasses with what it loads (inspect, ast, dis: the path's records are freepbx_callback.records).
NOT_ON_THE_PATH = [
    "typing",
    "dataclasses",
    "inspect",
    "ast",
    "zoneinfo",
    "statistics",
    "secrets",
    "uuid",
    "random",
    "jinja2",
    "click",
    "asterisk",
    "freepbx_callback.backup",
    "freepbx_callback.agi.channel",
    "freepbx_callback.dialplan",
    "freepbx_callback.ami",
]


def loaded_by(code: str) -> list[str]:
    """The modules of NOT_ON_THE_PATH that a fresh interpreter (no site, as the pinned scripts run) has
    loaded after ``code``."""
    probe = (
        f"import sys; sys.path[:0] = [{str(ROOT)!r}, *{sys.path[1:]!r}]\n{code}\n"
        f"print(' '.join(m for m in {NOT_ON_THE_PATH!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_request_handler_loads_only_what_it_uses() -> None:
    assert loaded_by("import freepbx_callback.agi.run, freepbx_callback.agi.request") == []


def test_a_utc_schedule_needs_no_zoneinfo() -> None:
    code = "from freepbx_callback import hours; s = hours.schedule(['mon-fri 09:00-17:00'], 'UTC'); s.zone"
    assert loaded_by(code) == []
    moscow = "from freepbx_callback import hours; hours.schedule([], 'Europe/Moscow')"
    assert loaded_by(moscow) == ["zoneinfo"]


SAMPLE = [
    ("2125550123", "US"),
    ("+442079460018", "US"),
    ("911", "US"),
    ("112", "RU"),
    ("+79161234567", "RU"),
    ("88005553535", "RU"),
    ("19005550123", "US"),
    ("+8816", "US"),
    ("+881612345678", "US"),
    ("011442079460018", "US"),
    ("+44999", "GB"),
    ("0900123456", "DE"),
]
CLASSIFY = (
    "from freepbx_callback import numbers\n"
    f"for raw, region in {SAMPLE!r}:\n"
    "    n = numbers.parse(raw, region)\n"
    "    print(raw, region, n.e164, n.kind.value, n.international)\n"
    "mods = sorted(m for m in sys.modules if m.startswith('phonenumbers.'))\n"
    "alt = [m for m in mods if m.startswith('phonenumbers.data.alt_format_')]\n"
    "print('ALT', len(alt), sum(getattr(sys.modules[m], '__file__', None) is not None for m in alt))\n"
    "print('LOADED', ' '.join(m for m in mods if not m.startswith('phonenumbers.data.')))\n"
)


LEAN = "from freepbx_callback.agi.lean import skip_phonenumbers_init\nskip_phonenumbers_init()"


def _run(code: str) -> list[str]:
    probe = f"import sys; sys.path[:0] = [{str(ROOT)!r}, *{sys.path[1:]!r}]\n{code}"
    done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_lean_phonenumbers_classifies_as_the_whole_package() -> None:
    whole = _run("import phonenumbers\n" + CLASSIFY)
    lean = _run(f"{LEAN}\n{CLASSIFY}")
    assert lean[: len(SAMPLE)] == whole[: len(SAMPLE)]
    kinds = {line.split()[3] for line in whole[: len(SAMPLE)]}
    assert {"national", "international", "emergency", "premium"} <= kinds, kinds
    # the whole package loads the 46 alternate formats from their files; the lean one has them empty
    [alt_whole] = [line for line in whole if line.startswith("ALT ")]
    [alt_lean] = [line for line in lean if line.startswith("ALT ")]
    count = int(alt_whole.split()[1])
    assert count > 40 and alt_whole == f"ALT {count} {count}"
    assert alt_lean == f"ALT {count} 0"
    [loaded] = [line.split()[1:] for line in lean if line.startswith("LOADED")]
    assert "phonenumbers.phonenumberutil" in loaded
    assert not {"phonenumbers.phonenumbermatcher", "phonenumbers.asyoutypeformatter"} & set(loaded), loaded
