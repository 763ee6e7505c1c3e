"""The simulator's 766 facts (`Profile(index766=True)`, `ioc simulate --index766`): off by default with the
default output unchanged; deterministic by seed; valid events; a few agencies sync late or never."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import datetime
from functools import cache
from typing import Any

from strategies import CATALOG, at, ts

from dossiers.calendar import WorkingCalendar
from dossiers.index766 import build_index
from dossiers.periods import period_between
from dossiers.replay import replay_lines
from dossiers.report_ii06a import Window
from producers.simulator import Profile, Simulator, warmup_start

CALENDAR = WorkingCalendar(CATALOG.calendar)
ON = Profile(index766=True)
ADDED_TYPES = {"synced", "complained"}


def simulate(start: datetime, end: datetime, seed: int = 2026, warmup: int = 5,
             profile: Profile | None = None) -> list[dict[str, Any]]:
    generation = warmup_start(CALENDAR, start, warmup)
    if profile is None:  # the constructor's own default, as every existing caller uses it
        return list(Simulator(CATALOG, CALENDAR, seed, generation, end, emit_from=start).events())
    simulator = Simulator(CATALOG, CALENDAR, seed, generation, end, emit_from=start, profile=profile)
    return list(simulator.events())


@cache
def days(profile_on: bool, seed: int = 2026) -> tuple[dict[str, Any], ...]:
    """Mon 2 - Fri 13 March 2026 (two working weeks)."""
    return tuple(simulate(at(2026, 3, 2), at(2026, 3, 14), seed, profile=ON if profile_on else None))


def _without_766(event: dict[str, Any]) -> tuple[str, ...]:
    """An event less what the 766 profile adds, its id (ids number a dossier's events in order) and its
    e-receipt number (numbered at emission across dossiers, so shifted by the extra backfilled ones)."""
    data = {k: v for k, v in event.get("data", {}).items() if k not in ("digitised", "e_result", "receipt")}
    return (event["type"], event["occurred_at"], event["dossier"], event["agency"],
            event.get("procedure", ""), event.get("channel", ""), json.dumps(data, sort_keys=True))


def test_off_by_default_and_the_default_output_is_unchanged() -> None:
    plain = days(False)
    assert not [e for e in plain if e["type"] in ADDED_TYPES or "digitised" in e.get("data", {})
                or "e_result" in e.get("data", {})]
    on = days(True)
    dossiers = {e["dossier"] for e in plain}
    kept = [e for e in on if e["type"] not in ADDED_TYPES and e["dossier"] in dossiers]
    # the same lifecycle events at the same instants: the 766 draws come from their own random streams
    assert sorted(map(_without_766, kept)) == sorted(map(_without_766, plain))
    # the only other dossiers finished before the first emitted instant and are emitted (whole, as the
    # simulator always backfills) because of a late sync or a complaint after it
    start = at(2026, 3, 2)
    for dossier in {e["dossier"] for e in on} - dossiers:
        after = {e["type"] for e in on if e["dossier"] == dossier
                 and datetime.fromisoformat(e["occurred_at"]) >= start}
        assert after and after <= ADDED_TYPES, (dossier, after)


def test_deterministic_by_seed() -> None:
    assert days(True) == tuple(simulate(at(2026, 3, 2), at(2026, 3, 14), profile=ON))
    assert days(True, seed=7) != days(True)


def test_every_event_is_valid_and_every_dossier_id_unique() -> None:
    events = days(True)
    lines = (json.dumps(e, ensure_ascii=False) for e in events)
    run = replay_lines(lines, CATALOG, CALENDAR, ts(at(2026, 3, 14)))
    assert not run.invalid
    assert run.duplicates == 0
    counted: defaultdict[str, int] = defaultdict(int)
    for e in events:
        counted[e["type"]] += 1
    assert counted["synced"] > 0.5 * counted["received"]
    assert counted["complained"] > 0
    digitised = [e["data"]["digitised"] for e in events if e["type"] == "received"]
    assert 0.5 < sum(digitised) / len(digitised) < 1
    e_results = [e["data"].get("e_result") for e in events if e["type"] == "resolved"]
    assert any(e_results) and not all(e_results)


def test_a_few_agencies_sync_late_or_never_the_others_within_hours() -> None:
    events = days(True)
    received = {e["dossier"]: e for e in events if e["type"] == "received"}
    delays: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e["type"] == "synced":
            first = datetime.fromisoformat(received[e["dossier"]]["occurred_at"])
            seconds = (datetime.fromisoformat(e["occurred_at"]) - first).total_seconds()
            delays[e["agency"]].append(seconds)
    never = [a.code for a in CATALOG.agencies if a.code not in delays
             and any(r["agency"] == a.code for r in received.values())]
    medians = {code: statistics.median(values) for code, values in delays.items()}
    late = [code for code, median in medians.items() if median > 86400]
    prompt = [code for code, median in medians.items() if median < 4 * 3600]
    assert 1 <= len(never) + len(late) <= 8, (never, late)
    assert len(prompt) >= len(CATALOG.agencies) - 8


def test_the_index_over_a_simulated_fortnight_tells_agencies_apart() -> None:
    events = days(True)
    period = period_between(at(2026, 3, 2).date(), at(2026, 3, 13).date())
    window = Window.of(period, CALENDAR)
    run = replay_lines((json.dumps(e, ensure_ascii=False) for e in events), CATALOG, CALENDAR, window.end)
    result = build_index(run.states.values(), CATALOG, CALENDAR, period, window)
    rates = [row.indicators()["1.4"].rate for row in result.rows if row.tally.received]
    assert min(r or 0 for r in rates) < 0.5 < max(r or 0 for r in rates)
    centre = result.total.indicators()
    assert centre["2.1"].rate is not None and centre["2.1"].rate > 0.8
    assert centre["4.2"].rate is not None and 0.4 < centre["4.2"].rate < 1
