"""`dossiers.sla.due` remembers the due point of dossiers without pauses (`WorkingCalendar.due_memo`, issue
19): the memo must never change an answer, whatever was asked before, and it stays bounded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import CATALOG, dossier_story, parse, procedure, state_of, ts

import dossiers.sla as sla
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import CalendarConfig, Procedure
from dossiers.lifecycle import DossierState

CONFIGS = {(hours, mode): CalendarConfig(due_soon_hours=hours, deadline_mode=mode)
           for hours in (0, 8) for mode in ("day", "instant")}
SHARED = {key: WorkingCalendar(config) for key, config in CONFIGS.items()}
"""Calendars whose memo fills up across the examples (what a worker's calendar sees)."""
ONE_AGENCY = [CATALOG.agency_by_code["STP"], CATALOG.agency_by_code["CNVPDKDD_TP"]]
OTHERS = (procedure(5), procedure(3), procedure(8, "hours"), procedure(1, "same_day"))


def _procedure(story: list[dict[str, Any]]) -> Procedure:
    found = CATALOG.procedure(story[0]["agency"], story[0]["procedure"])
    assert found is not None
    return found


@settings(max_examples=300, deadline=None)
@given(story=dossier_story(agencies=ONE_AGENCY), delays=st.lists(st.integers(-86400, 90 * 86400), max_size=4),
       config=st.sampled_from(sorted(CONFIGS)), other=st.sampled_from(range(len(OTHERS))))
def test_the_memo_changes_no_clock(story: list[dict[str, Any]], delays: list[int], config: tuple[int, str],
                                   other: int) -> None:
    """The same clocks from a warm shared calendar (asked twice, and after another procedure for the same
    receipt) as from a fresh one, and `due` equal to its computation (`_due`) at every instant."""
    assume(story[0]["type"] == "received")
    state = state_of(parse(story))
    proc = _procedure(story)
    last = ts(datetime.fromisoformat(story[-1]["occurred_at"]))
    shared = SHARED[config]
    for as_of in [last + d for d in delays] + [last]:
        fresh = WorkingCalendar(CONFIGS[config])
        expected = sla.clock(state, proc, fresh, as_of)
        for _ in range(2):
            assert sla.clock(state, proc, shared, as_of) == expected
            another = OTHERS[other]
            assert sla.clock(state, another, shared, as_of) == sla.clock(state, another, fresh, as_of)
        for until in (None, as_of):
            computed = sla._due(state, sla.terms_of(proc, fresh), fresh, until)
            assert sla.due(state, proc, shared, until) == computed


def test_the_memo_is_bounded_and_still_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sla, "DUE_MEMO_LIMIT", 3)
    calendar, fresh = WorkingCalendar(), WorkingCalendar()
    proc = procedure(5)
    base = ts(datetime.fromisoformat("2026-03-02T08:00:00+07:00"))
    states = []
    for i in range(10):
        state = DossierState(f"D{i}")
        state.received = (base + i * 3600, 0)
        states.append(state)
    for _ in range(2):
        for state in states:
            assert sla.due(state, proc, calendar) == sla._due(state, sla.terms_of(proc, fresh), fresh, None)
            assert len(calendar.due_memo) <= 3


@settings(max_examples=100, deadline=None)
@given(periods=st.lists(st.tuples(st.integers(1, 400), st.sampled_from(["days", "hours"])), min_size=1,
                        max_size=30))
def test_the_processing_memo_answers_for_the_procedure_asked(periods: list[tuple[int, str]]) -> None:
    """`processing_work` from a warm calendar equals its computation for each procedure, also for
    procedures made and dropped one after another (an `id` is reused once its object is freed: the memo
    holds the procedure, so its `id` is never another's while remembered), and the memo stays bounded."""
    calendar = SHARED[(8, "day")]
    for processing, unit in periods:
        made = procedure(processing, unit)  # a fresh object each time, freed at the next turn
        expected = round(processing * (3600 if unit == "hours" else calendar.day_seconds))
        assert sla.processing_work(made, calendar) == expected
        assert sla.processing_work(made, calendar) == expected  # remembered
    assert len(calendar.work_memo) <= sla.WORK_MEMO_LIMIT


def test_the_processing_memo_is_emptied_at_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    calendar = WorkingCalendar(CONFIGS[(8, "day")])
    monkeypatch.setattr(sla, "WORK_MEMO_LIMIT", 3)
    kept = [procedure(n) for n in range(1, 8)]
    for made in kept:
        assert sla.processing_work(made, calendar) == made.processing * calendar.day_seconds
        assert len(calendar.work_memo) <= 3


@given(processing=st.integers(1, 40), unit=st.sampled_from(["days", "hours", "same_day"]),
       config=st.sampled_from(sorted(CONFIGS)), fee=st.booleans(), written=st.booleans())
def test_a_procedures_terms_are_its_fields(processing: int, unit: str, config: tuple[int, str], fee: bool,
                                          written: bool) -> None:
    """`terms_of` gives what the clock and the 766 tally read of a procedure, once per procedure object;
    the calendar's own copies of its settings equal the settings."""
    calendar = SHARED[config]
    made = procedure(processing if unit != "same_day" else 1, unit).model_copy(
        update={"has_fee": fee, "requires_written_result": written})
    terms = sla.terms_of(made, calendar)
    assert (terms.unit, terms.processing, terms.same_day_cutoff) == (made.unit, made.processing,
                                                                       made.same_day_cutoff)
    assert terms.period == (made.unit, made.processing, made.same_day_cutoff)
    assert (terms.has_fee, terms.requires_written_result, terms.field) == (fee, written, made.field)
    assert terms.work == round(made.processing * (3600 if unit == "hours" else calendar.day_seconds))
    assert sla.terms_of(made, calendar) is terms
    settings_ = calendar.config
    assert calendar.day_mode == (settings_.deadline_mode == "day")
    assert calendar.same_day_cutoff == settings_.same_day_cutoff
    assert calendar.due_soon_work == round(settings_.due_soon_hours * 3600)
