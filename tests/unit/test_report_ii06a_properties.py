"""Form II.06a over random histories: the form's identities, an oracle from the raw events, any order and
duplicates, and adjacent periods that chain (carried over = in progress at the end of the period before)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CATALOG, at, chaos_events, dossier_story, parse, ts

from dossiers.calendar import WorkingCalendar
from dossiers.periods import Period
from dossiers.replay import Replay
from dossiers.report_ii06a import (
    FORM_COLUMNS,
    Grouping,
    LiveKey,
    Report,
    Window,
    build_report,
    live_keys,
    running_report,
)

CAL = WorkingCalendar(CATALOG.calendar)
AGENCIES = [CATALOG.agency_by_code[c] for c in ("STP", "SYT", "CNVPDKDD_TP", "SNNPTNT", "CAT")]
START, END = at(2025, 11, 1), at(2026, 2, 28)
ADDED = ("c3", "c4", "c5", "c7", "c8", "c9", "c10", "refused_at_counter", "withdrawn")
"""Columns that add up over adjacent periods (what is received or finished in each)."""


@st.composite
def histories(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    n = draw(st.integers(0, 20))
    return [draw(dossier_story(dossier=f"D-{i:03d}", agencies=AGENCIES, start=START, end=END))
            for i in range(n)]


@st.composite
def chaotic(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    return [draw(chaos_events(dossier=f"X-{i}", start=START, end=END, max_size=8))
            for i in range(draw(st.integers(1, 10)))]


days = st.dates(min_value=date(2025, 10, 15), max_value=date(2026, 5, 31))


@st.composite
def periods(draw: st.DrawFn) -> Period:
    first = draw(days)
    return Period(first, first + timedelta(days=draw(st.integers(0, 120))))


as_ofs = st.one_of(st.none(), st.integers(ts(START), ts(at(2026, 7, 1))))


def run(stories: list[list[dict[str, Any]]], period: Period, as_of: int | None = None,
        by: Grouping = Grouping.AGENCY, shuffle: random.Random | None = None) -> Report:
    window = Window.of(period, CAL, as_of)
    replay = Replay(CATALOG, CAL, window.end)
    events = [e for story in stories for e in parse(story)]
    if shuffle is not None:
        events += shuffle.sample(events, min(len(events), 6))
        shuffle.shuffle(events)
    for item in events:
        replay.feed(item)
    return build_report(replay.states.values(), CATALOG, CAL, period, window, by)


@settings(max_examples=150, deadline=None)
@given(st.one_of(histories(), chaotic()), periods(), as_ofs, st.sampled_from(list(Grouping)))
def test_identities_hold_on_every_row(stories: list[list[dict[str, Any]]], period: Period,
                                      as_of: int | None, by: Grouping) -> None:
    report = run(stories, period, as_of, by)
    for row in [*report.rows, None]:
        counts = report.total if row is None else row.counts
        assert counts.broken_identities() == [], (row and row.key, counts)
        assert counts.withdrawn <= counts.c7 and counts.paused <= counts.c12
    for name in (*FORM_COLUMNS, "refused_at_counter"):
        assert getattr(report.total, name) == sum(getattr(r.counts, name) for r in report.rows), name
    other = run(stories, period, as_of, Grouping.FIELD if by is Grouping.AGENCY else Grouping.AGENCY)
    assert other.total == report.total


def _when(raw: dict[str, Any]) -> int:
    return ts(datetime.fromisoformat(raw["occurred_at"]))


@settings(max_examples=150, deadline=None)
@given(histories(), periods(), as_ofs)
def test_counts_match_an_oracle_on_the_raw_events(stories: list[list[dict[str, Any]]], period: Period,
                                                   as_of: int | None) -> None:
    """Each realistic story has one `received` (or a refusal) and at most one ending: count it by hand."""
    window = Window.of(period, CAL, as_of)
    expected = dict.fromkeys(("c3", "c4", "c5", "c6", "c7", "c11", "refused_at_counter", "withdrawn"), 0)
    for story in stories:
        seen = {raw["type"]: raw for raw in story if _when(raw) <= window.end}
        if "received" not in seen:
            if "refused" in seen and _when(seen["refused"]) >= window.start:
                expected["refused_at_counter"] += 1
            continue
        received = _when(seen["received"])
        ending = next((seen[k] for k in ("resolved", "withdrawn") if k in seen), None)
        if received < window.start and ending is not None and _when(ending) < window.start:
            continue
        expected["c3"] += 1
        if received < window.start:
            expected["c6"] += 1
        else:
            expected["c4" if seen["received"]["channel"] == "online" else "c5"] += 1
        if ending is None:
            expected["c11"] += 1
        else:
            expected["c7"] += 1
            expected["withdrawn"] += ending["type"] == "withdrawn"
    total = run(stories, period, as_of).total.as_dict()
    assert {k: total[k] for k in expected} == expected


@settings(max_examples=100, deadline=None)
@given(st.one_of(histories(), chaotic()), periods(), as_ofs, st.randoms(use_true_random=False),
       st.sampled_from(list(Grouping)))
def test_any_order_and_duplicates_give_the_same_report(stories: list[list[dict[str, Any]]], period: Period,
                                                       as_of: int | None, rng: random.Random,
                                                       by: Grouping) -> None:
    assert run(stories, period, as_of, by, shuffle=rng).as_dict() == run(stories, period, as_of, by).as_dict()


@settings(max_examples=100, deadline=None)
@given(histories(), periods(), st.integers(1, 119))
def test_adjacent_periods_chain_and_add_up(stories: list[list[dict[str, Any]]], whole: Period,
                                           split: int) -> None:
    """Cut a period in two: received and finished add up, and (6) of the second = (11) of the first.

    Realistic histories only: in a chaotic one a dossier refused at the counter in the first period may be
    received in the second, and is then rightly counted differently by the first and by the whole."""
    cut = whole.first + timedelta(days=split % ((whole.last - whole.first).days + 1))
    if cut == whole.first:
        return
    first, second = Period(whole.first, cut - timedelta(days=1)), Period(cut, whole.last)
    a, b, both = run(stories, first), run(stories, second), run(stories, whole)
    for x, y, z in zip(a.rows, b.rows, both.rows, strict=True):
        assert y.counts.c6 == x.counts.c11, x.key
        assert z.counts.c6 == x.counts.c6, x.key
        for name in ADDED:
            if name == "c3":  # the whole period's (3) is the first's plus what the second received
                assert z.counts.c3 == x.counts.c3 + y.counts.c4 + y.counts.c5, x.key
            else:
                added = getattr(x.counts, name) + getattr(y.counts, name)
                assert getattr(z.counts, name) == added, (x.key, name)
        assert (z.counts.c11, z.counts.c12, z.counts.c13) == (y.counts.c11, y.counts.c12, y.counts.c13), x.key


@settings(max_examples=150, deadline=None)
@given(st.one_of(histories(), chaotic()), periods(), st.integers(0, 10**9))
def test_running_counters_give_the_form_of_the_period_in_progress(
        stories: list[list[dict[str, Any]]], period: Period, offset: int) -> None:
    """Sums of `live_keys` (what a worker would keep) = the form computed from the states, at any instant
    within the period."""
    start, end = period.start(CAL.tz), period.last_instant(CAL.tz)
    as_of = start + offset % (end - start + 1)
    expected = run(stories, period, as_of)
    replay = Replay(CATALOG, CAL, as_of)
    for item in (e for story in stories for e in parse(story)):
        replay.feed(item)
    counts: Counter[LiveKey] = Counter()
    for state in replay.states.values():
        counts.update(live_keys(state, CATALOG, CAL, as_of))
    live = running_report(dict(counts), CATALOG, CAL, period, as_of)
    columns = (*FORM_COLUMNS, "refused_at_counter")
    for got, want in zip(live.rows, expected.rows, strict=True):
        assert got.key == want.key
        figures = {c: getattr(got.counts, c) for c in columns}
        assert figures == {c: getattr(want.counts, c) for c in columns}, got.key
