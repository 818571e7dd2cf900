"""Render the dialplan and the queue settings for the queues that offer a callback.

Everything that reaches the output from data is checked first: queue names, DIDs and recording names
are validated by the policy (a value that fails is refused, never escaped into shape), and the AGI
target is a path or an agi:// URL of a fixed form. No value can add a dialplan application or a config
line.

An agi:// target may have an agi-bin fallback: each FastAGI call is followed by the same call to the
script, taken only when the FastAGI server did not take the call (it marks the calls it takes with
``QCB_SERVED_BY``), so no handler runs twice and a stopped server loses no request and no outcome.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from .. import __version__, policy
from ..config import ASTERISK_FASTAGI_PORT, FASTAGI_PORT
from ..models import QueueSettings

TARGETS = ("asterisk", "freepbx")
ACCEPT_PROMPT = "qcb-agent-accept"  # "To accept the call, press 1." (agent acceptance)
DEFAULT_AGI_DIR = "/var/lib/asterisk/agi-bin"
_AGI_DIR = re.compile(r"/[A-Za-z0-9_./-]*")
_AGI_URL = re.compile(r"agi://(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?/?")
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


def queue_position_gap(major: int) -> str:
    """The commas from Queue()'s timeout to its position, across AGI, (macro up to 20,) gosub and rule:
    Queue(queue,options,URL,announceoverride,timeout,AGI,gosub,rule,position) in 21 and later."""
    return ",,,," if major >= GOSUB_SLOT_MOVED_IN else ",,,,,"


@dataclass(frozen=True)
class Rendered:
    extensions: str
    queues_conf: str
    queue_settings: dict[str, dict[str, str]] = field(default_factory=dict)
    # FreePBX: dialplan applications to run in ext-queues,<Q> just before its Queue() (the caller's side)
    queue_entry: dict[str, list[str]] = field(default_factory=dict)

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


def is_fastagi(agi: str) -> bool:
    return agi.startswith("agi://")


def agi_base(agi: str, target: str = "asterisk") -> str:
    """The checked ``--agi`` value: an agi-bin folder, or ``agi://host:port`` (our port when none is
    given, since Asterisk's default 4573 belongs to FreePBX core's FastAGI server)."""
    url = _AGI_URL.fullmatch(agi)
    if url:
        port = int(url.group("port") or FASTAGI_PORT)
        if not 0 < port < 65536:
            raise RenderError(f"--agi {agi!r}: port {port} is not a TCP port")
        if target == "freepbx" and port == ASTERISK_FASTAGI_PORT:
            raise RenderError(
                f"--agi {agi!r}: port {ASTERISK_FASTAGI_PORT} is FreePBX core's FastAGI server; "
                f"`freepbx-callback serve` listens on {FASTAGI_PORT}"
            )
        return f"agi://{url.group('host')}:{port}"
    if _AGI_DIR.fullmatch(agi) and ".." not in agi:
        return agi.rstrip("/") or "/"
    raise RenderError(f"--agi {agi!r}: an agi-bin folder (/var/lib/asterisk/agi-bin) or agi://host:port")


def agi_target(agi: str, route: str, target: str = "asterisk") -> str:
    """``/var/lib/asterisk/agi-bin`` → ``.../qcb-request.agi``; ``agi://127.0.0.1:4577`` → ``.../request``."""
    base = agi_base(agi, target)
    return f"{base}/{route}" if is_fastagi(base) else f"{base.rstrip('/')}/qcb-{route}.agi"


def fallback_folder(agi: str, fallback: str | None) -> str | None:
    """The checked ``--agi-fallback``: an agi-bin folder, and only behind an agi:// ``--agi``."""
    if fallback is None:
        return None
    if not is_fastagi(agi):
        raise RenderError(
            f"--agi-fallback {fallback!r}: only with --agi agi://host:port (the folder is used when that "
            "FastAGI server does not answer)"
        )
    if is_fastagi(fallback) or not _AGI_DIR.fullmatch(fallback) or ".." in fallback:
        raise RenderError(
            f"--agi-fallback {fallback!r}: the agi-bin folder of the qcb-*.agi scripts "
            "(e.g. /var/lib/asterisk/agi-bin)"
        )
    return fallback


