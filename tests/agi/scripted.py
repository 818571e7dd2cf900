"""A scripted channel for handler tests: plays back the keys a caller presses and records what was played.

It stands in for Asterisk only in these unit-level tests; the same flows run on the real Asterisk in
tests/e2e.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ScriptedChannel:
    env: dict[str, str]
    variables: dict[str, str] = field(default_factory=dict)
    entries: list[str] = field(default_factory=list)  # what GET DATA returns, in order
    keys: dict[str, str] = field(default_factory=dict)  # prompt -> key pressed while it plays (if allowed)
    waits: list[str] = field(default_factory=list)  # what WAIT FOR DIGIT returns, in order
    log: list[str] = field(default_factory=list)
    hung_up: bool = False
    done_at: int = 0  # see done_computing

    def variable(self, name: str) -> str:
        return self.variables.get(name, "")

    def read_variables(self, names: list[str]) -> dict[str, str]:
        return {name: self.variable(name) for name in names}

    def set_variable(self, name: str, value: str) -> None:
        self.set_variables({name: value})

    def done_computing(self) -> None:
        if not self.done_at:
            self.done_at = len(self.log) + 1  # the log entries before it, plus one: 0 is "not yet"

    def set_variables(self, values: dict[str, str]) -> None:
        self.variables.update(values)
        if values.get("QCB_NEXT") == "hangup":  # what the dialplan does once the handler ends
            self.hangup()

    def play(self, prompt: str, escape_digits: str = "") -> str:
        self.log.append(f"play {prompt}")
        key = self.keys.get(prompt, "")
        return key if key and key in escape_digits else ""

    def say_digits(self, digits: str) -> None:
        self.log.append(f"say {digits}")

    def say_datetime(self, epoch: int, fmt: str, zone: str) -> None:
        self.log.append(f"datetime {epoch} {fmt} {zone}")

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        self.log.append(f"get {prompt}")
        return self.entries.pop(0) if self.entries else ""

    def wait_digit(self, timeout_ms: int) -> str:
        return self.waits.pop(0) if self.waits else ""

    def hangup(self) -> None:
        self.log.append("hangup")
        self.hung_up = True
