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


# --- FastAGI with an agi-bin fallback ---------------------------------------------------------------

FAST = "agi://127.0.0.1:4577"
FALLBACK = "/var/lib/asterisk/agi-bin"
ROUTES = {"request": "qcb-request.agi", "outcome": "qcb-outcome.agi"}


def _agi_lines(lines: list[str]) -> list[tuple[int, str, str]]:
    """(index, target, args) of every AGI() in a context's lines."""
    found = []
    for i, line in enumerate(lines):
        m = re.search(r",AGI\(([^,)]+),?(.*)\)$", line)
        if m:
            found.append((i, m.group(1), m.group(2)))
    return found


def _label_index(lines: list[str], label: str) -> int:
    [index] = [i for i, line in enumerate(lines) if re.match(rf"same => n\({re.escape(label)}\),", line)]
    return index


@pytest.mark.parametrize("target", ["asterisk", "freepbx"])
def test_every_fastagi_call_falls_back_to_the_agi_bin_script_once(target: str) -> None:
    contexts = _contexts(render(QUEUES, target, FAST, agi_fallback=FALLBACK).extensions)
    seen = {"request": 0, "outcome": 0}
    for name, lines in contexts.items():
        calls = _agi_lines(lines)
        fast = [c for c in calls if c[1].startswith("agi://")]
        slow = [c for c in calls if not c[1].startswith("agi://")]
        assert len(fast) == len(slow), f"{name}: every FastAGI call has exactly one fallback: {calls}"
        for (i, url, args), (j, path, fallback_args) in zip(fast, slow, strict=True):
            route = url.rsplit("/", 1)[1]
            seen[route] += 1
            assert url == f"{FAST}/{route}" and path == f"{FALLBACK}/{ROUTES[route]}", (url, path)
            assert args == fallback_args, f"{name}: the fallback gets the same arguments"
            # The server marks the calls it takes; the mark is cleared right before the FastAGI call.
            assert lines[i - 1].endswith(",Set(QCB_SERVED_BY=)"), lines[i - 1]
            # Between the two calls: one GotoIf that skips the script when the server took the call
            # (its mark is set) or the channel hung up; the script runs only otherwise.
            between = lines[i + 1 : j]
            [guard] = [line for line in between if ",NoOp(" not in line]
            assert ",GotoIf(" in guard and "${QCB_SERVED_BY}" in guard and "${AGISTATUS}" in guard, guard
            skip_to = re.search(r"\?([\w-]+)\)$", guard)
            assert skip_to, guard
            assert _label_index(lines, skip_to.group(1)) == j + 1, "the skip lands right after the script"
    assert seen == {"request": 2, "outcome": 2}  # outcome: the hangup handler and the check before a dial


def test_without_a_fallback_each_route_is_called_once() -> None:
    text = render(QUEUES, "asterisk", FAST).extensions
    assert text.count(f"AGI({FAST}/request,") == 2 and text.count(f"AGI({FAST}/outcome,") == 2
    assert "qcb-request.agi" not in text and "AGISTATUS" not in text
    plain = render(QUEUES, "asterisk", FALLBACK).extensions
    assert plain.count(f"AGI({FALLBACK}/qcb-request.agi,") == 2 and "agi://" not in plain


def test_fastagi_url_without_a_port_gets_ours_not_asterisks_4573() -> None:
    text = render(QUEUES, "asterisk", "agi://127.0.0.1").extensions
    assert "AGI(agi://127.0.0.1:4577/request,400)" in text and ":4573" not in text


def test_freepbx_target_refuses_fastagi_on_4573() -> None:
    with pytest.raises(RenderError, match="4573"):
        render(QUEUES, "freepbx", "agi://127.0.0.1:4573")
    assert "agi://127.0.0.1:4573/request" in render(QUEUES, "asterisk", "agi://127.0.0.1:4573").extensions


