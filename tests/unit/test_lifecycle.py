"""Lifecycle of one dossier: order-free, idempotent fact merging, problems, the compact codec."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CATALOG, at, chaos_events, dossier_story, event, parse, state_of, ts

from dossiers.calendar import WorkingCalendar
from dossiers.events import Event
from dossiers.kpi import contribution
from dossiers.lifecycle import Applied, DossierState, Status, apply, pause_intervals, procedure_of
from dossiers.sla import clock

CAL = WorkingCalendar()
D = "000.00.12.H48-260302-0007"


def ev(type_: str, when: datetime, **fields: Any) -> dict[str, Any]:
    return event(type_, when, dossier=D, **fields)


def received(when: datetime, **fields: Any) -> dict[str, Any]:
    return ev("received", when, procedure="2.000488", channel="counter", **fields)


def fold(events: list[Event]) -> DossierState:
    return state_of(events, D if not events else events[0].dossier)


# --- strategies: a history and a permutation of it ----------------------------------------------------------

histories = st.one_of(dossier_story(), chaos_events())


@st.composite
def history_and_permutation(draw: st.DrawFn) -> tuple[list[Event], list[Event]]:
    raws = draw(histories)
    events = parse(raws)
    return events, draw(st.permutations(events))


# --- order-free, idempotent --------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(history_and_permutation())
def test_any_permutation_gives_the_same_state(pair: tuple[list[Event], list[Event]]) -> None:
    events, shuffled = pair
    assert fold(shuffled).to_bytes() == fold(events).to_bytes()


@settings(max_examples=200, deadline=None)
@given(history_and_permutation(), st.randoms(use_true_random=False))
def test_every_event_twice_changes_nothing(pair: tuple[list[Event], list[Event]], rnd: Any) -> None:
    events, shuffled = pair
    once = fold(events)
    state = fold(shuffled)
    again = list(events)
    rnd.shuffle(again)
    assert [apply(state, e) for e in again] == [Applied.DUPLICATE] * len(events)
    assert state.to_bytes() == once.to_bytes()
    # interleaved duplicates from the start, too
    doubled = [e for e in events for _ in (0, 1)]
    rnd.shuffle(doubled)
    assert fold(doubled).to_bytes() == once.to_bytes()


def test_duplicates_are_recognised_by_event_id_only() -> None:
    first = parse([received(at(2026, 3, 2, 9), event_id="tn-1")])[0]
    state = fold([first])
    assert apply(state, first) is Applied.DUPLICATE
    # a redelivery with the same id (even if re-serialised differently) is a duplicate
    same_id = parse([received(at(2026, 3, 2, 9, 0, 0), event_id="tn-1", due_at=at(2026, 3, 20))])[0]
    assert apply(state, same_id) is Applied.DUPLICATE
    assert state.explicit_due is None
    other_id = parse([ev("rated", at(2026, 3, 9), data={"rating": "satisfied"}, event_id="dg-1")])[0]
    assert apply(state, other_id) is Applied.APPLIED


@settings(max_examples=300, deadline=None)
@given(chaos_events(max_size=16))
def test_no_input_sequence_raises(raws: list[dict[str, Any]]) -> None:
    """Ends without starts, two endings, results before receipt, ties: apply and everything derived."""
    events = parse(raws)
    state = fold(events)
    _ = state.status, state.received_at, state.resolved_at, state.closed_at()
    assert isinstance(state.problems(), list)
    for until in (None, ts(at(2026, 6, 1))):
        for start, end in pause_intervals(state, until):
            assert end is None or end >= start
    restored = DossierState.from_bytes(state.to_bytes())
    assert restored == state
    procedure = CATALOG.procedure(state.agency or "", state.procedure or "")
    for as_of in (ts(at(2025, 6, 1)), ts(at(2027, 1, 1))):
        clock(state, procedure, CAL, as_of)
        contribution(state, CATALOG, CAL, as_of)


@settings(max_examples=200, deadline=None)
@given(histories, st.data())
def test_to_bytes_from_bytes_round_trip(raws: list[dict[str, Any]], data: st.DataObject) -> None:
    events = parse(raws)
    whole = fold(events)
    raw = whole.to_bytes()
    restored = DossierState.from_bytes(raw)
    assert restored == whole
    assert restored.to_bytes() == raw
    assert restored.status is whole.status and restored.problems() == whole.problems()
    # a restored state keeps merging like the original (marks are tuples again, not JSON lists)
    cut = data.draw(st.integers(0, len(events)))
    half = DossierState.from_bytes(fold(events[:cut]).to_bytes()) if cut else DossierState(whole.dossier)
    for e in events[cut:]:
        apply(half, e)
    for e in events:
        assert apply(half, e) is Applied.DUPLICATE
    assert half.to_bytes() == raw


_INT = st.integers(0, 2**40)
_MARK = st.none() | st.tuples(_INT, _INT)
_TEXT = st.none() | st.text(max_size=4)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "dossier": st.text(max_size=4), "agency": _TEXT, "procedure": _TEXT, "channel": _TEXT, "received": _MARK,
    "explicit_due": st.none() | _INT, "refused": _MARK, "withdrawn": _MARK, "resolved": _MARK,
    "outcome": _TEXT, "returned": _MARK, "extended": _MARK, "appointment": st.none() | _INT, "rated": _MARK,
    "rating": _TEXT, "paid": _MARK, "paid_online": st.booleans(), "transfers": _INT,
    "pauses": st.lists(st.tuples(_INT, st.text(max_size=3), st.booleans()), max_size=2),
    "seen": st.lists(_INT, max_size=2), "conflicts": _INT,
    "agency_key": st.none() | st.tuples(_INT, _INT, _INT), "evaluated_at": st.none() | _INT,
    "alerted": _TEXT, "extensions": _INT, "explicit_due_day": _TEXT, "synced": _MARK,
    "digitised": st.booleans(), "e_result": st.booleans(), "complaints": _INT,
}
"""Each field of a state drawn on its own, so that two fields swapped anywhere differ in some example."""


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries(FIELD_VALUES))
def test_a_states_row_is_its_fields_in_order(values: dict[str, Any]) -> None:
    """`row` writes the fields out (direct reads once compiled): it must be every field, in order, as the
    stored forms and `from_bytes` expect."""
    names = [f.name for f in dataclasses.fields(DossierState)]
    assert set(FIELD_VALUES) == set(names)  # a new field is drawn here too
    state = DossierState(**values)
    assert state.row() == tuple(values[name] for name in names)


@settings(max_examples=200, deadline=None)
@given(histories)
def test_a_state_stored_as_json_before_messagepack_reads_back_the_same(raws: list[dict[str, Any]]) -> None:
    """Changelogs written before 2026-12-05 hold JSON arrays: a worker reads them as before, and writes
    the state back as MessagePack (the first byte tells the two apart)."""
    state = fold(parse(raws))
    old = state.to_json_bytes()
    assert old[:1] == b"[" and state.to_bytes()[:1] in (b"\xdc", b"\xdd")
    restored = DossierState.from_bytes(old)
    assert restored == state and restored.to_bytes() == state.to_bytes()


def test_a_text_messagepack_cannot_hold_is_stored_as_json_and_reads_back() -> None:
    """A JSON event may carry a lone surrogate as an escape ("\\ud800"); UTF-8 (so MessagePack) cannot
    encode it: that one state is stored as JSON, which reads back as before."""
    state = DossierState("D-\ud800", agency="STP", procedure="1.0")
    raw = state.to_bytes()
    assert raw[:1] == b"["
    assert DossierState.from_bytes(raw) == state


def test_state_is_small() -> None:
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("supplement_requested", at(2026, 3, 3, 9)),
        ev("supplement_received", at(2026, 3, 4, 9)),
        ev("resolved", at(2026, 3, 6, 9)),
        ev("returned", at(2026, 3, 6, 10)),
        ev("rated", at(2026, 3, 6, 10), data={"rating": "satisfied"}),
    ]
    assert len(fold(parse(raws)).to_bytes()) < 600


# --- merging rules ----------------------------------------------------------------------------------------


def test_earliest_received_wins_and_later_ones_are_conflicts() -> None:
    first = received(at(2026, 3, 2, 9), due_at=at(2026, 3, 9, 9))
    second = ev("received", at(2026, 3, 2, 10), procedure="2.000505", channel="postal")
    for order in ([first, second], [second, first]):
        state = fold(parse(order))
        assert state.received_at == ts(at(2026, 3, 2, 9))
        assert (state.procedure, state.channel, state.explicit_due) == (
            "2.000488",
            "counter",
            ts(at(2026, 3, 9, 9)),
        )
        assert state.conflicts == 1
        assert "1 conflicting event(s)" in state.problems()


def test_latest_rating_and_extension_win() -> None:
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("resolved", at(2026, 3, 5, 9)),
        ev("rated", at(2026, 3, 5, 10), data={"rating": "unsatisfied"}),
        ev("rated", at(2026, 3, 6, 10), data={"rating": "very_satisfied"}),
        ev("extended", at(2026, 3, 3, 9), data={"new_due_at": "2026-03-20T17:00:00+07:00"}),
        ev("extended", at(2026, 3, 4, 9), data={"new_due_at": "2026-03-27T17:00:00+07:00"}),
    ]
    for order in (raws, raws[::-1]):
        state = fold(parse(order))
        assert state.rating == "very_satisfied"
        assert state.appointment == ts(at(2026, 3, 27, 17))


def test_received_sets_the_agency_over_other_events() -> None:
    """A transfer target's events (other agency code) never take the dossier away from its agency."""
    raws = [
        ev("transferred", at(2026, 3, 2, 8), agency="SYT"),
        received(at(2026, 3, 2, 9)),
        ev("resolved", at(2026, 3, 5, 9), agency="SYT"),
    ]
    for order in (raws, raws[::-1]):
        state = fold(parse(order))
        assert state.agency == "STP"
        assert state.transfers == 1


