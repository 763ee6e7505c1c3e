"""The KPI counter keys built once per agency and shared (`dossiers.kpi.AgencyKeys`): a contribution's keys
equal the keys written out afresh, as `contribution` built them before the memo, whatever the dossier; the
memo hands out one object per key and stays bounded."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossiers.calendar import WorkingCalendar
from dossiers.events import parse_event
from dossiers.kpi import KEYS_PER_KIND, SATISFIED, AgencyKeys, Key, agency_keys, contribution
from dossiers.lifecycle import (
    STATUS_OPEN,
    STATUS_REFUSED,
    STATUS_RESOLVED,
    STATUS_UNKNOWN,
    STATUS_WITHDRAWN,
    DossierState,
    procedure_of,
)
from dossiers.sla import Timeliness, clock
from tests.unit.strategies import CATALOG, chaos_events, dossier_story, state_of

CALENDAR = WorkingCalendar(CATALOG.calendar)
STATES = st.one_of(dossier_story(), chaos_events()).map(lambda raws: state_of([parse_event(r) for r in raws]))
INSTANTS = st.integers(int(datetime(2025, 12, 1).timestamp()), int(datetime(2027, 3, 1).timestamp()))


def keys_afresh(state: DossierState, as_of: int) -> tuple[Key, ...]:
    """The keys as `contribution` wrote them out before the memo: a new tuple each."""
    agency = state.agency
    if state.status is STATUS_UNKNOWN or agency is None:
        return ()
    at = state.received[0] if state.received else state.refused[0] if state.refused else as_of
    keys: list[Key] = [("received", agency, CALENDAR.day_key(at))]
    if state.channel:
        keys.append(("channel", agency, state.channel))
    the_clock = clock(state, procedure_of(CATALOG, agency, state.procedure), CALENDAR, as_of)
    if state.status is STATUS_REFUSED:
        keys.append(("refused", agency))
    elif state.status is STATUS_WITHDRAWN:
        keys.append(("withdrawn", agency))
    elif state.status is STATUS_RESOLVED and the_clock.timeliness is not None and state.resolved:
        keys.append(("resolved", agency, the_clock.timeliness.value, CALENDAR.day_key(state.resolved[0])))
    elif state.status is STATUS_OPEN:
        keys.append(("open", agency, (the_clock.timeliness or Timeliness.WITHIN).value))
        if the_clock.paused:
            keys.append(("paused", agency))
    if state.rating:
        keys.append(("rated", agency, "satisfied" if state.rating in SATISFIED else "unsatisfied"))
    if state.paid:
        keys.append(("paid", agency, "online" if state.paid_online else "offline"))
    if state.extensions > 1:
        keys.append(("rescheduled_twice", agency))
    return tuple(keys)


@settings(max_examples=300, deadline=None)
@given(STATES, INSTANTS)
def test_a_contributions_keys_equal_the_keys_written_afresh(state: DossierState, as_of: int) -> None:
    keys = contribution(state, CATALOG, CALENDAR, as_of).keys
    assert keys == keys_afresh(state, as_of)
    assert all(type(key) is tuple and all(type(item) is str for item in key) for key in keys)
    again = contribution(state, CATALOG, CALENDAR, as_of).keys
    assert all(a is b for a, b in zip(keys, again, strict=True))  # the same objects, not copies


@given(st.sampled_from(list(Timeliness)), st.sampled_from(["2026-03-02", "2026-03-03"]))
def test_each_key_is_one_object_equal_to_its_value(timeliness: Timeliness, day: str) -> None:
    memo = AgencyKeys("STP")
    assert memo.plain_key("paused") == ("paused", "STP")
    assert memo.plain_key("paused") is memo.plain_key("paused")
    assert memo.valued_key("received", day) == ("received", "STP", day)
    assert memo.valued_key("received", day) is memo.valued_key("received", day)
    assert memo.open_key(timeliness) == ("open", "STP", timeliness.value)
    assert memo.open_key(timeliness) is memo.open_key(timeliness)
    assert memo.resolved_key(timeliness, day) == ("resolved", "STP", timeliness.value, day)
    assert memo.resolved_key(timeliness, day) is memo.resolved_key(timeliness, day)
    assert agency_keys("STP") is agency_keys("STP")


def test_dated_keys_stay_bounded_and_equal() -> None:
    memo = AgencyKeys("STP")
    for n in range(KEYS_PER_KIND * 2 + 5):
        day = f"day-{n}"
        assert memo.valued_key("received", day) == ("received", "STP", day)
        assert memo.resolved_key(Timeliness.LATE, day) == ("resolved", "STP", "late", day)
        assert len(memo.valued["received"]) <= KEYS_PER_KIND
        assert len(memo.resolved_by_class[2]) <= KEYS_PER_KIND


def test_only_a_class_of_timeliness_has_a_place() -> None:
    """Compiled, the argument's type is checked at the call (TypeError); from source, by the lookup."""
    memo = AgencyKeys("STP")
    with pytest.raises((TypeError, ValueError)):
        memo.open_key("within")  # type: ignore[arg-type]  # a string, not the class
