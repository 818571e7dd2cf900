"""Doctor's checks beyond configuration and schema: is a dialer running and logged in to AMI, does
anything wait in the local journal, and can the user Asterisk runs as read /etc/freepbx.conf.

Each check returns a :class:`Check` (``check``, ``ok``, ``detail`` and extra fields). The summaries
``daemon`` and ``journal`` have a fixed shape that the FreePBX page reads.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .journal import Journal
from .models import NodeStatus

JOURNAL_MAX_AGE_S = 60.0  # replay runs every tick: anything older means the database stays unreachable
DEFAULT_ASTERISK_USER = "asterisk"


@dataclass(frozen=True)
class Check:
    check: str
    ok: bool
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail, **self.extra}


def _ago(seconds: float) -> str:
    return f"{seconds:.1f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


# --- the dialer --------------------------------------------------------------------------------------

UNKNOWN_DAEMON: dict[str, Any] = {"up": None, "last_tick_at": None, "ami_ok": None, "node": None}


def _stamp(node: NodeStatus) -> str:
    return node.last_tick_at.isoformat(timespec="milliseconds") + "Z"


def _describe(node: NodeStatus) -> str:
    return f"{node.kind} on {node.node} (pid {node.pid}, {node.version})"


def daemon(nodes: list[NodeStatus], callback_queues: int) -> tuple[Check, dict[str, Any]]:
    """Up while some dialer's last tick is younger than 3 of its tick intervals; it must also be logged in
    to AMI. No live dialer fails as soon as a queue offers callback: nobody would be called back."""
    listed = {"nodes": [n.to_dict() for n in nodes]}
    live = [n for n in nodes if n.up]
    if live:
        # Prefer a dialer that can log in, then serve over a cron tick, then the freshest.
        best = max(live, key=lambda n: (n.ami_ok is not False, n.kind == "serve", -n.age_s))
        summary = {"up": True, "last_tick_at": _stamp(best), "ami_ok": best.ami_ok, "node": best.node}
        if best.ami_ok is False:
            detail = f"{_describe(best)} runs but cannot log in to AMI: {best.ami_error or 'no reason given'}"
            return Check("daemon", False, detail, listed), summary
        ami = "AMI logged in" if best.ami_ok else "AMI not tried"
        return Check("daemon", True, f"{_describe(best)} ticked {_ago(best.age_s)}; {ami}", listed), summary
    last = nodes[0] if nodes else None
    summary = {
        "up": False,
        "last_tick_at": _stamp(last) if last else None,
        "ami_ok": None,
        "node": last.node if last else None,
    }
    if last is None:
        detail = "no dialer has run yet: start `freepbx-callback serve` (or the per-minute `dial` cron line)"
    elif last.stopped_at is not None:
        detail = f"no dialer running: {_describe(last)} stopped {_ago(last.age_s)}"
    else:
        detail = (
            f"no dialer running: {_describe(last)} last ticked {_ago(last.age_s)} "
            f"(every {last.tick_seconds:g} s when alive) and was not stopped cleanly"
        )
    if not callback_queues:
        return Check("daemon", True, f"{detail}; no queue offers callback", listed), summary
    return Check("daemon", False, detail, listed), summary


# --- the journal -------------------------------------------------------------------------------------


def journal(spool: Journal, now: float | None = None) -> tuple[Check, dict[str, Any]]:
    now = time.time() if now is None else now
    where = {"spool": str(spool.folder)}
    try:
        items = spool.waiting()
        rejected = spool.rejected()
    except OSError as exc:
        detail = f"cannot read the journal {spool.folder}: {exc.strerror or exc}"
        return Check("journal", False, detail, where), {"waiting": None, "oldest_age_s": None}
    oldest = round(max(0.0, now - min(i.created for i in items)), 1) if items else None
    counts = {
        "waiting": len(items),
        "requests": sum(i.kind == "request" for i in items),
        "outcomes": sum(i.kind == "leg" for i in items),
        "unreadable": sum(i.kind == "unreadable" for i in items),
        "oldest_age_s": oldest,
        "rejected": rejected,
    }
    summary = {"waiting": len(items), "oldest_age_s": oldest}
    aside = f"; {rejected} set aside in {spool.folder / 'rejected'}" if rejected else ""
    if not items:
        return Check("journal", True, f"nothing waits in {spool.folder}{aside}", where | counts), summary
    detail = (
        f"{counts['requests']} request(s) and {counts['outcomes']} outcome(s) wait in {spool.folder}, "
        f"the oldest for {oldest:.0f} s{aside}"
    )
    if oldest is not None and oldest > JOURNAL_MAX_AGE_S:
        detail += (
            f"; older than {JOURNAL_MAX_AGE_S:.0f} s: the dialer cannot store them (is the database "
            "reachable, is a dialer running?); `freepbx-callback journal replay` stores them now"
        )
        return Check("journal", False, detail, where | counts), summary
    return Check("journal", True, detail, where | counts), summary


# --- who can read /etc/freepbx.conf ------------------------------------------------------------------


class NoSuchUser(LookupError):
    pass


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    groups: frozenset[int]

    @classmethod
    def lookup(cls, name: str) -> Account:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise NoSuchUser(f"no user {name!r} on this host") from None
        return cls(name, entry.pw_uid, entry.pw_gid, frozenset(os.getgrouplist(name, entry.pw_gid)))


@dataclass(frozen=True)
class FileAccess:
    readable: bool
    problem: str = ""
    fix: str | None = None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _class_of(account: Account, st: os.stat_result) -> str:
    """Which permission bits apply to ``account``: the owner's, else the group's, else the others'."""
    if st.st_uid == account.uid:
        return "u"
    return "g" if st.st_gid in account.groups else "o"


