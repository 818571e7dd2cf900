"""What FreePBX knows that we need: manager credentials and folders from ``freepbx_settings``."""

from __future__ import annotations

from pathlib import Path

from .ami import AmiConfig
from .store import Store

KEYS = (
    "AMPMGRUSER",
    "AMPMGRPASS",
    "ASTMANAGERHOST",
    "ASTMANAGERPORT",
    "ASTAGIDIR",
    "ASTSPOOLDIR",
    "AMPASTERISKUSER",
)


def settings(store: Store) -> dict[str, str]:
    """The FreePBX settings we use; empty on plain Asterisk (no freepbx_settings table)."""
    return store.freepbx_settings(KEYS)


def ami_config(values: dict[str, str]) -> AmiConfig | None:
    if not values.get("AMPMGRUSER"):
        return None
    host = values.get("ASTMANAGERHOST") or "127.0.0.1"
    port = int(values.get("ASTMANAGERPORT") or 5038)
    return AmiConfig(
        values["AMPMGRUSER"], values.get("AMPMGRPASS", ""), "127.0.0.1" if host == "localhost" else host, port
    )


def agi_dir(values: dict[str, str]) -> str:
    return values.get("ASTAGIDIR") or "/var/lib/asterisk/agi-bin"


def spool_dir(values: dict[str, str]) -> Path:
    return Path(values.get("ASTSPOOLDIR") or "/var/spool/asterisk") / "qcb"


def asterisk_user(values: dict[str, str]) -> str | None:
    """The user FreePBX runs Asterisk (and so the agi-bin scripts) as."""
    return values.get("AMPASTERISKUSER") or None
