"""The Decision 766/QĐ-TTg index (Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân,
doanh nghiệp): the items that dossier events can measure, per agency and for the centre, for a period.

Like the II.06a form, the index is a sum of what each dossier contributes (`contribution()` gives one
dossier's counts, a `Tally` sums them), and every rate is computed from the sums, so the centre's rate is
never an average of the agencies' rates. Column (3) and the on-time classes are the form's own
(`dossiers.report_ii06a.columns`, itself the SLA clock's). Formulas, thresholds, maxima and every choice
made where the guidance is silent: docs/index766.md. Items that events cannot measure are listed in
`NOT_MEASURED`, never guessed, and the total says how many of the 100 points it covers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from dossiers.calendar import Timestamp, WorkingCalendar
from dossiers.catalog import Catalog, Procedure
from dossiers.lifecycle import (
    STATUS_REFUSED,
    STATUS_RESOLVED,
    DossierState,
    pause_intervals,
    procedure_of,
)
from dossiers.periods import Period
from dossiers.report_ii06a import ONLINE, Window, columns, refused_at_counter
from dossiers.sla import LATE, Clock, clock, terms_of

INDEX = "766"
GROUPS: dict[str, int] = {"public": 18, "progress": 20, "online": 22, "digital": 22, "satisfaction": 18}
"""The five official groups and their maximum points (100 in all; rules note section 6)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One indicator of the index: its group, its maximum points and the rate at which it is full."""

    code: str
    group: str
    max: float | None
    """None: no points (2.2 is reported, not scored)."""
    threshold: float | None = None
    """The rate at or above which the item is full; below, points = rate x max / threshold. None: the
    guidance gives no threshold, and this module uses rate x max (a threshold of 100%)."""
    max_assumed: bool = False
    """True when the sources give the group's points but not this item's share (docs/index766.md)."""

    def points(self, rate: float | None) -> float | None:
        if rate is None or self.max is None:
            return None
        threshold = self.threshold or 1.0
        return self.max if rate >= threshold else rate * self.max / threshold


ITEMS: tuple[Item, ...] = (
    Item("1.4", "public", 6),
    Item("2.1", "progress", 20),
    Item("2.2", "progress", None),
    Item("3.3", "online", 12, threshold=0.5, max_assumed=True),
    Item("3.6", "online", 10),
    Item("4.1", "digital", 6, max_assumed=True),
    Item("4.2", "digital", 4, threshold=0.8, max_assumed=True),
    Item("5.4", "satisfaction", 6, threshold=0.9),
)
ITEM = {item.code: item for item in ITEMS}
COVERED = sum(item.max or 0 for item in ITEMS)
"""How many of the 100 points the measured items carry (64)."""
NO_LOSS = 1e-9
"""A loss of points at or under this is rounding noise (a full item computed as max - max x 1.0)."""

NOT_MEASURED: tuple[tuple[str, float | None, str], ...] = (
    ("1.1", 6, "procedures announced on time: the province's announcement decisions, not dossier events"),
    ("1.2", 4, "procedures published on time in the national procedure database"),
    ("1.3", 2, "procedures published with all their components (national procedure database)"),
    ("3.1", None, "procedures offering online services: the portal's service catalogue"),
    ("3.2", None, "online services that received dossiers: the portal's service catalogue"),
    ("3.5", None, "fee-bearing procedures integrated with online payment: the portal's fee data"),
    ("4.3-4.5", 12, "data reuse, the personal data store, VNeID, the population database: no event has them"),
    ("5.2", 6, "complaints (PAKN) handled on time: the complaint system's own steps"),
    ("5.3", 6, "satisfaction with complaint handling: the complaint system's own ratings"),
)
"""Items events cannot measure, with their points where the sources give them (3.1, 3.2 and 3.5 share
the online group with 3.3 and 3.6, whose assumed maxima take the whole group here)."""


@dataclass(slots=True)
class Tally:
    """The counts one dossier adds to, summed over a row; every indicator is a ratio of these."""

    received: int = 0
    """Received in the period (the form's (4) + (5)): 1.4, 3.3, 3.6, 4.2."""
    synced: int = 0
    """Of `received`, synced to the national portal by the period's end (1.4)."""
    online: int = 0
    """Of `received`, online, with an electronic result where the procedure wants a written one (3.3)."""
    in_form: int = 0
    """The form's column (3): received in the period or carried over (2.1, 5.4)."""
    on_time: int = 0
    """Of `in_form`, finished on time or early, or still within the deadline (2.1)."""
    second_supplement: int = 0
    """Of `in_form`, late because of more than one supplement request (2.1, detail)."""
    awaiting_supplement: int = 0
    """Of `in_form`, awaiting a supplement at the end, judged at the request (2.1, detail)."""
    finished: int = 0
    """Received in the period and resolved by its end (2.2)."""
    working_days: float = 0.0
    """Their processing time, supplement and pause time left out, in working days (2.2)."""
    fee: int = 0
    """Of `received`, of a procedure with a fee (3.6)."""
    paid_online: int = 0
    """Of `fee`, paid online by the period's end (3.6)."""
    written: int = 0
    """In `in_form`, resolved in the period, of a procedure that wants a written result (4.1)."""
    e_result: int = 0
    """Of `written`, with an electronic result (4.1)."""
    digitised: int = 0
    """Of `received`, digitised, with an electronic result where a written one is wanted (4.2)."""
    complaint_or_dislike: int = 0
    """Of `in_form`, with a complaint or an unsatisfied rating by the period's end (5.4)."""

    def __init__(
        self,
        *,
        received: int = 0,
        synced: int = 0,
        online: int = 0,
        in_form: int = 0,
        on_time: int = 0,
        second_supplement: int = 0,
        awaiting_supplement: int = 0,
        finished: int = 0,
        working_days: float = 0.0,
        fee: int = 0,
        paid_online: int = 0,
        written: int = 0,
        e_result: int = 0,
        digitised: int = 0,
        complaint_or_dislike: int = 0,
    ) -> None:
        # written out, not generated: mypyc compiles a class's own `__init__`, while the one `@dataclass`
        # generates runs interpreted (mypyc/mypyc#817); one per dossier and evaluation (issue 19). Checked
        # against the dataclass's fields by tests/unit/test_index766.py
        self.received = received
        self.synced = synced
        self.online = online
        self.in_form = in_form
        self.on_time = on_time
        self.second_supplement = second_supplement
        self.awaiting_supplement = awaiting_supplement
        self.finished = finished
        self.working_days = working_days
        self.fee = fee
        self.paid_online = paid_online
        self.written = written
        self.e_result = e_result
        self.digitised = digitised
        self.complaint_or_dislike = complaint_or_dislike

    def add(self, other: Tally) -> None:
        for name in TALLY_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in TALLY_FIELDS}


