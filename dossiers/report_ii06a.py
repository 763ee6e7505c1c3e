"""The periodic report form II.06a (Biểu số II.06a/VPCP/KSTT, "Tình hình, kết quả giải quyết thủ tục hành
chính tại Trung tâm Phục vụ hành chính công"), computed from dossier states for any period.

Like the KPIs, the report is a sum of what each dossier contributes: `columns()` says which columns one
dossier adds 1 to for a period, and a row is the sum over its dossiers. The classification is the SLA
clock's (`dossiers.sla.clock`), never a second copy of it. The rules and their sources are in
docs/reports.md; in short, for a period [start, end] (end = the last second of the last day, or the as-of
instant of a period still running) and the states holding only events up to `end`:

- (3) Tổng số = (4) + (5) + (6): a dossier received in the period counts in (4) Trực tuyến when it came
  online, else in (5) Trực tiếp, dịch vụ bưu chính (counter, postal, phone); one received before the
  period and not finished before its first day counts in (6) Từ kỳ trước;
- (7) Đã giải quyết = (8) Trước hạn + (9) Đúng hạn + (10) Quá hạn: dossiers of (3) finished by `end`, a
  result, a withdrawal (công dân rút hồ sơ) or a refusal on a day after the receipt, classified by the
  SLA clock at the instant they finished;
- (11) Đang giải quyết = (12) Trong hạn + (13) Quá hạn: the others, classified at `end` (due soon and
  paused, e.g. awaiting a supplement, are within);
- `refused_at_counter`: dossiers refused at the counter (từ chối tiếp nhận: never received, or refused on
  the day of their receipt) in the period: outside the form, which counts received dossiers only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Final, NamedTuple

from dossiers.calendar import Timestamp, WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.counter_keys import CounterKeys
from dossiers.events import Channel
from dossiers.lifecycle import (
    STATUS_REFUSED,
    STATUS_RESOLVED,
    STATUS_WITHDRAWN,
    DossierState,
    procedure_of,
)
from dossiers.periods import Period
from dossiers.sla import ON_TIME, WITHIN, Clock, Timeliness, clock

FORM = "II.06a"
FORM_COLUMNS = ("c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12", "c13")
"""The form's figure columns (3)..(13), as the JSON keys name them."""
OUTSIDE = ("refused_at_counter",)
"""Printed after (13), outside the form."""
EXTRA = ("withdrawn", "paused")
"""Details of the form's columns (more keys are welcome): withdrawals among (7), paused clocks among (12)."""
ONLINE: Final = Channel.ONLINE.value
"""The online channel as the state stores it (read per dossier: no enum lookup then)."""

_FINISHED: Final = {Timeliness.EARLY: "c8", Timeliness.ON_TIME: "c9", Timeliness.LATE: "c10"}
_OPEN: Final = {Timeliness.WITHIN: "c12", Timeliness.DUE_SOON: "c12", Timeliness.OVERDUE: "c13"}


class Grouping(StrEnum):
    """What a row of the form is (cột (2) "Lĩnh vực / đơn vị")."""

    AGENCY = "agency"  # đơn vị: the agency that received the dossier
    FIELD = "field"  # lĩnh vực: the field of the dossier's procedure in the catalog


class Window(NamedTuple):
    """The instants a report covers: [start, end], both whole seconds, `end` included. A named tuple (a
    frozen dataclass's generated `__init__` runs interpreted under mypyc, one `object.__setattr__` per
    field; issue 19). The worker builds none per event: it hands the two instants to `columns_between`."""

    start: Timestamp
    end: Timestamp

    @classmethod
    def of(cls, period: Period, calendar: WorkingCalendar, as_of: Timestamp | None = None) -> Window:
        """The period's window; a period still running at `as_of` ends there."""
        end = period.last_instant(calendar.tz)
        return cls(period.start(calendar.tz), end if as_of is None else min(end, as_of))


def new_window(start: Timestamp, end: Timestamp) -> Window:
    """`Window(start, end)` without the interpreted `__new__` that `NamedTuple` generates."""
    return tuple.__new__(Window, (start, end))


