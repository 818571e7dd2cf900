"""The rendered dialplan: what every leg that enters a queue carries, and Queue()'s gosub slot by version."""

from __future__ import annotations

import re

import pytest

from freepbx_callback.dialplan.render import RenderError, asterisk_major, queue_app, render
from freepbx_callback.models import Mode, QueueSettings


def _contexts(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    name = None
    for line in text.splitlines():
        m = re.match(r"^\[([^\]]+)\]", line)
        if m:
            name = m.group(1)
            out[name] = []
        elif name and line.strip().startswith(("exten", "same")):
            out[name].append(line.strip())
    return out


QUEUES = [
    QueueSettings("400", enabled=True, did="5551000"),
    QueueSettings("401", enabled=True, mode=Mode.CUSTOMER_FIRST),
]


@pytest.mark.parametrize("target", ["asterisk", "freepbx"])
def test_every_queue_entry_of_a_callback_leg_sets_nodest_first(target: str) -> None:
    contexts = _contexts(render(QUEUES, target).extensions)
    entered = 0
    for name, lines in contexts.items():
        for i, line in enumerate(lines):
            if "Queue(${QCB_QUEUE}" in line:
                entered += 1
                before = lines[:i]
                assert any("Set(__NODEST=${QCB_QUEUE})" in b for b in before), (
                    f"{name}: Queue() without __NODEST"
                )
    assert entered == 2  # agent-first and the customer-first greeting


@pytest.mark.parametrize(
    "version,major",
    [
        ("22.10.1", 22),
        ("Asterisk 20.5.0", 20),
        ("21", 21),
        ("18.20.2~dfsg", 18),
        ("certified/18.9-cert7", 18),
    ],
)
def test_asterisk_major(version: str, major: int) -> None:
    assert asterisk_major(version) == major


@pytest.mark.parametrize("version", ["", "x", "22;Dial(x)", "Asterisk", "1234.1"])
def test_asterisk_version_refused(version: str) -> None:
    with pytest.raises(RenderError, match="--asterisk-version"):
        asterisk_major(version)


def _queue_args(line: str) -> list[str]:
    inner = line[line.index("Queue(") + 6 : line.rindex(")")]
    return inner.split(",")


@pytest.mark.parametrize("major,slot", [(18, 8), (20, 8), (21, 7), (22, 7)])
def test_whisper_gosub_slot_follows_version(major: int, slot: int) -> None:
    args = _queue_args(queue_app(major))
    assert args[slot - 1] == "qcb-callback-whisper"
    assert [i for i, a in enumerate(args, 1) if a] == [1, 5, slot]
    rendered = render(QUEUES, "freepbx", asterisk_version=f"{major}.1.0").extensions
    assert rendered.count(queue_app(major)) == 2
