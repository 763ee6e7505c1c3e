"""KPIs (chỉ tiêu) per agency, per centre and for the whole, as sums of what each dossier contributes.

A dossier contributes a handful of counter keys (its agency's `received` on its day, its open or
resolved class, its rating, ...). The KPI snapshot is the sum of all contributions. `ioc replay` sums
them in one pass; the stream keeps the sums and, when a dossier changes (an event, or its due time
passing), subtracts its old keys and adds the new ones. One definition, two drivers, equal results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, final

from dossiers.calendar import Timestamp, WorkingCalendar
from dossiers.catalog import Catalog, Centre
from dossiers.counter_keys import new_key
from dossiers.events import Channel
from dossiers.lifecycle import (
    STATUS_OPEN,
    STATUS_REFUSED,
    STATUS_RESOLVED,
    STATUS_UNKNOWN,
    STATUS_WITHDRAWN,
    DossierState,
    procedure_of,
)
from dossiers.sla import DUE_SOON, EARLY, LATE, ON_TIME, OVERDUE, WITHIN, Clock, Timeliness, clock

Key = tuple[str, ...]
"""A counter key: (kind, agency, ...); dates as ISO strings so keys serialise as they are."""

RESOLVED_CLASSES = (Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE)
OPEN_CLASSES = (Timeliness.WITHIN, Timeliness.DUE_SOON, Timeliness.OVERDUE)
CHANNELS = tuple(channel.value for channel in Channel)
SATISFIED: Final = frozenset({"very_satisfied", "satisfied"})


@final
class Contribution:
    """What one dossier adds to the counters at one instant, plus its clock for timers and alerts: a value,
    a plain class for mypyc as `dossiers.sla.Clock`."""

    keys: tuple[Key, ...]
    clock: Clock

    def __init__(self, keys: tuple[Key, ...], clock: Clock) -> None:
        self.keys, self.clock = keys, clock

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Contribution):
            return False
        return self.keys == other.keys and self.clock == other.clock

    def __hash__(self) -> int:
        return hash((self.keys, self.clock))

    def __repr__(self) -> str:
        return f"Contribution(keys={self.keys!r}, clock={self.clock!r})"


EMPTY: Final = Contribution((), Clock(None, None, False, None, 0, None))

KEYS_PER_KIND: Final = 1024
"""Dated keys an `AgencyKeys` keeps per kind (and class) before it starts again."""
AGENCIES_KEPT: Final = 4096
"""Agencies whose keys `agency_keys` keeps before it starts again (a catalog names far fewer)."""
_CLASSES: Final = (EARLY, ON_TIME, LATE, WITHIN, DUE_SOON, OVERDUE)


def _class_index(timeliness: Timeliness) -> int:
    """The place of a class in `_CLASSES`, compared by identity: a `Timeliness` is an enum, whose hash
    (for a dict keyed by it) is a method written in Python."""
    for at, known in enumerate(_CLASSES):
        if timeliness is known:
            return at
    raise ValueError(f"not a class of timeliness: {timeliness!r}")


@final
class AgencyKeys:
    """The KPI counter keys of one agency (khóa chỉ tiêu của cơ quan), each built on first use and shared, as
    `dossiers.counter_keys` does for the running figures: most dossiers contribute the same few keys, and a
    key built for each event cost a tuple, then its hash and an item-by-item comparison at every counter it
    met (issue 19). Equal to the keys built afresh (tests/unit/test_kpi.py); dated kinds are bounded by
    `KEYS_PER_KIND`."""

    def __init__(self, agency: str) -> None:
        self.agency = agency
        self.plain: dict[str, Key] = {}
        """(kind, agency)"""
        self.valued: dict[str, dict[str, Key]] = {}
        """kind -> value -> (kind, agency, value)"""
        self.resolved_by_class: list[dict[str, Key]] = [{} for _ in _CLASSES]
        """class -> day -> ("resolved", agency, class, day)"""
        self.open_by_class: list[Key | None] = [None for _ in _CLASSES]

    def plain_key(self, kind: str) -> Key:
        key = self.plain.get(kind)
        if key is None:
            key = self.plain[kind] = new_key(kind, self.agency)
        return key

    def valued_key(self, kind: str, value: str) -> Key:
        values = self.valued.get(kind)
        if values is None:
            values = self.valued[kind] = {}
        key = values.get(value)
        if key is None:
            if len(values) >= KEYS_PER_KIND:
                values.clear()
            key = values[value] = new_key(kind, self.agency, value)
        return key

    def resolved_key(self, timeliness: Timeliness, day: str) -> Key:
        days = self.resolved_by_class[_class_index(timeliness)]
        key = days.get(day)
        if key is None:
            if len(days) >= KEYS_PER_KIND:
                days.clear()
            key = days[day] = new_key("resolved", self.agency, str(timeliness), day)
        return key

    def open_key(self, timeliness: Timeliness) -> Key:
        at = _class_index(timeliness)
        key = self.open_by_class[at]
        if key is None:
            key = new_key("open", self.agency, str(timeliness))
            self.open_by_class[at] = key
        return key


_AGENCY_KEYS: Final[dict[str, AgencyKeys]] = {}


def agency_keys(agency: str) -> AgencyKeys:
    """The shared `AgencyKeys` of `agency`."""
    found = _AGENCY_KEYS.get(agency)
    if found is None:
        if len(_AGENCY_KEYS) >= AGENCIES_KEPT:
            _AGENCY_KEYS.clear()
        found = _AGENCY_KEYS[agency] = AgencyKeys(agency)
    return found


def contribution(state: DossierState, catalog: Catalog, calendar: WorkingCalendar,
                 as_of: Timestamp, known: Clock | None = None) -> Contribution:
    """The counter keys of one dossier at `as_of`. Dossiers never received or refused count nowhere.
    `known`: the dossier's SLA clock at `as_of` when the caller has it (most of the cost otherwise)."""
    status = state.status
    agency = state.agency
    if status is STATUS_UNKNOWN or agency is None:
        return EMPTY
    at = state.received[0] if state.received else state.refused[0] if state.refused else as_of
    memo = agency_keys(agency)
    keys: list[Key] = [memo.valued_key("received", calendar.day_key(at))]
    if state.channel:
        keys.append(memo.valued_key("channel", state.channel))
    # the procedure only when the clock is computed here: a lookup through two interpreted objects, and
    # the worker passes `known` in most calls (issue 19)
    the_clock = known
    if the_clock is None:
        the_clock = clock(state, procedure_of(catalog, agency, state.procedure), calendar, as_of)
    if status is STATUS_REFUSED:
        keys.append(memo.plain_key("refused"))
    elif status is STATUS_WITHDRAWN:
        keys.append(memo.plain_key("withdrawn"))
    elif status is STATUS_RESOLVED and the_clock.timeliness is not None and state.resolved:
        keys.append(memo.resolved_key(the_clock.timeliness, calendar.day_key(state.resolved[0])))
    elif status is STATUS_OPEN:
        keys.append(memo.open_key(the_clock.timeliness or WITHIN))
        if the_clock.paused:
            keys.append(memo.plain_key("paused"))
    if state.rating:
        keys.append(memo.valued_key("rated", "satisfied" if state.rating in SATISFIED else "unsatisfied"))
    if state.paid:
        keys.append(memo.valued_key("paid", "online" if state.paid_online else "offline"))
    if state.extensions > 1:  # the appointment may be rescheduled once (Decree 61/2018)
        keys.append(memo.plain_key("rescheduled_twice"))
    return Contribution(tuple(keys), the_clock)


