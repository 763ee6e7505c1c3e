"""The SLA clock (thời hạn giải quyết): due time, pauses, and classification at any instant.

Rules (docs/domain.md, section 3). Two ways to count a period of working days, chosen
per centre (`calendar.deadline_mode`):
- `day` (default; Civil Code 2015 Art. 147-148): the receipt day is not counted (received outside office
  hours or on a day off: the next working day is the receipt day); N working days end at the close of
  the N-th working day after it; results are classified by local date, an open dossier is overdue once
  that day's office hours end;
- `instant`: N x (office hours of a day) of working time from the receipt instant (outside office hours:
  from the next opening), results classified by instant;
- procedures in hours count from the receipt instant in both modes; `same_day` (trả trong ngày) ones are
  due at the close of the receipt day, or of the next working day when received after the cut-off;
- an explicit `due_at` on `received` replaces the computed due time (a date alone: classified by date);
- time between `supplement_requested`/`supplement_received` and `paused`/`resumed` does not count; a pause
  that starts after the due time does not rescue a dossier that is already late;
- `extended` gives the citizen a new appointment, but statistics keep the original due time;
- resolved: early (trước hạn) before the due day, on time (đúng hạn) on the due day up to the due time
  (`day`: the whole due day), late (quá hạn) after it; open: overdue (quá hạn) after the due time,
  due soon (sắp đến hạn) with less than the configured working time left, else within (trong hạn).
  A paused clock is never due soon.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Final, cast, final

from dossiers.calendar import Timestamp, WorkingCalendar, WorkSeconds
from dossiers.catalog import Procedure
from dossiers.lifecycle import (
    STATUS_REFUSED,
    STATUS_RESOLVED,
    STATUS_UNKNOWN,
    STATUS_WITHDRAWN,
    DossierState,
    pause_intervals,
)


class Timeliness(StrEnum):
    """Classification of a dossier against its due time."""

    EARLY = "early"  # trước hạn
    ON_TIME = "on_time"  # đúng hạn
    LATE = "late"  # quá hạn (resolved)
    WITHIN = "within"  # trong hạn (open)
    DUE_SOON = "due_soon"  # sắp đến hạn (open)
    OVERDUE = "overdue"  # quá hạn (open)


# As compiled constants (a C static, not a read through the enum class's slot: `dossiers.lifecycle`)
EARLY: Final = Timeliness.EARLY
ON_TIME: Final = Timeliness.ON_TIME
LATE: Final = Timeliness.LATE
WITHIN: Final = Timeliness.WITHIN
DUE_SOON: Final = Timeliness.DUE_SOON
OVERDUE: Final = Timeliness.OVERDUE


@final
class Clock:
    """The SLA view of one dossier at one instant: a value (equal fields, equal clocks).

    A plain class, not a named tuple: compiled by mypyc it is a C struct, built in about a tenth of the
    instructions `tuple.__new__` takes to build a named tuple (a temporary tuple, the subclass's instance,
    the copy), and the core builds one or two per event (issue 19). Immutable by convention."""

    timeliness: Timeliness | None
    """None for refused, withdrawn, or not (yet) received dossiers."""
    due_at: Timestamp | None
    """The statistical due time; None while a pause stops the clock."""
    paused: bool
    due_soon_at: Timestamp | None
    """When an open, running clock turns due soon (may be in the past)."""
    late_seconds: int
    """How late, in calendar seconds (0 unless late or overdue)."""
    next_change_at: Timestamp | None
    """The next instant at which `timeliness` changes with no new event (the timer to set)."""

    def __init__(self, timeliness: Timeliness | None, due_at: Timestamp | None, paused: bool,
                 due_soon_at: Timestamp | None, late_seconds: int, next_change_at: Timestamp | None) -> None:
        self.timeliness, self.due_at, self.paused = timeliness, due_at, paused
        self.due_soon_at, self.late_seconds, self.next_change_at = due_soon_at, late_seconds, next_change_at

    def fields(self) -> tuple[object, ...]:
        return (self.timeliness, self.due_at, self.paused, self.due_soon_at, self.late_seconds,
                self.next_change_at)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Clock):
            return False
        return (self.timeliness == other.timeliness and self.due_at == other.due_at
                and self.paused == other.paused and self.due_soon_at == other.due_soon_at
                and self.late_seconds == other.late_seconds and self.next_change_at == other.next_change_at)

    def __hash__(self) -> int:
        return hash(self.fields())

    def __repr__(self) -> str:
        return ("Clock(timeliness={!r}, due_at={!r}, paused={!r}, due_soon_at={!r}, late_seconds={!r}, "
                "next_change_at={!r})").format(*self.fields())


WORK_MEMO_LIMIT = 10_000
"""Entries of `WorkingCalendar.work_memo` before it is emptied (a catalog has a few thousand procedures)."""


@final
class Terms:
    """What the core reads of a procedure (điều kiện giải quyết của thủ tục), as compiled attributes: the
    catalog's models are pydantic's, whose every attribute read from compiled code goes through the
    `__getattr__` hook (400-600 instructions a read, several per evaluation; issue 19). Built once per
    procedure and calendar (`terms_of`)."""

    def __init__(self, procedure: Procedure, calendar: WorkingCalendar) -> None:
        self.unit: str = procedure.unit
        self.processing: float = procedure.processing
        self.same_day_cutoff: time | None = procedure.same_day_cutoff
        unit_seconds = 3600 if self.unit == "hours" else calendar.day_seconds
        self.work: WorkSeconds = round(self.processing * unit_seconds)
        """The processing time in working seconds (days count as one office day each)."""
        self.period: tuple[object, ...] = (self.unit, self.processing, self.same_day_cutoff)
        """The period's terms, as `due`'s memo keys them."""
        self.has_fee: bool = procedure.has_fee
        self.requires_written_result: bool = procedure.requires_written_result
        self.field: str = procedure.field
        """The procedure's domain (lĩnh vực): a label of the throughput points."""