TALLY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Tally))


def _paused_work(state: DossierState, calendar: WorkingCalendar, start: Timestamp, end: Timestamp) -> int:
    """Working seconds within [start, end] covered by pauses of any kind (overlaps counted once)."""
    spans = sorted((max(a, start), min(b if b is not None else end, end))
                   for a, b in pause_intervals(state, end))
    total, reach = 0, start
    for a, b in spans:
        a = max(a, reach)
        if b > a:
            total += calendar.to_work(b) - calendar.to_work(a)
            reach = b
    return total


def _named(names: tuple[str, ...], name: str) -> bool:
    """`name in names`, written out: compiled, `in` on a tuple goes through the generic sequence protocol
    and a rich comparison per item (about 300 instructions, seven per event; issue 19), this loop compares
    strings directly."""
    for item in names:  # noqa: SIM110 (`any` over a generator: mypyc builds a generator object per call)
        if item == name:
            return True
    return False


def _on_time(state: DossierState, names: tuple[str, ...], procedure: Procedure | None,
             calendar: WorkingCalendar, tally: Tally) -> bool:
    """Item 2.1 for a dossier of column (3), by the guide's rules (docs/index766.md)."""
    if len(state.supplement_requests()) > 1:
        tally.second_supplement += 1
        return False  # "Yêu cầu bổ sung hồ sơ hơn 01 lần thì tính quá hạn"
    if _named(names, "c7"):
        return _named(names, "c8") or _named(names, "c9")
    since = state.awaiting_supplement_since()
    if since is not None:  # the request's time is the end of processing
        tally.awaiting_supplement += 1
        if procedure is None:
            return True  # no due date: on time, as the form counts it
        ended = state.ended_at(since)
        return clock(ended, procedure, calendar, since).timeliness is not LATE
    return _named(names, "c12")


