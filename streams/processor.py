"""What a worker does with one record or one timer tick, without Faust: easy to test and to profile.

Per partition it keeps derived state only: the KPI counters, the running-period counters of the form
II.06a and a due-time heap. All are rebuilt from the dossier table when partitions are assigned, so they
move with the partitions. The invariant that makes counting exact across restarts: the counters hold
`contribution(state, state.evaluated_at)` (and `live_keys` at the same instant) for every dossier of the
partition, and every change subtracts exactly that before adding the new one.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, NamedTuple, cast

from dossiers.alerts import KIND_OF, Alert, AlertKind, alert_id
from dossiers.calendar import Timestamp, WorkingCalendar, to_timestamp
from dossiers.catalog import Catalog
from dossiers.events import EventRecord, InvalidEvent
from dossiers.index766 import Index766, sync_due
from dossiers.index766_live import live_keys as index_keys
from dossiers.index766_live import running_index
from dossiers.kpi import EMPTY, Contribution, Key, KpiCounters, contribution, shared_ends
from dossiers.lifecycle import DUPLICATE, STATUS_REFUSED, DossierState, apply, procedure_of
from dossiers.periods import Period, month_of
from dossiers.report_ii06a import KEYS as REPORT_KEYS
from dossiers.report_ii06a import (
    LiveKey,
    Report,
    keys_of,
    live_keys,
    refused_at_counter,
    running_report,
    whole_columns,
)
from dossiers.sla import Clock, Timeliness, reclassified, terms_of
from dossiers.validation import read_event
from dossiers.wire import AGENCY_HEADER

_HEAPPUSH: Final = heapq.heappush
"""Bound once (compiled, a static): `heapq.heappush` read the module's attribute at every evaluation."""
_RANK: Final = {None: 0, "due_soon": 1, "overdue": 2, "resolved_late": 3}


_KIND_TEXT: Final[dict[Timeliness, str]] = {timeliness: str(kind) for timeliness, kind in KIND_OF.items()}
"""`KIND_OF`'s alert kinds by value, made once: `str()` of a `StrEnum` member is a call (about 250
instructions), two to three per event (issue 19)."""


def _alert_kind(timeliness: Timeliness) -> str | None:
    return _KIND_TEXT.get(timeliness)


class DeadlineMark(NamedTuple):
    """A dossier entering (open=True) or leaving (open=False) the overdue or due-soon list (a named tuple,
    as `dossiers.report_ii06a.Window`)."""

    kind: str
    dossier: str
    agency: str
    procedure: str | None
    due_at: Timestamp
    open: bool
    late_seconds: int
    at: Timestamp


_TUPLE_NEW: Final = tuple.__new__


def deadline_mark(kind: str, dossier: str, agency: str, procedure: str | None, due_at: Timestamp,
                  opened: bool, late_seconds: int, at: Timestamp) -> DeadlineMark:
    """A `DeadlineMark`, built by `tuple.__new__` (C) rather than the named tuple's own `__new__`, which runs
    interpreted: about 3,700 instructions a mark from compiled code (issue 19). The same class and fields
    (tests/unit/test_partition_moves.py)."""
    return _TUPLE_NEW(DeadlineMark, (kind, dossier, agency, procedure, due_at, opened, late_seconds, at))


@dataclass(slots=True)
class Outcome:
    """Everything one record or tick produces; the adapter turns it into sends and points."""

    status: str
    """applied | duplicate | dead_letter | tick"""
    event: EventRecord | None
    occurred: Timestamp
    """The event's `occurred_at` in whole epoch seconds (0 without an event)."""
    error: InvalidEvent | None
    procedure_field: str | None
    channel: str | None
    alerts: list[Alert]
    deadlines: list[DeadlineMark]
    writes: list[tuple[str, bytes]]
    """Table writes held back until the adapter may save them: see `Processor.stage` and `Processor.save`."""

    def __init__(
        self, status: str = "tick", event: EventRecord | None = None, error: InvalidEvent | None = None,
        occurred: Timestamp = 0,
    ) -> None:
        # written out, not generated: mypyc compiles a class's own `__init__`, while the one `@dataclass`
        # generates runs interpreted (mypyc/mypyc#817); one per record (issue 19)
        self.status, self.event, self.error, self.occurred = status, event, error, occurred
        self.procedure_field = self.channel = None
        self.alerts, self.deadlines, self.writes = [], [], []


