"""A simulated year of the centre (producers/simulator.py, lower volumes): the twelve monthly forms II.06a
add up to the year's where they should (received and finished dossiers), and (6) of each month equals
(11) of the month before, per row; the year's carried-over and in-progress figures are those of its first
and last months. By the cut-off convention and by calendar months."""

from __future__ import annotations

import itertools
import json
from functools import cache

import pytest
from strategies import CATALOG, at

from dossiers.calendar import WorkingCalendar
from dossiers.events import Event
from dossiers.periods import Period, parse_period
from dossiers.replay import Replay
from dossiers.report_ii06a import Grouping, Report, Window, build_report
from dossiers.validation import validate_event
from producers.simulator import Profile, Simulator

CAL = WorkingCalendar(CATALOG.calendar)
PROFILE = Profile(daily_volume={a.code: 1.5 for a in CATALOG.agencies})
"""About 8,000 dossiers in the 14 months simulated (the real volumes would take minutes)."""
ADDED = ("c4", "c5", "c7", "c8", "c9", "c10", "refused_at_counter", "withdrawn")


@cache
def events() -> tuple[Event, ...]:
    """1 Nov 2025 (so that the year starts with dossiers in progress) to 10 Jan 2027 (events after it)."""
    simulator = Simulator(CATALOG, CAL, 2026, at(2025, 11, 1), at(2027, 1, 10), profile=PROFILE)
    return tuple(validate_event(raw, CATALOG) for raw in simulator.events())


def reports(year: Period, by: Grouping) -> tuple[list[Report], Report]:
    """The months' forms in one pass over the time-ordered events, and the year's from a fresh replay."""
    months: list[Report] = []
    run = Replay(CATALOG, CAL, as_of=0)
    pending = iter(events())
    item: Event | None = next(pending)
    for month in year.months():
        window = Window.of(month, CAL)
        run.as_of = window.end
        while item is not None and int(item.occurred_at.timestamp()) <= window.end:
            run.feed(item)
            item = next(pending, None)
        months.append(build_report(run.states.values(), CATALOG, CAL, month, window, by))
    window = Window.of(year, CAL)
    whole = Replay(CATALOG, CAL, window.end)
    for event in events():
        whole.feed(event)
    assert whole.after_as_of > 0  # the simulation runs past the year: later events are ignored
    return months, build_report(whole.states.values(), CATALOG, CAL, year, window, by)


@pytest.mark.parametrize(("name", "calendar", "by"), [
    ("2026", False, Grouping.AGENCY), ("2026", True, Grouping.AGENCY), ("2026", False, Grouping.FIELD),
])
def test_months_add_up_to_the_year_and_chain(name: str, calendar: bool, by: Grouping) -> None:
    year = parse_period(name, calendar=calendar)
    months, whole = reports(year, by)
    assert len(months) == 12 and months[0].period.first == year.first and months[-1].period.last == year.last
    for index, row in enumerate(whole.rows):
        series = [m.rows[index] for m in months]
        assert all(r.key == row.key for r in series)
        for name_ in ADDED:
            months_sum = sum(getattr(r.counts, name_) for r in series)
            assert getattr(row.counts, name_) == months_sum, (row.key, name_)
        for before, after in itertools.pairwise(series):
            assert after.counts.c6 == before.counts.c11, row.key
        assert row.counts.c6 == series[0].counts.c6, row.key
        last = series[-1].counts
        assert (row.counts.c11, row.counts.c12, row.counts.c13) == (last.c11, last.c12, last.c13), row.key
        assert row.counts.broken_identities() == [], row.key
        assert all(r.counts.broken_identities() == [] for r in series), row.key
    total = whole.total
    # not vacuous: every kind of figure occurs in a simulated year
    assert min(total.c4, total.c5, total.c6, total.c8, total.c9, total.c10, total.c12,
               total.refused_at_counter, total.withdrawn) > 0, total
    assert sum(m.total.c13 for m in months) > 0
    assert sum(m.total.c4 + m.total.c5 for m in months) == total.c3 - total.c6


def test_bytes_per_event_of_a_simulated_year() -> None:
    """The storage figure of docs/reports.md: a simulator event is about 230 bytes of JSON."""
    simulator = Simulator(CATALOG, CAL, 2026, at(2026, 3, 2), at(2026, 3, 9), profile=PROFILE)
    sizes = [len(json.dumps(raw, ensure_ascii=False).encode()) for raw in simulator.events()]
    assert 200 < sum(sizes) / len(sizes) < 260