def contribution(state: DossierState, catalog: Catalog, calendar: WorkingCalendar, window: Window,
                 known: Clock | None = None, names: tuple[str, ...] | None = None) -> Tally:
    """What one dossier adds to its agency's tally; `state` holds its events up to `window.end` only.
    `known`: the dossier's SLA clock at `window.end` if the caller has it (see `columns`); `names`: its
    columns for `window`, if the caller has them (the worker shares them with the form's keys)."""
    if names is None:
        names = columns(state, catalog, calendar, window, known)
    return tally_of(state, catalog, calendar, names)


def tally_of(state: DossierState, catalog: Catalog, calendar: WorkingCalendar,
             names: tuple[str, ...]) -> Tally:
    """`contribution` from the dossier's columns for the window (`dossiers.report_ii06a.columns`): what the
    worker calls, with the columns it shares with the form's keys, and no window to build (issue 19)."""
    tally = Tally()
    if not _named(names, "c3") or state.received is None:
        return tally
    procedure = procedure_of(catalog, state.agency, state.procedure)
    terms = None if procedure is None else terms_of(procedure, calendar)
    written = terms is not None and terms.requires_written_result
    result_ok = not written or state.e_result
    tally.in_form = 1
    if _on_time(state, names, procedure, calendar, tally):
        tally.on_time = 1
    if state.complaints or state.rating == "unsatisfied":
        tally.complaint_or_dislike = 1
    if written and state.status is STATUS_RESOLVED and _named(names, "c7"):
        tally.written = 1
        tally.e_result = int(state.e_result)
    if _named(names, "c4") or _named(names, "c5"):
        tally.received = 1
        tally.synced = int(state.synced is not None)
        tally.online = int(state.channel == ONLINE and result_ok)
        tally.digitised = int(state.digitised and result_ok)
        if terms is not None and terms.has_fee:
            tally.fee = 1
            tally.paid_online = int(state.paid is not None and state.paid_online)
        if state.status is STATUS_RESOLVED and state.resolved is not None:
            received, resolved = state.received[0], state.resolved[0]
            work = calendar.to_work(resolved) - calendar.to_work(received)
            work -= _paused_work(state, calendar, received, resolved)
            tally.finished = 1
            tally.working_days = max(work, 0) / calendar.day_seconds
    return tally