Live = tuple[tuple[LiveKey, ...], tuple[LiveKey, ...], tuple[int, ...]]
"""One dossier's keys of the running form II.06a, and of the running 766 index with their weights
(`dossiers.index766_live.WeightedKeys`)."""
NO_KEYS: Final[Live] = ((), (), ())

Held = tuple[object, ...]
"""What `Processor.held` keeps of a dossier, flat: (state bytes, the state decoded from them, number of KPI
keys, number of form II.06a keys, the clock's six fields (timeliness by value; all None for `EMPTY`), the
KPI keys, the form's keys, then the 766 keys, then their weights, as many). Apart from the state,
only atoms and tuples of strings, one level deep: the garbage collector untracks such tuples within a
collection or two, so they cost it next to nothing. Held as objects (`Contribution`, `Clock`, nested
tuples) they stayed tracked, reached the oldest generation and were traversed at every collection of it,
which ate the gain (docs/benchmarks.md, issue 19); the state object costs it less than decoding the bytes
again would."""
_HEAD: Final = 10
"""Items of a `Held` before the keys."""
_TIMELINESS: Final[dict[str, Timeliness]] = {t.value: t for t in Timeliness}


def pack_held(value: bytes, state: DossierState, held: Contribution, live: Live) -> Held:
    """A `Held` entry for the state bytes `value`, decoded: `state`, whose contribution is `held` and running
    keys `live`. A head of ten and four tuples joined by `+` (each a copy of item pointers): item by item
    into a list made it a call per item (about 3,000 instructions an entry), star expansions and
    `itertools.chain` more (issue 19)."""
    keys, report, index, weights = held.keys, live[0], live[1], live[2]
    head: tuple[object, ...]
    if held is EMPTY:
        head = (value, state, len(keys), len(report), None, None, None, None, None, None)
    else:
        c = held.clock
        head = (value, state, len(keys), len(report), None if c.timeliness is None else str(c.timeliness),
                c.due_at, c.paused, c.due_soon_at, c.late_seconds, c.next_change_at)
    return head + keys + report + index + weights


def unpack_held(entry: Held) -> tuple[DossierState, Contribution, Live]:
    """The inverse of `pack_held` (without the bytes): the same state object, equal contribution and keys;
    `EMPTY` itself."""
    kpi, report = cast(int, entry[2]), cast(int, entry[3])
    first = _HEAD + kpi
    at, size = first + report, len(entry)
    if (size - at) % 2:
        raise ValueError("a held entry's 766 keys and weights are as many")
    weights = at + (size - at) // 2
    live = (cast(tuple[LiveKey, ...], entry[first:at]), cast(tuple[LiveKey, ...], entry[at:weights]),
            cast(tuple[int, ...], entry[weights:]))
    state = cast(DossierState, entry[1])
    if entry[6] is None:  # `paused` is a bool in every clock but EMPTY's packing
        return state, EMPTY, live
    timeliness = cast(str | None, entry[4])
    clock = Clock(None if timeliness is None else _TIMELINESS[timeliness],
                      cast(Timestamp | None, entry[5]), cast(bool, entry[6]),
                      cast(Timestamp | None, entry[7]), cast(int, entry[8]), cast(Timestamp | None, entry[9]))
    return state, Contribution(cast(tuple[Key, ...], entry[_HEAD:first]), clock), live