_LAST_TERMS: Final[list[tuple[object, object, object]]] = [(None, None, None)]
"""The last procedure and calendar `terms_of` was asked about, and its answer: one tuple swapped whole,
so a thread never reads one procedure's terms under another's name."""


def terms_of(procedure: Procedure, calendar: WorkingCalendar) -> Terms:
    """The procedure's `Terms`, remembered per procedure object in the calendar's `work_memo`; the last one
    asked for in `_LAST_TERMS` (asked two to three times per event for the same dossier: an identity
    check, not a boxed `id` and an int-keyed lookup, about 500 instructions)."""
    last = _LAST_TERMS[0]
    if last[0] is procedure and last[1] is calendar:
        return cast(Terms, last[2])
    terms = _terms_of(procedure, calendar)
    _LAST_TERMS[0] = (procedure, calendar, terms)
    return terms


def _terms_of(procedure: Procedure, calendar: WorkingCalendar) -> Terms:
    memo = calendar.work_memo
    key = id(procedure)
    found = memo.get(key)
    if found is not None and found[0] is procedure:
        return cast(Terms, found[1])
    terms = Terms(procedure, calendar)
    if len(memo) >= WORK_MEMO_LIMIT:
        memo.clear()
    memo[key] = (procedure, terms)
    return terms


def processing_work(procedure: Procedure, calendar: WorkingCalendar) -> WorkSeconds:
    """The procedure's processing time in working seconds (days count as one office day each)."""
    return terms_of(procedure, calendar).work


def counts_days(procedure: Procedure, calendar: WorkingCalendar) -> bool:
    """Whether the procedure's period is counted as days under the centre's `day` mode."""
    return procedure.unit != "hours" and calendar.day_mode


@final
class Due:
    """Where a dossier's deadline stands, in working time and as an instant: a value, a plain class for
    mypyc as `Clock`."""

    work: WorkSeconds
    """The due point in working seconds (due soon is measured back from it)."""
    at: Timestamp | None
    """The due instant; None while a pause runs (the point is not final)."""
    by_date: bool
    """Results are classified by local date (early / on time / late), not by instant."""

    def __init__(self, work: WorkSeconds, at: Timestamp | None, by_date: bool) -> None:
        self.work, self.at, self.by_date = work, at, by_date

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Due):
            return False
        return self.work == other.work and self.at == other.at and self.by_date == other.by_date

    def __hash__(self) -> int:
        return hash((self.work, self.at, self.by_date))

    def __repr__(self) -> str:
        return f"Due(work={self.work!r}, at={self.at!r}, by_date={self.by_date!r})"


def _cutoff_passed(terms: Terms, calendar: WorkingCalendar, received: Timestamp) -> bool:
    """A `same_day` dossier received after the cut-off, during a working day's office time."""
    cutoff = terms.same_day_cutoff or calendar.same_day_cutoff
    if cutoff is None:
        return False
    second = calendar.second_of_day(received)
    limit = cutoff.hour * 3600 + cutoff.minute * 60 + cutoff.second
    return limit < second < calendar.close_second and calendar.working_at(received)


DUE_MEMO_LIMIT = 20_000
"""Entries of `WorkingCalendar.due_memo` before it is emptied (about 220 B each: at most about 4.4 MB)."""


def due(state: DossierState, procedure: Procedure, calendar: WorkingCalendar,
        until: Timestamp | None = None) -> Due:
    """The due point and due instant of a received dossier, with its pauses up to `until`.

    `instant` mode, and procedures in hours: the processing time counts from the receipt instant.
    `day` mode: the receipt day is not counted; the period ends at the close of its last working day.
    Pauses add the working time they cover (in `day` mode only from the day after receipt); in `day`
    mode the moved point then rounds up to the close of the working day it falls in.

    Without pauses the answer depends on the receipt, the appointment and the procedure's period only
    (not on `until`): it is remembered in the calendar's `due_memo`, as plain values (no objects for the
    garbage collector to traverse), since a dossier's clock is read at each of its evaluations.
    """
    assert state.received is not None
    terms = terms_of(procedure, calendar)
    if state.pauses:
        return _due(state, terms, calendar, until)
    key = (state.received[0], state.explicit_due, state.explicit_due_day, terms.period)
    memo = calendar.due_memo
    found = memo.get(key)
    if found is None:
        if len(memo) >= DUE_MEMO_LIMIT:
            memo.clear()
        computed = _due(state, terms, calendar, until)
        found = memo[key] = (computed.work, computed.at, computed.by_date)
        return computed
    return Due(found[0], found[1], found[2])