@dataclass(frozen=True, slots=True)
class Indicator:
    """One item for one row: `rate` and `points` are None when the denominator is 0 (N/A)."""

    code: str
    numerator: float
    denominator: int
    rate: float | None
    points: float | None
    max: float | None
    details: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        item = ITEM[self.code]
        return {
            "rate": _round(self.rate), "points": _round(self.points), "max": self.max,
            "numerator": _round(self.numerator), "denominator": self.denominator,
            "threshold": item.threshold, "max_assumed": item.max_assumed, **self.details,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _make(code: str, numerator: float, denominator: int, rate: float | None = None,
          **details: float) -> Indicator:
    if rate is None:
        rate = _ratio(numerator, denominator)
    return Indicator(code, numerator, denominator, rate, ITEM[code].points(rate), ITEM[code].max, details)


def indicators(t: Tally) -> dict[str, Indicator]:
    """The measured items of one row, from its tally."""
    sync_rate = _ratio(t.synced, t.received)
    online_share = _ratio(t.online, t.received)
    overdue = t.in_form - t.on_time
    satisfied = max(t.in_form - overdue - t.complaint_or_dislike, 0)  # 100% - (overdue + complaint) rates
    average = _ratio(t.working_days, t.finished)
    out = [
        _make("1.4", t.synced, t.received),
        _make("2.1", t.on_time, t.in_form, second_supplement=t.second_supplement,
              awaiting_supplement=t.awaiting_supplement),
        Indicator("2.2", t.working_days, t.finished, average, None, None),
        _make("3.3", t.online, t.received,
              rate=None if online_share is None or sync_rate is None else online_share * sync_rate,
              sync_rate=_round(sync_rate) or 0.0),
        _make("3.6", t.paid_online, t.fee),
        _make("4.1", t.e_result, t.written),
        _make("4.2", t.digitised, t.received),
        _make("5.4", satisfied, t.in_form, overdue=overdue, complaint_or_dislike=t.complaint_or_dislike),
    ]
    return {item.code: item for item in out}


SYNC_WITHIN_HOURS: tuple[int, ...] = (1, 4, 24, 72)
"""Sync health's live buckets: dossiers synced within so many calendar hours of their receipt (the live
board cannot keep every delay, and medians do not add up across partitions)."""


def synced_within(delays: Iterable[int]) -> dict[int, int]:
    """{hours: dossiers synced within that many hours of receipt} for `SYNC_WITHIN_HOURS`."""
    out = dict.fromkeys(SYNC_WITHIN_HOURS, 0)
    for delay in delays:
        for hours in SYNC_WITHIN_HOURS:
            if delay <= hours * 3600:
                out[hours] += 1
    return out


def sync_health(delays: list[int], received: int) -> dict[str, Any]:
    """Sync health (issue 17): dossiers received in the period and synced by its end, and the delay from
    receipt to the first sync in calendar hours, median and 95th percentile (nearest rank), and how many
    were synced within 1, 4, 24 and 72 hours."""
    ordered = sorted(delays)
    p95 = ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)] if ordered else None
    return {
        "received": received, "synced": len(ordered),
        "delay_median_hours": round(statistics.median(ordered) / 3600, 2) if ordered else None,
        "delay_p95_hours": None if p95 is None else round(p95 / 3600, 2),
        "synced_within_hours": {str(h): n for h, n in synced_within(ordered).items()},
    }


def sync_due(state: DossierState, calendar: WorkingCalendar, late_after: int) -> Timestamp | None:
    """When a received dossier still not synced to the national portal becomes late to it (chưa đồng bộ
    Cổng DVCQG): `late_after` working seconds after its receipt. None when it is synced, not received, or
    turned away at the counter (not a received dossier of item 1.4). No rule gives this delay: the centre
    chooses it (IOC_SYNC_LATE_HOURS, docs/index766.md)."""
    if state.received is None or state.synced is not None:
        return None
    if state.status is STATUS_REFUSED and refused_at_counter(state, calendar):
        return None
    return calendar.from_work(calendar.to_work(state.received[0]) + late_after)