def _add_weighted(counts: dict[LiveKey, int], keys: tuple[LiveKey, ...], weights: tuple[int, ...], start: int,
                  end: int, sign: int, floor: str) -> None:
    """Add `sign` times each weighted 766 key from `start` to `end` to `counts`; keys dated before `floor`
    are not kept."""
    for at in range(start, end):
        key = keys[at]
        if key[3] and key[3] < floor:
            continue
        n = counts.get(key, 0) + sign * weights[at]
        if n:
            counts[key] = n
        else:
            counts.pop(key, None)


def _add_report(counts: dict[LiveKey, int], keys: tuple[LiveKey, ...], start: int, end: int, sign: int,
                floor: str) -> None:
    """Add `sign` for each form II.06a key from `start` to `end` to `counts`: open dossiers' columns (c12,
    c13, which `running_report` sums whatever their date) undated, keys dated before `floor` not kept."""
    for at in range(start, end):
        key = keys[at]
        column = key[2]
        if column == "c12" or column == "c13":  # compared directly: `in` on a tuple is the generic protocol
            key = REPORT_KEYS.of(key[1], "").key(column)
        elif key[3] < floor:
            continue
        n = counts.get(key, 0) + sign
        if n:
            counts[key] = n
        else:
            counts.pop(key, None)


@dataclass(slots=True)
class PartitionView:
    """Derived state of one partition: KPI counters, form II.06a counters and the due-time heap."""

    counters: KpiCounters = field(default_factory=KpiCounters)
    due: list[tuple[int, str]] = field(default_factory=list)
    dossiers: int = 0
    report: dict[LiveKey, int] = field(default_factory=dict)
    """Sums of `live_keys` (open dossiers' keys undated), only dates >= `report_floor`: bounded memory."""
    index: dict[LiveKey, int] = field(default_factory=dict)
    """Weighted sums of the 766 index's `live_keys` (undated ones ""), only dates >= `report_floor`."""
    report_floor: str = ""
    """The first day of the previous reporting period ("" right after a rebuild: nothing dropped yet)."""

    def move(self, old: Live, new: Live) -> None:
        """Move a dossier's keys of both running figures (form II.06a and 766 index). Not compared first:
        the moves skip what both share, by identity, more cheaply than tuples compare by value."""
        self.move_report(old[0], new[0])
        self.move_index(old[1], old[2], new[1], new[2])

    def move_index(self, old: tuple[LiveKey, ...], old_weights: tuple[int, ...], new: tuple[LiveKey, ...],
                   new_weights: tuple[int, ...]) -> None:
        """Subtract a dossier's old weighted 766 keys, add its new ones (only those that differ, as
        `KpiCounters.move`: the same key with the same weight at the same place); dated before the floor:
        not kept."""
        shared_head, shared_tail = shared_ends(old, new)
        head = 0  # of those, as far as the weights agree too
        while head < shared_head and old_weights[head] == new_weights[head]:
            head += 1
        tail = 0
        while (tail < shared_tail
               and old_weights[len(old) - 1 - tail] == new_weights[len(new) - 1 - tail]):
            tail += 1
        # the two sides by two calls, not a loop over ((old, -1), (new, 1)): three tuples and an iterator
        _add_weighted(self.index, old, old_weights, head, len(old) - tail, -1, self.report_floor)
        _add_weighted(self.index, new, new_weights, head, len(new) - tail, 1, self.report_floor)

    def move_report(self, old: tuple[LiveKey, ...], new: tuple[LiveKey, ...]) -> None:
        """Subtract a dossier's old keys, add its new ones (only those that differ); keys dated before the
        floor are not kept."""
        head, tail = shared_ends(old, new)
        _add_report(self.report, old, head, len(old) - tail, -1, self.report_floor)
        _add_report(self.report, new, head, len(new) - tail, 1, self.report_floor)

    def bound_report(self, floor: str) -> None:
        """Move the floor up to `floor` (never down) and drop the keys dated before it."""
        if floor <= self.report_floor:
            return
        self.report_floor = floor
        for counts in (self.report, self.index):
            for key in [k for k in counts if k[3] and k[3] < floor]:
                del counts[key]


