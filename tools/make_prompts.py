#!/usr/bin/env python3
"""Generate the queue-callback voice prompts.

Every prompt the module plays lives in the ``PROMPTS`` table below, in English and Russian.  Each entry is
synthesised with espeak-ng and converted by sox to what Asterisk plays as format ``wav``: 8 kHz, mono,
16-bit signed PCM.  Files are written as ``sounds/<lang>/qcb-<name>.wav``.

Usage::

    python3 tools/make_prompts.py              # (re)generate all prompts, print name / lang / duration
    python3 tools/make_prompts.py --lang ru    # only one language (repeatable)
    python3 tools/make_prompts.py --check      # exit 1 if files are missing / extra / wrong format

Output is deterministic for a given espeak-ng and sox version (sox dithering is disabled), so re-running
the script on an unchanged table leaves the files byte-for-byte identical.
"""

# ruff: noqa: RUF001  (Russian prompt text is Cyrillic on purpose)
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOUNDS_DIR = REPO_ROOT / "freepbx_callback" / "sounds"
FILE_PREFIX = "qcb-"
FILE_SUFFIX = ".wav"

# Output format expected by Asterisk's "wav" format module.
SAMPLE_RATE = 8000
CHANNELS = 1
SAMPLE_WIDTH = 2  # bytes, i.e. 16-bit signed PCM

LANGS: tuple[str, ...] = ("en", "ru")

# name -> {lang: text}.  The one place where prompt wording is defined.
# Lead-in prompts ("you-entered", "callback-for") end with a comma so the voice keeps a continuing
# intonation: Asterisk reads the digits right after them.
PROMPTS: dict[str, dict[str, str]] = {
    "offer": {
        "en": "If you want us to call you back as soon as possible, press 1.",
        "ru": "Если вы хотите, чтобы мы вам перезвонили при первой возможности, нажмите 1.",
    },
    "accepted": {
        "en": "Thank you. Your callback request is accepted. "
        "We will call you back as soon as an agent is free. Goodbye.",
        "ru": "Спасибо. Ваша заявка на обратный звонок принята. "
        "Мы перезвоним вам, как только освободится оператор. До свидания.",
    },
    "already-requested": {
        "en": "We already have your callback request. We will call you back shortly. Goodbye.",
        "ru": "Ваша заявка на обратный звонок уже принята. Мы скоро вам перезвоним. До свидания.",
    },
    "not-available": {
        "en": "Sorry, a callback is not available for this number right now. Please stay on the line.",
        "ru": "Извините, сейчас обратный звонок на этот номер недоступен. Пожалуйста, оставайтесь на линии.",
    },
    "enter-number": {
        "en": "Please enter the phone number we should call back, then press the pound key.",
        "ru": "Пожалуйста, введите номер телефона, на который нам перезвонить, и нажмите решётку.",
    },
    "you-entered": {
        "en": "You entered,",
        "ru": "Вы ввели,",
    },
    "confirm": {
        "en": "Press 1 to confirm, or 2 to enter the number again.",
        "ru": "Нажмите 1 для подтверждения или 2, чтобы ввести номер заново.",
    },
    "invalid-number": {
        "en": "Sorry, that number is not valid.",
        "ru": "Извините, номер введён неверно.",
    },
    "back-to-queue": {
        "en": "Returning you to the queue.",
        "ru": "Возвращаем вас в очередь.",
    },
    "callback-for": {
        "en": "Callback for,",
        "ru": "Обратный звонок на номер,",
    },
    "customer-intro": {
        "en": "Hello, this is the callback you requested.",
        "ru": "Здравствуйте! Это обратный звонок, который вы заказали.",
    },
    "press-1-to-connect": {
        "en": "Press 1 to be connected to an agent.",
        "ru": "Нажмите 1, чтобы соединиться с оператором.",
    },
    # Agent acceptance: after "callback for <number>", on the agent's channel.
    "agent-accept": {
        "en": "To accept the call, press 1.",
        "ru": "Чтобы принять звонок, нажмите 1.",
    },
    "goodbye": {
        "en": "Goodbye.",
        "ru": "До свидания.",
    },
    # Out of callback hours: "... we will call you back," <today | tomorrow | weekday> "after" <time>.
    "accepted-later": {
        "en": "Thank you. Your callback request is accepted. We will call you back,",
        "ru": "Спасибо. Ваша заявка на обратный звонок принята. Мы перезвоним вам,",
    },
    "after": {
        "en": "after",
        "ru": "после",
    },
    # After the 1, where the queue lets the caller choose when to be called back.
    "choose-time": {
        "en": "To be called back as soon as possible, press 1. In one hour, press 2. "
        "Tomorrow morning, press 3.",
        "ru": "Чтобы мы перезвонили при первой возможности, нажмите 1. Через час, нажмите 2. "
        "Завтра утром, нажмите 3.",
    },
}