def test_status_is_the_earliest_ending() -> None:
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("withdrawn", at(2026, 3, 3, 9)),
        ev("resolved", at(2026, 3, 4, 9)),
    ]
    state = fold(parse(raws))
    assert state.status is Status.WITHDRAWN
    assert state.closed_at() == ts(at(2026, 3, 3, 9))
    assert fold(parse(raws[:1])).status is Status.OPEN
    assert fold(parse([raws[0], raws[2]])).status is Status.RESOLVED


def test_refused_only_dossier_takes_the_earliest_refusals_procedure() -> None:
    """Two refusals, the earlier one without a procedure: order must not decide what is kept."""
    early = ev("refused", at(2026, 3, 2, 9))
    late = ev("refused", at(2026, 3, 2, 10), procedure="2.000505")
    a, b = fold(parse([early, late])), fold(parse([late, early]))
    assert a.to_bytes() == b.to_bytes()
    assert a.status is Status.REFUSED


def test_payment_online_is_sticky() -> None:
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("paid", at(2026, 3, 2, 9, 5), data={"online": False}),
        ev("paid", at(2026, 3, 2, 9, 10), data={"online": True, "receipt": "BL-9"}),
    ]
    for order in (raws, raws[::-1]):
        state = fold(parse(order))
        assert state.paid_online is True
        assert state.paid is not None and state.paid[0] == ts(at(2026, 3, 2, 9, 5))