def columns(state: DossierState, catalog: Catalog, calendar: WorkingCalendar,
            window: Window, known: Clock | None = None) -> tuple[str, ...]:
    """The columns one dossier adds 1 to; `state` holds its events up to `window.end` only.

    Each column is decided on its own (not derived from the others), so the form's identities are a
    check of these rules, not a consequence of how the sums are written. `known`: `clock(state, its
    procedure, calendar, window.end)` when the caller has it already (the worker's KPI contribution):
    the SLA clock is most of the cost, and a result's clock does not depend on the instant asked.
    """
    return columns_between(state, catalog, calendar, window.start, window.end, known)


def columns_between(state: DossierState, catalog: Catalog, calendar: WorkingCalendar,
                    start: Timestamp, end: Timestamp, known: Clock | None = None) -> tuple[str, ...]:
    """`columns` for the window [start, end], given as its two instants: the worker asks for every event
    and builds no `Window` for it (a named tuple's construction cost 1,800 instructions; issue 19)."""
    status = state.status
    if status is STATUS_REFUSED and refused_at_counter(state, calendar):
        assert state.refused is not None
        return ("refused_at_counter",) if start <= state.refused[0] <= end else ()
    if state.received is None:
        return ()  # never received (its `received` may come later)
    received = state.received[0]
    closed = state.closed_at()
    if received > end:
        return ()  # cannot happen when the caller kept the events up to `end`; kept out all the same
    if received < start and closed is not None and closed < start:
        return ()  # finished before the period: in no column
    out = ["c3"]
    if received >= start:
        out.append("c4" if state.channel == ONLINE else "c5")
    else:
        out.append("c6")
    agency = state.agency or ""
    if closed is not None:
        out.append("c7")
        ended = state
        if status is not STATUS_RESOLVED:  # a withdrawal, or a later refusal, ends it like a result
            ended = state.ended_at(closed)
            if status is STATUS_WITHDRAWN:
                out.append("withdrawn")
        reuse = known is not None and ended is state
        # the procedure only when the clock is computed here (the worker passes `known`; issue 19)
        ended_clock = known if reuse else None
        if ended_clock is None:
            ended_clock = clock(ended, procedure_of(catalog, agency, state.procedure), calendar, closed)
        timeliness = ended_clock.timeliness
        # no procedure in the catalog: no due date, counted on time (766 guidance: "hoặc NgayHenTra null")
        out.append(_FINISHED.get(timeliness or ON_TIME, "c9"))
    else:
        out.append("c11")
        the_clock = known
        if the_clock is None:
            the_clock = clock(state, procedure_of(catalog, agency, state.procedure), calendar, end)
        out.append(_OPEN.get(the_clock.timeliness or WITHIN, "c12"))
        if the_clock.paused:
            out.append("paused")
    return tuple(out)


def refused_at_counter(state: DossierState, calendar: WorkingCalendar) -> bool:
    """Turned away at the counter (từ chối tiếp nhận): refused with no receipt, or on the receipt's own local
    date (a one-stop system may log the submission as `received` before the officer refuses it, as the
    simulator does). A refusal on a later day ends a dossier that was received, like a withdrawal: that
    keeps a dossier in progress at one period's end in the next period's (6)."""
    if state.refused is None:
        return False
    if state.received is None:
        return True
    return calendar.day_number(state.refused[0]) == calendar.day_number(state.received[0])