@pytest.mark.parametrize(
    "agi,fallback,message",
    [
        (FALLBACK, FALLBACK, "--agi-fallback"),  # a folder needs no fallback
        (FAST, FAST, "--agi-fallback"),  # the fallback is a folder, not another server
        (FAST, "/x,Dial(PJSIP/1)", "--agi-fallback"),
        (FAST, "relative/agi-bin", "--agi-fallback"),
        (FAST, "/var/lib/../../etc", "--agi-fallback"),
        (FAST, "/a)\n same => n,System(x", "--agi-fallback"),
    ],
)
def test_bad_fallbacks_are_refused(agi: str, fallback: str, message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render(QUEUES, "asterisk", agi, agi_fallback=fallback)


def test_freepbx_customer_legs_keep_the_did_through_outbound_routes() -> None:
    freepbx = _contexts(render(QUEUES, "freepbx").extensions)
    for name in ("qcb-callback-customer", "qcb-callback-customer-first"):
        lines = freepbx[name]
        dial = next(i for i, line in enumerate(lines) if "Dial(" in line)
        assert any("Set(__QCALLBACK=1)" in line for line in lines[:dial]), name
        assert any("Set(__REALCALLERIDNUM=${QCB_DID})" in line for line in lines[:dial]), name
    plain = render(QUEUES, "asterisk").extensions
    assert "Set(__QCALLBACK" not in plain


def test_the_caller_at_the_head_of_the_line_hears_the_offer_too() -> None:
    settings = render(QUEUES, "freepbx").queue_settings["400"]
    assert settings["periodic-announce"] == "qcb-offer"
    assert settings["announce-to-first-user"] == "yes"


@pytest.mark.parametrize("major,slot", [(20, 10), (21, 9), (22, 9)])
def test_plain_queue_entry_puts_the_position_in_the_slot_of_the_version(major: int, slot: int) -> None:
    contexts = _contexts(render(QUEUES, "asterisk", asterisk_version=f"{major}.1.0").extensions)
    [line] = [line for line in contexts["qcb-queue-400"] if "Queue(" in line]
    args = _queue_args(line)
    assert args[0] == "400" and args[1] == "${QCB_QUEUE_OPTIONS}" and args[4] == "${QCB_WAIT_LEFT}"
    assert args[slot - 1] == "${QCB_POSITION}" and len(args) == slot


def test_a_refused_caller_goes_back_to_the_queue_line_not_to_the_join() -> None:
    plain = _contexts(render(QUEUES, "asterisk").extensions)
    assert "same => n(rejoin),Goto(qcb-queue-400,s,qcall)" in plain["qcb-exit-400"]
    assert "same => n,Set(QCB_POSITION=${QUEUEPOSITION})" in plain["qcb-exit-400"]
    assert any(line.startswith("same => n(qcall),Queue(400,") for line in plain["qcb-queue-400"])
    freepbx = _contexts(render(QUEUES, "freepbx").extensions)
    exit_400 = freepbx["qcb-exit-400"]
    assert "same => n(rejoin),Goto(ext-queues,400,qcall)" in exit_400
    assert (
        "same => n,Set(QPOSITION=${QUEUEPOSITION})" in exit_400 and "same => n,Set(__NODEST=400)" in exit_400
    )
    assert not any("Goto(ext-queues,400,1)" in line for line in exit_400)
    assert "qcb-queue-400" not in freepbx  # FreePBX's own ext-queues,<Q> is the entry there


def test_the_plain_queue_entry_sets_a_non_default_queue_language_only() -> None:
    queues = [QueueSettings("400", enabled=True, language="ru"), QueueSettings("401", enabled=True)]
    contexts = _contexts(render(queues, "asterisk").extensions)
    setter = 'same => n,ExecIf($["${CHANNEL(language)}" = "en"]?Set(CHANNEL(language)=ru))'
    assert setter in contexts["qcb-queue-400"]
    assert not any("CHANNEL(language)" in line for line in contexts["qcb-queue-401"])


def test_the_whisper_keeps_the_agents_language() -> None:
    whisper = _contexts(render(QUEUES, "freepbx").extensions)["qcb-callback-whisper"]
    assert not any("QCB_LANG" in line for line in whisper)
    assert any("IMPORT(${QCB_AGENT_PHONE},CHANNEL(language))" in line for line in whisper)
