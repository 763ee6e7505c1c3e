"""The processor's short cut (issue 19): an event that changes nothing the figures read (a `returned`, a
`transferred`) reuses the dossier's held contribution and running keys, its clock only moved to the new
instant. These check the three things it rests on: the fields listed as unread change no figure, a clock
moved in time equals the clock computed at that time, and the processor gives the same results with the
short cut and without it."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import datetime
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dossiers.calendar import WorkingCalendar
from dossiers.events import parse_event
from dossiers.index766_live import live_keys as index_keys
from dossiers.kpi import contribution
from dossiers.lifecycle import READ_BY_THE_CLOCK, UNREAD_BY_FIGURES, DossierState
from dossiers.report_ii06a import live_keys as report_keys
from dossiers.sla import clock, reclassified
from streams.processor import Outcome, Processor
from tests.unit.strategies import CATALOG, chaos_events, dossier_story, state_of

CALENDAR = WorkingCalendar(CATALOG.calendar)
STATES = st.one_of(dossier_story(), chaos_events()).map(lambda raws: state_of([parse_event(r) for r in raws]))
INSTANTS = st.integers(int(datetime(2025, 12, 1).timestamp()), int(datetime(2027, 3, 1).timestamp()))
MARKS = st.none() | st.tuples(INSTANTS, st.integers(0, 2**63 - 1))


def figures(state: DossierState, at: int) -> tuple[object, ...]:
    """Everything the views hold for a dossier at `at`: its KPI contribution (clock included) and its keys
    of the running II.06a and 766 figures."""
    return (contribution(state, CATALOG, CALENDAR, at), report_keys(state, CATALOG, CALENDAR, at),
            index_keys(state, CATALOG, CALENDAR, at))


def test_the_unread_fields_are_fields_of_the_state() -> None:
    assert {f.name for f in dataclasses.fields(DossierState)} >= UNREAD_BY_FIGURES


@settings(max_examples=300, deadline=None)
@given(state=STATES, at=INSTANTS, data=st.data())
def test_changing_the_fields_the_figures_do_not_read_changes_no_figure(
    state: DossierState, at: int, data: st.DataObject
) -> None:
    other: dict[str, Any] = {
        "outcome": data.draw(st.sampled_from([None, "approved", "denied"])),
        "returned": data.draw(MARKS),
        "extended": data.draw(MARKS),
        "appointment": data.draw(st.none() | INSTANTS),
        "rated": data.draw(MARKS),
        "transfers": data.draw(st.integers(0, 9)),
        "seen": data.draw(st.lists(st.integers(0, 2**63 - 1), max_size=3)),
        "conflicts": data.draw(st.integers(0, 3)),
        "agency_key": data.draw(st.none() | st.tuples(st.integers(0, 1), INSTANTS, st.integers(0, 9))),
        "evaluated_at": data.draw(st.none() | INSTANTS),
        "alerted": data.draw(st.sampled_from([None, "due_soon", "overdue", "resolved_late"])),
    }
    assert set(other) == UNREAD_BY_FIGURES
    changed = dataclasses.replace(state, **other)
    assert changed.figure_inputs() == state.figure_inputs()
    assert figures(changed, at) == figures(state, at)


@settings(max_examples=300, deadline=None)
@given(state=STATES, first=INSTANTS, then=INSTANTS)
def test_a_clock_moved_to_another_instant_is_the_clock_at_that_instant(
    state: DossierState, first: int, then: int
) -> None:
    procedure = CATALOG.procedure(state.agency or "", state.procedure) if state.procedure else None
    moved = reclassified(clock(state, procedure, CALENDAR, first), then)
    assert moved == clock(state, procedure, CALENDAR, then)


@settings(max_examples=100, deadline=None)
@given(state=STATES)
def test_the_figure_inputs_are_every_field_the_lists_leave(state: DossierState) -> None:
    """`figure_inputs` writes its fields out (direct reads once compiled): they must be exactly the clock's
    fields and every field neither list names, in the fields' order, so that a field added to the state
    is read by the short cut until it is listed as unread."""
    names = [f.name for f in dataclasses.fields(DossierState)]
    clock_part = tuple(getattr(state, n) for n in names if n in READ_BY_THE_CLOCK and n != "pauses")
    unread = UNREAD_BY_FIGURES | set(READ_BY_THE_CLOCK)
    rest = tuple(getattr(state, n) for n in names if n not in unread)
    assert state.figure_inputs() == (clock_part, tuple(state.pauses), rest)


@settings(max_examples=300, deadline=None)
@given(state=STATES, other=STATES, at=INSTANTS)
def test_the_clock_reads_only_its_listed_fields(state: DossierState, other: DossierState, at: int) -> None:
    """A dossier given another's every field but the ones the clock reads keeps its clock (what the
    processor's `timed` reuse rests on: a `paid` or a `rated` moves the held clock, does not compute it)."""
    hybrid = dataclasses.replace(other, **{name: getattr(state, name) for name in READ_BY_THE_CLOCK})
    assert hybrid.figure_inputs()[:2] == state.figure_inputs()[:2]
    procedure = CATALOG.procedure(state.agency or "", state.procedure) if state.procedure else None
    assert clock(hybrid, procedure, CALENDAR, at) == clock(state, procedure, CALENDAR, at)
    held = contribution(state, CATALOG, CALENDAR, at)
    assert contribution(hybrid, CATALOG, CALENDAR, at).clock == held.clock