@dataclass(slots=True)
class Counts:
    """The figures of one row: the form's columns (3)..(13), then those outside it."""

    c3: int = 0
    c4: int = 0
    c5: int = 0
    c6: int = 0
    c7: int = 0
    c8: int = 0
    c9: int = 0
    c10: int = 0
    c11: int = 0
    c12: int = 0
    c13: int = 0
    refused_at_counter: int = 0
    withdrawn: int = 0
    paused: int = 0

    def bump(self, names: Iterable[str]) -> None:
        for name in names:
            setattr(self, name, getattr(self, name) + 1)

    def add(self, other: Counts) -> None:
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_FIELDS}

    def broken_identities(self) -> list[str]:
        """The form's identities that do not hold (3 = 4+5+6 = 7+11; 7 = 8+9+10; 11 = 12+13): empty."""
        checks = {
            "3 = 4 + 5 + 6": self.c3 == self.c4 + self.c5 + self.c6,
            "3 = 7 + 11": self.c3 == self.c7 + self.c11,
            "7 = 8 + 9 + 10": self.c7 == self.c8 + self.c9 + self.c10,
            "11 = 12 + 13": self.c11 == self.c12 + self.c13,
        }
        return [name for name, ok in checks.items() if not ok]


COUNT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Counts))


@dataclass(slots=True)
class Row:
    """One line of the form: an agency or a field, with its figures."""

    key: str
    label: str
    counts: Counts = field(default_factory=Counts)
    parent: str | None = None
    """The key of the row this one is under (a centre, once a catalog holds several); None at the top."""

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, **self.counts.as_dict()}


@dataclass(slots=True)
class Report:
    """The form for one period: rows in the catalog's order (every agency or field, even with zeros)."""

    period: Period
    window: Window
    by: Grouping
    rows: list[Row]
    total: Counts

    def as_dict(self) -> dict[str, Any]:
        """The `ioc report ii06a --json` document."""
        return {
            "form": FORM,
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()},
            "by": self.by.value,
            "rows": [row.as_dict() for row in self.rows],
            "total": self.total.as_dict(),
        }


def field_key(name: str) -> str:
    """A stable ASCII code for a field name (lĩnh vực has no code in the catalog): `Hộ tịch` -> `ho-tich`."""
    folded = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-") or "field"


UNKNOWN_FIELD = "Chưa xác định lĩnh vực"
"""The row of dossiers whose procedure is not in the catalog (e.g. a refusal that named none)."""


def _rows(catalog: Catalog, by: Grouping) -> dict[str, Row]:
    if by is Grouping.AGENCY:
        return {a.code: Row(a.code, a.name) for a in catalog.agencies}
    rows: dict[str, Row] = {}
    for agency in catalog.agencies:
        for procedure in agency.procedures:
            key = field_key(procedure.field)
            rows.setdefault(key, Row(key, procedure.field))
    return rows


def _group(state: DossierState, catalog: Catalog, by: Grouping) -> tuple[str, str]:
    agency = state.agency or ""
    if by is Grouping.AGENCY:
        found = catalog.agency(agency)
        return agency, found.name if found else agency
    procedure = procedure_of(catalog, agency, state.procedure)
    if procedure is None:
        return field_key(UNKNOWN_FIELD), UNKNOWN_FIELD
    return field_key(procedure.field), procedure.field


def build_report(states: Iterable[DossierState], catalog: Catalog, calendar: WorkingCalendar,
                 period: Period, window: Window, by: Grouping = Grouping.AGENCY) -> Report:
    """The form from dossier states holding their events up to `window.end` (`ReportRun` feeds them)."""
    rows = _rows(catalog, by)
    for state in states:
        names = columns(state, catalog, calendar, window)
        if not names:
            continue
        key, label = _group(state, catalog, by)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(key, label)
        row.counts.bump(names)
    total = Counts()
    for row in rows.values():
        total.add(row.counts)
    return Report(period, window, by, list(rows.values()), total)


# -- the period in progress, from running counters (groundwork for the live board) ----------------------

LiveKey = tuple[str, ...]
"""("ii06a", agency, column, local date): what one dossier adds to running counters, whatever the period.
Typed of any length, not `tuple[str, str, str, str]`: mypyc keeps a fixed-length tuple unboxed, as a C
struct, and builds a new tuple object from it at every dict read or write (three per key moved; issue 19)."""
KEYS: Final = CounterKeys("ii06a")
"""The form's counter keys, shared (`dossiers.counter_keys`)."""


