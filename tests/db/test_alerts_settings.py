"""Which mail settings the sender uses: the flags/environment, else FreePBX's (read from a real
``freepbx_settings`` table, as FreePBX 17 keeps it), else none on plain Asterisk."""

from __future__ import annotations

import socket

import pytest

from freepbx_callback import alerts, mailer
from freepbx_callback.store import Store


def _freepbx(store: Store, **values: str) -> None:
    store._run(
        "CREATE TABLE freepbx_settings (keyword VARCHAR(50) NOT NULL PRIMARY KEY, value VARCHAR(255), "
        "name VARCHAR(80), level TINYINT, description TEXT, type VARCHAR(25), options TEXT, "
        "defaultval VARCHAR(255), readonly TINYINT, hidden TINYINT, category VARCHAR(50), "
        "module VARCHAR(25), emptyok TINYINT, sortorder INT)"
    )
    for key, value in values.items():
        store._run("INSERT INTO freepbx_settings (keyword, value) VALUES (%s, %s)", (key, value))


def test_plain_asterisk_needs_a_url(store: Store) -> None:
    assert mailer.resolve(None, None, store) is None
    config = mailer.resolve("smtps://u:p@mail.example.com", "pbx@example.com", store)
    assert config is not None and config.transport.kind == "smtps" and config.sender == "pbx@example.com"
    assert config.envelope_from == "pbx@example.com"
    with pytest.raises(alerts.AlertError):
        mailer.resolve("smtp://mail.example.com", "not an address", store)


def test_freepbx_uses_its_local_mta_and_its_from_address(store: Store) -> None:
    _freepbx(store, AMPUSERMANEMAILFROM="pbx@example.com", FREEPBX_SYSTEM_IDENT="VoIP Server")
    config = mailer.resolve(None, None, store)
    assert config is not None
    assert (config.transport.kind, config.transport.host, config.transport.port) == ("smtp", "localhost", 25)
    assert config.sender == "VoIP Server Message <pbx@example.com>"
    assert config.envelope_from == "pbx@example.com"
    # The flags still win.
    given = mailer.resolve("smtp://relay.example.com:2525", "ops@example.com", store)
    assert given is not None and given.transport.port == 2525 and given.sender == "ops@example.com"


def test_freepbx_without_a_from_address(store: Store) -> None:
    _freepbx(store, AMPUSERMANEMAILFROM="", AMPASTERISKUSER="asterisk")
    config = mailer.resolve(None, None, store)
    assert config is not None and config.sender == f"asterisk@{socket.getfqdn()}"
