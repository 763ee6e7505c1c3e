"""The worker's running-period counters of form II.06a: what `Processor` keeps per partition, summed over
partitions and read with `running_report`, is the form `build_report` computes from the same events at
the same instant, after events in any order, duplicates and timer ticks; and the counters stay bounded."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CATALOG, at, chaos_events, dossier_story, event, parse, ts

from dossiers.calendar import WorkingCalendar
from dossiers.periods import month_of
from dossiers.replay import Replay
from dossiers.report_ii06a import FORM_COLUMNS, LiveKey, Window, build_report, running_report
from streams.processor import Processor
from tests.support.processing import SavingProcessor

CAL = WorkingCalendar(CATALOG.calendar)
AGENCIES = [CATALOG.agency_by_code[c] for c in ("STP", "SYT", "CNVPDKDD_TP", "CAT")]
START, END = at(2025, 12, 1), at(2026, 3, 1)
FIRST_SEEN = ts(at(2026, 3, 1, 20))
"""When the worker consumes every event (or after the last one); the comparison is made later, after a
tick."""
COLUMNS = (*FORM_COLUMNS, "refused_at_counter")


@st.composite
def histories(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    n = draw(st.integers(0, 14))
    stories = [draw(dossier_story(dossier=f"D-{i:03d}", agencies=AGENCIES, start=START, end=END))
               for i in range(n)]
    if draw(st.booleans()):
        stories.append(draw(chaos_events(dossier="X-1", start=START, end=END, max_size=6)))
    return stories


def wire(body: dict[str, Any]) -> bytes:
    return json.dumps(body, default=str).encode()


def summed(processor: Processor) -> dict[LiveKey, int]:
    total: Counter[LiveKey] = Counter()
    for view in processor.views.values():
        total.update(view.report)
    return dict(total)


def figures(report: Any) -> list[tuple[str, dict[str, int]]]:
    return [(row.key, {c: getattr(row.counts, c) for c in COLUMNS}) for row in report.rows]


@settings(max_examples=40, deadline=None)
@given(histories(), st.integers(0, 40 * 86400), st.randoms(use_true_random=False))
def test_the_workers_counters_give_the_form_of_the_running_period(
        stories: list[list[dict[str, Any]]], later: int, rng: random.Random) -> None:
    events = [e for story in stories for e in story]
    events += rng.sample(events, min(len(events), 4))  # duplicates
    rng.shuffle(events)
    processor = SavingProcessor(CATALOG, CAL, {}, max_future_seconds=None)
    seen = max([FIRST_SEEN, *(ts(e.occurred_at) for story in stories for e in parse(story))])
    for body in events:
        processor.handle(hash(body["dossier"]) % 3, wire(body), {}, seen)
    as_of = seen + later  # open dossiers turned overdue meanwhile: only the ticks tell the counters
    for partition in list(processor.views):
        processor.tick(partition, as_of)
    period = month_of(CAL.local_date(as_of))
    replay = Replay(CATALOG, CAL, as_of)
    for item in (e for story in stories for e in parse(story)):
        replay.feed(item)
    expected = build_report(replay.states.values(), CATALOG, CAL, period, Window.of(period, CAL, as_of))
    assert figures(running_report(summed(processor), CATALOG, CAL, period, as_of)) == figures(expected)
    rows: dict[str, Counter[str]] = {}  # what the board shows: per agency, the sum of each partition's form
    for partition in processor.views:
        running = processor.running(partition, as_of)
        assert running is not None and running.period == period
        for row in running.rows:
            rows.setdefault(row.key, Counter()).update(row.counts.as_dict())
    assert set(rows) <= {row.key for row in expected.rows}
    assert [(key, {c: rows.get(key, Counter())[c] for c in COLUMNS}) for key, _ in figures(expected)] \
        == figures(expected)
    floor = month_of(period.first - timedelta(days=1)).first.isoformat()
    for view in processor.views.values():
        assert all(day == "" or day >= floor for _, _, _, day in view.report), "older dates are dropped"
        assert all(n > 0 for n in view.report.values())


@st.composite
def many_stories(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    return [draw(dossier_story(dossier=f"R-{i}", agencies=AGENCIES, start=START, end=END))
            for i in range(draw(st.integers(1, 25)))]


@settings(max_examples=15, deadline=None)
@given(many_stories(), st.randoms(use_true_random=False))
def test_counters_rebuilt_from_the_table_equal_the_ones_kept_while_consuming(
        stories: list[list[dict[str, Any]]], rng: random.Random) -> None:
    processor = SavingProcessor(CATALOG, CAL, {}, max_future_seconds=None)
    events = [e for story in stories for e in story]
    rng.shuffle(events)
    for body in events:
        processor.handle(hash(body["dossier"]) % 3, wire(body), {}, FIRST_SEEN)
    kept = summed(processor)
    floor = min(view.report_floor for view in processor.views.values())
    again = Processor(CATALOG, CAL, processor.store)
    again.rebuild(range(3), processor.store.items(), lambda key: hash(key) % 3)
    for view in again.views.values():
        view.bound_report(floor)
    assert summed(again) == kept


def test_an_open_dossier_turning_overdue_on_a_tick_moves_from_within_to_overdue() -> None:
    received = event("received", at(2026, 3, 2, 9), dossier="O-1", agency="STP", channel="counter",
                     procedure=CATALOG.agency_by_code["STP"].procedures[0].code)
    processor = SavingProcessor(CATALOG, CAL, {}, max_future_seconds=None)
    first = ts(at(2026, 3, 2, 10))
    outcome = processor.handle(0, wire(received), {}, first)
    assert outcome.status == "applied", outcome.error
    view = processor.views[0]
    assert view.report[("ii06a", "STP", "c12", "")] == 1
    due = processor.next_due(0)
    assert due is not None
    while due is not None and view.report.get(("ii06a", "STP", "c13", ""), 0) == 0:
        processor.tick(0, due)
        due = processor.next_due(0)
    assert view.report[("ii06a", "STP", "c13", "")] == 1
    assert ("ii06a", "STP", "c12", "") not in view.report
    assert view.report[("ii06a", "STP", "c5", "2026-03-02")] == 1
