"""Durable local spool: events that could not reach Kafka wait here, in order, across restarts.

An agency's system must never lose an event because the centre's broker was down for an hour, and must
not block its own users while it is. The producer writes such events to a SQLite file (WAL mode, one
committed transaction per append) and a drain thread re-sends them, oldest first, once the broker is
back. One producer process owns a spool file at a time (an advisory lock next to it): two drainers
on one file would send every event twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

Headers = Sequence[tuple[str, bytes]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id          INTEGER PRIMARY KEY,
    topic       TEXT,
    key         BLOB,
    value       BLOB NOT NULL,
    headers     TEXT NOT NULL,
    spooled_at  REAL NOT NULL
)
"""


class SpoolLocked(RuntimeError):
    """Another process (or another Spool object) already owns this spool file."""


@dataclass(frozen=True, slots=True)
class SpooledRecord:
    """One waiting Kafka record, exactly as it would have been sent."""

    id: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    topic: str | None
    spooled_at: float
    """Wall-clock time (epoch seconds) when the record was spooled."""


def _encode_headers(headers: Headers) -> str:
    return json.dumps([[name, value.hex()] for name, value in headers], separators=(",", ":"))


def _decode_headers(text: str) -> list[tuple[str, bytes]]:
    return [(str(name), bytes.fromhex(value)) for name, value in json.loads(text)]


class Spool:
    """An ordered, crash-safe FIFO of Kafka records in a SQLite file.

    Order is the `id` column. `reserve()` hands out ids ahead of time so a record that is first sent
    directly and only spooled when its delivery fails still takes its place *before* records that were
    produced after it (the producer's per-dossier ordering relies on that).

    Thread-safe: one connection guarded by a lock; the length is kept in memory so that the producer's
    hot path can ask "is the spool empty?" without a query.
    """

    def __init__(self, path: str | Path, *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL") -> None:
        """Open (or create) the spool at `path`.

        `synchronous="NORMAL"` survives a crash of the process (every append is a committed WAL
        transaction); `"FULL"` also survives a power cut, at the price of an fsync per append.
        """
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._lock_fd = os.open(f"{self.path}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._lock_fd)
            raise SpoolLocked(f"spool {self.path} is in use by another producer") from exc
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.execute(_SCHEMA)
            count, max_id = self._db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM spool").fetchone()
        except BaseException:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            raise
        self._count: int = int(count)
        self._ids = itertools.count(int(max_id) + 1)
        self._closed = False

    # -- writing ---------------------------------------------------------------------------------------
    def reserve(self) -> int:
        """A fresh id, greater than every id stored or reserved so far (no I/O)."""
        return next(self._ids)

    def append(
        self,
        key: bytes | None,
        value: bytes,
        headers: Headers = (),
        *,
        topic: str | None = None,
        seq: int | None = None,
    ) -> int:
        """Store one record durably (committed before returning); returns its id.

        `seq` is an id from `reserve()`: the record sorts by that id rather than at the end.
        """
        record_id = seq if seq is not None else next(self._ids)
        with self._lock:
            self._check_open()
            self._db.execute(
                "INSERT INTO spool (id, topic, key, value, headers, spooled_at) VALUES (?, ?, ?, ?, ?, ?)",
                (record_id, topic, key, value, _encode_headers(headers), time.time()),
            )
            self._count += 1
        return record_id

    def ack(self, ids: Iterable[int]) -> int:
        """Forget records that Kafka has acknowledged; returns how many were removed."""
        rows = [(i,) for i in ids]
        if not rows:
            return 0
        with self._lock:
            self._check_open()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.executemany("DELETE FROM spool WHERE id = ?", rows)
                removed = cursor.rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._count -= removed
        return removed

    # -- reading ---------------------------------------------------------------------------------------
    def peek(self, n: int = 500) -> list[SpooledRecord]:
        """The `n` oldest records, in order, without removing them (the drain acks what Kafka took)."""
        with self._lock:
            self._check_open()
            rows = self._db.execute(
                "SELECT id, key, value, headers, topic, spooled_at FROM spool ORDER BY id LIMIT ?", (n,)
            ).fetchall()
        return [
            SpooledRecord(
                id=row[0],
                key=None if row[1] is None else bytes(row[1]),
                value=bytes(row[2]),
                headers=_decode_headers(row[3]),
                topic=row[4],
                spooled_at=row[5],
            )
            for row in rows
        ]

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        # without this, an empty spool would be falsy and `spool or default` would surprise
        return True

    # -- lifecycle -------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Checkpoint, close the database and release the file lock (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"spool {self.path} is closed")

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r}, depth={self._count})"
