"""The notifier's durable memory in one SQLite file: what was seen, what is open, what is still to send.

Why SQLite: the notifier is a single process per centre, and its promise ("exactly one message per
transition, nothing lost") rests on writing the decision and the outgoing messages in one local
transaction *before* the Kafka offset is committed. After a crash the alert comes again, is recognised
by its `alert_id`, and the messages already recorded are still pending here, so they are sent once.

Tables: `seen` (alert ids), `overdue` (open overdue dossiers, with their escalation time), `due_soon`,
`resolved_late` (until the next digest), `held` (immediate messages waiting for office hours),
`notifications` + `deliveries` (the outbox: one delivery per channel and address, retried with
backoff until sent), `meta` (the last digest date). `prune` forgets seen ids and sent messages after
the retention (`IOC_NOTIFY_RETENTION_DAYS`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dossiers.alerts import Alert
from dossiers.calendar import Timestamp, WorkSeconds
from notifier.policy import Attachment, Outbound

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
    alert_id TEXT PRIMARY KEY, kind TEXT NOT NULL, dossier TEXT NOT NULL, agency TEXT NOT NULL,
    at INTEGER NOT NULL, recorded_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS overdue (
    dossier TEXT PRIMARY KEY, agency TEXT NOT NULL, alert TEXT NOT NULL,
    due_work INTEGER NOT NULL, escalated_at INTEGER);
CREATE INDEX IF NOT EXISTS overdue_escalation ON overdue (due_work) WHERE escalated_at IS NULL;
CREATE TABLE IF NOT EXISTS due_soon (
    dossier TEXT PRIMARY KEY, agency TEXT NOT NULL, due_at INTEGER NOT NULL, alert TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resolved_late (
    alert_id TEXT PRIMARY KEY, agency TEXT NOT NULL, at INTEGER NOT NULL, alert TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS held (
    key TEXT PRIMARY KEY, dossier TEXT NOT NULL, release_at INTEGER NOT NULL, alert TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS held_release ON held (release_at);
CREATE INDEX IF NOT EXISTS held_dossier ON held (dossier);
CREATE TABLE IF NOT EXISTS notifications (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, agency TEXT NOT NULL, dossier TEXT,
    subject TEXT NOT NULL, body TEXT NOT NULL, payload TEXT NOT NULL, recorded_wall REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL REFERENCES notifications (key),
    channel TEXT NOT NULL, address TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL, last_error TEXT, sent_wall REAL,
    UNIQUE (key, channel, address));
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (next_attempt) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS attachments (
    key TEXT NOT NULL REFERENCES notifications (key) ON DELETE CASCADE, position INTEGER NOT NULL,
    filename TEXT NOT NULL, content_type TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (key, position));
"""


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """One message to one address on one channel, as the delivery adapters need it."""

    id: int
    key: str
    channel: str
    address: str
    attempts: int
    subject: str
    body: str
    payload: str
    """The notification's JSON document (ioc-notification/1), as text."""
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery's history, for `ioc notify --status` and the tests."""

    key: str
    kind: str
    channel: str
    address: str
    state: str
    attempts: int
    last_error: str | None