# --- problems ---------------------------------------------------------------------------------------------


def problems(*raws: dict[str, Any]) -> list[str]:
    found: list[str] = fold(parse(list(raws))).problems()
    return found


def test_a_clean_history_has_no_problem() -> None:
    assert (
        problems(
            received(at(2026, 3, 2, 9)),
            ev("paused", at(2026, 3, 3, 9)),
            ev("resumed", at(2026, 3, 4, 9)),
            ev("resolved", at(2026, 3, 5, 9)),
            ev("returned", at(2026, 3, 5, 10)),
        )
        == []
    )
    assert problems(ev("refused", at(2026, 3, 2, 9), procedure="2.000488")) == []


@settings(max_examples=200, deadline=None)
@given(dossier_story())
def test_realistic_histories_have_no_problem(raws: list[dict[str, Any]]) -> None:
    assert fold(parse(raws)).problems() == []


def test_resolved_before_received() -> None:
    found = problems(received(at(2026, 3, 2, 9)), ev("resolved", at(2026, 3, 1, 9)))
    assert "resolved before it was received" in found


def test_closed_twice() -> None:
    found = problems(
        ev("refused", at(2026, 3, 2, 9), procedure="2.000488"),
        received(at(2026, 3, 2, 8)),
        ev("resolved", at(2026, 3, 5, 9)),
    )
    assert "closed more than once: refused and resolved" in found
    assert any(
        p.startswith("closed more than once: withdrawn and resolved")
        for p in problems(
            received(at(2026, 3, 2, 9)), ev("withdrawn", at(2026, 3, 3, 9)), ev("resolved", at(2026, 3, 4, 9))
        )
    )


def test_resumed_without_paused() -> None:
    assert "resumed without a matching start" in problems(
        received(at(2026, 3, 2, 9)), ev("resumed", at(2026, 3, 3, 9))
    )
    assert "supplement_received without a matching start" in problems(
        received(at(2026, 3, 2, 9)), ev("supplement_received", at(2026, 3, 3, 9))
    )
    # a resume before the only pause cannot end it: the pause is still running
    raws = (received(at(2026, 3, 2, 9)), ev("resumed", at(2026, 3, 3, 9)), ev("paused", at(2026, 3, 4, 9)))
    assert "resumed without a matching start" in problems(*raws)
    assert pause_intervals(fold(parse(list(raws)))) == [(ts(at(2026, 3, 4, 9)), None)]


