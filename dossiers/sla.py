"""The SLA clock (thời hạn giải quyết): due time, pauses, and classification at any instant.

Rules (docs/domain.md, section 3):
- processing time counts in working time from receipt; received outside office hours starts at the next
  opening; an explicit `due_at` on `received` replaces the computed due time;
- time between `supplement_requested`/`supplement_received` and `paused`/`resumed` does not count; a pause
  that starts after the due time does not rescue a dossier that is already late;
- `extended` gives the citizen a new appointment, but statistics keep the original due time;
- resolved: early (trước hạn) before the due day, on time (đúng hạn) on the due day up to the due time,
  late (quá hạn) after it; open: overdue (quá hạn) after the due time, due soon (sắp đến hạn) with less
  than the configured working time left, else within (trong hạn). A paused clock is never due soon.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dossiers.calendar import Timestamp, WorkingCalendar, WorkSeconds
from dossiers.catalog import Procedure
from dossiers.lifecycle import DossierState, Status, pause_intervals


class Timeliness(StrEnum):
    """Classification of a dossier against its due time."""

    EARLY = "early"  # trước hạn
    ON_TIME = "on_time"  # đúng hạn
    LATE = "late"  # quá hạn (resolved)
    WITHIN = "within"  # trong hạn (open)
    DUE_SOON = "due_soon"  # sắp đến hạn (open)
    OVERDUE = "overdue"  # quá hạn (open)


@dataclass(frozen=True, slots=True)
class Clock:
    """The SLA view of one dossier at one instant."""

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


def processing_work(procedure: Procedure, calendar: WorkingCalendar) -> WorkSeconds:
    """The procedure's processing time in working seconds (days count as one office day each)."""
    unit = calendar.day_seconds if procedure.unit == "days" else 3600
    return round(procedure.processing * unit)


def due_work(state: DossierState, calendar: WorkingCalendar, processing: WorkSeconds,
             until: Timestamp | None = None) -> tuple[WorkSeconds, Timestamp | None]:
    """The due point in working seconds, and the start of a pause still running (or None).

    While a pause runs the due point is not final: it moves on with the pause.
    """
    assert state.received is not None
    start = calendar.to_work(state.received[0])
    due = calendar.to_work(state.explicit_due) if state.explicit_due is not None else start + processing
    merged_end = start
    for pause_start, pause_end in pause_intervals(state, until):
        if until is not None and pause_start >= until:
            break
        begin = max(calendar.to_work(pause_start), merged_end)
        if begin >= due:
            break  # the dossier was already due: a later pause does not count
        if pause_end is None:
            return due, pause_start
        end = calendar.to_work(pause_end)
        if end > begin:
            due += end - begin
            merged_end = end
    return due, None


def due_instant(state: DossierState, calendar: WorkingCalendar, due_w: WorkSeconds) -> Timestamp:
    """The due time of a due point: the earliest instant at which it is reached.

    An appointment written on the receipt (`due_at`) stands as written, even outside office hours
    (17:30, a Saturday), unless a pause moved it.
    """
    if state.explicit_due is not None and calendar.to_work(state.explicit_due) == due_w:
        return state.explicit_due
    return calendar.from_work(due_w)


def clock(state: DossierState, procedure: Procedure | None, calendar: WorkingCalendar,
          as_of: Timestamp) -> Clock:
    """Classify the dossier at `as_of`. Pure: the same inputs always give the same answer."""
    status = state.status
    if status in (Status.REFUSED, Status.WITHDRAWN, Status.UNKNOWN) or procedure is None:
        return Clock(None, None, False, None, 0, None)
    processing = processing_work(procedure, calendar)
    # a 4-hour procedure would be "due soon" from the start with an 8-hour window: cap it at half
    due_soon_work = min(round(calendar.config.due_soon_hours * 3600), processing // 2)
    if status is Status.RESOLVED:
        resolved_at = state.resolved[0] if state.resolved else as_of
        due_w, _ = due_work(state, calendar, processing, until=resolved_at)
        due_at = due_instant(state, calendar, due_w)
        if resolved_at > due_at:
            return Clock(Timeliness.LATE, due_at, False, None, resolved_at - due_at, None)
        early = calendar.local_date(resolved_at) < calendar.local_date(due_at)
        return Clock(Timeliness.EARLY if early else Timeliness.ON_TIME, due_at, False, None, 0, None)
    due_w, paused_since = due_work(state, calendar, processing)
    if paused_since is not None:
        return Clock(Timeliness.WITHIN, None, True, None, 0, None)
    due_at = due_instant(state, calendar, due_w)
    due_soon_at = calendar.from_work(due_w - due_soon_work + 1)
    if as_of > due_at:
        return Clock(Timeliness.OVERDUE, due_at, False, due_soon_at, as_of - due_at, None)
    if as_of >= due_soon_at:
        return Clock(Timeliness.DUE_SOON, due_at, False, due_soon_at, 0, due_at + 1)
    # with no due-soon window (due_soon_hours = 0) the next change is overdue, at due_at + 1
    return Clock(Timeliness.WITHIN, due_at, False, due_soon_at, 0, min(due_soon_at, due_at + 1))