@dataclass(frozen=True)
class Voice:
    """espeak-ng settings for one language."""

    espeak_voice: str
    words_per_minute: int
    # Whole words the default espeak-ng rules stress wrongly, respelled in espeak-ng phoneme notation.
    # Applied only when synthesising; the table above keeps the plain text.
    pronunciations: Mapping[str, str] = field(default_factory=dict)


VOICES: dict[str, Voice] = {
    "en": Voice("en-us", 150),
    "ru": Voice(
        "ru",
        145,
        {
            "перезвонили": "p;ir;izvVn;'il;I",  # перезвони́ли, not перезво́нили
            "перезвоним": "p;ir;izvVn;'im",  # перезвони́м, not перезво́ним
        },
    ),
}

# sox effect chain: trim espeak's leading/trailing silence, short fade in/out so nothing starts or ends
# with a click, resample, normalise to -2 dBFS (no clipping), then add a fixed amount of silence.
SOX_EFFECTS: tuple[str, ...] = (
    "silence", "1", "0.01", "0.1%",
    "reverse",
    "silence", "1", "0.01", "0.1%",
    "fade", "q", "0.03",
    "reverse",
    "fade", "q", "0.01",
    "rate", "-h", str(SAMPLE_RATE),
    "norm", "-2",
    "pad", "0.1", "0.25",
)  # fmt: skip


class PromptError(RuntimeError):
    """Synthesis failed."""


def prompt_path(sounds_dir: Path, lang: str, name: str) -> Path:
    return sounds_dir / lang / f"{FILE_PREFIX}{name}{FILE_SUFFIX}"


def speakable_text(text: str, voice: Voice) -> str:
    """Replace words listed in the voice's pronunciations with inline espeak-ng phoneme input."""
    for word, phonemes in voice.pronunciations.items():
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", f"[[{phonemes}]]", text, flags=re.IGNORECASE)
    return text


def run(cmd: Sequence[str], data: bytes) -> bytes:
    result = subprocess.run(list(cmd), input=data, capture_output=True, check=False)
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        raise PromptError(f"{cmd[0]} exited with {result.returncode}: {stderr}")
    return result.stdout


