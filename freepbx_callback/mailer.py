"""The alert sender: delivers the outbox (``qcb_alerts``) by SMTP or the local MTA's sendmail.

``serve`` runs it in a thread of its own (a slow or dead mail server never holds up a tick or a call);
the cron ``dial`` runs one pass after its tick. Each alert is claimed with a conditional UPDATE before it
is sent, so two senders never send one alert twice; a failed try is retried with backoff
(:func:`freepbx_callback.alerts.backoff`) and given up after :data:`~freepbx_callback.alerts.MAX_TRIES`
tries, or at once when the server refuses the recipients for good (5xx). ``doctor`` counts the alerts
given up.

Mail settings: ``--smtp URL`` / ``$QCB_SMTP`` and ``--mail-from`` / ``$QCB_MAIL_FROM``. On FreePBX,
without them: what FreePBX's own mail class does (framework ``BMO/Mail.class.php``): SMTP to the local
MTA on localhost:25 (System Admin's e-mail setup configures that MTA's relay), From the User Management
``Email "From:" Address`` (``AMPUSERMANEMAILFROM``) when set, else ``asterisk@<hostname>``, named after
``FREEPBX_SYSTEM_IDENT``.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from . import alerts
from .service import CallbackService, utcnow
from .store import Store, StoreError

log = logging.getLogger(__name__)
FREEPBX_MAIL_KEYS = ("AMPUSERMANEMAILFROM", "FREEPBX_SYSTEM_IDENT", "AMPASTERISKUSER")
SMTP_TIMEOUT = 20.0  # seconds one SMTP conversation step may take
SEND_EVERY = 10.0  # serve's sender looks for due alerts this often


class MailError(Exception):
    """A try that failed; ``code`` is the SMTP reply code when the server answered; ``permanent`` when
    the server refused the recipients for good (trying again will not help; a refused login or sender is
    a setting an admin can fix, and is retried)."""

    def __init__(self, text: str, code: int | None = None, permanent: bool = False) -> None:
        super().__init__(text)
        self.code, self.permanent = code, permanent


@dataclass(frozen=True)
class MailConfig:
    transport: alerts.Transport
    sender: str  # the From header: "Name <address>" or an address
    first_backoff: int = alerts.FIRST_BACKOFF  # seconds before the second try (doubled after each)

    @property
    def envelope_from(self) -> str:
        from email.utils import parseaddr

        return parseaddr(self.sender)[1]


def resolve(
    url: str | None, sender: str | None, store: Store | None, first_backoff: int = alerts.FIRST_BACKOFF
) -> MailConfig | None:
    """The mail settings: the flags/environment, else FreePBX's; None on plain Asterisk without --smtp
    (alerts then wait in the outbox). AlertError for a bad URL or address."""
    values = store.freepbx_settings(FREEPBX_MAIL_KEYS) if store is not None else {}
    if sender:
        sender = sender.strip()
        alerts.parse_address(_address(sender))
    if url:
        transport = alerts.parse_transport(url)
    elif values:
        transport = alerts.Transport("smtp", host="localhost", port=25)
    else:
        return None
    if not sender:
        address = values.get("AMPUSERMANEMAILFROM", "").strip()
        if not address or not _valid(address):
            user = values.get("AMPASTERISKUSER") or ("asterisk" if values else "freepbx-callback")
            address = f"{user}@{socket.getfqdn() or 'localhost'}"
        name = f"{values['FREEPBX_SYSTEM_IDENT']} Message" if values.get("FREEPBX_SYSTEM_IDENT") else ""
        sender = formataddr((name, address)) if name else address
    return MailConfig(transport, sender, first_backoff)


def _address(text: str) -> str:
    from email.utils import parseaddr

    return parseaddr(text)[1] or text


def _valid(address: str) -> bool:
    try:
        alerts.parse_address(address)
    except alerts.AlertError:
        return False
    return True


def deliver(config: MailConfig, msg: EmailMessage, timeout: float = SMTP_TIMEOUT) -> None:
    """Hand one message to the transport; MailError when it was not taken."""
    t = config.transport
    recipients = [a.strip() for a in str(msg["To"]).split(",") if a.strip()]
    if t.kind == "sendmail":
        try:
            done = subprocess.run(  # noqa: S603 - a fixed program, the message on stdin
                [t.sendmail, "-t", "-oi", "-f", config.envelope_from],
                input=msg.as_bytes(),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MailError(f"{t.sendmail}: {exc}") from None
        if done.returncode != 0:
            raise MailError(f"{t.sendmail} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
        return
    try:
        smtp: smtplib.SMTP
        if t.kind == "smtps":
            smtp = smtplib.SMTP_SSL(t.host, t.port, timeout=timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(t.host, t.port, timeout=timeout)
        with smtp:
            if t.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if t.user:
                smtp.login(t.user, t.password)
            smtp.send_message(msg, from_addr=config.envelope_from, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        code = min(codes) if codes else None
        raise MailError(f"recipients refused: {exc.recipients}", code, alerts.permanent(code)) from None
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else error
        raise MailError(f"{t.describe()}: {exc.smtp_code} {text}", exc.smtp_code) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"{t.describe()}: {exc or type(exc).__name__}") from None


def send_due(
    service: CallbackService,
    config: MailConfig,
    node: str,
    deliver_: Callable[[MailConfig, EmailMessage], None] = deliver,
    limit: int = 50,
) -> dict[str, int]:
    """One pass over the due alerts: each claimed, built, sent, and marked sent or not sent.
    After a failure that is not about one message (the server cannot be reached), the pass stops."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    for alert_id in service.alerts_due(limit):
        alert = service.claim_alert(alert_id, node)
        if alert is None:
            continue  # another sender has it
        msg = alerts.message(
            alert,
            config.sender,
            make_msgid("qcb-alert", alerts.sender_domain(config.sender)),
            utcnow(),
        )
        try:
            deliver_(config, msg)
        except MailError as exc:
            gave_up = service.alert_not_sent(alert, node, str(exc), exc.permanent, config.first_backoff)
            counts["failed" if gave_up else "retry"] += 1
            log_ = log.error if gave_up else log.warning
            log_("alert %s (%s, request %s) not sent: %s", alert.id, alert.kind, alert.request_id, exc)
            if exc.permanent:
                continue  # about this message only
            break  # the server is down or refuses us: the others wait for their next try
        service.alert_sent(alert.id, node)
        counts["sent"] += 1
    return counts