def _mark(outcome: Outcome, state: DossierState, agency: str, clock_: Clock, opened: bool,
          now: Timestamp) -> None:
    """The deadline mark of one end of a clock's change (closed for the clock before, opened for the one
    after), when that end is overdue or due soon."""
    kind = _alert_kind(clock_.timeliness) if clock_.timeliness else None
    if kind in ("overdue", "due_soon") and clock_.due_at is not None:
        outcome.deadlines.append(
            deadline_mark(kind, state.dossier, agency, state.procedure, clock_.due_at, opened,
                          clock_.late_seconds, now)
        )


class Processor:
    """Validates, applies and classifies; keeps one PartitionView per assigned partition."""

    def __init__(
        self,
        catalog: Catalog,
        calendar: WorkingCalendar,
        store: MutableMapping[str, bytes],
        alert_backfill_seconds: int | None = None,
        max_future_seconds: int | None = 3600,
        calendar_periods: bool = False,
        sync_late_seconds: int | None = None,
        held_limit: int = 20_000,
        shortcut: bool = True,
    ):
        self.catalog = catalog
        self.calendar = calendar
        self.store = store
        self.alert_backfill_seconds = alert_backfill_seconds
        """Events older than this (a backfill, a replay of history) update state silently: no alert storm."""
        self.staged: dict[str, bytes] = {}
        """Staged but not yet saved states, read before the table.

        Table writes are never made by `handle` or `tick`: they are held in the outcome, the adapter
        stages them (visible to the next records at once) and saves them to the table only when the
        outcome's alerts are delivered and its InfluxDB points written (`streams.checkpoint`). A saved
        state is a changelog record, and after a crash a record whose state is saved is a duplicate
        that emits nothing: saving first would lose its alerts and points."""
        self.max_future_seconds = max_future_seconds
        """An event dated further ahead of the centre's clock is refused: a wrong clock at the source
        would otherwise stop SLA clocks (a future `paused`) or hide dossiers from today's counts."""
        self.views: dict[int, PartitionView] = {}
        self.sync_late_seconds = sync_late_seconds
        """Working seconds after its receipt by which a dossier should be synced to the national portal:
        a `sync_late` alert when it is not (none = no such alerts; `dossiers.index766.sync_due`)."""
        self.calendar_periods = calendar_periods
        """Running-period counters by calendar months instead of the 15th-14th cut-off months."""
        self._periods: tuple[str, Period, str] | None = None
        """(local day, its reporting month, the previous month's first day) of the last instant asked."""
        self.held: dict[str, Held] = {}
        """What the views hold for a dossier, by key: (the state bytes it was computed from, the state they
        decode to, its KPI contribution and running-figure keys at the state's `evaluated_at`, packed: see
        `Held`), for the most recently written dossiers (at most `held_limit`; past it, the least recently
        written quarter is dropped). Only a cache: an entry is used when the loaded bytes equal the ones it
        was computed from (the contribution is a function of the state, `evaluated_at` included, and of the
        catalog and calendar), else the state is decoded and its contribution recomputed, so it can never
        disagree with the table, after a crash, a rebuild or a rebalance; an entry leaves the cache when it
        is used (`_take`). About 2.9 KB per entry over the simulator's traffic (1.6 KB before the state
        object was kept, 2026-12-07), plus the state bytes where the table does not share them
        (docs/benchmarks.md, issue 19): the default bound costs at most about 60 MB."""
        self.held_limit = held_limit
        self.shortcut = shortcut
        """Whether an event that changes nothing the figures read (`DossierState.figure_inputs`: a
        `returned`, a `transferred`) reuses the held contribution and keys, its clock only moved to the
        event's instant (`dossiers.sla.reclassified`), instead of computing them again (issue 19: a
        `returned` cost 64 µs, a sixth of the simulator's events). Off: every event computes them, which
        the tests compare with (tests/unit/test_figure_inputs.py)."""

    def view(self, partition: int) -> PartitionView:
        found = self.views.get(partition)
        if found is None:
            found = self.views[partition] = PartitionView()
        return found

    # -- records ---------------------------------------------------------------------------------

    def handle(self, partition: int, raw: bytes, headers: Mapping[str, bytes], now: Timestamp) -> Outcome:
        try:
            event = read_event(raw, self.catalog)
            identity = headers.get(AGENCY_HEADER)
            if identity is not None and identity.decode("utf-8", "replace") != event.agency:
                raise InvalidEvent(
                    f"agency: {event.agency!r} does not match the producing agency's identity "
                    f"{identity.decode('utf-8', 'replace')!r}",
                    "agency_mismatch",
                )
            occurred = to_timestamp(event.occurred_at)
            ahead = occurred - now
            if self.max_future_seconds is not None and ahead > self.max_future_seconds:
                raise InvalidEvent(
                    f"occurred_at: {event.occurred_at.isoformat()} is {ahead} s ahead of the centre's clock "
                    f"(more than {self.max_future_seconds} s): check the sending system's clock",
                    "future_event",
                )
        except InvalidEvent as exc:
            return Outcome("dead_letter", error=exc)
        key = event.dossier
        stored = self.load(key)
        view = self.view(partition)
        if stored is None:
            state = DossierState(key)
            view.dossiers += 1
            old = EMPTY
            old_live = NO_KEYS
        else:
            state, old, old_live = self._take(key, stored)
        inputs = state.figure_inputs() if self.shortcut and stored is not None else None
        if apply(state, event, occurred) is DUPLICATE:
            # A record seen again, usually after a crash: its state may be saved while its InfluxDB
            # points or a changelog write were lost. Save the state once more and re-emit its deadline
            # mark (idempotent), so a replay repairs instead of skipping. Its throughput point is not
            # re-emitted: its tags may differ from the first time (see docs/faults.md).
            outcome = Outcome("duplicate", event=event, occurred=occurred)
            self._write(outcome, key, stored or state.to_bytes())
            kind = _alert_kind(old.clock.timeliness) if old.clock.timeliness else None
            if kind in ("overdue", "due_soon") and old.clock.due_at is not None:
                outcome.deadlines.append(
                    deadline_mark(
                        kind,
                        key,
                        state.agency or "",
                        state.procedure,
                        old.clock.due_at,
                        True,
                        old.clock.late_seconds,
                        state.evaluated_at or now,
                    )
                )
            self._describe(outcome, state, event)
            return outcome
        outcome = Outcome("applied", event=event, occurred=occurred)
        age = now - occurred
        quiet = self.alert_backfill_seconds is not None and age > self.alert_backfill_seconds
        after = state.figure_inputs() if inputs is not None else None
        same = after is not None and after == inputs
        # the clock's inputs alone unchanged (a `paid`, a `rated`): the held clock, moved to `now`
        timed = inputs is not None and after is not None and (
            same or (after[0] == inputs[0] and after[1] == inputs[1]))
        new, new_live = self._evaluate(view, state, old, old_live, now, outcome, quiet, same, timed)
        self._hold(key, self._write(outcome, key, state.to_bytes()), state, new, new_live)
        self._describe(outcome, state, event)
        return outcome

    def _describe(self, outcome: Outcome, state: DossierState, event: EventRecord) -> None:
        """The labels of the event's throughput point: the dossier's procedure field and channel."""
        procedure = procedure_of(self.catalog, state.agency or event.agency, state.procedure)
        outcome.procedure_field = terms_of(procedure, self.calendar).field if procedure else None
        outcome.channel = state.channel

    # -- timers ----------------------------------------------------------------------------------

    def tick(self, partition: int, now: Timestamp) -> Outcome:
        """Re-evaluate the dossiers whose next SLA change is due: O(fired), never a scan."""
        view = self.views.get(partition)
        outcome = Outcome()
        if view is None:
            return outcome
        fired: set[str] = set()
        while view.due and view.due[0][0] <= now:
            fired.add(heapq.heappop(view.due)[1])
        for key in sorted(fired):
            stored = self.load(key)
            if stored is None:
                continue
            state, old, old_live = self._take(key, stored)
            before = (state.evaluated_at, state.alerted)
            new, new_live = self._evaluate(view, state, old, old_live, now, outcome, same=self.shortcut)
            if (state.evaluated_at, state.alerted) != before:
                self._hold(key, self._write(outcome, key, state.to_bytes()), state, new, new_live)
        return outcome

    @staticmethod
    def _write(outcome: Outcome, key: str, value: bytes) -> bytes:
        outcome.writes.append((key, value))
        return value

    def _take(self, key: str, stored: bytes) -> tuple[DossierState, Contribution, Live]:
        """The dossier whose stored state is `stored`, decoded, and what the views hold for it. An entry
        held for these bytes gives its state object instead of decoding them (4 µs for a resolved dossier's
        state; issue 19), and leaves the cache: the caller changes the state in place and holds it again
        with the bytes it writes, so a state changed and not written (a failure, a duplicate) is never
        taken for the bytes it came from."""
        held = self.held
        found = held.get(key)  # `get` and `del`, not `pop(key, None)`: a call by name, about 150 more
        if found is not None:
            del held[key]
            if found[0] is stored or found[0] == stored:
                return unpack_held(found)
        state = DossierState.from_bytes(stored)
        old = self._contribution(state, state.evaluated_at)
        return state, old, self._live(state, state.evaluated_at, old)

    def _hold(self, key: str, value: bytes, state: DossierState, held: Contribution, live: Live) -> None:
        """Remember what the views now hold for `key`, computed for `state`, whose bytes are `value`."""
        entries = self.held
        if key in entries:  # taken out by `_take` already, most of the time
            del entries[key]
        entries[key] = pack_held(value, state, held, live)
        if len(entries) > self.held_limit:
            # the least recently written quarter goes at once, into a new dict: deleting the first entry
            # one at a time leaves holes at the front of the table that every `next(iter(...))` scans
            # again (about 12 µs per event at 20,000 entries)
            keep = self.held_limit * 3 // 4
            self.held = dict(itertools.islice(entries.items(), len(entries) - keep, None))

    def load(self, key: str) -> bytes | None:
        staged = self.staged.get(key)
        return staged if staged is not None else self.store.get(key)

    def stage(self, outcome: Outcome) -> list[tuple[str, bytes]]:
        """Make the writes an outcome held back visible to the next records; returns them for `save`."""
        writes, outcome.writes = outcome.writes, []
        for key, value in writes:
            self.staged[key] = value
        return writes

    def save(self, writes: Iterable[tuple[str, bytes]]) -> None:
        """Write staged states to the table (in order: a later stage of a key stays staged)."""
        for key, value in writes:
            self.store[key] = value
            if self.staged.get(key) is value:
                del self.staged[key]

    def next_due(self, partition: int) -> Timestamp | None:
        view = self.views.get(partition)
        return view.due[0][0] if view and view.due else None

    # -- rebalance -------------------------------------------------------------------------------

    def rebuild(
        self,
        partitions: Iterable[int],
        items: Iterable[tuple[str | bytes, bytes]],
        partition_of: Callable[[str], int],
    ) -> None:
        """Recompute the views of `partitions` from the table and the staged states (after an
        assignment); staged states of other partitions are discarded."""
        wanted = set(partitions)
        self.held = {}
        # staged states of partitions gone to another worker are dropped: it re-consumes their records
        self.staged = {key: value for key, value in self.staged.items() if partition_of(key) in wanted}
        self.views = {p: PartitionView() for p in wanted}
        saved = (
            # a RocksDB-backed table yields keys as the bytes it stored; the memory store keeps str
            (raw_key.decode("utf-8") if isinstance(raw_key, bytes) else raw_key, stored)
            for raw_key, stored in items
        )
        staged = self.staged
        merged = itertools.chain(((k, v) for k, v in saved if k not in staged), list(staged.items()))
        for key, stored in merged:
            partition = partition_of(key)
            if partition not in wanted:
                continue
            view = self.views[partition]
            state = DossierState.from_bytes(stored)
            held = self._contribution(state, state.evaluated_at)
            view.counters.add(held.keys)
            view.move(NO_KEYS, self._live(state, state.evaluated_at, held))
            view.dossiers += 1
            if held.clock.next_change_at is not None:
                view.due.append((held.clock.next_change_at, key))
            due = self._sync_due(state)
            if due is not None and state.evaluated_at is not None and due > state.evaluated_at:
                view.due.append((due, key))
        for view in self.views.values():
            heapq.heapify(view.due)

    # -- internals -------------------------------------------------------------------------------

    def _contribution(self, state: DossierState, at: Timestamp | None) -> Contribution:
        return EMPTY if at is None else contribution(state, self.catalog, self.calendar, at)

    def _live(self, state: DossierState, at: Timestamp | None, held: Contribution) -> Live:
        """The running figures' keys at `at`, or at the receipt when it is later: an event ahead of the
        worker's clock (up to `max_future_seconds`) is counted at once, not lost until the dossier's next
        change. `held` is the KPI contribution at `at`: its SLA clock is reused (most of the cost)."""
        if at is None:
            return NO_KEYS
        known = None if held is EMPTY else held.clock
        if state.received is not None and state.received[0] > at:
            at, known = state.received[0], None
        turned_away = state.status is STATUS_REFUSED and refused_at_counter(state, self.calendar)
        if state.received is None or turned_away:
            return live_keys(state, self.catalog, self.calendar, at, known), (), ()
        names = whole_columns(state, self.catalog, self.calendar, at, known)  # shared by both figures
        index, weights = index_keys(state, self.catalog, self.calendar, at, known, names)
        return keys_of(state, self.calendar, names), index, weights

    def period(self, now: Timestamp) -> tuple[Period, str]:
        """The reporting month running at `now` and the first day of the one before it (the floor of the
        running-period counters), computed once per local day."""
        day = self.calendar.day_key(now)
        found = self._periods
        if found is None or found[0] != day:
            current = month_of(self.calendar.local_date(now), self.calendar_periods)
            previous = month_of(current.first - timedelta(days=1), self.calendar_periods)
            found = self._periods = (day, current, previous.first.isoformat())
        return found[1], found[2]

    def running(self, partition: int, now: Timestamp) -> Report | None:
        """The form II.06a of the reporting month running at `now`, from one partition's counters (a
        partition's rows add up with the others'; `streams.influx.ii06a_point`). Drops the keys the
        floor has passed even when no event came (a quiet partition stays bounded too)."""
        view = self.views.get(partition)
        if view is None:
            return None
        period, floor = self.period(now)
        view.bound_report(floor)
        return running_report(view.report, self.catalog, self.calendar, period, now)

    def running_index(self, partition: int, now: Timestamp) -> Index766 | None:
        """The 766 index of the reporting month running at `now`, from one partition's counters (the
        partitions' tallies add up: `streams.influx.i766_points`)."""
        view = self.views.get(partition)
        if view is None:
            return None
        period, floor = self.period(now)
        view.bound_report(floor)
        return running_index(view.index, self.catalog, self.calendar, period, now)

    def _evaluate(
        self,
        view: PartitionView,
        state: DossierState,
        old: Contribution,
        old_live: Live,
        now: Timestamp,
        outcome: Outcome,
        quiet: bool = False,
        same: bool = False,
        timed: bool = False,
    ) -> tuple[Contribution, Live]:
        """Move the views from what the dossier contributed (`old`, `old_live`) to what it contributes at
        `now`, and return the latter (what the views hold for it once `state.evaluated_at` is `now`).
        `same`: nothing the figures read has changed since `old` was computed, at `state.evaluated_at`;
        `timed`: nothing its SLA clock reads has (`DossierState.figure_inputs`), so `old`'s clock moved to
        `now` is the clock at `now` (`dossiers.sla.reclassified`), not computed again."""
        view.bound_report(self.period(now)[1])
        moved = self._moved(state, old, old_live, now) if same else None
        if moved is not None:
            new, new_live = moved
        else:
            reuse = timed and old is not EMPTY and state.evaluated_at is not None
            known = reclassified(old.clock, now) if reuse else None
            new = contribution(state, self.catalog, self.calendar, now, known)
            if new.keys != old.keys:
                view.counters.move(old.keys, new.keys)
            new_live = self._live(state, now, new)
            view.move(old_live, new_live)
        since, state.evaluated_at = state.evaluated_at, now
        if new.clock.next_change_at is not None:
            _HEAPPUSH(view.due, (new.clock.next_change_at, state.dossier))
        self._transitions(state, old.clock, new.clock, now, outcome, quiet)
        self._sync_check(view, state, since, now, outcome, quiet)
        return new, new_live

    @staticmethod
    def _moved(state: DossierState, old: Contribution, old_live: Live,
               now: Timestamp) -> tuple[Contribution, Live] | None:
        """The contribution and keys at `now` of a dossier whose figures' inputs are those `old` and
        `old_live` were computed from at `state.evaluated_at`, when time alone changes neither its keys nor
        its running figures' keys (None when it may: compute them). Both read the clock only through its
        timeliness and pause, and read the instant only through the clock: a receipt ahead of the
        instant is counted at the receipt (`_live`), whose timeliness is that of both ends when they
        agree, since a clock only moves forward (within, due soon, overdue)."""
        if state.evaluated_at is None:
            return None
        clock_now = reclassified(old.clock, now)
        if clock_now.timeliness is not old.clock.timeliness:
            return None
        return (old if clock_now == old.clock else Contribution(old.keys, clock_now)), old_live

    def _sync_due(self, state: DossierState) -> Timestamp | None:
        late_after = self.sync_late_seconds
        return None if late_after is None else sync_due(state, self.calendar, late_after)

    def _sync_check(self, view: PartitionView, state: DossierState, since: Timestamp | None, now: Timestamp,
                    outcome: Outcome, quiet: bool) -> None:
        """A `sync_late` alert the first time a dossier is seen past its sync deadline unsynced; until then a
        timer at the deadline, so it comes even when no event does."""
        due = self._sync_due(state)
        if due is None:
            return
        if due > now:
            _HEAPPUSH(view.due, (due, state.dossier))
            return
        if quiet or (since is not None and since >= due):
            return  # backfill, or already past the deadline at an earlier evaluation (alerted then)
        agency = state.agency or ""
        procedure = procedure_of(self.catalog, agency, state.procedure)
        kind = AlertKind.SYNC_LATE.value
        outcome.alerts.append(
            Alert(alert_id(state.dossier, kind, due), kind, state.dossier, agency, state.procedure,
                  procedure.field if procedure else None, due, now,
                  self.calendar.to_work(now) - self.calendar.to_work(due), state.appointment)
        )

    def _transitions(
        self, state: DossierState, before: Clock, after: Clock, now: Timestamp, outcome: Outcome, quiet: bool
    ) -> None:
        agency = state.agency or ""
        # both ends written out, not a loop over ((before, False), (after, True)): three tuples per event
        if before.timeliness != after.timeliness or before.due_at != after.due_at:
            _mark(outcome, state, agency, before, False, now)
            _mark(outcome, state, agency, after, True, now)
        kind = _alert_kind(after.timeliness) if after.timeliness else None
        if kind is None or _RANK[kind] <= _RANK.get(state.alerted, 0):
            return
        if quiet:
            state.alerted = kind  # known, shown on the wall, but not pushed to supervisors
            return
        procedure = procedure_of(self.catalog, agency, state.procedure)
        outcome.alerts.append(
            Alert(
                alert_id(state.dossier, kind, after.due_at),
                kind,
                state.dossier,
                agency,
                state.procedure,
                procedure.field if procedure else None,
                after.due_at,
                now,
                after.late_seconds,
                state.appointment,
            )
        )
        state.alerted = kind
