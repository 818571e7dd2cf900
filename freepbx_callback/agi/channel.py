"""The few channel operations the call-flow handlers need, over pyst2's AGI (agi-bin) or FastAGI."""

from __future__ import annotations

import os
from typing import Any, Protocol


class Channel(Protocol):
    env: dict[str, str]

    def variable(self, name: str) -> str: ...

    def set_variable(self, name: str, value: str) -> None: ...

    def play(self, prompt: str, escape_digits: str = "") -> str: ...

    def hangup(self) -> None: ...


class PystChannel:
    """Adapter over ``asterisk.agi.AGI``; quiet on stderr (Asterisk logs an AGI's stderr)."""

    def __init__(self, agi: Any | None = None) -> None:
        if agi is None:
            from asterisk.agi import AGI

            agi = AGI(stderr=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
        self.agi = agi
        self.env: dict[str, str] = dict(agi.env)

    def variable(self, name: str) -> str:
        value = self.agi.get_full_variable(f"${{{name}}}")
        return "" if value in (None, "hangup") else str(value)

    def set_variable(self, name: str, value: str) -> None:
        self.agi.set_variable(name, value)

    def play(self, prompt: str, escape_digits: str = "") -> str:
        from asterisk.agi import AGIAppError

        try:
            return str(self.agi.stream_file(prompt, escape_digits) or "")
        except AGIAppError:
            return ""

    def hangup(self) -> None:
        self.agi.hangup()
