"""The SLA clock (docs/domain.md, section 3): due time, pauses, extension, classification, timers.

March 2026 has no public holiday: Monday 2, 9, 16 March; Saturday 7, 14 March. One working day is
8 office hours (07:00-11:30 and 13:30-17:00). Every expected instant below is worked out by hand.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import CATALOG, at, dossier_story, event, instants, local, parse, procedure, state_of, ts

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import CalendarConfig, Procedure
from dossiers.lifecycle import DossierState
from dossiers.sla import Clock, Timeliness, clock

CAL = WorkingCalendar(CalendarConfig(deadline_mode="instant"))  # the worked examples of the instant rule
DAY = WorkingCalendar(CalendarConfig(deadline_mode="day"))  # the day rule (the default)
MODES = {"day": DAY, "instant": CAL}
P5 = procedure(5)
P3 = procedure(3)
H8 = procedure(8, "hours")
D = "000.00.12.H48-260302-0042"

RESOLVED_RANK = {Timeliness.EARLY: 0, Timeliness.ON_TIME: 1, Timeliness.LATE: 2}
OPEN_RANK = {Timeliness.WITHIN: 0, Timeliness.DUE_SOON: 1, Timeliness.OVERDUE: 2}


def received(when: datetime, **fields: Any) -> dict[str, Any]:
    return event("received", when, dossier=D, procedure="2.000488", channel="counter", **fields)


def ev(type_: str, when: datetime, **fields: Any) -> dict[str, Any]:
    return event(type_, when, dossier=D, **fields)


def state(*raws: dict[str, Any]) -> DossierState:
    return state_of(parse(raws))


def clock_at(
    raws: tuple[dict[str, Any], ...] | list[dict[str, Any]],
    as_of: datetime | int,
    proc: Procedure = P5,
    cal: WorkingCalendar = CAL,
) -> Clock:
    moment = as_of if isinstance(as_of, int) else ts(as_of)
    return clock(state(*raws), proc, cal, moment)


def due_of(c: Clock) -> datetime:
    assert c.due_at is not None
    return local(c.due_at)


# --- worked examples: resolved ----------------------------------------------------------------------------

# Received Wednesday 4 Mar 2026 10:00, 5 working days: Thu 5 (1), Fri 6 (2), Mon 9 (3), Tue 10 (4),
# Wed 11 Mar (5). Due Wednesday 11 Mar 2026 10:00.
WED = received(at(2026, 3, 4, 10))
WED_DUE = at(2026, 3, 11, 10)


@pytest.mark.parametrize(
    ("resolved_at", "expected"),
    [
        (at(2026, 3, 5, 8), Timeliness.EARLY),
        (at(2026, 3, 10, 16, 59, 59), Timeliness.EARLY),  # the day before the due day
        (at(2026, 3, 10, 23, 0), Timeliness.EARLY),  # that evening, after hours: still the day before
        (at(2026, 3, 11, 6, 30), Timeliness.ON_TIME),  # the due day, before the counter opens
        (at(2026, 3, 11, 7, 0), Timeliness.ON_TIME),
        (at(2026, 3, 11, 10, 0, 0), Timeliness.ON_TIME),  # exactly the due time
        (at(2026, 3, 11, 10, 0, 1), Timeliness.LATE),  # one second after
        (at(2026, 3, 11, 12, 0), Timeliness.LATE),
        (at(2026, 3, 16, 9, 0), Timeliness.LATE),
    ],
)
def test_early_on_time_late(resolved_at: datetime, expected: Timeliness) -> None:
    c = clock_at([WED, ev("resolved", resolved_at)], resolved_at + timedelta(days=30))
    assert c.timeliness is expected
    assert due_of(c) == WED_DUE
    assert c.late_seconds == (
        int((resolved_at - WED_DUE).total_seconds()) if expected is Timeliness.LATE else 0
    )
    assert c.next_change_at is None and not c.paused


def test_a_result_is_classified_the_same_at_any_later_as_of() -> None:
    raws = [WED, ev("resolved", at(2026, 3, 11, 9))]
    classes = {clock_at(raws, at(2026, 3, 11, 9) + timedelta(days=k)).timeliness for k in (0, 1, 30, 400)}
    assert classes == {Timeliness.ON_TIME}


def test_supplement_pause_moves_the_due_time() -> None:
    """Received Monday 2 Mar 09:00, 5 days: due Monday 9 Mar 09:00 without a pause.

    Supplement requested Wednesday 4 Mar 10:00, received Friday 6 Mar 14:00. Worked before the request:
    Mon 09:00-17:00 (6 h, lunch excluded), Tue 8 h, Wed 07:00-10:00 3 h = 17 h of 40. The remaining 23 h
    run from Friday 14:00: Fri 3 h (20 left), Mon 9 Mar 8 h (12), Tue 10 Mar 8 h (4), Wed 11 Mar
    07:00 + 4 h = 11:00. Due Wednesday 11 Mar 2026 11:00.
    """
    base = [received(at(2026, 3, 2, 9))]
    pause = [ev("supplement_requested", at(2026, 3, 4, 10)), ev("supplement_received", at(2026, 3, 6, 14))]
    as_of = at(2026, 3, 20)
    assert due_of(clock_at(base, as_of)) == at(2026, 3, 9, 9)
    assert due_of(clock_at(base + pause, as_of)) == at(2026, 3, 11, 11)
    resolved = ev("resolved", at(2026, 3, 11, 10, 59))
    assert clock_at([*base, *pause, resolved], as_of).timeliness is Timeliness.ON_TIME
    assert clock_at([*base, resolved], as_of).timeliness is Timeliness.LATE
    late = ev("resolved", at(2026, 3, 11, 11, 0, 1))
    assert clock_at([*base, *pause, late], as_of).timeliness is Timeliness.LATE


def test_financial_obligation_pause() -> None:
    """Received Tuesday 10 Mar 14:00, 3 days (24 h): due Friday 13 Mar 14:00 without a pause.

    Paused (waiting for the citizen to pay a fee) Wednesday 11 Mar 16:00, resumed Monday 16 Mar 08:00.
    Worked: Tue 14:00-17:00 3 h, Wed 07:00-11:30 4.5 h + 13:30-16:00 2.5 h = 10 h. The remaining 14 h from
    Monday 08:00: Mon 3.5 h + 3.5 h (7 left), Tue 17 Mar 07:00-11:30 4.5 h (2.5 left), 13:30 + 2.5 h.
    Due Tuesday 17 Mar 2026 16:00.
    """
    base = [received(at(2026, 3, 10, 14))]
    pause = [
        ev("paused", at(2026, 3, 11, 16), data={"reason": "chờ thực hiện nghĩa vụ tài chính"}),
        ev("resumed", at(2026, 3, 16, 8)),
    ]
    done = ev("resolved", at(2026, 3, 17, 15))
    as_of = at(2026, 3, 31)
    assert due_of(clock_at(base, as_of, P3)) == at(2026, 3, 13, 14)
    with_pause = clock_at([*base, *pause, done], as_of, P3)
    assert due_of(with_pause) == at(2026, 3, 17, 16)
    assert with_pause.timeliness is Timeliness.ON_TIME
    assert clock_at([*base, done], as_of, P3).timeliness is Timeliness.LATE


def test_paused_open_dossier_is_neither_due_soon_nor_overdue() -> None:
    """The fee is still unpaid a week after the unpaused due time (Friday 13 Mar 14:00)."""
    raws = [received(at(2026, 3, 10, 14)), ev("paused", at(2026, 3, 11, 16))]
    for as_of in (at(2026, 3, 12, 16), at(2026, 3, 13, 14, 0, 1), at(2026, 3, 20), at(2026, 6, 1)):
        c = clock_at(raws, as_of, P3)
        assert c.timeliness is Timeliness.WITHIN
        assert c.paused is True
        assert c.due_at is None and c.due_soon_at is None and c.next_change_at is None
        assert c.late_seconds == 0
    # an open supplement request stops the clock the same way
    supplement = [received(at(2026, 3, 10, 14)), ev("supplement_requested", at(2026, 3, 11, 16))]
    assert clock_at(supplement, at(2026, 4, 1), P3).paused is True
    # and before the pause (the state holds only the events up to as_of) the dossier was running
    assert clock_at(raws[:1], at(2026, 3, 11, 15), P3).paused is False


def test_resumed_dossier_runs_again() -> None:
    """Same dossier, resumed Monday 16 Mar 08:00: due Tuesday 17 Mar 16:00 (see the pause example)."""
    raws = [
        received(at(2026, 3, 10, 14)),
        ev("paused", at(2026, 3, 11, 16)),
        ev("resumed", at(2026, 3, 16, 8)),
    ]
    assert clock_at(raws, at(2026, 3, 17, 8), P3).timeliness is Timeliness.DUE_SOON  # 8 h - 1 h left
    assert clock_at(raws, at(2026, 3, 17, 16, 0, 1), P3).timeliness is Timeliness.OVERDUE


def test_extension_does_not_rescue_the_statistics() -> None:
    """Received Monday 2 Mar 09:00, 5 days: due Monday 9 Mar 09:00.

    On Friday 6 Mar the agency issues an apology letter with a new appointment, Friday 13 Mar 17:00.
    The result is ready Wednesday 11 Mar 10:00: before the new appointment, after the original due
    time, so it is late: 2 days and 1 hour of calendar time.
    """
    new_due = at(2026, 3, 13, 17)
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("extended", at(2026, 3, 6, 16), data={"new_due_at": new_due.isoformat()}),
    ]
    done = ev("resolved", at(2026, 3, 11, 10))
    c = clock_at([*raws, done], at(2026, 3, 31))
    assert c.timeliness is Timeliness.LATE
    assert due_of(c) == at(2026, 3, 9, 9)
    assert c.late_seconds == 2 * 86400 + 3600
    assert state(*raws, done).appointment == ts(new_due)  # the citizen's appointment is kept
    # while open it is overdue from Monday 9 Mar 09:00:01 despite the appointment
    assert clock_at(raws, at(2026, 3, 9, 9, 0, 1)).timeliness is Timeliness.OVERDUE


def test_explicit_due_at_on_received_wins() -> None:
    """Received Monday 2 Mar 09:00 on a 5-day procedure (computed due: Monday 9 Mar 09:00).

    The receipt's appointment says Friday 6 Mar 15:00 (the agency promised less), or Wednesday 11 Mar
    17:00 (more); the appointment on the receipt is the due time.
    """
    sooner = received(at(2026, 3, 2, 9), due_at=at(2026, 3, 6, 15))
    assert due_of(clock_at([sooner], at(2026, 3, 3))) == at(2026, 3, 6, 15)
    assert (
        clock_at([sooner, ev("resolved", at(2026, 3, 6, 16))], at(2026, 3, 31)).timeliness is Timeliness.LATE
    )
    assert (
        clock_at([sooner, ev("resolved", at(2026, 3, 6, 14))], at(2026, 3, 31)).timeliness
        is Timeliness.ON_TIME
    )
    assert clock_at([sooner], at(2026, 3, 6, 15, 0, 1)).timeliness is Timeliness.OVERDUE
    later = received(at(2026, 3, 2, 9), due_at=at(2026, 3, 11, 17))
    assert due_of(clock_at([later], at(2026, 3, 3))) == at(2026, 3, 11, 17)
    assert (
        clock_at([later, ev("resolved", at(2026, 3, 10, 9))], at(2026, 3, 31)).timeliness is Timeliness.EARLY
    )
    assert clock_at([later], at(2026, 3, 10, 9)).timeliness is Timeliness.WITHIN


@pytest.mark.parametrize(
    ("appointment", "resolved_at"),
    [
        (at(2026, 3, 6, 17, 30), at(2026, 3, 6, 17, 15)),  # after closing time
        (at(2026, 3, 6, 12, 0), at(2026, 3, 6, 11, 45)),  # during the lunch break
        (at(2026, 3, 7, 10, 0), at(2026, 3, 7, 8, 0)),  # on a Saturday
    ],
)
def test_explicit_due_outside_office_hours_is_taken_as_written(
    appointment: datetime, resolved_at: datetime
) -> None:
    """A result ready before the appointment written on the receipt is not late, whatever the hour."""
    raws = [received(at(2026, 3, 2, 9), due_at=appointment), ev("resolved", resolved_at)]
    c = clock_at(raws, at(2026, 3, 31))
    assert due_of(c) == appointment
    assert c.timeliness is Timeliness.ON_TIME
    # and one second after the appointment the open dossier is overdue, not before
    assert clock_at(raws[:1], appointment).timeliness is not Timeliness.OVERDUE
    assert clock_at(raws[:1], appointment + timedelta(seconds=1)).timeliness is Timeliness.OVERDUE


def test_explicit_due_is_moved_by_pauses() -> None:
    """Appointment Friday 6 Mar 15:00; supplement Tuesday 3 Mar 09:00 -> Wednesday 4 Mar 09:00 (8 h).

    Friday 15:00 + 8 working hours: Fri 15:00-17:00 (2 h), Monday 9 Mar 07:00 + 6 h = 15:00.
    """
    raws = [
        received(at(2026, 3, 2, 9), due_at=at(2026, 3, 6, 15)),
        ev("supplement_requested", at(2026, 3, 3, 9)),
        ev("supplement_received", at(2026, 3, 4, 9)),
    ]
    assert due_of(clock_at(raws, at(2026, 3, 5))) == at(2026, 3, 9, 15)


def test_pause_starting_after_the_due_time_does_not_rescue() -> None:
    """Due Monday 9 Mar 09:00 (received Monday 2 Mar 09:00, 5 days); paused Tuesday 10 Mar 08:00."""
    base = [received(at(2026, 3, 2, 9))]
    late_pause = ev("paused", at(2026, 3, 10, 8))
    c = clock_at([*base, late_pause], at(2026, 3, 11))
    assert c.timeliness is Timeliness.OVERDUE
    assert due_of(c) == at(2026, 3, 9, 9)
    assert c.late_seconds == ts(at(2026, 3, 11)) - ts(at(2026, 3, 9, 9))
    resumed, done = ev("resumed", at(2026, 3, 12, 8)), ev("resolved", at(2026, 3, 12, 9))
    c = clock_at([*base, late_pause, resumed, done], at(2026, 3, 31))
    assert c.timeliness is Timeliness.LATE
    assert due_of(c) == at(2026, 3, 9, 9)
    # a supplement request after the due time does not rescue either
    request = ev("supplement_requested", at(2026, 3, 9, 10))
    assert clock_at([*base, request], at(2026, 3, 10)).timeliness is Timeliness.OVERDUE


def test_pause_starting_one_second_before_due_counts() -> None:
    """Supplement requested Monday 9 Mar 08:59:59 (1 s left), received Tuesday 10 Mar 08:59:59.

    Exactly 8 working hours later, so 1 s is left at the return: due Tuesday 10 Mar 09:00:00.
    """
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("supplement_requested", at(2026, 3, 9, 8, 59, 59)),
        ev("supplement_received", at(2026, 3, 10, 8, 59, 59)),
    ]
    assert due_of(clock_at(raws, at(2026, 3, 10, 9))) == at(2026, 3, 10, 9)


def test_overlapping_pauses_count_once() -> None:
    """Supplement Tuesday 3 Mar 07:00 -> Wednesday 4 Mar 07:00; fee pause Tuesday 13:30 -> Thursday 5 07:00.

    Their union, Tuesday 07:00 -> Thursday 07:00, is 2 working days: due Monday 9 Mar 09:00 + 2 days =
    Wednesday 11 Mar 09:00 (not + 2.44 days, as summing the two would give).
    """
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("supplement_requested", at(2026, 3, 3, 7)),
        ev("supplement_received", at(2026, 3, 4, 7)),
        ev("paused", at(2026, 3, 3, 13, 30)),
        ev("resumed", at(2026, 3, 5, 7)),
    ]
    assert due_of(clock_at(raws, at(2026, 3, 6))) == at(2026, 3, 11, 9)


def test_pause_outside_office_hours_changes_nothing() -> None:
    """Paused Friday 6 Mar 17:30, resumed Monday 9 Mar 06:00: no working time in between."""
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("paused", at(2026, 3, 6, 17, 30)),
        ev("resumed", at(2026, 3, 9, 6)),
    ]
    assert due_of(clock_at(raws, at(2026, 3, 9, 8))) == at(2026, 3, 9, 9)


def test_zero_length_supplement_does_not_stop_the_clock() -> None:
    """Requested and received in the same second (a source system with coarse timestamps)."""
    raws = [
        received(at(2026, 3, 2, 9)),
        ev("supplement_requested", at(2026, 3, 3, 10)),
        ev("supplement_received", at(2026, 3, 3, 10)),
    ]
    c = clock_at(raws, at(2026, 3, 12))
    assert c.paused is False
    assert c.timeliness is Timeliness.OVERDUE
    assert due_of(c) == at(2026, 3, 9, 9)


def test_result_while_paused_stops_the_clock_at_the_pause() -> None:
    """Paused Thursday 5 Mar 09:00 and never resumed; resolved Thursday 12 Mar 10:00.

    The result ends the wait: the pause runs from Thursday 09:00 to the result, which is therefore
    inside the allowed time (24 h of 40 used before the pause). Remaining 16 h after Thursday 12 Mar
    10:00: Thu 5 h, Fri 13 8 h, Monday 16 Mar 07:00 + 3 h. Due Monday 16 Mar 10:00: resolved early.
    """
    raws = [received(at(2026, 3, 2, 9)), ev("paused", at(2026, 3, 5, 9)), ev("resolved", at(2026, 3, 12, 10))]
    c = clock_at(raws, at(2026, 3, 31))
    assert due_of(c) == at(2026, 3, 16, 10)
    assert c.timeliness is Timeliness.EARLY


def test_received_outside_office_hours_starts_at_the_next_opening() -> None:
    """Online, Saturday 7 Mar 22:00: counts from Monday 9 Mar 07:00; 5 days -> Friday 13 Mar 17:00."""
    c = clock_at([received(at(2026, 3, 7, 22))], at(2026, 3, 8))
    assert due_of(c) == at(2026, 3, 13, 17)
    assert due_of(clock_at([received(at(2026, 3, 9, 7))], at(2026, 3, 8))) == at(2026, 3, 13, 17)


def test_tet_due_date_through_the_clock() -> None:
    """Received Thursday 12 Feb 2026 09:00, 5 days: due Thursday 26 Feb 09:00 (see test_calendar)."""
    c = clock_at([received(at(2026, 2, 12, 9))], at(2026, 2, 13))
    assert due_of(c) == at(2026, 2, 26, 9)
    # during Tết the dossier is still within: 4 working days left on 18 Feb
    assert clock_at([received(at(2026, 2, 12, 9))], at(2026, 2, 18, 10)).timeliness is Timeliness.WITHIN


def test_refused_withdrawn_and_unknown_have_no_class() -> None:
    assert (
        clock_at([ev("refused", at(2026, 3, 2, 9), procedure="2.000488")], at(2026, 3, 3)).timeliness is None
    )
    withdrawn = [received(at(2026, 3, 2, 9)), ev("withdrawn", at(2026, 3, 3, 9))]
    assert clock_at(withdrawn, at(2026, 3, 20)).timeliness is None
    assert clock_at([ev("paused", at(2026, 3, 3, 9))], at(2026, 3, 20)).timeliness is None
    assert clock(state(received(at(2026, 3, 2, 9))), None, CAL, ts(at(2026, 3, 3))).timeliness is None


# --- open dossier: within -> due soon -> overdue ----------------------------------------------------------


def test_open_dossier_moves_through_its_classes() -> None:
    """WED: due Wednesday 11 Mar 10:00. Due soon = less than 8 working hours left.

    Exactly 8 working hours before Wednesday 10:00 is Tuesday 10 Mar 10:00 (Tue 10:00-17:00 = 5 h,
    Wed 07:00-10:00 = 3 h). So: within up to Tuesday 10:00:00, due soon from 10:00:01 to Wednesday
    10:00:00, overdue from Wednesday 10:00:01.
    """
    table = [
        (at(2026, 3, 4, 10), Timeliness.WITHIN, at(2026, 3, 10, 10, 0, 1)),
        (at(2026, 3, 9, 20), Timeliness.WITHIN, at(2026, 3, 10, 10, 0, 1)),  # 11 h left
        (at(2026, 3, 10, 10, 0, 0), Timeliness.WITHIN, at(2026, 3, 10, 10, 0, 1)),  # exactly 8 h left
        (at(2026, 3, 10, 10, 0, 1), Timeliness.DUE_SOON, at(2026, 3, 11, 10, 0, 1)),
        (at(2026, 3, 10, 20), Timeliness.DUE_SOON, at(2026, 3, 11, 10, 0, 1)),  # 3 h left
        (at(2026, 3, 11, 10, 0, 0), Timeliness.DUE_SOON, at(2026, 3, 11, 10, 0, 1)),
        (at(2026, 3, 11, 10, 0, 1), Timeliness.OVERDUE, None),
        (at(2026, 4, 30), Timeliness.OVERDUE, None),
    ]
    for as_of, expected, change in table:
        c = clock_at([WED], as_of)
        assert c.timeliness is expected, as_of
        assert due_of(c) == WED_DUE
        assert c.due_soon_at == ts(at(2026, 3, 10, 10, 0, 1))
        assert c.next_change_at == (ts(change) if change else None), as_of
        assert c.late_seconds == max(0, ts(as_of) - ts(WED_DUE))


def test_short_procedure_due_soon_window_is_half_its_time() -> None:
    """8-hour procedure received Monday 2 Mar 09:00: due Tuesday 3 Mar 09:00 (Mon 6 h + Tue 2 h).

    With the default 8-hour window it would be due soon at once; the window is capped at half the
    processing time, 4 h: Monday 15:00-17:00 + Tuesday 07:00-09:00. Due soon from Monday 15:00:01.
    """
    raws = [received(at(2026, 3, 2, 9))]
    assert due_of(clock_at(raws, at(2026, 3, 2, 9), H8)) == at(2026, 3, 3, 9)
    assert clock_at(raws, at(2026, 3, 2, 9), H8).timeliness is Timeliness.WITHIN
    assert clock_at(raws, at(2026, 3, 2, 15), H8).timeliness is Timeliness.WITHIN
    assert clock_at(raws, at(2026, 3, 2, 15, 0, 1), H8).timeliness is Timeliness.DUE_SOON
    assert clock_at(raws, at(2026, 3, 3, 9, 0, 1), H8).timeliness is Timeliness.OVERDUE


def test_configured_due_soon_window() -> None:
    """16 working hours: WED is due soon from Monday 9 Mar 10:00:01 (Mon 5 h + Tue 8 h + Wed 3 h)."""
    wide = WorkingCalendar(CalendarConfig(due_soon_hours=16, deadline_mode="instant"))
    assert clock_at([WED], at(2026, 3, 9, 10), cal=wide).timeliness is Timeliness.WITHIN
    assert clock_at([WED], at(2026, 3, 9, 10, 0, 1), cal=wide).timeliness is Timeliness.DUE_SOON


def test_no_due_soon_window() -> None:
    """due_soon_hours = 0: never due soon; the next change of a running dossier is overdue.

    Received Saturday 7 Mar: due Friday 13 Mar 17:00, so it is overdue from 17:00:01 that Friday
    (not from Monday's opening).
    """
    none = WorkingCalendar(CalendarConfig(due_soon_hours=0, deadline_mode="instant"))
    raws = [received(at(2026, 3, 7, 10))]
    due = at(2026, 3, 13, 17)
    for as_of in (at(2026, 3, 9, 9), at(2026, 3, 13, 16), due):
        c = clock_at(raws, as_of, cal=none)
        assert c.timeliness is Timeliness.WITHIN
        assert due_of(c) == due
        assert c.next_change_at == ts(due) + 1
    assert clock_at(raws, ts(due) + 1, cal=none).timeliness is Timeliness.OVERDUE
    c = clock_at([WED], at(2026, 3, 11, 9), cal=none)
    assert c.timeliness is Timeliness.WITHIN and c.next_change_at == ts(WED_DUE) + 1


# --- properties --------------------------------------------------------------------------------------------

ONE_AGENCY = [CATALOG.agency_by_code["STP"], CATALOG.agency_by_code["CNVPDKDD_TP"]]
PAUSE_TYPES = {"supplement_requested", "supplement_received", "paused", "resumed"}


def proc_of(raws: list[dict[str, Any]]) -> Procedure:
    first = raws[0]
    found = CATALOG.procedure(first["agency"], first["procedure"])
    assert found is not None
    return found


@settings(max_examples=300, deadline=None)
@given(story=dossier_story(agencies=ONE_AGENCY), delay=st.integers(0, 120 * 86400),
       mode=st.sampled_from(sorted(MODES)))
def test_pauses_never_make_a_dossier_worse(story: list[dict[str, Any]], delay: int, mode: str) -> None:
    """Removing every pause event can only move the due time earlier and the class towards late."""
    assume(story[0]["type"] == "received")
    without = [raw for raw in story if raw["type"] not in PAUSE_TYPES]
    proc = proc_of(story)
    as_of = ts(datetime.fromisoformat(story[-1]["occurred_at"])) + delay
    paused, plain = clock_at(story, as_of, proc, MODES[mode]), clock_at(without, as_of, proc, MODES[mode])
    if paused.due_at is not None:
        assert plain.due_at is not None
        assert paused.due_at >= plain.due_at
    if paused.timeliness in RESOLVED_RANK:
        assert plain.timeliness in RESOLVED_RANK
        assert RESOLVED_RANK[paused.timeliness] <= RESOLVED_RANK[plain.timeliness]
    elif paused.timeliness in OPEN_RANK:
        assert plain.timeliness in OPEN_RANK
        assert OPEN_RANK[paused.timeliness] <= OPEN_RANK[plain.timeliness]
    else:
        assert paused.timeliness is plain.timeliness is None


WINDOWS = {(hours, mode): WorkingCalendar(CalendarConfig(due_soon_hours=hours, deadline_mode=mode))
           for hours in (0, 8, 20) for mode in ("day", "instant")}


@settings(max_examples=300, deadline=None)
@given(
    story=dossier_story(agencies=ONE_AGENCY),
    delay=st.integers(0, 60 * 86400),
    window=st.sampled_from(sorted(WINDOWS)),
)
def test_next_change_at_is_exactly_when_the_class_changes(
    story: list[dict[str, Any]], delay: int, window: tuple[int, str]
) -> None:
    assume(story[0]["type"] == "received")
    cal, proc = WINDOWS[window], proc_of(story)
    as_of = ts(datetime.fromisoformat(story[0]["occurred_at"])) + delay
    now = clock_at(story, as_of, proc, cal)
    change = now.next_change_at
    if change is None:
        # nothing changes without a new event: still the same class much later
        assert clock_at(story, as_of + 400 * 86400, proc, cal).timeliness is now.timeliness
        return
    assert change > as_of
    assert clock_at(story, change - 1, proc, cal).timeliness is now.timeliness
    assert clock_at(story, change, proc, cal).timeliness is not now.timeliness
    # and the class does not change in between (checked at a few points)
    for k in range(1, 6):
        assert clock_at(story, as_of + (change - as_of) * k // 6, proc, cal).timeliness is now.timeliness


@settings(max_examples=200, deadline=None)
@given(story=dossier_story(agencies=ONE_AGENCY), step=st.integers(1, 40 * 86400),
       mode=st.sampled_from(sorted(MODES)))
def test_open_class_only_gets_worse_as_time_passes(story: list[dict[str, Any]], step: int, mode: str) -> None:
    assume(story[0]["type"] == "received")
    proc, cal = proc_of(story), MODES[mode]
    last = ts(datetime.fromisoformat(story[-1]["occurred_at"]))
    first, later = clock_at(story, last, proc, cal), clock_at(story, last + step, proc, cal)
    if first.timeliness in OPEN_RANK:
        assert OPEN_RANK[first.timeliness] <= OPEN_RANK[later.timeliness]
    else:
        assert later.timeliness is first.timeliness


# --- the day rule (deadline_mode: day, Civil Code 2015 Art. 147-148) -------------------------------------


def day_clock(raws: list[dict[str, Any]], as_of: datetime, proc: Procedure = P3) -> Clock:
    return clock_at(raws, as_of, proc, DAY)


def test_day_rule_the_issue_examples() -> None:
    """3 working days received Mon 2 Mar 09:00: the receipt day is not counted, Tue (1), Wed (2), Thu (3):
    due Thu 5 Mar at the close (17:00). The instant rule said Thu 09:00 (a result at 15:00 was late)."""
    mon_9 = [received(at(2026, 3, 2, 9))]
    assert due_of(day_clock(mon_9, at(2026, 3, 2, 10))) == at(2026, 3, 5, 17)
    assert due_of(clock_at(mon_9, at(2026, 3, 2, 10), P3)) == at(2026, 3, 5, 9)
    mon_9_result = [*mon_9, ev("resolved", at(2026, 3, 5, 15))]
    assert day_clock(mon_9_result, at(2026, 3, 6)).timeliness is Timeliness.ON_TIME
    assert clock_at(mon_9_result, at(2026, 3, 6), P3).timeliness is Timeliness.LATE
    # received at opening: the instant rule used up Monday as day 1 (due Wed 17:00); the law does not
    mon_7 = [received(at(2026, 3, 2, 7))]
    assert due_of(day_clock(mon_7, at(2026, 3, 2, 10))) == at(2026, 3, 5, 17)
    assert due_of(clock_at(mon_7, at(2026, 3, 2, 10), P3)) == at(2026, 3, 4, 17)


@pytest.mark.parametrize(
    ("resolved_at", "expected"),
    [
        (at(2026, 3, 4, 23, 59, 59), Timeliness.EARLY),
        (at(2026, 3, 5, 0, 0), Timeliness.ON_TIME),
        (at(2026, 3, 5, 17, 0), Timeliness.ON_TIME),
        (at(2026, 3, 5, 23, 59, 59), Timeliness.ON_TIME),  # any hour of the due date
        (at(2026, 3, 6, 0, 0), Timeliness.LATE),
    ],
)
def test_day_rule_classifies_results_by_date(resolved_at: datetime, expected: Timeliness) -> None:
    c = day_clock([received(at(2026, 3, 2, 9)), ev("resolved", resolved_at)], at(2026, 3, 9))
    assert c.timeliness is expected
    assert (c.late_seconds > 0) is (expected is Timeliness.LATE)


@pytest.mark.parametrize(
    ("received_at", "due"),
    [
        (at(2026, 3, 2, 6, 0), at(2026, 3, 5, 17)),  # before opening: Monday is the receipt day
        (at(2026, 3, 2, 12, 0), at(2026, 3, 5, 17)),  # lunch break: still Monday
        (at(2026, 3, 2, 16, 59, 59), at(2026, 3, 5, 17)),
        (at(2026, 3, 2, 17, 0), at(2026, 3, 6, 17)),  # at or after the close: Tuesday is the receipt day
        (at(2026, 3, 2, 22, 0), at(2026, 3, 6, 17)),
        (at(2026, 3, 7, 10, 0), at(2026, 3, 12, 17)),  # Saturday: Monday 9 is the receipt day
        (at(2026, 2, 13, 9, 0), at(2026, 2, 25, 17)),  # Fri before Tết: 23, 24, 25 Feb (16-20 Feb Tết)
        (at(2026, 2, 17, 9, 0), at(2026, 2, 26, 17)),  # mùng 1 Tết: Mon 23 Feb is the receipt day
    ],
)
def test_day_rule_receipt_day(received_at: datetime, due: datetime) -> None:
    assert due_of(day_clock([received(received_at)], received_at)) == due


def test_day_rule_open_dossier_is_overdue_when_the_due_day_closes() -> None:
    raws = [received(at(2026, 3, 2, 9))]
    assert day_clock(raws, at(2026, 3, 5, 7, 0)).timeliness is Timeliness.WITHIN  # exactly 8 h left
    assert day_clock(raws, at(2026, 3, 5, 7, 0, 1)).timeliness is Timeliness.DUE_SOON
    c = day_clock(raws, at(2026, 3, 5, 17, 0))
    assert c.timeliness is Timeliness.DUE_SOON and c.next_change_at == ts(at(2026, 3, 5, 17, 0, 1))
    assert day_clock(raws, at(2026, 3, 5, 17, 0, 1)).timeliness is Timeliness.OVERDUE


@pytest.mark.parametrize(
    ("raws", "proc", "due"),
    [
        # same day: supplement Tue 3 Mar 09:00 -> 11:00, 2 working hours: the due date moves one
        # working day (the moved point Fri 09:00 rounds up to Friday's close)
        ([received(at(2026, 3, 2, 9)), ev("supplement_requested", at(2026, 3, 3, 9)),
          ev("supplement_received", at(2026, 3, 3, 11))], P3, at(2026, 3, 6, 17)),
        # a full working day paused (Tue 09:00 -> Wed 09:00): one day
        ([received(at(2026, 3, 2, 9)), ev("paused", at(2026, 3, 3, 9)),
          ev("resumed", at(2026, 3, 4, 9))], P3, at(2026, 3, 6, 17)),
        # the receipt day is not counted, so neither is a pause during it: Mon 10:00 -> Tue 10:00 is
        # 3 working hours (Tue 07:00-10:00): one day
        ([received(at(2026, 3, 2, 9)), ev("supplement_requested", at(2026, 3, 2, 10)),
          ev("supplement_received", at(2026, 3, 3, 10))], P3, at(2026, 3, 6, 17)),
        # over a weekend: 5 days from Mon 2 Mar, due Mon 9 Mar; Fri 6 Mar 15:00 -> Mon 9 Mar 09:00
        # is 2 h + 2 h = 4 working hours: Tue 10 Mar
        ([received(at(2026, 3, 2, 9)), ev("supplement_requested", at(2026, 3, 6, 15)),
          ev("supplement_received", at(2026, 3, 9, 9))], P5, at(2026, 3, 10, 17)),
        # over Tết: 5 days from Thu 12 Feb 2026, due Thu 26 Feb; Fri 13 Feb 10:00 -> Tue 24 Feb 10:00
        # is 5 h (Fri) + 8 h (Mon 23) + 3 h (Tue 24) = 16 h = 2 working days: Mon 2 Mar
        ([received(at(2026, 2, 12, 9)), ev("supplement_requested", at(2026, 2, 13, 10)),
          ev("supplement_received", at(2026, 2, 24, 10))], P5, at(2026, 3, 2, 17)),
        # a pause of 17 working hours (Tue 3 Mar 09:00 -> Thu 5 Mar 10:00) rounds up to 3 days
        ([received(at(2026, 3, 2, 9)), ev("paused", at(2026, 3, 3, 9)),
          ev("resumed", at(2026, 3, 5, 10))], P3, at(2026, 3, 10, 17)),
    ],
)
def test_day_rule_pauses_move_the_due_date(
    raws: list[dict[str, Any]], proc: Procedure, due: datetime
) -> None:
    last = datetime.fromisoformat(raws[-1]["occurred_at"])
    assert due_of(day_clock(raws, last, proc)) == due


def test_day_rule_a_pause_on_the_due_date_still_counts() -> None:
    """Due Thu 5 Mar (close 17:00): a supplement requested Thu 14:00 is before the due point."""
    raws = [received(at(2026, 3, 2, 9)), ev("supplement_requested", at(2026, 3, 5, 14)),
            ev("supplement_received", at(2026, 3, 6, 9))]
    assert due_of(day_clock(raws, at(2026, 3, 6, 9))) == at(2026, 3, 6, 17)
    late = [received(at(2026, 3, 2, 9)), ev("supplement_requested", at(2026, 3, 6, 8)),
            ev("supplement_received", at(2026, 3, 9, 9))]
    assert due_of(day_clock(late, at(2026, 3, 9, 9))) == at(2026, 3, 5, 17)


SAME_DAY = Procedure.model_validate(
    {"code": "2.000815", "name": "Chứng thực bản sao", "field": "Chứng thực", "unit": "same_day"})
SAME_DAY_14 = SAME_DAY.model_copy(update={"same_day_cutoff": time(14, 0)})
CUTOFF_15 = {
    mode: WorkingCalendar(CalendarConfig.model_validate({"deadline_mode": mode, "same_day_cutoff": "15:00"}))
    for mode in ("day", "instant")
}


@pytest.mark.parametrize("mode", ["day", "instant"])
@pytest.mark.parametrize(
    ("received_at", "proc", "due"),
    [
        (at(2026, 3, 2, 9), SAME_DAY, at(2026, 3, 2, 17)),
        (at(2026, 3, 2, 15, 0), SAME_DAY, at(2026, 3, 2, 17)),  # at 15:00 is not after 15:00
        (at(2026, 3, 2, 15, 0, 1), SAME_DAY, at(2026, 3, 3, 17)),
        (at(2026, 3, 2, 14, 30), SAME_DAY_14, at(2026, 3, 3, 17)),  # the procedure's own cut-off
        (at(2026, 3, 2, 18, 0), SAME_DAY, at(2026, 3, 3, 17)),  # after hours: Tuesday's dossier
        (at(2026, 3, 6, 16, 0), SAME_DAY, at(2026, 3, 9, 17)),  # Friday after the cut-off: Monday
        (at(2026, 3, 7, 16, 0), SAME_DAY, at(2026, 3, 9, 17)),  # Saturday: Monday, whatever the hour
    ],
)
def test_same_day_procedures_and_the_cutoff(mode: str, received_at: datetime, proc: Procedure,
                                             due: datetime) -> None:
    c = clock_at([received(received_at)], received_at, proc, CUTOFF_15[mode])
    assert due_of(c) == due


def test_same_day_without_a_cutoff_is_due_the_same_evening() -> None:
    assert due_of(day_clock([received(at(2026, 3, 2, 16, 50))], at(2026, 3, 2, 16, 50), SAME_DAY)) == \
        at(2026, 3, 2, 17)


@pytest.mark.parametrize("mode", ["day", "instant"])
def test_date_only_appointment_is_classified_by_date(mode: str) -> None:
    raws = [received(at(2026, 3, 2, 9), due_at="2026-03-05")]
    cal = MODES[mode]
    assert due_of(clock_at(raws, at(2026, 3, 3), P5, cal)) == at(2026, 3, 5, 17)
    for when, expected in ((at(2026, 3, 4, 20), Timeliness.EARLY), (at(2026, 3, 5, 21), Timeliness.ON_TIME),
                           (at(2026, 3, 6, 8), Timeliness.LATE)):
        assert clock_at([*raws, ev("resolved", when)], at(2026, 3, 9), P5, cal).timeliness is expected
    assert clock_at(raws, at(2026, 3, 5, 17, 0, 1), P5, cal).timeliness is Timeliness.OVERDUE


def test_date_only_appointment_on_a_saturday_stands_and_pauses_move_it() -> None:
    sat = [received(at(2026, 3, 2, 9), due_at="2026-03-07")]
    assert due_of(day_clock(sat, at(2026, 3, 3), P5)) == at(2026, 3, 7, 17)
    paused = [*sat, ev("paused", at(2026, 3, 3, 9)), ev("resumed", at(2026, 3, 3, 11))]
    assert due_of(day_clock(paused, at(2026, 3, 4), P5)) == at(2026, 3, 9, 17)


def test_timed_appointment_follows_the_centre_mode() -> None:
    """due_at Thu 5 Mar 10:00, result Thu 15:00: on time by date (day), late by instant (instant)."""
    raws = [received(at(2026, 3, 2, 9), due_at=at(2026, 3, 5, 10)), ev("resolved", at(2026, 3, 5, 15))]
    assert day_clock(raws, at(2026, 3, 9), P5).timeliness is Timeliness.ON_TIME
    assert clock_at(raws, at(2026, 3, 9), P5).timeliness is Timeliness.LATE
    after_close = [received(at(2026, 3, 2, 9), due_at=at(2026, 3, 5, 17, 30))]
    assert due_of(day_clock(after_close, at(2026, 3, 3), P5)) == at(2026, 3, 5, 17, 30)
    morning = [received(at(2026, 3, 2, 9), due_at=at(2026, 3, 5, 10))]
    assert due_of(day_clock(morning, at(2026, 3, 3), P5)) == at(2026, 3, 5, 17)  # open until the close


def test_fractional_days_round_up_to_a_close() -> None:
    """1.5 days from Mon 2 Mar: Tue (1) and half of Wed: due Wed 4 Mar 17:00."""
    assert due_of(day_clock([received(at(2026, 3, 2, 9))], at(2026, 3, 2, 9), procedure(1.5))) == \
        at(2026, 3, 4, 17)


def test_hours_count_from_the_instant_in_both_modes() -> None:
    raws = [received(at(2026, 3, 2, 9)), ev("resolved", at(2026, 3, 3, 10))]
    for cal in MODES.values():
        c = clock_at(raws, at(2026, 3, 4), H8, cal)
        assert due_of(c) == at(2026, 3, 3, 9) and c.timeliness is Timeliness.LATE


def test_extension_keeps_the_day_rule_statistics() -> None:
    """As before: an extension does not rescue a dossier; here under the day rule."""
    raws = [received(at(2026, 3, 2, 9)),
            ev("extended", at(2026, 3, 4, 9), data={"new_due_at": at(2026, 3, 13, 17)}),
            ev("resolved", at(2026, 3, 6, 9))]
    assert day_clock(raws, at(2026, 3, 9)).timeliness is Timeliness.LATE


# --- properties of the day rule --------------------------------------------------------------------------

DAY_PROCS = [procedure(n) for n in (1, 2, 3, 5, 7, 10, 15, 20, 30)] + [SAME_DAY]
SPAN = instants(at(2025, 1, 1), at(2027, 12, 31))


@settings(max_examples=300, deadline=None)
@given(received_at=SPAN, proc=st.sampled_from(DAY_PROCS), second=st.integers(0, 86399),
       pause=st.one_of(st.none(), st.tuples(st.integers(0, 20 * 86400), st.integers(0, 10 * 86400))))
def test_day_rule_a_result_on_the_due_date_is_never_late(
    received_at: datetime, proc: Procedure, second: int, pause: tuple[int, int] | None
) -> None:
    raws = [received(received_at)]
    if pause is not None:
        begin = received_at + timedelta(seconds=pause[0])
        raws += [ev("paused", begin), ev("resumed", begin + timedelta(seconds=pause[1]))]
    last = datetime.fromisoformat(raws[-1]["occurred_at"])
    open_clock = day_clock(raws, last, proc)
    assert open_clock.due_at is not None
    due = local(open_clock.due_at)
    when = datetime.combine(due.date(), datetime.min.time(), due.tzinfo) + timedelta(seconds=second)
    assume(when >= last)  # a result during the pause would end it there (another due date)
    result = day_clock([*raws, ev("resolved", when)], when + timedelta(days=1), proc)
    assert result.timeliness in (Timeliness.EARLY, Timeliness.ON_TIME)
    assert result.due_at == open_clock.due_at
    day_after = datetime.combine(due.date() + timedelta(days=1), datetime.min.time(), due.tzinfo)
    assert day_clock([*raws, ev("resolved", day_after)], day_after, proc).timeliness is Timeliness.LATE


@settings(max_examples=300, deadline=None)
@given(story=dossier_story(agencies=ONE_AGENCY), delay=st.integers(0, 60 * 86400))
def test_day_rule_a_computed_due_date_is_never_a_day_off(story: list[dict[str, Any]], delay: int) -> None:
    assume(story[0]["type"] == "received" and "due_at" not in story[0])
    proc = proc_of(story)
    assume(proc.unit != "hours")
    c = clock_at(story, ts(datetime.fromisoformat(story[-1]["occurred_at"])) + delay, proc, DAY)
    if c.due_at is not None:
        assert DAY.is_working_day(local(c.due_at).date())
        assert local(c.due_at).time() == DAY.config.office_hours.periods[-1][1]


@settings(max_examples=300, deadline=None)
@given(received_at=SPAN, proc=st.sampled_from(DAY_PROCS), hour=st.sampled_from([7, 9, 14]))
def test_day_rule_received_on_a_day_off_counts_from_the_next_working_day(
    received_at: datetime, proc: Procedure, hour: int
) -> None:
    assume(not DAY.is_working_day(received_at.date()))
    next_day = DAY.add_working_days(received_at.date(), 0)
    same = datetime.combine(next_day, datetime.min.time(), received_at.tzinfo) + timedelta(hours=hour)
    off_day = day_clock([received(received_at)], same, proc)
    assert off_day.due_at == day_clock([received(same)], same, proc).due_at


@settings(max_examples=300, deadline=None)
@given(story=dossier_story(agencies=ONE_AGENCY), delay=st.integers(0, 60 * 86400))
def test_hours_procedures_are_the_same_in_both_modes(story: list[dict[str, Any]], delay: int) -> None:
    """And equal to the instant rule's formula: N working hours from the receipt instant."""
    assume(story[0]["type"] == "received" and "due_at" not in story[0])
    proc = proc_of(story)
    as_of = ts(datetime.fromisoformat(story[-1]["occurred_at"])) + delay
    hours = procedure(proc.processing, "hours", proc.code)
    in_day, in_instant = clock_at(story, as_of, hours, DAY), clock_at(story, as_of, hours, CAL)
    assert in_day == in_instant
    if not any(raw["type"] in PAUSE_TYPES for raw in story) and in_day.due_at is not None:
        start = CAL.to_work(ts(datetime.fromisoformat(story[0]["occurred_at"])))
        assert in_day.due_at == CAL.from_work(start + round(proc.processing * 3600))