class AlertSender:
    """``serve``'s sender thread: a pass every ``every`` seconds (and at once after :meth:`poke`)."""

    def __init__(
        self,
        service: Callable[[], CallbackService],
        config: MailConfig,
        node: str,
        every: float = SEND_EVERY,
    ) -> None:
        self.service, self.config, self.node, self.every = service, config, node, every
        self.wake = threading.Event()
        self.passes = 0

    def poke(self) -> None:
        self.wake.set()

    def run(self, stop: threading.Event) -> None:
        svc: CallbackService | None = None
        while not stop.is_set():
            try:
                svc = svc or self.service()
                counts = send_due(svc, self.config, self.node)
                if any(counts.values()):
                    log.info("alerts: %s", counts)
            except StoreError as exc:
                log.warning("alerts not sent, database unavailable: %s", exc)
                svc = _closed(svc)
            except Exception:  # noqa: BLE001 - the next pass tries again
                log.exception("alert sender pass failed")
                svc = _closed(svc)
            self.passes += 1
            self.wake.wait(self.every)
            self.wake.clear()
        _closed(svc)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="alerts", daemon=True)
        thread.start()
        return thread


def _closed(svc: CallbackService | None) -> None:
    if svc is not None:
        with contextlib.suppress(Exception):  # it is being dropped anyway
            svc.store.close()


def test_message(config: MailConfig, to: str) -> EmailMessage:
    """A test mail (``alert test``): proves the settings before a real alert needs them."""
    from email.utils import format_datetime

    msg = EmailMessage()
    msg["Subject"] = "Callback alerts: test message"
    msg["From"] = config.sender
    msg["To"] = to
    msg["Date"] = format_datetime(utcnow().replace(tzinfo=UTC))
    msg["Message-ID"] = make_msgid("qcb-test", alerts.sender_domain(config.sender))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(f"Callback alerts reach this address through {config.transport.describe()}.\n")
    return msg
