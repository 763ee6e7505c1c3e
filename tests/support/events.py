"""Event builders for tests: dicts in contract v1 form."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

VN = timezone(timedelta(hours=7))


def at(ts: float) -> str:
    return datetime.fromtimestamp(ts, VN).isoformat(timespec="seconds")


def event(
    event_id: str, kind: str, ts: float, dossier: str, agency: str = "STP", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "schema": "dossier-event/1",
        "type": kind,
        "occurred_at": at(ts),
        "dossier": dossier,
        "agency": agency,
    }
    body.update(extra)
    return body


def received(
    dossier: str,
    ts: float,
    procedure: str = "P.FAST",
    agency: str = "STP",
    channel: str = "online",
    **extra: Any,
) -> dict[str, Any]:
    return event(
        f"{dossier}-r", "received", ts, dossier, agency, procedure=procedure, channel=channel, **extra
    )
