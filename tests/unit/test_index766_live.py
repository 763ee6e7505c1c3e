"""The running 766 index kept by counters: the sums of every dossier's `live_keys` at an instant, and what
the worker's `Processor` keeps per partition after events in any order, duplicates and ticks, give the
index `build_index` computes from the same events for the reporting month running at that instant."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import at, event, parse, ts
from test_index766_properties import AGENCIES, CATALOG, story

from dossiers.calendar import WorkingCalendar
from dossiers.index766 import TALLY_FIELDS, Index766, Row, Tally, build_index, synced_within
from dossiers.index766_live import (
    RECEIPT_DATED,
    WORK_FIELD,
    LiveKey,
    live_keys,
    running_index,
    tally_keys,
)
from dossiers.periods import month_of
from dossiers.replay import Replay
from dossiers.report_ii06a import Window
from tests.support.processing import SavingProcessor

CAL = WorkingCalendar(CATALOG.calendar)
Weighted = tuple[LiveKey, int]
"""One key of the running index with its weight: how this test lists them (the worker keeps two tuples)."""
SEEN = ts(at(2026, 3, 1, 20))
"""When the worker has consumed every event; the index is asked later, after ticks."""


@st.composite
def histories(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    return [draw(story(f"D-{i:03d}")) for i in range(draw(st.integers(0, 14)))]


def expected(stories: list[list[dict[str, Any]]], as_of: int) -> Index766:
    period = month_of(CAL.local_date(as_of))
    replay = Replay(CATALOG, CAL, as_of)
    for item in (e for s in stories for e in parse(s)):
        replay.feed(item)
    return build_index(replay.states.values(), CATALOG, CAL, period, Window.of(period, CAL, as_of))


def same_row(got: Row, want: Row) -> None:
    for name in TALLY_FIELDS:
        got_value, want_value = getattr(got.tally, name), getattr(want.tally, name)
        assert math.isclose(got_value, want_value, abs_tol=1e-6), (want.key, name)
    assert got.sync_within == synced_within(want.sync_delays), want.key
    for code, indicator in want.indicators().items():
        live = got.indicators()[code]
        assert (live.rate is None) == (indicator.rate is None), (want.key, code)
        if indicator.rate is not None:
            assert math.isclose(live.rate or 0, indicator.rate, abs_tol=1e-9), (want.key, code)
            assert math.isclose(live.points or 0, indicator.points or 0, abs_tol=1e-9), (want.key, code)


def same_index(got: Index766, want: Index766) -> None:
    assert got.period == want.period
    rows = {row.key: row for row in got.rows}
    for row in want.rows:
        same_row(rows.pop(row.key, Row(row.key, row.label, sync_within=synced_within([]))), row)
    assert all(not row.tally.in_form for row in rows.values()), "no row the report does not have"
    same_row(got.total, want.total)


@settings(max_examples=80, deadline=None)
@given(histories(), st.integers(ts(at(2025, 11, 20)), ts(at(2026, 5, 20))))
def test_the_sum_of_every_dossiers_keys_is_the_index_of_the_running_month(
        stories: list[list[dict[str, Any]]], as_of: int) -> None:
    want = expected(stories, as_of)
    replay = Replay(CATALOG, CAL, as_of)
    for item in (e for s in stories for e in parse(s)):
        replay.feed(item)
    counts: Counter[LiveKey] = Counter()
    for state in replay.states.values():
        keys, weights = live_keys(state, CATALOG, CAL, as_of)
        for key, weight in zip(keys, weights, strict=True):
            counts[key] += weight
    same_index(running_index(counts, CATALOG, CAL, want.period, as_of), want)


def wire(body: dict[str, Any]) -> bytes:
    return json.dumps(body, default=str).encode()


@settings(max_examples=40, deadline=None)
@given(histories(), st.integers(0, 40 * 86400), st.randoms(use_true_random=False))
def test_the_workers_counters_give_the_index_of_the_running_month(
        stories: list[list[dict[str, Any]]], later: int, rng: random.Random) -> None:
    events = [e for s in stories for e in s]
    events += rng.sample(events, min(len(events), 4))  # duplicates
    rng.shuffle(events)
    processor = SavingProcessor(CATALOG, CAL, {}, max_future_seconds=None)
    seen = max([SEEN, *(ts(e.occurred_at) for s in stories for e in parse(s))])
    for body in events:
        processor.handle(hash(body["dossier"]) % 3, wire(body), {}, seen)
    as_of = seen + later  # open dossiers turned overdue meanwhile: only the ticks tell the counters
    for partition in list(processor.views):
        processor.tick(partition, as_of)
    want = expected(stories, as_of)
    summed: Counter[LiveKey] = Counter()
    for view in processor.views.values():
        summed.update(view.index)
        assert all(n > 0 for n in view.index.values())
    same_index(running_index(summed, CATALOG, CAL, want.period, as_of), want)
    # what the board does: each partition's tallies (its `i766` points), summed per agency
    tallies: dict[str, Counter[str]] = {}
    for partition in processor.views:
        index = processor.running_index(partition, as_of)
        assert index is not None and index.period == want.period
        for row in index.rows:
            tallies.setdefault(row.key, Counter()).update(row.tally.as_dict())
    for row in want.rows:
        for name in TALLY_FIELDS:
            assert math.isclose(tallies.get(row.key, Counter())[name], getattr(row.tally, name), abs_tol=1e-6)


def test_a_second_supplement_request_moves_the_dossier_to_late_at_once() -> None:
    agency = AGENCIES[0]
    procedure = agency.procedures[0].code
    common = {"dossier": "S-1", "agency": agency.code}
    bodies = [
        event("received", at(2026, 3, 2, 9), procedure=procedure, channel="online", **common),
        event("supplement_requested", at(2026, 3, 2, 10), event_id="S-1-r1", **common),
        event("supplement_received", at(2026, 3, 2, 11), event_id="S-1-s1", **common),
    ]
    processor = SavingProcessor(CATALOG, CAL, {}, max_future_seconds=None)
    now = ts(at(2026, 3, 2, 12))
    for body in bodies:
        assert processor.handle(0, wire(body), {}, now).status == "applied"
    view = processor.views[0]
    assert view.index[("766", agency.code, "on_time", "")] == 1
    second = event("supplement_requested", at(2026, 3, 2, 13), event_id="S-1-r2", **common)
    assert processor.handle(0, wire(second), {}, now + 3600).status == "applied"
    assert ("766", agency.code, "on_time", "") not in view.index
    assert view.index[("766", agency.code, "second_supplement", "")] == 1
    assert view.index[("766", agency.code, "received", "2026-03-02")] == 1


def _tally_keys_by_loop(tally: Tally, agency: str, receipt_day: str, form_day: str,
                        day_seconds: int) -> list[Weighted]:
    """The reference `tally_keys` is written out from: every field of the dataclass, in order, by name."""
    out: list[Weighted] = []
    for name in TALLY_FIELDS:
        value = getattr(tally, name)
        if not value:
            continue
        day = receipt_day if name in RECEIPT_DATED else form_day
        if name == "working_days":
            out.append((("766", agency, WORK_FIELD, day), round(value * day_seconds)))
        else:
            out.append((("766", agency, name, day), value))
    return out


@given(
    st.fixed_dictionaries({
        name: (st.floats(0, 400, allow_nan=False) if name == "working_days" else st.integers(0, 3))
        for name in TALLY_FIELDS
    }),
    st.sampled_from(["2026-03-02", "2026-04-15"]),
    st.sampled_from(["", "2026-03-02", "2026-05-01"]),
)
def test_a_tallys_keys_are_its_fields_that_are_not_zero_in_order(
    values: dict[str, Any], receipt_day: str, form_day: str
) -> None:
    """Each field drawn on its own (a field read twice, dated by the wrong day or left out shows)."""
    tally = Tally(**values)
    keys, weights = tally_keys(tally, "STP", receipt_day, form_day, 28_800)
    want = _tally_keys_by_loop(tally, "STP", receipt_day, form_day, 28_800)
    assert list(zip(keys, weights, strict=True)) == want
