"""Position and estimated wait in the offer: the queues.conf keys a queue gets with the setting on/off."""

from __future__ import annotations

import pytest

from freepbx_callback.dialplan.render import render
from freepbx_callback.models import QueueSettings

# What FreePBX 17's queues module writes for a queue whose own position announcement is off
# (queues/functions.inc/geters_seters.php): the sounds become silence/1, the frequencies 0/15.
FREEPBX_OWN = {
    "announce-frequency": "0",
    "min-announce-frequency": "15",
    "announce-holdtime": "no",
    "announce-position": "no",
    "queue-youarenext": "silence/1",
    "queue-thereare": "silence/1",
    "queue-callswaiting": "silence/1",
}
ANNOUNCE_KEYS = set(FREEPBX_OWN) | {"queue-thankyou", "relative-periodic-announce"}


@pytest.mark.parametrize("target", ["asterisk", "freepbx"])
def test_off_adds_no_announcement_key(target: str) -> None:
    rendered = render([QueueSettings("400", enabled=True)], target)
    assert not ANNOUNCE_KEYS & set(rendered.queue_settings["400"]), rendered.queue_settings
    assert "announce" not in rendered.queues_conf.replace("periodic-announce", "").replace(
        "announce-to-first-user", ""
    ), rendered.queues_conf


@pytest.mark.parametrize("target", ["asterisk", "freepbx"])
def test_on_says_position_and_hold_time_right_before_each_offer(target: str) -> None:
    q = QueueSettings("400", enabled=True, offer_every=45, announce_position=True)
    keys = render([q], target).queue_settings["400"]
    # app_queue's own announcement with the queue's figures, at the offer's cadence: the position is
    # checked first in each pass of its wait loop, so it plays just before the periodic announcement
    assert keys["announce-position"] == "yes" and keys["announce-holdtime"] == "yes"
    assert keys["announce-frequency"] == keys["min-announce-frequency"] == keys["periodic-announce-frequency"]
    assert keys["periodic-announce-frequency"] == "45"
    assert keys["relative-periodic-announce"] == "no", "both cadences count from the start of a play"
    assert keys["announce-to-first-user"] == "yes"
    # FreePBX's own lines for a queue without position announcements come first; ours override them
    merged = {**FREEPBX_OWN, **keys}
    for sound in ("queue-youarenext", "queue-thereare", "queue-callswaiting", "queue-thankyou"):
        assert merged[sound] == sound, f"{sound} stays {merged[sound]!r}"


def test_only_the_queue_with_the_setting_gets_it() -> None:
    rendered = render(
        [QueueSettings("400", enabled=True, announce_position=True), QueueSettings("401", enabled=True)]
    )
    assert "announce-position" in rendered.queue_settings["400"]
    assert "announce-position" not in rendered.queue_settings["401"]
    section_401 = rendered.queues_conf.split("[401](+)")[1]
    assert "announce-position" not in section_401 and "queue-thereare" not in section_401
