"""Render the dialplan and the queue settings for the queues that offer a callback.

Everything that reaches the output from data is checked first: queue names, DIDs and recording names
are validated by the policy (a value that fails is refused, never escaped into shape), and the AGI
target is a path or an agi:// URL of a fixed form. No value can add a dialplan application or a config
line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from .. import __version__, policy
from ..models import QueueSettings

TARGETS = ("asterisk", "freepbx")
DEFAULT_AGI_DIR = "/var/lib/asterisk/agi-bin"
_AGI_DIR = re.compile(r"/[A-Za-z0-9_./-]*")
_AGI_URL = re.compile(r"agi://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?")
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("freepbx_callback.dialplan", "templates"),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
    autoescape=False,
)


class RenderError(ValueError):
    pass


DEFAULT_ASTERISK_VERSION = "22"
# Queue(queue,options,URL,announceoverride,timeout,AGI,macro,gosub,...) up to Asterisk 20; app_macro went
# away in 21 and the gosub moved to the 7th argument:
# Queue(queue,options,URL,announceoverride,timeout,AGI,gosub,...).
GOSUB_SLOT_MOVED_IN = 21
_VERSION = re.compile(
    r"\s*(?:Asterisk\s+)?(?:certified[/-])?(\d{1,3})(?:\.\d+)*(?:[-~+][A-Za-z0-9.~+-]*)?\s*", re.IGNORECASE
)


def asterisk_major(version: str) -> int:
    """``22.10.1``, ``Asterisk 20.5.0`` or ``certified/18.9-cert7`` → the major version."""
    match = _VERSION.fullmatch(version or "")
    if match is None:
        raise RenderError(f"--asterisk-version {version!r}: a version such as 22.10.1 or 'Asterisk 20.5.0'")
    return int(match.group(1))


def queue_app(major: int) -> str:
    """The callback's Queue() line with the whisper gosub in the slot this Asterisk reads it from."""
    gap = ",," if major >= GOSUB_SLOT_MOVED_IN else ",,,"
    return f"Queue(${{QCB_QUEUE}},,,,${{QCB_AGENT_TIMEOUT}}{gap}qcb-callback-whisper)"


@dataclass(frozen=True)
class Rendered:
    extensions: str
    queues_conf: str
    queue_settings: dict[str, dict[str, str]] = field(default_factory=dict)

    def write(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in (("extensions_qcb.conf", self.extensions), ("queues_qcb.conf", self.queues_conf)):
            path = folder / name
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
            written.append(path)
        return written


def agi_target(agi: str, route: str) -> str:
    """``/var/lib/asterisk/agi-bin`` → ``.../qcb-request.agi``; ``agi://127.0.0.1:4573`` → ``.../request``."""
    if _AGI_URL.fullmatch(agi):
        return f"{agi.rstrip('/')}/{route}"
    if _AGI_DIR.fullmatch(agi) and ".." not in agi:
        return f"{agi.rstrip('/')}/qcb-{route}.agi"
    raise RenderError(f"--agi {agi!r}: an agi-bin folder (/var/lib/asterisk/agi-bin) or agi://host:port")


def queue_settings(q: QueueSettings) -> dict[str, str]:
    """The queues.conf keys a callback queue needs (later keys win over the queue's own)."""
    return {
        "periodic-announce": q.prompt("offer"),
        "periodic-announce-frequency": str(q.offer_every),
        "context": f"qcb-exit-{q.queue}",
        "setinterfacevar": "yes",  # MEMBERINTERFACE on the caller side: which agent took a callback
    }


def render(
    queues: list[QueueSettings],
    target: str = "asterisk",
    agi: str = DEFAULT_AGI_DIR,
    asterisk_version: str = DEFAULT_ASTERISK_VERSION,
) -> Rendered:
    if target not in TARGETS:
        raise RenderError(f"target {target!r}: one of {', '.join(TARGETS)}")
    enabled = [policy.validate_settings(q) for q in sorted(queues, key=lambda q: q.queue) if q.enabled]
    settings = {q.queue: queue_settings(q) for q in enabled}
    context = {
        "version": __version__,
        "target": target,
        "queues": enabled,
        "settings": settings,
        "agi_request": agi_target(agi, "request"),
        "agi_outcome": agi_target(agi, "outcome"),
        "queue_app": queue_app(asterisk_major(asterisk_version)),
    }
    return Rendered(
        extensions=_ENV.get_template("extensions.conf.j2").render(context),
        queues_conf=_ENV.get_template("queues.conf.j2").render(context),
        queue_settings=settings,
    )
