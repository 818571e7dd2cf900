"""The channel operations the call-flow handlers need, over pyst2's AGI (agi-bin) or our FastAGI session."""

from __future__ import annotations

import os
from typing import Any, Protocol


class Channel(Protocol):
    env: dict[str, str]

    def variable(self, name: str) -> str: ...

    def set_variable(self, name: str, value: str) -> None: ...

    def play(self, prompt: str, escape_digits: str = "") -> str:
        """Play a sound; returns the escape digit pressed, or ''."""
        ...

    def say_digits(self, digits: str) -> None:
        """Read digits out; keys pressed meanwhile are dropped, never taken as an answer."""
        ...

    def say_datetime(self, epoch: int, fmt: str, zone: str) -> None:
        """Say a moment with Asterisk's SAY DATETIME in the channel's language (keys are ignored)."""
        ...

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """Play ``prompt`` and collect digits until '#', ``max_digits`` or the timeout."""
        ...

    def wait_digit(self, timeout_ms: int) -> str: ...

    def hangup(self) -> None: ...


class PystChannel:
    """Adapter over ``asterisk.agi.AGI`` (agi-bin scripts); quiet on stderr, which Asterisk would log."""

    def __init__(self, agi: Any | None = None) -> None:
        if agi is None:
            from asterisk.agi import AGI

            agi = AGI(stderr=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
        self.agi = agi
        self.env: dict[str, str] = dict(agi.env)

    def variable(self, name: str) -> str:
        value = self.agi.get_full_variable("${" + name + "}")
        return "" if value in (None, "hangup") else str(value)

    def set_variable(self, name: str, value: str) -> None:
        self.agi.set_variable(name, value)

    def play(self, prompt: str, escape_digits: str = "") -> str:
        from asterisk.agi import AGIAppError

        try:
            return str(self.agi.stream_file(prompt, escape_digits) or "")
        except AGIAppError:
            return ""

    def say_digits(self, digits: str) -> None:
        self.agi.say_digits(digits, "")

    def say_datetime(self, epoch: int, fmt: str, zone: str) -> None:
        self.agi.say_datetime(epoch, "", fmt, zone)

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        return str(self.agi.get_data(prompt, timeout_ms, max_digits) or "")

    def wait_digit(self, timeout_ms: int) -> str:
        return str(self.agi.wait_for_digit(timeout_ms) or "")

    def hangup(self) -> None:
        self.agi.hangup()
