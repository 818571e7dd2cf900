"""On the real FreePBX: "position and wait before the offer", switched on in the queue form's Callback tab.

Queue 400 of the bed has FreePBX's own position announcement off, so the queues module writes
`announce-position=no`, `announce-frequency=0` and `queue-thereare=silence/1` (and the other position
sounds) into its section of queues_additional.conf; our lines come after them and must win. After Apply
Config the second caller in line hears app_queue's "you are currently caller number 2 ... thank you for
your patience" right before the offer, presses 1, and the request is stored with position 2.
"""

from __future__ import annotations

import re

from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.sipp import Caller
from tests.testbed.wait import wait_for

from . import gui
from .calls import cli, press_1

QUEUE, DID = "400", "5551000"
FIRST, SECOND = "5551251", "5551252"
# Both callers ring the bed's member (the queues module's autofill and a member whose phone looks free), and
# app_queue announces to a caller who rings members only between ring cycles (timeout 15 s + retry 5 s):
# position at 0 s, ring, then at ~28 s position and offer (the offer ends by ~45 s); the 1 comes after it.
PRESS_AFTER_S = 43.0
_PLAYING = re.compile(
    r"<(?P<channel>[^>]+)> Playing '(?P<sound>[^']+?)\.[a-z0-9]+' \(language '(?P<lang>\w+)'\)"
)


def _section(conf: str, queue: str) -> str:
    section = conf[conf.index(f"[{queue}]") :]
    end = section.find("\n[", 1)
    return section if end < 0 else section[:end]


def _waiting(fpbx: FreePbx) -> int:
    match = re.search(r"has (\d+) calls", fpbx.asterisk(f"queue show {QUEUE}"))
    return int(match.group(1)) if match else 0


def test_the_second_caller_hears_the_position_right_before_the_offer(fpbx: FreePbx, admin: gui.Admin) -> None:
    cli(
        fpbx,
        "queue",
        "set",
        QUEUE,
        "--enable",
        "--allow",
        "_555XXXX",
        "--offer-every",
        "15",
        "--language",
        "en",
    )
    admin.open(f"config.php?display=queues&view=form&extdisplay={QUEUE}")
    admin.open_tab("Callback")
    admin.driver.execute_script("document.getElementById('qcb_announce_positionyes').checked = true;")
    admin.submit_queue_form()
    assert not admin.php_errors(), admin.php_errors()
    assert cli(fpbx, "queue", "show", QUEUE)["announce_position"] is True, "the tab's switch was not stored"
    admin.apply_config()

    section = _section(fpbx.bw_path("/etc/asterisk/queues_additional.conf").read_text(), QUEUE)
    for own, ours in (
        ("announce-position=no", "announce-position=yes"),
        ("queue-thereare=silence/1", "queue-thereare=queue-thereare"),
        ("announce-frequency=0", "announce-frequency=15"),
    ):
        assert own in section and ours in section, section
        assert section.index(own) < section.index(ours), f"{ours} must come after the queue's own {own}"

    fpbx.set_contacts(agent_port=9, customer_port=9)  # every agent busy elsewhere: the callers wait
    rows: list[tuple[object, ...]] = []
    try:
        with Caller(fpbx, DID, [], hold_s=60, caller_id=FIRST):  # type: ignore[arg-type]
            wait_for(lambda: _waiting(fpbx) == 1, 20, 0.3, "the first caller in queue 400")
            call = press_1(fpbx, did=DID, caller=SECOND, after_s=PRESS_AFTER_S)
        assert call.bye_received, f"FreePBX did not hang the caller up after the 1: {call.summary()}"
        rows = fpbx.query("SELECT id, position, status FROM qcb_requests WHERE number LIKE %s", f"%{SECOND}")
        assert [(r[1], r[2]) for r in rows] == [(2, "pending")], rows

        log = fpbx.full_log()
        told = re.findall(
            rf"Told (PJSIP/pstn-[0-9a-f]+) in {QUEUE} their queue position \(which was 2\)", log
        )
        assert told, "app_queue never told the second caller its position"
        channel = told[-1]
        heard = []
        for line in log.splitlines():
            match = _PLAYING.search(line)
            if match and match["channel"] == channel:
                heard.append((match["sound"], match["lang"]))
            if f"DTMF end '1' received on {channel}" in line:
                break
        names = [sound for sound, _ in heard]
        assert "qcb-offer" in names, f"no offer before the 1: {names}"
        offer = names.index("qcb-offer")
        block = names[:offer][-7:]
        assert names[offer - 1] == "queue-thankyou", f"the position comes right before the offer: {names}"
        start = max(i for i, n in enumerate(names[:offer]) if n == "queue-thereare")
        assert names[start : start + 3] == ["queue-thereare", "digits/2", "queue-callswaiting"], block
        assert all(lang == "en" for sound, lang in heard if sound.startswith(("queue-", "digits/"))), heard
    finally:
        for row in rows:
            cli(fpbx, "request", "cancel", str(row[0]), check=False)
        cli(fpbx, "queue", "set", QUEUE, "--no-announce-position", "--offer-every", "30")
        fpbx.fw("reload")