def test_events_without_received() -> None:
    assert problems(ev("resolved", at(2026, 3, 5, 9))) == ["no received event (yet)"]
    assert "no received event (yet)" in problems(
        ev("paused", at(2026, 3, 5, 9)), ev("rated", at(2026, 3, 6, 9), data={"rating": "satisfied"})
    )
    state = fold(parse([ev("resolved", at(2026, 3, 5, 9))]))
    # counted nowhere until its `received` arrives (DossierState.status documents UNKNOWN for this)
    assert state.status is Status.UNKNOWN
    assert contribution(state, CATALOG, CAL, ts(at(2026, 3, 6))).keys == ()


def test_returned_without_a_result() -> None:
    assert "returned without (or before) a result" in problems(
        received(at(2026, 3, 2, 9)), ev("returned", at(2026, 3, 3, 9))
    )


def test_problems_are_order_free() -> None:
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("resumed", at(2026, 3, 3, 9)),
        ev("resolved", at(2026, 3, 1, 9)),
        ev("withdrawn", at(2026, 3, 4, 9)),
    ]
    assert problems(*raws) == problems(*raws[::-1])


def test_a_pause_sent_twice_is_one_wait_that_one_resume_ends() -> None:
    """An agency re-sending `paused` with a new id must not leave the dossier paused for ever."""
    raws = [
        event("received", at(2026, 3, 2, 8), event_id="r", procedure="2.000488", channel="counter"),
        event("paused", at(2026, 3, 3, 8), event_id="p1", data={"reason": "nghĩa vụ tài chính"}),
        event("paused", at(2026, 3, 4, 8), event_id="p2", data={"reason": "nghĩa vụ tài chính"}),
        event("resumed", at(2026, 3, 5, 8), event_id="q1"),
    ]
    state = state_of(parse(raws))
    assert pause_intervals(state) == [(ts(at(2026, 3, 3, 8)), ts(at(2026, 3, 5, 8)))]
    assert not any("resumed" in p for p in state.problems())


def test_a_second_extension_is_a_problem_and_counted() -> None:
    """The appointment may be rescheduled once (Decree 61/2018; Decree 118/2025 keeps the apology
    letter): a second `extended` is reported, in any order, and the dossier stays late as before."""
    common = {"dossier": "D", "agency": "STP"}
    raws = [
        event("received", at(2026, 3, 2, 9), procedure="2.000488", channel="counter", **common),
        event("extended", at(2026, 3, 12, 9), data={"new_due_at": "2026-03-20T17:00:00+07:00"}, **common),
        event("extended", at(2026, 3, 19, 9), data={"new_due_at": "2026-03-27T17:00:00+07:00"}, **common),
        event("resolved", at(2026, 3, 25, 9), **common),
    ]
    once = state_of(parse(raws[:2] + raws[3:]))
    assert once.problems() == [] and ("rescheduled_twice", "STP") not in _keys(once)
    for order in (raws, raws[::-1]):
        twice = state_of(parse(order))
        assert twice.problems() == ["rescheduled more than once"]
        keys = _keys(twice)
        assert ("rescheduled_twice", "STP") in keys
        assert any(k[0] == "resolved" and k[2] == "late" for k in keys)
        assert twice.appointment == ts(at(2026, 3, 27, 17))  # the latest appointment is kept
    duplicate = state_of(parse([*raws[:2], raws[1], *raws[3:]]))  # the same event twice is one
    assert duplicate.problems() == []


def _keys(state: DossierState) -> tuple[tuple[str, ...], ...]:
    return contribution(state, CATALOG, WorkingCalendar(), ts(at(2026, 3, 31))).keys


# -- the written-out constructor (compiled by mypyc, issue 19) ---------------------------------------