def shared_ends(old: tuple[object, ...], new: tuple[object, ...]) -> tuple[int, int]:
    """How many items `old` and `new` share at the same place from the start, and then from the end.

    Subtracting a key and adding it back changes no sum, so a dossier's move needs only the items that
    differ; its keys come in a fixed order, and most stay as they were (its agency's `received` on its
    day, its channel, ...). Shared means the same object: keys come from memos (`dossiers.counter_keys`,
    `AgencyKeys`) that hand out one object per key, so equal keys are the same object, save across a memo
    bounded and started afresh, where a pair of equal keys that are two objects is subtracted and added
    back (issue 19: compared by value, each pair went through the tuples' generic comparison). Tuples,
    not any sequence: compiled, a tuple's items are read by index directly."""
    size = min(len(old), len(new))
    head = 0
    while head < size and old[head] is new[head]:
        head += 1
    tail = 0
    last_old, last_new = len(old) - 1, len(new) - 1
    while tail < size - head and old[last_old - tail] is new[last_new - tail]:
        tail += 1
    return head, tail


def _add_range(counts: dict[Key, int], keys: tuple[Key, ...], start: int, end: int, sign: int) -> None:
    """Add `sign` for each key from `start` to `end` to `counts`, dropping zero sums."""
    for at in range(start, end):
        key = keys[at]
        n = counts.get(key, 0) + sign
        if n:
            counts[key] = n
        else:
            counts.pop(key, None)


