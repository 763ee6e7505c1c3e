"""Seeded lifecycles for stream tests: every event type, pauses, duplicates, and some invalid records.

Smaller and more adversarial than the simulator: it is here to break the pipeline, not to look real.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

from dossiers.catalog import Catalog
from tests.support.events import event, received


def lifecycles(
    catalog: Catalog, seed: int, dossiers: int, start: int, span: int, until: int | None = None
) -> list[dict[str, Any]]:
    """Events of `dossiers` dossiers received in [start, start + span), each dossier's events in time order.

    Events after `until` (default: start + span) have not happened yet and are left out.
    """
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    agencies = list(catalog.agencies)
    for i in range(dossiers):
        agency = rng.choice(agencies)
        procedure = rng.choice(agency.procedures)
        code = f"{agency.code}-{seed}-{i:06d}"
        t = start + rng.randrange(span)
        channel = rng.choice(procedure.channels)
        out.append(received(code, t, procedure.code, agency.code, channel))
        roll = rng.random()
        if roll < 0.02:
            out.append(event(f"{code}-x", "refused", t + 60, code, agency.code))
            continue
        if roll < 0.03:
            out.append(event(f"{code}-w", "withdrawn", t + 3600, code, agency.code))
            continue
        if rng.random() < 0.15:
            out.append(event(f"{code}-s1", "supplement_requested", t + 1800, code, agency.code))
            out.append(
                event(
                    f"{code}-s2",
                    "supplement_received",
                    t + 1800 + rng.randrange(3600, 5 * 86400),
                    code,
                    agency.code,
                )
            )
        if rng.random() < 0.1:
            out.append(
                event(
                    f"{code}-p1", "paused", t + 7200, code, agency.code, data={"reason": "nghĩa vụ tài chính"}
                )
            )
            out.append(
                event(f"{code}-p2", "resumed", t + 7200 + rng.randrange(3600, 3 * 86400), code, agency.code)
            )
        if rng.random() < 0.8:
            done = t + rng.randrange(600, 25 * 86400)
            out.append(
                event(
                    f"{code}-z",
                    "resolved",
                    done,
                    code,
                    agency.code,
                    data={"outcome": "approved" if rng.random() < 0.97 else "denied"},
                )
            )
            out.append(event(f"{code}-t", "returned", done + 3600, code, agency.code))
            if rng.random() < 0.5:
                rating = "unsatisfied" if rng.random() < 0.05 else rng.choice(["very_satisfied", "satisfied"])
                out.append(
                    event(f"{code}-q", "rated", done + 7200, code, agency.code, data={"rating": rating})
                )
            if rng.random() < 0.4:
                online = rng.random() < 0.6
                data: dict[str, Any] = {"online": online, "amount_vnd": 50_000}
                if online:
                    data["receipt"] = f"BL-{seed}-{i:06d}"
                out.append(event(f"{code}-m", "paid", done - 600, code, agency.code, data=data))
    limit = until if until is not None else start + span
    return [e for e in out if datetime.fromisoformat(e["occurred_at"]).timestamp() <= limit]


def with_noise(events: list[dict[str, Any]], seed: int) -> tuple[list[tuple[bytes, bytes]], int, int]:
    """Records (key, value) in per-dossier order, plus duplicates and invalid ones.

    Returns (records, duplicates, invalid): dead letters must equal `invalid`.
    """
    rng = random.Random(seed)
    records = [(e["dossier"].encode(), json.dumps(e, ensure_ascii=False).encode()) for e in events]
    duplicates = 0
    for _ in range(len(records) // 50):
        records.insert(rng.randrange(len(records) + 1), records[rng.randrange(len(records))])
        duplicates += 1
    bad = [
        b"{not json",
        b"\xff\xfe\x00",
        json.dumps({"event_id": "x", "type": "received"}).encode(),
        json.dumps({**events[0], "event_id": "bad-agency", "agency": "NOPE"}).encode(),
        json.dumps({**events[0], "event_id": "pii", "citizen_phone": "0905000000"}).encode(),
    ]
    for value in bad:
        records.insert(rng.randrange(len(records) + 1), (b"bad", value))
    # duplicates of a dossier's events may now precede its earlier events: order-free state handles it
    return records, duplicates, len(bad)
