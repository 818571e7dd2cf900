"""The pure side of department alerts: kinds, addresses, the retry schedule, the transport URL and the
message an alert becomes."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes
from email.utils import parsedate_to_datetime

import pytest

from freepbx_callback import alerts
from freepbx_callback.alerts import Alert, AlertError


def _alert(kind: str = "new", **changes: object) -> Alert:
    values: dict[str, object] = {
        "id": 7,
        "request_id": 42,
        "kind": kind,
        "queue": "400",
        "number": "2015550123",
        "recipients": ("sales@example.com", "boss@example.com"),
        "timezone": "Europe/Moscow",
        "requested_at": datetime(2026, 1, 15, 9, 30, 5),
        "event_at": datetime(2026, 1, 15, 9, 52, 0),
        "attempts": 2,
        "last_outcome": "no answer, no attempts left",
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


def test_kinds_in_fixed_order_and_unknown_refused() -> None:
    assert alerts.parse_kinds("expired,new") == ("new", "expired")
    assert alerts.parse_kinds(["failed", "new, expired"]) == ("new", "failed", "expired")
    assert alerts.parse_kinds("") == ()
    with pytest.raises(AlertError, match="answered"):
        alerts.parse_kinds("new,answered")


def test_addresses_checked_deduplicated_in_order() -> None:
    assert alerts.parse_addresses(["b@example.com,a@example.com", "b@example.com"]) == (
        "b@example.com",
        "a@example.com",
    )
    for bad in ["nobody", "a@", "Sales <s@example.com>", "s@example.com\r\nBcc: x@example.com", "@x.org"]:
        with pytest.raises(AlertError):
            alerts.parse_address(bad)
    both = ("a@example.com", "b@example.com")
    assert alerts.decode(alerts.encode(both)) == both
    assert alerts.encode(()) is None and alerts.decode(None) == ()


def test_backoff_doubles_up_to_a_cap_and_5xx_is_permanent() -> None:
    assert [alerts.backoff(n) for n in range(1, 8)] == [60, 120, 240, 480, 960, 1800, 1800]
    assert [alerts.backoff(n, first=5) for n in range(1, 4)] == [5, 10, 20]  # --alert-retry 5
    assert alerts.permanent(550) and alerts.permanent(554)
    assert not alerts.permanent(421) and not alerts.permanent(451) and not alerts.permanent(None)


def test_transport_urls() -> None:
    t = alerts.parse_transport("smtp://ops%40example.com:s%3Acret@mail.example.com:587?starttls=1")
    assert (t.kind, t.host, t.port, t.user, t.password, t.starttls) == (
        "smtp",
        "mail.example.com",
        587,
        "ops@example.com",
        "s:cret",
        True,
    )
    assert alerts.parse_transport("smtps://mail.example.com").port == 465
    assert alerts.parse_transport("smtp://127.0.0.1").port == 25
    assert alerts.parse_transport("sendmail:").sendmail == "/usr/sbin/sendmail"
    assert alerts.parse_transport("sendmail:///usr/lib/sendmail").sendmail == "/usr/lib/sendmail"
    with pytest.raises(AlertError) as exc:
        alerts.parse_transport("http://u:secret@host")
    assert "secret" not in str(exc.value)


def test_new_request_message_names_number_queue_and_local_time() -> None:
    sent = datetime(2026, 1, 15, 9, 30, 6)
    msg = alerts.message(_alert("new"), "PBX <pbx@example.com>", "<1.2@example.com>", sent)
    assert msg["Subject"] == "Callback requested: 2015550123 (queue 400)"
    assert msg["To"] == "sales@example.com, boss@example.com"
    assert msg["From"] == "PBX <pbx@example.com>"
    assert msg["Message-ID"] == "<1.2@example.com>"
    assert parsedate_to_datetime(msg["Date"]).isoformat() == "2026-01-15T09:30:06+00:00"
    assert msg.get_content_type() == "text/plain"
    text = msg.get_content()
    assert "2015550123" in text and "Queue:      400" in text
    assert "2026-01-15 12:30:05 MSK" in text  # 09:30:05 UTC in the queue's zone
    assert "Attempts" not in text  # nothing was tried yet
    # What goes on the wire parses back to the same message.
    assert message_from_bytes(msg.as_bytes())["Subject"] == msg["Subject"]


def test_failed_and_expired_messages_carry_the_outcome() -> None:
    failed = alerts.message(_alert("failed"), "pbx@example.com", "<x@y>", datetime(2026, 1, 15, 10, 0))
    assert failed["Subject"] == "Callback failed: 2015550123 (queue 400)"
    text = failed.get_content()
    assert "Failed:     2026-01-15 12:52:00 MSK" in text
    assert "Attempts:   2" in text and "no answer, no attempts left" in text
    expired = alerts.message(
        _alert("expired", attempts=0, last_outcome="not dialled within the window", timezone="Nowhere/Else"),
        "pbx@example.com",
        "<x@y>",
        datetime(2026, 1, 15, 10, 0),
    )
    assert expired["Subject"] == "Callback expired: 2015550123 (queue 400)"
    text = expired.get_content()
    assert "Expired:    2026-01-15 09:52:00 UTC" in text  # an unknown zone falls back to UTC
    assert "not dialled within the window" in text and "Attempts:   0" in text


def test_sender_domain() -> None:
    assert alerts.sender_domain("PBX <pbx@example.com>") == "example.com"
    assert alerts.sender_domain("nobody") == "localhost"
