"""The 766 index over random histories: every rate in [0, 1], points between 0 and the maximum, numerators
within denominators, the centre the sum of its agencies, and the same index for any order and duplicates."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CATALOG as SAMPLE
from strategies import at, chaos_events, dossier_story, event, instants, parse, ts

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.index766 import ITEM, TALLY_FIELDS, Index766, build_index
from dossiers.periods import Period
from dossiers.replay import Replay
from dossiers.report_ii06a import Window


def _flagged() -> Catalog:
    """The sample catalog with fees on every other procedure and written results on every third."""
    body = SAMPLE.model_dump(mode="json")
    for agency in body["agencies"]:
        for n, procedure in enumerate(agency["procedures"]):
            procedure["has_fee"] = n % 2 == 0
            procedure["requires_written_result"] = n % 3 != 1
    return Catalog.model_validate(body)


CATALOG = _flagged()
CAL = WorkingCalendar(CATALOG.calendar)
AGENCIES = [CATALOG.agency_by_code[c] for c in ("STP", "SYT", "CNVPDKDD_TP", "SNNPTNT", "CAT")]
START, END = at(2025, 11, 1), at(2026, 2, 28)


@st.composite
def story(draw: st.DrawFn, dossier: str) -> list[dict[str, Any]]:
    """A realistic history with the 766 facts: digitised receipt, electronic result, syncs, complaints."""
    events = draw(dossier_story(dossier=dossier, agencies=AGENCIES, start=START, end=END))
    for raw in events:
        if raw["type"] == "received" and draw(st.booleans()):
            raw["data"] = {"digitised": draw(st.booleans())}
        elif raw["type"] == "resolved":
            raw["data"] = {**raw.get("data", {}), "e_result": draw(st.booleans())}
    common = {"dossier": dossier, "agency": events[0]["agency"]}
    for n in range(draw(st.integers(0, 3))):
        type_ = draw(st.sampled_from(["synced", "complained"]))
        when = draw(instants(START, at(2026, 4, 30)))
        events.append(event(type_, when, event_id=f"{dossier}-x{n}", **common))
    return events


@st.composite
def histories(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    return [draw(story(f"D-{i:03d}")) for i in range(draw(st.integers(0, 16)))]


@st.composite
def chaotic(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    return [draw(chaos_events(dossier=f"X-{i}", start=START, end=END, max_size=8))
            for i in range(draw(st.integers(1, 8)))]


days = st.dates(min_value=date(2025, 10, 15), max_value=date(2026, 5, 31))


@st.composite
def periods(draw: st.DrawFn) -> Period:
    first = draw(days)
    return Period(first, first + timedelta(days=draw(st.integers(0, 120))))


as_ofs = st.one_of(st.none(), st.integers(ts(START), ts(at(2026, 7, 1))))


def run(stories: list[list[dict[str, Any]]], period: Period, as_of: int | None = None,
        shuffle: random.Random | None = None) -> Index766:
    window = Window.of(period, CAL, as_of)
    replay = Replay(CATALOG, CAL, window.end)
    events = [e for story in stories for e in parse(story)]
    if shuffle is not None:
        events += shuffle.sample(events, min(len(events), 6))
        shuffle.shuffle(events)
    for item in events:
        replay.feed(item)
    return build_index(replay.states.values(), CATALOG, CAL, period, window)


@settings(max_examples=150, deadline=None)
@given(st.one_of(histories(), chaotic()), periods(), as_ofs)
def test_rates_in_0_1_points_within_the_maximum(stories: list[list[dict[str, Any]]], period: Period,
                                                 as_of: int | None) -> None:
    result = run(stories, period, as_of)
    for row in [*result.rows, result.total]:
        for code, got in row.indicators().items():
            if code == "2.2":  # an average in working days, not a rate
                assert got.rate is None or got.rate >= 0
                continue
            assert 0 <= got.numerator <= got.denominator, (code, got)
            if got.denominator == 0:
                assert got.rate is None and got.points is None
                continue
            assert got.rate is not None and 0 <= got.rate <= 1, (code, got)
            assert got.points is not None and got.max is not None
            assert 0 <= got.points <= got.max + 1e-9, (code, got)
            assert got.max == ITEM[code].max
        points, out_of = row.score()
        assert 0 <= points <= out_of + 1e-9
        t = row.tally
        assert len(row.sync_delays) == t.synced and all(d >= 0 for d in row.sync_delays)
        assert t.synced <= t.received and t.online <= t.received and t.digitised <= t.received
        assert t.fee <= t.received and t.received <= t.in_form and t.finished <= t.received


@settings(max_examples=100, deadline=None)
@given(st.one_of(histories(), chaotic()), periods(), as_ofs)
def test_the_centre_is_the_sum_of_its_agencies(stories: list[list[dict[str, Any]]], period: Period,
                                               as_of: int | None) -> None:
    result = run(stories, period, as_of)
    for name in TALLY_FIELDS:
        total = sum(getattr(row.tally, name) for row in result.rows)
        assert abs(getattr(result.total.tally, name) - total) < 1e-9


@settings(max_examples=100, deadline=None)
@given(st.one_of(histories(), chaotic()), periods(), as_ofs, st.randoms(use_true_random=False))
def test_any_order_and_duplicates_give_the_same_index(stories: list[list[dict[str, Any]]], period: Period,
                                                      as_of: int | None, rng: random.Random) -> None:
    assert run(stories, period, as_of, shuffle=rng).as_dict() == run(stories, period, as_of).as_dict()
