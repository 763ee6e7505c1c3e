"""The alert contract `dossier-alert/1` (cảnh báo hồ sơ): one SLA transition of one dossier.

Workers publish these records to the alerts topic; the supervisor notifier and the terminal wall read
them. This module is the only place the record is encoded and decoded: `Alert.to_json` writes it and
`Alert.from_json` reads it back strictly (a malformed record is a `ValueError` naming the field), so a
change to the contract touches one file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from dossiers.calendar import Timestamp
from dossiers.sla import Timeliness

SCHEMA: Final = "dossier-alert/1"


class AlertKind(StrEnum):
    """Why a dossier is being signalled."""

    OVERDUE = "overdue"  # quá hạn: an open dossier passed its due time
    DUE_SOON = "due_soon"  # sắp đến hạn: an open dossier has little working time left
    RESOLVED_LATE = "resolved_late"  # giải quyết quá hạn: a result came after the due time
    SYNC_LATE = "sync_late"  # chậm đồng bộ Cổng DVCQG: received, not synced to the portal in time


ALERT_KINDS: Final = tuple(kind.value for kind in AlertKind)
KIND_OF: Final[dict[Timeliness, AlertKind]] = {
    Timeliness.OVERDUE: AlertKind.OVERDUE,
    Timeliness.DUE_SOON: AlertKind.DUE_SOON,
    Timeliness.LATE: AlertKind.RESOLVED_LATE,
}
"""The SLA classes that raise an alert, and the alert each raises."""


def alert_id(dossier: str, kind: str, due_at: Timestamp | None) -> str:
    """Deterministic, so a re-sent alert (after a crash) is recognisably the same alert."""
    return hashlib.blake2b(f"{dossier}|{kind}|{due_at}".encode(), digest_size=12).hexdigest()


def iso(ts: Timestamp | None) -> str | None:
    """UTC ISO 8601 with a `Z`, the contract's time format; None stays None."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Alert:
    """One SLA transition of one dossier, as published to the alerts topic."""

    alert_id: str
    kind: str
    dossier: str
    agency: str
    procedure: str | None
    field: str | None
    due_at: Timestamp | None
    at: Timestamp
    late_seconds: int
    appointment_at: Timestamp | None

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "schema": SCHEMA,
            "alert_id": self.alert_id,
            "kind": self.kind,
            "dossier": self.dossier,
            "agency": self.agency,
            "procedure": self.procedure,
            "field": self.field,
            "due_at": iso(self.due_at),
            "at": iso(self.at),
            "late_seconds": self.late_seconds,
            "appointment_at": iso(self.appointment_at),
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Alert:
        """Read one record strictly (the inverse of `to_json`); ValueError naming the field when malformed."""
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        if body.get("schema") != SCHEMA:
            raise ValueError(f"schema: expected {SCHEMA!r}, got {body.get('schema')!r}")
        kind = _text(body, "kind")
        if kind not in ALERT_KINDS:
            raise ValueError(f"kind: expected one of {', '.join(ALERT_KINDS)}, got {kind!r}")
        late = body.get("late_seconds", 0)
        if not isinstance(late, int) or isinstance(late, bool):
            raise ValueError("late_seconds: expected an integer")
        at = _instant(body, "at")
        if at is None:
            raise ValueError("at: missing")
        return cls(
            alert_id=str(_text(body, "alert_id")),
            kind=str(kind),
            dossier=str(_text(body, "dossier")),
            agency=str(_text(body, "agency")),
            procedure=_text(body, "procedure", required=False),
            field=_text(body, "field", required=False),
            due_at=_instant(body, "due_at"),
            at=at,
            late_seconds=late,
            appointment_at=_instant(body, "appointment_at"),
        )


def _instant(body: dict[str, Any], name: str) -> Timestamp | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name}: not an ISO 8601 time ({exc})") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{name}: no time zone offset")
    return int(moment.timestamp())


def _text(body: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: expected a non-empty string")
    return value