class KpiCounters:
    """The running sums of contributions; `move` applies one dossier's change.

    A plain dict, not a `Counter`: `Counter` defines `__delitem__` in Python, so every item the compiled
    core sets on one went through the interpreter's slot lookup (about 1,600 instructions a store, 5 % of
    the core; issue 19). Zero sums are removed, so two equal dicts are equal sums."""

    def __init__(self) -> None:
        self.counts: dict[Key, int] = {}

    def add(self, keys: Iterable[Key], sign: int = 1) -> None:
        items = tuple(keys)  # a tuple's `tuple()` is itself
        _add_range(self.counts, items, 0, len(items), sign)

    def move(self, old: tuple[Key, ...], new: tuple[Key, ...]) -> None:
        """Subtract a dossier's old keys and add its new ones, only those that differ (`shared_ends`)."""
        head, tail = shared_ends(old, new)
        _add_range(self.counts, old, head, len(old) - tail, -1)
        _add_range(self.counts, new, head, len(new) - tail, 1)

    def merge(self, other: KpiCounters) -> None:
        """Add `other`'s sums (workers that share the partitions each hold a part)."""
        counts = self.counts
        for key, n in other.counts.items():
            total = counts.get(key, 0) + n
            if total:
                counts[key] = total
            else:
                counts.pop(key, None)

    def snapshot(self, catalog: Catalog, as_of_day: date) -> Snapshot:
        return Snapshot.from_counts(self.counts, catalog, as_of_day)


def _rate(good: int, total: int) -> float | None:
    return round(good / total, 6) if total else None


@dataclass(slots=True)
class Block:
    """The KPI block of one agency, of one centre, or of the whole province."""

    received: int = 0
    received_today: int = 0
    refused: int = 0
    withdrawn: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    today_good: int = 0
    today_resolved: int = 0
    month_good: int = 0
    month_resolved: int = 0
    year_good: int = 0
    year_resolved: int = 0
    within: int = 0
    due_soon: int = 0
    overdue: int = 0
    paused: int = 0
    satisfied: int = 0
    unsatisfied: int = 0
    paid_online: int = 0
    paid_offline: int = 0
    rescheduled_twice: int = 0
    """Dossiers whose appointment was rescheduled more than once (a problem for operators)."""
    target_on_time: float | None = None
    channels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))

    @property
    def resolved(self) -> int:
        return self.early + self.on_time + self.late

    @property
    def open(self) -> int:
        return self.within + self.due_soon + self.overdue

    def add(self, other: Block) -> None:
        for name in KPI_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for channel, count in other.channels.items():
            self.channels[channel] = self.channels.get(channel, 0) + count

    def as_dict(self) -> dict[str, Any]:
        """The public shape of a KPI block (the `--json` output and the InfluxDB fields)."""
        paid = self.paid_online + self.paid_offline
        return {
            "received": self.received,
            "received_today": self.received_today,
            "refused": self.refused,
            "withdrawn": self.withdrawn,
            "resolved": {"early": self.early, "on_time": self.on_time, "late": self.late,
                         "total": self.resolved},
            "resolved_today": self.today_resolved,
            "open": {"within": self.within, "overdue": self.overdue, "due_soon": self.due_soon,
                     "total": self.open, "paused": self.paused},
            "on_time_rate": _rate(self.early + self.on_time, self.resolved),
            "on_time_rate_today": _rate(self.today_good, self.today_resolved),
            "on_time_rate_month": _rate(self.month_good, self.month_resolved),
            "on_time_rate_year": _rate(self.year_good, self.year_resolved),
            "target_on_time": self.target_on_time,
            "rated": self.satisfied + self.unsatisfied,
            "satisfaction_rate": _rate(self.satisfied, self.satisfied + self.unsatisfied),
            "channels": dict(self.channels),
            "paid": paid,
            "online_payment_share": _rate(self.paid_online, paid),
            "rescheduled_more_than_once": self.rescheduled_twice,
        }


def expected_on_time(members: Iterable[tuple[Block, float]]) -> float | None:
    """The on-time rate a group of agencies (a centre, the province) should reach this month given its
    mix (tỷ lệ đúng hạn mục tiêu): each agency's own target weighted by the dossiers it resolved in the
    month, so a centre whose land desk (80 %) resolves most of its dossiers is not held to 99 %. The plain
    mean of the targets while nothing was resolved; None for an empty group."""
    pairs = list(members)
    if not pairs:
        return None
    resolved = sum(block.month_resolved for block, _ in pairs)
    if not resolved:
        return round(sum(target for _, target in pairs) / len(pairs), 6)
    return round(sum(block.month_resolved * target for block, target in pairs) / resolved, 6)