def live_keys(state: DossierState, catalog: Catalog, calendar: WorkingCalendar,
              as_of: Timestamp, known: Clock | None = None) -> tuple[LiveKey, ...]:
    """Date-keyed keys from which the form of any period running at `as_of` is a sum (`running_report`).

    A counter keeps them like the KPI contributions (subtract a dossier's old keys, add its new ones): a
    dossier received in the period adds to (4) or (5) by its receipt date; a finished one to (8), (9) or
    (10) by the later of its receipt and end dates (the dossiers of (3) finished by `as_of` are those whose
    later date is in the period); an open one to (12) or (13) as classified at `as_of`, dated by its
    receipt; a refusal at the counter by its date. (6) is then (7) + (11) - (4) - (5). `known`: the
    dossier's clock at `as_of` if the caller has it (see `columns`).
    """
    if state.status is STATUS_REFUSED and refused_at_counter(state, calendar):
        assert state.refused is not None
        return (KEYS.of(state.agency or "", calendar.day_key(state.refused[0])).key("refused_at_counter"),)
    if state.received is None:
        return ()
    return keys_of(state, calendar, whole_columns(state, catalog, calendar, as_of, known))


def whole_columns(state: DossierState, catalog: Catalog, calendar: WorkingCalendar, as_of: Timestamp,
                  known: Clock | None = None) -> tuple[str, ...]:
    """The columns of a received dossier for a period starting at its receipt and running at `as_of`: it
    sees every column of it (the running figures' keys are dated from these; see `live_keys`)."""
    assert state.received is not None
    return columns_between(state, catalog, calendar, state.received[0], as_of, known)


def keys_of(state: DossierState, calendar: WorkingCalendar, names: tuple[str, ...]) -> tuple[LiveKey, ...]:
    """`live_keys` of a received dossier from its `whole_columns` (the keys from `KEYS`, built once per day
    and agency; a loop, not `next` over a generator, which mypyc compiles to a class: issue 19)."""
    assert state.received is not None
    if not names:
        return ()  # received after `as_of` (an event ahead of the clock): in no column yet
    agency = state.agency or ""
    received = state.received[0]
    closed = state.closed_at()
    channel = klass = ""
    for name in names:
        if name == "c4" or name == "c5":
            channel = name
        elif name in ("c8", "c9", "c10", "c12", "c13"):
            klass = name
            break  # the class comes after the channel (`columns_between`)
    if not (channel and klass):
        raise ValueError(f"keys_of: no channel or class column in {names!r}")
    day = calendar.day_key(received)
    dated = day if closed is None else calendar.day_key(max(received, closed))
    return (KEYS.of(agency, day).key(channel), KEYS.of(agency, dated).key(klass))


def running_report(counts: dict[LiveKey, int], catalog: Catalog, calendar: WorkingCalendar, period: Period,
                   as_of: Timestamp) -> Report:
    """The form, per agency, of `period` running at `as_of` (within it), from the sums of `live_keys` of
    every dossier at `as_of`: what a worker holding those sums would show."""
    window = Window.of(period, calendar, as_of)
    if not window.start <= as_of <= period.last_instant(calendar.tz):
        raise ValueError("running_report: as_of must fall within the period")
    first, last = period.first.isoformat(), calendar.day_key(as_of)
    rows = _rows(catalog, Grouping.AGENCY)
    for (_, agency, column, day), n in counts.items():
        if column in ("c12", "c13") or first <= day <= last:
            row = rows.get(agency)
            if row is None:
                found = catalog.agency(agency)
                row = rows[agency] = Row(agency, found.name if found else agency)
            setattr(row.counts, column, getattr(row.counts, column) + n)
    total = Counts()
    for row in rows.values():
        c = row.counts
        c.c7, c.c11 = c.c8 + c.c9 + c.c10, c.c12 + c.c13
        c.c3 = c.c7 + c.c11
        c.c6 = c.c3 - c.c4 - c.c5
        total.add(c)
    return Report(period, window, Grouping.AGENCY, list(rows.values()), total)