@dataclass(slots=True)
class Row:
    """One agency, or the centre, with its tally."""

    key: str
    label: str
    tally: Tally = field(default_factory=Tally)
    sync_delays: list[int] = field(default_factory=list)
    """Seconds from receipt to first sync of the dossiers in `tally.synced` (a list: medians do not add)."""
    sync_within: dict[int, int] | None = None
    """Live rows (`dossiers.index766_live`): the buckets of `synced_within` instead of the delays."""

    def indicators(self) -> dict[str, Indicator]:
        return indicators(self.tally)

    def score(self) -> tuple[float, float]:
        """(points, max) over the scored items that have a rate; N/A items are left out of both."""
        scored = [i for i in self.indicators().values() if i.points is not None and i.max is not None]
        return sum(i.points or 0 for i in scored), sum(i.max or 0 for i in scored)

    def losing_most(self, count: int = 3) -> list[str]:
        """The items that lose the most points (issue 17's board: where an agency's points go), ties in
        the index's order; items that lose nothing are left out."""
        lost = [(i.max - i.points, n, code) for n, (code, i) in enumerate(self.indicators().items())
                if i.points is not None and i.max is not None and i.max - i.points > NO_LOSS]
        return [code for _, _, code in sorted(lost, key=lambda x: (-x[0], x[1]))[:count]]

    def as_dict(self) -> dict[str, Any]:
        points, out_of = self.score()
        return {"key": self.key, "label": self.label, "losing_most": self.losing_most(),
                "indicators": {code: item.as_dict() for code, item in self.indicators().items()},
                "total": {"points": round(points, 4), "max": out_of, "lost": round(out_of - points, 4)},
                "sync_health": self.sync_health()}

    def sync_health(self) -> dict[str, Any]:
        """`sync_health` of the row; a live row knows the buckets only, not the median or percentile."""
        if self.sync_within is None:
            return sync_health(self.sync_delays, self.tally.received)
        return {"received": self.tally.received, "synced": self.tally.synced, "delay_median_hours": None,
                "delay_p95_hours": None,
                "synced_within_hours": {str(h): n for h, n in self.sync_within.items()}}


@dataclass(slots=True)
class Index766:
    """The measured part of the index for one period at three levels: a row per agency (catalog order),
    per centre (the sum of its agencies' tallies) and the whole (`total`: the province for a province
    catalog, the centre itself for a single-centre one). Rates are always taken on the summed tallies."""

    period: Period
    window: Window
    rows: list[Row]
    total: Row
    centres: list[Row] = field(default_factory=list)
    """Per centre of the catalog, in catalog order. An agency no longer in the catalog counts in the total
    and in no centre (as in `dossiers.kpi.Snapshot`)."""
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The agency codes of each centre, in catalog order."""

    def as_dict(self) -> dict[str, Any]:
        """The `ioc report 766 --json` document."""
        return {
            "index": INDEX,
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()},
            "covers": {"points": COVERED, "of": sum(GROUPS.values())},
            "not_measured": [{"item": code, "max": points, "why": why} for code, points, why in NOT_MEASURED],
            "centre": self.total.as_dict(),
            "centres": [{**row.as_dict(), "agencies": list(self.members.get(row.key, ()))}
                        for row in self.centres],
            "agencies": [row.as_dict() for row in self.rows],
        }


def build_index(states: Iterable[DossierState], catalog: Catalog, calendar: WorkingCalendar,
                period: Period, window: Window) -> Index766:
    """The index from dossier states holding their events up to `window.end` (a `Replay` feeds them)."""
    rows = {a.code: Row(a.code, a.name) for a in catalog.agencies}
    for state in states:
        tally = contribution(state, catalog, calendar, window)
        if not tally.in_form:
            continue
        agency = state.agency or ""
        row = rows.get(agency)
        if row is None:
            row = rows[agency] = Row(agency, agency)
        row.tally.add(tally)
        if tally.synced and state.synced is not None and state.received is not None:
            row.sync_delays.append(max(state.synced[0] - state.received[0], 0))  # a sync "before": 0
    whole = catalog.province if catalog.is_province and catalog.province is not None else catalog.centre
    total = Row(whole.code, whole.name)
    for row in rows.values():
        total.tally.add(row.tally)
        total.sync_delays.extend(row.sync_delays)
    members = {c.code: tuple(a.code for a in catalog.agencies_of(c.code)) for c in catalog.centres}
    centres = []
    for centre in catalog.centres:
        summed = Row(centre.code, centre.name)
        for code in members[centre.code]:
            summed.tally.add(rows[code].tally)
            summed.sync_delays.extend(rows[code].sync_delays)
        centres.append(summed)
    return Index766(period, window, list(rows.values()), total, centres, members)