def _seen(outcome: Outcome) -> tuple[object, ...]:
    return outcome.status, outcome.alerts, outcome.deadlines, outcome.writes


def _views(proc: Processor) -> dict[int, tuple[object, ...]]:
    return {p: (dict(v.counters.counts), dict(v.report), dict(v.index), sorted(set(v.due)), v.dossiers)
            for p, v in proc.views.items()}


@settings(max_examples=60, deadline=None)
@given(stories=st.lists(st.one_of(dossier_story(), chaos_events()), min_size=1, max_size=6),
       seed=st.integers(0, 10_000), held=st.sampled_from([0, 20_000]))
def test_the_short_cut_changes_no_result(stories: list[list[dict[str, Any]]], seed: int, held: int) -> None:
    rng = random.Random(seed)
    bodies = []
    for number, story in enumerate(stories):  # each story its own dossier, on partition 0 or 1
        bodies += [{**body, "dossier": f"D{number}", "event_id": f"D{number}-{body['event_id']}"}
                   for body in story]
    assume(bodies)
    bodies.sort(key=lambda body: parse_event(body).occurred_at)
    bodies += rng.sample(bodies, min(3, len(bodies)))  # some come again
    processors = [Processor(CATALOG, CALENDAR, {}, max_future_seconds=None, held_limit=held, shortcut=on)
                  for on in (True, False)]
    now = int(parse_event(bodies[0]).occurred_at.timestamp())
    for body in bodies:
        # the business clock never goes back; an event may be up to an hour ahead of it
        ahead = rng.choice([-3600, -60, 0, 60, 86400])
        now = max(now, int(parse_event(body).occurred_at.timestamp()) + ahead)
        raw = json.dumps(body).encode()
        partition = int(body["dossier"][1:]) % 2
        outcomes = [proc.handle(partition, raw, {}, now) for proc in processors]
        ticks = [[proc.tick(p, now) for p in (0, 1)] for proc in processors]
        assert _seen(outcomes[0]) == _seen(outcomes[1])
        assert [_seen(t) for t in ticks[0]] == [_seen(t) for t in ticks[1]]
        for proc, outcome, fired in zip(processors, outcomes, ticks, strict=True):
            proc.save(proc.stage(outcome))
            for tick in fired:
                proc.save(proc.stage(tick))
        assert _views(processors[0]) == _views(processors[1])
    assert processors[0].store == processors[1].store
