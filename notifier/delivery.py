"""Delivery adapters (SMTP, webhook, JSON-lines file) and the dispatcher that retries them.

Each adapter sends one `PendingDelivery` or raises `DeliveryError`. The dispatcher takes what the
outbox (notifier/store.py) says is due, sends it, and records the result: a failure keeps the
delivery pending with a doubling delay, so a mail server or receiver that is down loses nothing.
Sending is at-least-once at this edge (a crash between "sent" and "recorded" resends one message);
each message carries its notification id (Message-ID, X-IOC-Notification, payload `id`) for that case.
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

from notifier.store import PendingDelivery, SqliteNotifyStore

log = logging.getLogger("ioc.notify")

USER_AGENT = "ioc-monitor-notifier/1"


class DeliveryError(Exception):
    """A delivery failed; it will be retried."""


class Sender(Protocol):
    def send(self, delivery: PendingDelivery) -> None: ...


class SmtpSender:
    """One e-mail per recipient address, plain text UTF-8 (multipart with the files when it has
    attachments), over smtplib."""

    def __init__(self, host: str, port: int = 25, sender: str = "ioc-monitor@localhost", *,
                 user: str | None = None, password: str | None = None, starttls: bool = False,
                 use_ssl: bool = False, timeout: float = 10.0):
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password = user, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout

    def message(self, delivery: PendingDelivery) -> Message:
        """Built with the legacy `Header` API on purpose: the modern folder drops the space between two
        RFC 2047 encoded words when it folds a long Vietnamese subject ("— Sở" becomes "—Sở")."""
        text = MIMEText(delivery.body, "plain", "utf-8")
        msg: Message = text
        if delivery.attachments:
            msg = MIMEMultipart("mixed")
            msg.attach(text)
            for attachment in delivery.attachments:
                main, _, sub = attachment.content_type.partition("/")
                part = MIMEBase(main, sub or "octet-stream")
                part.set_payload(attachment.data)
                encoders.encode_base64(part)
                part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
                msg.attach(part)
        msg["From"] = self.sender
        msg["To"] = delivery.address
        msg["Subject"] = Header(delivery.subject, "utf-8")  # type: ignore[assignment]  # documented use
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        digest = hashlib.blake2b(f"{delivery.key}|{delivery.address}".encode(), digest_size=16).hexdigest()
        msg["Message-ID"] = f"<{digest}@ioc-monitor>"  # the same on a resend: mail clients fold duplicates
        msg["X-IOC-Notification"] = delivery.key
        return msg

    def send(self, delivery: PendingDelivery) -> None:
        context = ssl.create_default_context()
        try:
            smtp = (smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
                    if self.use_ssl else smtplib.SMTP(self.host, self.port, timeout=self.timeout))
            with smtp:
                if self.starttls:
                    smtp.starttls(context=context)
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(self.message(delivery))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp {self.host}:{self.port}: {exc}") from exc


class WebhookSender:
    """POST the notification's JSON document; any 2xx answer is success."""

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout

    def send(self, delivery: PendingDelivery) -> None:
        request = urllib.request.Request(
            delivery.address, data=delivery.payload.encode(), method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                     "X-IOC-Notification": delivery.key})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook {delivery.address}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DeliveryError(f"webhook {delivery.address}: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook {delivery.address}: HTTP {status}")


class FileSink:
    """Append each notification as one JSON line: the local runs' outbox you can `tail -f`."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def send(self, delivery: PendingDelivery) -> None:
        line = json.dumps(json.loads(delivery.payload), ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.path.open("a", encoding="utf-8") as out:
                out.write(line)
        except OSError as exc:
            raise DeliveryError(f"file {self.path}: {exc}") from exc


def _endpoint(delivery: PendingDelivery) -> str:
    """What fails together: every e-mail goes through the one SMTP server; webhooks per host."""
    if delivery.channel == "webhook":
        return "webhook:" + (urllib.parse.urlsplit(delivery.address).netloc or delivery.address)
    return delivery.channel


class Dispatcher:
    """Sends the outbox's due deliveries and records each result (sent, or retry later)."""

    def __init__(self, store: SqliteNotifyStore, senders: Mapping[str, Sender], *,
                 retry_initial: float = 5.0, retry_max: float = 600.0):
        self.store = store
        self.senders = dict(senders)
        self.retry_initial = retry_initial
        self.retry_max = retry_max

    def backoff(self, attempts: int) -> float:
        """Delay before retry number `attempts` (1, 2, ...): doubling, capped."""
        return float(min(self.retry_max, self.retry_initial * 2 ** min(attempts - 1, 30)))

    def run(self, wall: float, limit: int = 100) -> tuple[int, int]:
        """One pass over what is due at wall-clock `wall`; returns (sent, failed).

        After a failure, the other deliveries to the same endpoint (the mail server, a webhook host) are
        not tried in this pass but moved to the same retry time: one dead server costs one timeout per
        pass, and cannot keep the deliveries to other endpoints waiting behind it.
        """
        sent = failed = 0
        down: dict[str, tuple[float, str]] = {}
        for delivery in self.store.pending(wall, limit):
            endpoint = _endpoint(delivery)
            if endpoint in down:
                retry_at, error = down[endpoint]
                self.store.postpone(delivery.id, error, retry_at)
                continue
            sender = self.senders.get(delivery.channel)
            try:
                if sender is None:
                    raise DeliveryError(f"channel {delivery.channel!r} is not configured")
                sender.send(delivery)
            except DeliveryError as exc:
                delay = self.backoff(delivery.attempts + 1)
                self.store.mark_failed(delivery.id, str(exc), wall + delay)
                down[endpoint] = (wall + delay, str(exc))
                log.warning("delivery %s via %s failed (attempt %d), retry in %.0f s: %s",
                            delivery.key, delivery.channel, delivery.attempts + 1, delay, exc)
                failed += 1
            else:
                self.store.mark_sent(delivery.id, wall)
                log.info("sent %s via %s to %s", delivery.key, delivery.channel, delivery.address or "file")
                sent += 1
        return sent, failed