def _default(f: Any) -> Any:
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def test_a_new_state_has_each_fields_default_and_lists_of_its_own() -> None:
    first, second = DossierState(D), DossierState(D)
    fields = dataclasses.fields(DossierState)
    assert fields[0].name == "dossier" and first.dossier == D
    for f in fields[1:]:
        assert getattr(first, f.name) == _default(f), f.name
    first.pauses.append((1, "pause", True))
    first.seen.append(1)
    assert second.pauses == [] and second.seen == []


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries(FIELD_VALUES), st.integers(0, 2**40))
def test_ended_at_is_replace_with_a_result_and_no_other_end(values: dict[str, Any], at: int) -> None:
    """`ended_at` is written out (compiled, where `dataclasses.replace` runs interpreted): it must be
    `replace` exactly, sharing the lists as `replace` does, and leave the state itself alone."""
    state = DossierState(**values)
    before = state.row()
    ended = state.ended_at(at)
    expected = dataclasses.replace(state, resolved=(at, 0), refused=None, withdrawn=None)
    assert ended.row() == expected.row()
    assert ended.pauses is state.pauses and ended.seen is state.seen
    assert ended is not state and state.row() == before


@given(histories)
def test_the_constructor_takes_the_fields_in_order_by_position_or_by_name(raws: list[dict[str, Any]]) -> None:
    """`__init__` is written out (mypyc compiles it; the generated one runs interpreted): it must take
    exactly the dataclass's fields, in their order, as the generated one would (`from_bytes` passes the
    stored array by position)."""
    state = fold(parse(raws))
    names = [f.name for f in dataclasses.fields(DossierState)]
    values = [getattr(state, name) for name in names]
    by_position = DossierState(*values)
    by_name = DossierState(**dict(zip(names, values, strict=True)))
    for name, value in zip(names, values, strict=True):
        assert getattr(by_position, name) == value, name
        assert getattr(by_name, name) == value, name
    assert by_position == by_name == state


_AGENCIES = [a.code for a in CATALOG.agencies]
_CODES = sorted({p.code for a in CATALOG.agencies for p in a.procedures})


@given(st.one_of(st.none(), st.just(""), st.sampled_from(_AGENCIES), st.text(max_size=8)),
       st.one_of(st.none(), st.just(""), st.sampled_from(_CODES), st.text(max_size=8)))
def test_procedure_of_is_the_catalogs_procedure(agency: str | None, code: str | None) -> None:
    """The compiled lookup the core uses answers as `Catalog.procedure` does (None for a missing code)."""
    expected = CATALOG.procedure(agency or "", code) if code else None
    assert procedure_of(CATALOG, agency, code) is expected


def test_procedure_of_follows_the_catalog_it_is_given() -> None:
    """It keeps the last catalog's procedures in plain dicts: asked about another catalog, and back, it
    answers for the one given each time (a catalog without the first agency knows none of its codes)."""
    from dossiers.catalog import Catalog

    first = CATALOG.agencies[0]
    dumped = CATALOG.model_dump()
    dumped["agencies"] = [a for a in dumped["agencies"] if a["code"] != first.code]
    smaller = Catalog.model_validate(dumped)
    code = first.procedures[0].code
    for _ in range(2):
        assert procedure_of(CATALOG, first.code, code) is CATALOG.procedure(first.code, code) is not None
        assert procedure_of(smaller, first.code, code) is None
        other = smaller.agencies[0]
        assert procedure_of(smaller, other.code, other.procedures[0].code) is other.procedures[0]


PAUSES = st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["s", "p"]), st.booleans()), max_size=8)


def _pause_intervals_by_sorting(state: DossierState, until: int | None) -> list[tuple[int, int | None]]:
    """`pause_intervals` as written before 2026-12-07: the pauses sorted with a key at every call, the
    intervals sorted again at the end."""
    intervals: list[tuple[int, int | None]] = []
    for kind in ("s", "p"):
        open_since: int | None = None
        repeated = 0
        for start, k, is_start in sorted(state.pauses, key=lambda p: (p[0], not p[2])):
            if k != kind:
                continue
            if is_start and open_since is None:
                open_since = start
            elif is_start:
                repeated += 1
            elif open_since is not None:
                intervals.append((open_since, start))
                open_since = None
            elif repeated:
                repeated -= 1
        if open_since is not None:
            intervals.append((open_since, until if until is not None and until >= open_since else None))
    intervals.sort(key=lambda iv: iv[0])
    return intervals


@given(PAUSES, st.booleans(), st.none() | st.integers(0, 8))
def test_pause_intervals_need_no_sort_when_the_pauses_are_in_order(
        pauses: list[tuple[int, str, bool]], kept_sorted: bool, until: int | None) -> None:
    """Equal to sorting at every call, for pauses kept sorted (as `apply` keeps them) or in any order,
    instants shared or not."""
    state = DossierState("D1", pauses=sorted(pauses) if kept_sorted else pauses)
    assert pause_intervals(state, until) == _pause_intervals_by_sorting(state, until)