def queue_settings(q: QueueSettings) -> dict[str, str]:
    """The queues.conf keys a callback queue needs (later keys win over the queue's own)."""
    return {
        "periodic-announce": q.prompt("offer"),
        "periodic-announce-frequency": str(q.offer_every),
        "context": f"qcb-exit-{q.queue}",
        "setinterfacevar": "yes",  # MEMBERINTERFACE on the caller side: which agent took a callback
        # Asterisk plays periodic announcements to the caller at the head of the line, while members ring,
        # only with this: without it a lone caller whose agent rings unanswered never hears the offer
        "announce-to-first-user": "yes",
    } | (announce_position(q) if q.announce_position else {})


# app_queue's own sounds for the position announcement; FreePBX writes silence/1 (thank-you: nothing) for
# a queue whose own position announcement is off, so ours name them again.
POSITION_SOUNDS = ("queue-youarenext", "queue-thereare", "queue-callswaiting", "queue-thankyou")


def announce_position(q: QueueSettings) -> dict[str, str]:
    """The caller's position and the queue's estimated wait, said by app_queue itself right before each
    offer, with the queue's own figures and the caller's language: each pass of app_queue's wait loop
    checks the position announcement before the periodic one, so with both on the offer's cadence (and
    both counted from the start of a play) the position comes first, then the offer."""
    every = str(q.offer_every)
    return {
        "announce-position": "yes",
        "announce-holdtime": "yes",
        "announce-frequency": every,
        "min-announce-frequency": every,
        "relative-periodic-announce": "no",
    } | {sound: sound for sound in POSITION_SOUNDS}


DEFAULT_LANGUAGE = "en"


def queue_entry(q: QueueSettings) -> list[str]:
    """FreePBX: what runs on the caller's channel in ext-queues,<Q> before Queue(). A queue whose language
    is not the PBX default sets the caller's language, unless the PBX already gave the channel another
    one (FreePBX's Languages module on the inbound route, the trunk): the offer, the confirmations and the
    stored request (and so the callback) then speak it."""
    if q.language == DEFAULT_LANGUAGE:
        return []
    return [f'ExecIf($["${{CHANNEL(language)}}" = "{DEFAULT_LANGUAGE}"]?Set(CHANNEL(language)={q.language}))']


def render(
    queues: list[QueueSettings],
    target: str = "asterisk",
    agi: str = DEFAULT_AGI_DIR,
    asterisk_version: str = DEFAULT_ASTERISK_VERSION,
    agi_fallback: str | None = None,
    accept: Collection[str] = (),
) -> Rendered:
    """``accept``: the queues whose callbacks wait for the agent's 1 (agent acceptance, see
    :mod:`freepbx_callback.accept`); only when one of them is enabled and agent-first does the output get
    the acceptance lines, so without it the dialplan is exactly what it was before the option."""
    if target not in TARGETS:
        raise RenderError(f"target {target!r}: one of {', '.join(TARGETS)}")
    fallback = fallback_folder(agi, agi_fallback)
    routes = ("request", "outcome")
    enabled = [policy.validate_settings(q) for q in sorted(queues, key=lambda q: q.queue) if q.enabled]
    settings = {q.queue: queue_settings(q) for q in enabled}
    context = {
        "version": __version__,
        "target": target,
        "queues": enabled,
        "settings": settings,
        "agi": {route: agi_target(agi, route, target) for route in routes},
        "fallback": {route: agi_target(fallback, route) for route in routes} if fallback else None,
        "queue_app": queue_app(asterisk_major(asterisk_version)),
        "position_gap": queue_position_gap(asterisk_major(asterisk_version)),
        "default_language": DEFAULT_LANGUAGE,
        "entry": {q.queue: queue_entry(q) for q in enabled},
        "accept": any(policy.asks_agent(q, q.queue in accept) for q in enabled),
        "accept_seconds": policy.ACCEPT_SECONDS,
        "accept_prompt": ACCEPT_PROMPT,
    }
    return Rendered(
        extensions=_ENV.get_template("extensions.conf.j2").render(context),
        queues_conf=_ENV.get_template("queues.conf.j2").render(context),
        queue_settings=settings,
        queue_entry={q.queue: queue_entry(q) for q in enabled if target == "freepbx" and queue_entry(q)},
    )