class SqliteNotifyStore:
    """Implements `notifier.policy.NotifyState` plus the outbox; one connection, one thread."""

    def __init__(self, path: str | Path):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.executescript(SCHEMA)
        self._depth = 0

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: the decisions on a batch of alerts and the messages they produce."""
        if self._depth:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: undo one record's partial writes if handling it fails."""
        self.db.execute("SAVEPOINT one_record")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO one_record")
            self.db.execute("RELEASE one_record")
            raise
        self.db.execute("RELEASE one_record")

    def _alerts(self, sql: str, *args: Any) -> list[Alert]:
        return [Alert.from_json(row[0]) for row in self.db.execute(sql, args)]

    # -- NotifyState ----------------------------------------------------------------------------------
    def first_sight(self, alert: Alert, now: Timestamp) -> bool:
        cur = self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?, ?)",
                              (alert.alert_id, alert.kind, alert.dossier, alert.agency, alert.at, now))
        return cur.rowcount == 1

    def open_overdue(self, alert: Alert, due_work: WorkSeconds) -> bool:
        cur = self.db.execute("INSERT OR IGNORE INTO overdue VALUES (?, ?, ?, ?, NULL)",
                              (alert.dossier, alert.agency, alert.to_json().decode(), due_work))
        return cur.rowcount == 1

    def close_overdue(self, dossier: str) -> None:
        self.db.execute("DELETE FROM overdue WHERE dossier = ?", (dossier,))

    def overdue(self) -> list[Alert]:
        return self._alerts("SELECT alert FROM overdue ORDER BY agency, dossier")

    def escalations_due(self, due_work_until: WorkSeconds) -> list[Alert]:
        return self._alerts("SELECT alert FROM overdue WHERE escalated_at IS NULL AND due_work <= ? "
                            "ORDER BY due_work, dossier", due_work_until)

    def mark_escalated(self, dossier: str, now: Timestamp) -> None:
        self.db.execute("UPDATE overdue SET escalated_at = ? WHERE dossier = ?", (now, dossier))

    def track_due_soon(self, alert: Alert) -> None:
        due = alert.due_at if alert.due_at is not None else alert.at
        self.db.execute("INSERT OR REPLACE INTO due_soon VALUES (?, ?, ?, ?)",
                        (alert.dossier, alert.agency, due, alert.to_json().decode()))

    def untrack_due_soon(self, dossier: str) -> None:
        self.db.execute("DELETE FROM due_soon WHERE dossier = ?", (dossier,))

    def due_soon(self, now: Timestamp) -> list[Alert]:
        self.db.execute("DELETE FROM due_soon WHERE due_at < ?", (now,))
        return self._alerts("SELECT alert FROM due_soon ORDER BY agency, due_at, dossier")

    def add_resolved_late(self, alert: Alert) -> None:
        self.db.execute("INSERT OR IGNORE INTO resolved_late VALUES (?, ?, ?, ?)",
                        (alert.alert_id, alert.agency, alert.at, alert.to_json().decode()))

    def resolved_late(self) -> list[Alert]:
        return self._alerts("SELECT alert FROM resolved_late ORDER BY agency, at, alert_id")

    def clear_resolved_late(self, alert_ids: Sequence[str]) -> None:
        self.db.executemany("DELETE FROM resolved_late WHERE alert_id = ?", [(a,) for a in alert_ids])

    def hold(self, alert: Alert, release_at: Timestamp) -> None:
        self.db.execute("INSERT OR IGNORE INTO held VALUES (?, ?, ?, ?)",
                        (alert.alert_id, alert.dossier, release_at, alert.to_json().decode()))

    def drop_held(self, dossier: str) -> None:
        self.db.execute("DELETE FROM held WHERE dossier = ?", (dossier,))

    def release_held(self, now: Timestamp) -> list[Alert]:
        found = self._alerts("SELECT alert FROM held WHERE release_at <= ? ORDER BY release_at, key", now)
        self.db.execute("DELETE FROM held WHERE release_at <= ?", (now,))
        return found

    def held(self) -> list[tuple[Alert, Timestamp]]:
        """Messages waiting for office hours, with their release time (for status and tests)."""
        rows = self.db.execute("SELECT alert, release_at FROM held ORDER BY release_at, key")
        return [(Alert.from_json(alert), int(release)) for alert, release in rows]

    def get_meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    # -- outbox ---------------------------------------------------------------------------------------
    def record(self, outbound: Outbound, targets: Sequence[tuple[str, str]], wall: float) -> bool:
        """Queue a notification and its deliveries; False if that key was recorded before."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO notifications VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (outbound.key, outbound.kind, outbound.agency, outbound.dossier, outbound.subject,
                 outbound.body, json.dumps(outbound.payload, ensure_ascii=False), wall))
            if cur.rowcount != 1:
                return False
            self.db.executemany(
                "INSERT OR IGNORE INTO deliveries (key, channel, address, next_attempt) VALUES (?, ?, ?, ?)",
                [(outbound.key, channel, address, wall) for channel, address in targets])
            self.db.executemany(
                "INSERT INTO attachments VALUES (?, ?, ?, ?, ?)",
                [(outbound.key, i, a.filename, a.content_type, a.data)
                 for i, a in enumerate(outbound.attachments)])
            return True

    def pending(self, wall: float, limit: int = 100) -> list[PendingDelivery]:
        """Deliveries whose (re)try time has come, oldest first."""
        rows = self.db.execute(
            "SELECT d.id, d.key, d.channel, d.address, d.attempts, n.subject, n.body, n.payload "
            "FROM deliveries d JOIN notifications n ON n.key = d.key "
            "WHERE d.state = 'pending' AND d.next_attempt <= ? ORDER BY d.next_attempt, d.id LIMIT ?",
            (wall, limit))
        found = [PendingDelivery(*row) for row in rows]
        return [replace(d, attachments=self.attachments(d.key)) if d.channel == "email" else d for d in found]

    def attachments(self, key: str) -> tuple[Attachment, ...]:
        """The files of a notification, in order (none for most)."""
        rows = self.db.execute("SELECT filename, content_type, data FROM attachments WHERE key = ? "
                               "ORDER BY position", (key,))
        return tuple(Attachment(name, kind, bytes(data)) for name, kind, data in rows)

    def next_attempt(self) -> float | None:
        row = self.db.execute("SELECT MIN(next_attempt) FROM deliveries WHERE state = 'pending'").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def mark_sent(self, delivery_id: int, wall: float) -> None:
        self.db.execute("UPDATE deliveries SET state = 'sent', attempts = attempts + 1, sent_wall = ?, "
                        "last_error = NULL WHERE id = ?", (wall, delivery_id))

    def mark_failed(self, delivery_id: int, error: str, retry_at: float) -> None:
        self.db.execute("UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt = ? "
                        "WHERE id = ?", (error[:1000], retry_at, delivery_id))

    def postpone(self, delivery_id: int, error: str, retry_at: float) -> None:
        """Not tried because its endpoint just failed: later, without counting an attempt."""
        self.db.execute("UPDATE deliveries SET last_error = ?, next_attempt = ? WHERE id = ?",
                        (error[:1000], retry_at, delivery_id))

    # -- housekeeping ---------------------------------------------------------------------------------
    def prune(self, seen_before: Timestamp, sent_before_wall: float) -> dict[str, int]:
        """Forget what no longer needs remembering, so the file does not grow forever.

        Alert ids first recorded before business time `seen_before` (only a replay of the alerts topic
        from further back than that could bring them again: keep the retention longer than the topic's),
        deliveries sent before `sent_before_wall`, and notifications older than that with no delivery
        left. Pending deliveries, open overdue dossiers, held messages and the digest's items are kept
        whatever their age.
        """
        with self.transaction():
            seen = self.db.execute("DELETE FROM seen WHERE recorded_at < ?", (seen_before,)).rowcount
            sent = self.db.execute("DELETE FROM deliveries WHERE state = 'sent' AND sent_wall < ?",
                                   (sent_before_wall,)).rowcount
            notifications = self.db.execute(
                "DELETE FROM notifications WHERE recorded_wall < ? AND NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.key = notifications.key)", (sent_before_wall,)).rowcount
        return {"alerts_seen": seen, "deliveries": sent, "notifications": notifications}

    def deliveries(self) -> list[DeliveryRecord]:
        rows = self.db.execute(
            "SELECT d.key, n.kind, d.channel, d.address, d.state, d.attempts, d.last_error "
            "FROM deliveries d JOIN notifications n ON n.key = d.key ORDER BY d.id")
        return [DeliveryRecord(*row) for row in rows]

    def stats(self) -> dict[str, int]:
        """Counts for the status report and the logs."""
        one = self.db.execute
        return {
            "alerts_seen": one("SELECT COUNT(*) FROM seen").fetchone()[0],
            "overdue_open": one("SELECT COUNT(*) FROM overdue").fetchone()[0],
            "escalated": one("SELECT COUNT(*) FROM overdue WHERE escalated_at IS NOT NULL").fetchone()[0],
            "due_soon": one("SELECT COUNT(*) FROM due_soon").fetchone()[0],
            "held": one("SELECT COUNT(*) FROM held").fetchone()[0],
            "notifications": one("SELECT COUNT(*) FROM notifications").fetchone()[0],
            "pending": one("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'").fetchone()[0],
            "sent": one("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'").fetchone()[0],
        }