def _allowed(account: Account, st: os.stat_result, bit: int) -> bool:
    """Mode bits only (ACLs are not read): root passes, as the kernel lets it."""
    if account.uid == 0:
        return True
    shift = {"u": 6, "g": 3, "o": 0}[_class_of(account, st)]
    return bool((st.st_mode >> shift) & bit)


def _shown(path: Path, st: os.stat_result) -> str:
    return f"{path} ({stat.filemode(st.st_mode)} {_user_name(st.st_uid)}:{_group_name(st.st_gid)})"


def file_access(path: Path, account: Account) -> FileAccess:
    """Can ``account`` read ``path``: every folder on the way must let it in, then the file's mode bits
    for its class (owner, group or others) must allow reading. The fix is the smallest change that does."""
    path = Path(os.path.abspath(path))
    for folder in reversed(path.parents):
        st = folder.stat()
        if not _allowed(account, st, 1):
            return FileAccess(
                False,
                f"{account.name} cannot enter {_shown(folder, st)}",
                f"chmod {_class_of(account, st)}+x {folder}",
            )
    st = path.stat()
    if _allowed(account, st, 4):
        return FileAccess(True)
    if st.st_uid == account.uid:
        fix = f"chmod u+r {path}"
    else:
        gid = st.st_gid if st.st_gid in account.groups else account.gid
        fix = f"chgrp {_group_name(gid)} {path} && chmod 640 {path}"
    return FileAccess(False, f"{account.name} cannot read {_shown(path, st)}", fix)


def config_readable(source: str | Path | None, user: str) -> Check:
    """When the database settings come from freepbx.conf, the agi-bin scripts (run by Asterisk's user)
    read that file on every call; unreadable, each call would fall back to the journal."""
    if not isinstance(source, Path):
        where = source or "nowhere (not configured)"
        detail = f"not used: the database settings come from {where}, not /etc/freepbx.conf"
        return Check("config_readable", True, detail, {"path": None, "user": None, "fix": None})
    extra: dict[str, Any] = {"path": str(source), "user": user, "fix": None}
    try:
        verdict = file_access(source, Account.lookup(user))
    except NoSuchUser as exc:
        detail = f"{exc}: pass the user Asterisk runs as with --asterisk-user or $QCB_ASTERISK_USER"
        return Check("config_readable", False, detail, extra)
    except OSError as exc:
        return Check("config_readable", False, f"cannot check {source}: {exc.strerror or exc}", extra)
    if verdict.readable:
        return Check("config_readable", True, f"{user} can read {source}", extra)
    extra["fix"] = verdict.fix
    detail = (
        f"{verdict.problem}; the agi-bin scripts run as {user} and read it on every call. Fix: {verdict.fix}"
    )
    return Check("config_readable", False, detail, extra)


# --- department alerts -------------------------------------------------------------------------------


def alerts(counts: dict[str, Any], max_tries: int) -> Check:
    """The outbox: never a failure (calls do not depend on it), a warning while alerts were given up."""
    given_up = int(counts.get("failed") or 0)
    detail = f"{counts.get('sent', 0)} sent, {counts.get('pending', 0)} waiting"
    extra = {"warning": given_up > 0, "given_up": given_up, "waiting": counts.get("pending", 0)}
    if given_up:
        detail = (
            f"{given_up} alert(s) given up after {max_tries} tries or a permanent refusal "
            f"(last error: {counts.get('last_error') or 'none'}); {detail}: see `freepbx-callback alert list`"
        )
    return Check("alerts", True, detail, extra)