@dataclass(frozen=True, slots=True)
class CentreRow:
    """One centre of a province (Trung tâm): its agencies' blocks summed, and the target its mix should
    reach; what the province page ranks."""

    centre: Centre
    block: Block
    target: float | None

    @property
    def rate(self) -> float | None:
        value: float | None = self.block.as_dict()["on_time_rate_month"]
        return value

    @property
    def gap(self) -> float:
        """How far under its target (0 at or above it, or with nothing resolved this month)."""
        return 0.0 if self.rate is None or self.target is None else max(self.target - self.rate, 0.0)


def centre_rows(catalog: Catalog, agencies: Mapping[str, Block]) -> list[CentreRow]:
    """Every centre of the catalog, in catalog order: its agencies' blocks summed (an agency with no block
    counts as empty) and the target its mix should reach (`expected_on_time`)."""
    rows = []
    for centre in catalog.centres:
        members = [(agencies.get(a.code, Block()), a.target_on_time)
                   for a in catalog.agencies_of(centre.code)]
        total = Block()
        for block, _ in members:
            total.add(block)
        rows.append(CentreRow(centre, total, expected_on_time(members)))
    return rows


def worst_first(rows: Sequence[CentreRow]) -> list[CentreRow]:
    """Most overdue dossiers first, then furthest under target, then most due soon; then the code."""
    return sorted(rows, key=lambda r: (-r.block.overdue, -r.gap, -r.block.due_soon, r.centre.code))


KPI_FIELDS: tuple[str, ...] = tuple(
    name for name in Block.__dataclass_fields__ if name not in ("target_on_time", "channels")
)
"""The integer counters of a block, in declaration order: the InfluxDB `kpi` fields and what is read back."""


@dataclass(slots=True)
class Snapshot:
    """KPIs on one day at three levels: every agency of the catalog, every centre (the sum of its
    agencies), and the whole (`centre`: the province total for a province catalog, the centre itself
    for a single-centre one)."""

    day: date
    agencies: dict[str, Block]
    centre: Block
    centres: dict[str, Block] = field(default_factory=dict)
    """Per centre code, in catalog order. An agency no longer in the catalog (counters kept by the stream
    across a catalog change) counts in the total and in no centre."""
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The agency codes of each centre, in catalog order."""

    @classmethod
    def from_counts(cls, counts: Mapping[Key, int], catalog: Catalog, day: date) -> Snapshot:
        agencies = {a.code: Block(target_on_time=a.target_on_time) for a in catalog.agencies}
        today, month, year = day.isoformat(), day.isoformat()[:7], day.isoformat()[:4]
        for key, n in counts.items():
            kind, agency = key[0], key[1]
            block = agencies.setdefault(agency, Block())
            if kind == "received":
                block.received += n
                block.received_today += n if key[2] == today else 0
            elif kind == "resolved":
                klass, when = key[2], key[3]
                setattr(block, klass, getattr(block, klass) + n)
                good = n if klass != Timeliness.LATE.value else 0
                if when == today:
                    block.today_good, block.today_resolved = block.today_good + good, block.today_resolved + n
                if when[:7] == month:
                    block.month_good, block.month_resolved = block.month_good + good, block.month_resolved + n
                if when[:4] == year:
                    block.year_good, block.year_resolved = block.year_good + good, block.year_resolved + n
            elif kind == "open":
                setattr(block, key[2], getattr(block, key[2]) + n)
            elif kind in ("refused", "withdrawn", "paused", "rescheduled_twice"):
                setattr(block, kind, getattr(block, kind) + n)
            elif kind == "channel":
                block.channels[key[2]] = block.channels.get(key[2], 0) + n
            elif kind == "rated":
                setattr(block, key[2], getattr(block, key[2]) + n)
            elif kind == "paid":
                setattr(block, f"paid_{key[2]}", getattr(block, f"paid_{key[2]}") + n)
        members = {c.code: tuple(a.code for a in catalog.agencies_of(c.code)) for c in catalog.centres}
        centres = {code: Block() for code in members}
        for code, codes in members.items():
            for agency_code in codes:
                centres[code].add(agencies[agency_code])
        total = Block()
        for block in agencies.values():
            total.add(block)
        return cls(day, agencies, total, centres, members)

    def as_dict(self) -> dict[str, Any]:
        centres = {code: {**block.as_dict(),
                          "agencies": {a: self.agencies[a].as_dict() for a in sorted(self.members[code])}}
                   for code, block in self.centres.items()}
        return {"day": self.day.isoformat(), "centre": self.centre.as_dict(), "centres": centres,
                "agencies": {code: block.as_dict() for code, block in sorted(self.agencies.items())}}