def _due(state: DossierState, terms: Terms, calendar: WorkingCalendar,
         until: Timestamp | None) -> Due:
    """`due` computed (see there)."""
    assert state.received is not None
    received = state.received[0]
    received_w = calendar.to_work(received)
    day_mode = calendar.day_mode
    explicit: Timestamp | None = None
    by_date = False
    if state.explicit_due_day is not None:
        explicit, by_date = calendar.close_of(date.fromisoformat(state.explicit_due_day)), True
    elif state.explicit_due is not None:
        explicit = state.explicit_due
        if day_mode:  # an appointment with an hour counts by its date, and not before the close
            explicit, by_date = max(explicit, calendar.closing(explicit)), True
    if terms.unit == "hours":
        start = received_w
        base = received_w + terms.work
    elif terms.unit == "same_day":
        start = received_w
        base = calendar.receipt_day_close(received)
        if _cutoff_passed(terms, calendar, received):
            base += calendar.day_seconds
        by_date = by_date or day_mode
    elif day_mode:
        start = calendar.receipt_day_close(received)
        base = calendar.end_of_day(start + terms.work)
        by_date = True
    else:
        start = received_w
        base = received_w + terms.work
    if explicit is not None:
        base = calendar.to_work(explicit)
    point = base
    merged_end = start
    for pause_start, pause_end in pause_intervals(state, until):
        if until is not None and pause_start >= until:
            break
        begin = max(calendar.to_work(pause_start), merged_end)
        if begin >= (calendar.end_of_day(point) if by_date else point):
            break  # the dossier was already due: a later pause does not count
        if pause_end is None:
            return Due(point, None, by_date)
        end = calendar.to_work(pause_end)
        if end > begin:
            point += end - begin
            merged_end = end
    if point == base and explicit is not None:
        return Due(point, explicit, by_date)  # the appointment stands as written
    if by_date:
        point = calendar.end_of_day(point)
    return Due(point, calendar.from_work(point), by_date)


def clock(state: DossierState, procedure: Procedure | None, calendar: WorkingCalendar,
          as_of: Timestamp) -> Clock:
    """Classify the dossier at `as_of`. Pure: the same inputs always give the same answer."""
    status = state.status
    if (procedure is None or status is STATUS_REFUSED or status is STATUS_WITHDRAWN
            or status is STATUS_UNKNOWN):
        return Clock(None, None, False, None, 0, None)
    if status is STATUS_RESOLVED:
        resolved_at = state.resolved[0] if state.resolved else as_of
        found = due(state, procedure, calendar, until=resolved_at)
        assert found.at is not None  # a result ends any pause
        due_at = found.at
        if found.by_date:
            result_day, due_day = calendar.day_number(resolved_at), calendar.day_number(due_at)
            late, early = result_day > due_day, result_day < due_day
        else:
            late = resolved_at > due_at
            early = not late and calendar.day_number(resolved_at) < calendar.day_number(due_at)
        if late:
            return Clock(LATE, due_at, False, None, resolved_at - due_at, None)
        return Clock(EARLY if early else ON_TIME, due_at, False, None, 0, None)
    found = due(state, procedure, calendar)
    if found.at is None:
        return Clock(WITHIN, None, True, None, 0, None)
    # a 4-hour procedure would be "due soon" from the start with an 8-hour window: cap it at half
    half = processing_work(procedure, calendar) // 2
    due_soon_work = min(calendar.due_soon_work, half)
    return _running(found.at, calendar.from_work(found.work - due_soon_work + 1), as_of)


def _running(due_at: Timestamp, due_soon_at: Timestamp, as_of: Timestamp) -> Clock:
    """An open dossier's running clock at `as_of`, from its due instant and the instant it turns due soon."""
    if as_of > due_at:
        return Clock(OVERDUE, due_at, False, due_soon_at, as_of - due_at, None)
    if as_of >= due_soon_at:
        return Clock(DUE_SOON, due_at, False, due_soon_at, 0, due_at + 1)
    # with no due-soon window (due_soon_hours = 0) the next change is overdue, at due_at + 1
    return Clock(WITHIN, due_at, False, due_soon_at, 0, min(due_soon_at, due_at + 1))


def reclassified(found: Clock, instant: Timestamp) -> Clock:
    """`found`, a dossier's clock at some instant, as `clock` gives it at `instant` when nothing it depends
    on but time has changed: a result's, a paused and a stopped clock do not move with time; a running one
    is classified again against the same due instants (`clock`'s own last step)."""
    if found.due_at is None or found.due_soon_at is None or found.timeliness not in _RUNNING:
        return found
    return _running(found.due_at, found.due_soon_at, instant)


_RUNNING: Final = frozenset({Timeliness.WITHIN, Timeliness.DUE_SOON, Timeliness.OVERDUE})
