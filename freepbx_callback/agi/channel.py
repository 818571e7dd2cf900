"""The channel operations the call-flow handlers need (an AGI session: agi-bin or FastAGI, see .protocol)."""

from __future__ import annotations

from typing import Protocol


class Channel(Protocol):
    env: dict[str, str]

    def variable(self, name: str) -> str: ...

    def read_variables(self, names: list[str]) -> dict[str, str]:
        """Several variables at once (one command where the transport allows): '' for an unset one."""
        ...

    def set_variable(self, name: str, value: str) -> None: ...

    def set_variables(self, values: dict[str, str]) -> None:
        """Several variables (one command where the transport allows)."""
        ...

    def done_computing(self) -> None:
        """The handler's own work (the database, its decisions) is over; what is left only talks to
        Asterisk: prompts and variables. A FastAGI call gives its CPU slot back for good, so a caller in
        a burst is not held up for a slot only to hear the last prompt."""
        ...

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
