"""A small AGI session over any pair of byte streams: a FastAGI socket or an agi-bin script's stdin and
stdout. Both transports speak the (simple, line-based) protocol through it, so they meet a hang-up the
same way: :class:`Hangup`, raised by the command that found the channel gone.
"""

from __future__ import annotations

import contextlib
import re

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path does not need it
if TYPE_CHECKING:
    from typing import BinaryIO, Protocol

    class Slot(Protocol):
        def release(self) -> None: ...

        def resume(self) -> None: ...


_RESULT = re.compile(r"^(\d{3})(?: result=(-?\d*))?(?: \((.*)\))?")


class Hangup(Exception):
    """The channel hung up (or the connection closed) while a command ran."""


class AgiError(Exception):
    pass


def quote(value: str) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


# Commands whose reply waits on the caller (a prompt, keys): a FastAGI call gives its CPU slot back
# while one runs (see fastagi.Gate); every other command is answered by Asterisk at once.
WAITING_COMMANDS = frozenset(("STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "SAY DIGITS", "SAY DATETIME"))


class AgiSession:
    def __init__(self, rfile: BinaryIO, wfile: BinaryIO, slot: Slot | None = None) -> None:
        self.rfile, self.wfile = rfile, wfile
        self.slot = slot
        self.holding = slot is not None  # a FastAGI call is admitted (holds its slot) before it starts
        # A variable to set before the call's first command (name, value; plain words), in the same round
        # trip where that command reads variables: see :meth:`command`.
        self.mark: tuple[str, str] | None = None
        self.env: dict[str, str] = {}
        while True:
            line = self._readline()
            if not line:
                break
            key, _, value = line.partition(":")
            self.env[key.strip()] = value.strip()

    def _readline(self) -> str:
        try:
            raw = self.rfile.readline()
        except ConnectionError as exc:
            raise Hangup(str(exc)) from None
        if not raw:
            raise Hangup("connection closed")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def command(self, *parts: str) -> tuple[str, str]:
        """Send one command; returns (result, data). Raises Hangup on a hung-up channel."""
        if self.mark is not None:
            return self._marked(parts)
        if self.slot is not None and self.holding and parts[0] in WAITING_COMMANDS:
            self.slot.release()  # the caller listens or keys: other calls may compute meanwhile
            try:
                return self._command(parts)
            finally:
                self.slot.resume()
        return self._command(parts)

    def _marked(self, parts: tuple[str, ...]) -> tuple[str, str]:
        """The first command, with :attr:`mark` set before it: a variables read (GET FULL VARIABLE) takes
        it along as ``${SET(name=value)}`` (Asterisk's SET function sets the variable and returns the
        value), one round trip; any other command goes after a SET VARIABLE."""
        assert self.mark is not None
        (name, value), self.mark = self.mark, None
        if parts[0] == "GET FULL VARIABLE" and len(parts) == 2 and parts[1].startswith('"'):
            result, data = self.command(parts[0], '"${SET(' + f"{name}={value})}}|" + parts[1][1:])
            if result == "1" and data.startswith(value + "|"):
                return result, data[len(value) + 1 :]
            # not as expected (the expression was not evaluated): the usual two commands
        self.command("SET VARIABLE", quote(name), quote(value))
        return self.command(*parts)

    def done_computing(self) -> None:
        """The call's own work is over; what is left only talks to Asterisk: give the slot back for good."""
        if self.slot is not None and self.holding:
            self.holding = False
            self.slot.release()

    def _command(self, parts: tuple[str, ...]) -> tuple[str, str]:
        try:
            self.wfile.write((" ".join(parts) + "\n").encode())
            self.wfile.flush()
        except (BrokenPipeError, ConnectionError) as exc:  # Asterisk closed its end
            raise Hangup(f"{parts[0]}: {exc}") from None
        line = self._readline()
        while line.startswith("HANGUP"):  # agi_enhanced async notice; the answer follows
            line = self._readline()
        match = _RESULT.match(line)
        if not match:
            raise AgiError(f"unexpected AGI reply {line!r}")
        code, result, data = match.group(1), match.group(2) or "", match.group(3) or ""
        if code == "511":
            raise Hangup("channel is dead")
        if code != "200":
            raise AgiError(f"AGI {parts[0]} failed: {line}")
        if result == "-1":
            raise Hangup(f"{parts[0]} returned -1")
        return result, data


_WORD = re.compile(r"[A-Za-z0-9_]+")


def digit(result: str) -> str:
    """AGI returns a pressed key as its ASCII code ('49' for '1'); 0 means none."""
    return chr(int(result)) if result and result not in ("0", "-1") else ""


class SessionChannel:
    """The handlers' Channel over an :class:`AgiSession`."""

    def __init__(self, session: AgiSession) -> None:
        self.session = session
        self.env = session.env

    def variable(self, name: str) -> str:
        result, data = self.session.command("GET FULL VARIABLE", quote("${" + name + "}"))
        return data if result == "1" else ""

    def read_variables(self, names: list[str]) -> dict[str, str]:
        """One GET FULL VARIABLE for all of ``names``, joined by '|' (one round trip instead of one each);
        if a value holds a '|' itself, each is read alone."""
        _, data = self.session.command("GET FULL VARIABLE", quote("|".join("${" + n + "}" for n in names)))
        values = data.split("|")
        if len(values) != len(names):
            return {name: self.variable(name) for name in names}
        return dict(zip(names, values, strict=True))

    def set_variable(self, name: str, value: str) -> None:
        self.session.command("SET VARIABLE", quote(name), quote(value))

    def done_computing(self) -> None:
        self.session.done_computing()

    def set_variables(self, values: dict[str, str]) -> None:
        """Several variables in one round trip (Asterisk's MSet) where names and values are plain words;
        else one SET VARIABLE each."""
        if len(values) > 1 and all(_WORD.fullmatch(f"{k}{v}") for k, v in values.items()):
            self.session.command("EXEC", "MSet", quote(",".join(f"{k}={v}" for k, v in values.items())))
            return
        for name, value in values.items():
            self.set_variable(name, value)

    def play(self, prompt: str, escape_digits: str = "") -> str:
        result, _ = self.session.command("STREAM FILE", quote(prompt), quote(escape_digits))
        return digit(result)

    def say_digits(self, digits: str) -> None:
        self.session.command("SAY DIGITS", digits, quote(""))

    def say_datetime(self, epoch: int, fmt: str, zone: str) -> None:
        self.session.command("SAY DATETIME", str(epoch), quote(""), quote(fmt), quote(zone))

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        result, _ = self.session.command("GET DATA", quote(prompt), str(timeout_ms), str(max_digits))
        return result

    def wait_digit(self, timeout_ms: int) -> str:
        result, _ = self.session.command("WAIT FOR DIGIT", str(timeout_ms))
        return digit(result)

    def hangup(self) -> None:
        with contextlib.suppress(Hangup):
            self.session.command("HANGUP")
