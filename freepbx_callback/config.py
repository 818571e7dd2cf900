"""Where the database is: ``--dsn``, else ``QCB_DSN``, else /etc/freepbx.conf (parsed, never run)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .records import record

FREEPBX_CONF = Path("/etc/freepbx.conf")
# `freepbx-callback serve`'s FastAGI port. Asterisk's own default (an agi:// URL without a port) is 4573,
# which FreePBX core's node FastAGI server owns; ours must never take it.
FASTAGI_PORT = 4577
ASTERISK_FASTAGI_PORT = 4573
_AMP_LINE = re.compile(r"""\$amp_conf\s*\[\s*['"](\w+)['"]\s*\]\s*=\s*(['"])(.*?)(?<!\\)\2\s*;""")


class ConfigError(Exception):
    """Configuration is missing or unreadable; the message is one line naming what was tried."""


@record(frozen=True)
class Dsn:
    user: str
    password: str
    host: str
    port: int
    database: str
    unix_socket: str | None = None

    @classmethod
    def parse(cls, text: str) -> Dsn:
        parts = urlsplit(text)
        if parts.scheme not in ("mysql", "mariadb"):
            raise ConfigError(f"DSN {redact(text)!r}: expected mysql://user:pass@host:port/database")
        database = unquote(parts.path.lstrip("/"))
        if not database or "/" in database:
            raise ConfigError(f"DSN {redact(text)!r}: the database name is missing")
        try:
            port = parts.port or 3306
        except ValueError as exc:
            raise ConfigError(f"DSN {redact(text)!r}: {exc}") from None
        socket = parse_qs(parts.query).get("unix_socket", [None])[0]
        return cls(
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "127.0.0.1",
            port=port,
            database=database,
            unix_socket=socket,
        )

    def url(self) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        query = f"?unix_socket={quote(self.unix_socket)}" if self.unix_socket else ""
        return f"mysql://{auth}@{self.host}:{self.port}/{quote(self.database)}{query}"

    def describe(self) -> str:
        where = self.unix_socket or f"{self.host}:{self.port}"
        return f"{self.user}@{where}/{self.database}"


def redact(text: str) -> str:
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", text)


def parse_freepbx_conf(text: str) -> dict[str, str]:
    """The ``$amp_conf['KEY'] = 'value';`` assignments of a freepbx.conf, without running PHP."""
    return {key: value.replace("\\'", "'").replace('\\"', '"') for key, _, value in _AMP_LINE.findall(text)}


def dsn_from_freepbx(path: Path) -> Dsn:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    conf = parse_freepbx_conf(text)
    missing = [key for key in ("AMPDBUSER", "AMPDBPASS", "AMPDBNAME") if key not in conf]
    if missing:
        raise ConfigError(f"{path} has no {', '.join(missing)}")
    host = conf.get("AMPDBHOST") or "localhost"
    port = int(conf.get("AMPDBPORT") or 3306)
    socket = conf.get("AMPDBSOCK") or None
    if host == "localhost" and not socket:
        host = "127.0.0.1"
    return Dsn(conf["AMPDBUSER"], conf["AMPDBPASS"], host, port, conf["AMPDBNAME"], socket)


def dsn_source(
    flag: str | None, environ: dict[str, str] | None = None, freepbx_conf: Path | None = None
) -> str | Path | None:
    """Where :func:`resolve_dsn` takes the database from: ``--dsn``, ``$QCB_DSN``, the freepbx.conf path,
    or None when nothing is configured."""
    env = os.environ if environ is None else environ
    freepbx_conf = freepbx_conf or FREEPBX_CONF
    if flag:
        return "--dsn"
    if env.get("QCB_DSN"):
        return "$QCB_DSN"
    return freepbx_conf if freepbx_conf.exists() else None


def resolve_dsn(
    flag: str | None, environ: dict[str, str] | None = None, freepbx_conf: Path | None = None
) -> Dsn:
    env = os.environ if environ is None else environ
    freepbx_conf = freepbx_conf or FREEPBX_CONF
    if flag:
        return Dsn.parse(flag)
    if env.get("QCB_DSN"):
        return Dsn.parse(env["QCB_DSN"])
    if freepbx_conf.exists():
        return dsn_from_freepbx(freepbx_conf)
    raise ConfigError(f"no database configured: tried --dsn, $QCB_DSN and {freepbx_conf} (not found)")