def synthesise(text: str, voice: Voice, dest: Path) -> None:
    """Speak ``text`` with espeak-ng, pipe it through sox and atomically write ``dest``."""
    espeak_cmd = [
        "espeak-ng",
        "-b",
        "1",
        "-v",
        voice.espeak_voice,
        "-s",
        str(voice.words_per_minute),
        "--stdout",
    ]
    speech = run(espeak_cmd, speakable_text(text, voice).encode("utf-8"))
    if not speech:
        raise PromptError(f"espeak-ng produced no audio for {text!r}")

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=FILE_SUFFIX, dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # -D: no dither, so output is reproducible; -V1: errors only.
        sox_cmd = [
            "sox", "-D", "-V1",
            "-t", "wav", "-",
            "-t", "wav", "-r", str(SAMPLE_RATE), "-c", str(CHANNELS), "-b", str(SAMPLE_WIDTH * 8),
            "-e", "signed-integer", str(tmp),
            *SOX_EFFECTS,
        ]  # fmt: skip
        run(sox_cmd, speech)
        tmp.chmod(0o644)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def wav_info(path: Path) -> tuple[float, str | None]:
    """Return (duration in seconds, problem or None) for a prompt file."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width, frames = (
                wav.getframerate(),
                wav.getnchannels(),
                wav.getsampwidth(),
                wav.getnframes(),
            )
    except (wave.Error, EOFError, OSError) as exc:
        return 0.0, f"unreadable WAV ({exc})"
    duration = frames / rate if rate else 0.0
    if (rate, channels, width) != (SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH):
        return (
            duration,
            f"format {rate} Hz / {channels} ch / {width * 8}-bit, expected 8000 Hz / 1 ch / 16-bit",
        )
    if frames == 0:
        return duration, "no audio"
    return duration, None


def check(sounds_dir: Path, langs: Sequence[str]) -> int:
    """Compare sounds/<lang>/ with the table without synthesising anything."""
    problems: list[str] = []
    for lang in langs:
        expected = {prompt_path(sounds_dir, lang, name) for name in PROMPTS}
        lang_dir = sounds_dir / lang
        present = set(lang_dir.glob(f"*{FILE_SUFFIX}")) if lang_dir.is_dir() else set()
        problems += [f"missing: {p.relative_to(sounds_dir.parent)}" for p in sorted(expected - present)]
        problems += [f"extra:   {p.relative_to(sounds_dir.parent)}" for p in sorted(present - expected)]
        for path in sorted(expected & present):
            _, problem = wav_info(path)
            if problem:
                problems.append(f"bad:     {path.relative_to(sounds_dir.parent)}: {problem}")
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s); regenerate with: python3 tools/make_prompts.py", file=sys.stderr)
        return 1
    print(f"ok: {len(PROMPTS) * len(langs)} prompt files match the table ({', '.join(langs)})")
    return 0


def generate(sounds_dir: Path, langs: Sequence[str]) -> int:
    missing_tools = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing_tools:
        print(
            f"error: not installed: {', '.join(missing_tools)} (apt-get install espeak-ng sox)",
            file=sys.stderr,
        )
        return 2

    rows: list[tuple[str, str, float, int]] = []
    for name, texts in PROMPTS.items():
        for lang in langs:
            dest = prompt_path(sounds_dir, lang, name)
            try:
                synthesise(texts[lang], VOICES[lang], dest)
            except PromptError as exc:
                print(f"error: {dest}: {exc}", file=sys.stderr)
                return 1
            duration, problem = wav_info(dest)
            if problem:
                print(f"error: {dest}: {problem}", file=sys.stderr)
                return 1
            rows.append((name, lang, duration, dest.stat().st_size))

    name_width = max(len("name"), *(len(row[0]) for row in rows))
    print(f"{'name':<{name_width}}  lang  duration     bytes")
    for name, lang, duration, size in rows:
        print(f"{name:<{name_width}}  {lang:<4}  {duration:7.2f} s  {size:8d}")
    total = sum(row[3] for row in rows)
    print(f"{len(rows)} files, {sum(row[2] for row in rows):.1f} s, {total} bytes ({total / 1024:.0f} KiB)")

    for lang in langs:
        expected = {prompt_path(sounds_dir, lang, name) for name in PROMPTS}
        for stale in sorted(set((sounds_dir / lang).glob(f"*{FILE_SUFFIX}")) - expected):
            print(f"warning: not in the table, delete it if it is stale: {stale}", file=sys.stderr)
    return 0


def validate_table() -> None:
    for name, texts in PROMPTS.items():
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
            raise SystemExit(f"bad prompt name {name!r}")
        if set(texts) != set(LANGS) or not all(t.strip() for t in texts.values()):
            raise SystemExit(f"prompt {name!r} needs non-empty text for exactly: {', '.join(LANGS)}")
    if set(VOICES) != set(LANGS):
        raise SystemExit("VOICES must define every language in LANGS")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate the queue-callback voice prompts (sounds/<lang>/)."
    )
    parser.add_argument(
        "--lang",
        action="append",
        choices=LANGS,
        help="only this language (repeatable; default: all)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not synthesise; exit 1 listing missing, extra or malformed files",
    )
    parser.add_argument(
        "--sounds-dir", type=Path, default=SOUNDS_DIR, help="output folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    validate_table()
    langs = [lang for lang in LANGS if lang in args.lang] if args.lang else list(LANGS)
    sounds_dir: Path = args.sounds_dir.resolve()
    if args.check:
        return check(sounds_dir, langs)
    return generate(sounds_dir, langs)


if __name__ == "__main__":
    sys.exit(main())
