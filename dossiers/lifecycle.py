"""Lifecycle of one dossier (vòng đời hồ sơ): the facts its events establish, merged order-free.

Events arrive late, twice, or out of order (a `resolved` before its `received`). So the state is not
a cursor moved by transitions but a set of facts, each merged by a commutative, idempotent rule
(earliest `received`, latest `rated`, the union of pause marks, ...). Any permutation of the same
events therefore gives the same state, and everything else (status, SLA clock, KPI) is derived from it.
Impossible combinations are reported as problems, never raised.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import msgspec

from dossiers.calendar import to_timestamp
from dossiers.catalog import Catalog, Procedure
from dossiers.events import EventRecord, EventType

Mark = tuple[int, int]
"""(occurred_at epoch seconds, event-id hash): totally ordered, so 'earliest' never depends on arrival."""


# Imported names as compiled statics: mypyc reads an imported name from the module's dict at each use
_BISECT_LEFT: Final = bisect_left
_INSORT: Final = insort
_DATETIME: Final = datetime

_SEEN: Final[list[tuple[object, dict[str, dict[str, Procedure]]]]] = [(None, {})]
"""The last catalog `procedure_of` was asked about, with its procedures by agency and code in plain dicts.
One item swapped whole, so a thread never reads one catalog's table under another's name; in a list, not a
module variable assigned again, which compiled code would read from the module's dict (issue 19)."""

_LAST_ASKED: Final[list[tuple[object, str, str, Procedure | None]]] = [(None, "", "", None)]
"""The last question `procedure_of` answered (catalog, agency, code) and its answer: the same dossier's
procedure is asked about four to five times per event (about 200 instructions each, from the table), the
same objects each time (its state's fields). One tuple swapped whole, as `_SEEN`."""


def procedure_of(catalog: Catalog, agency: str | None, code: str | None) -> Procedure | None:
    """The catalog's procedure `code` of `agency` (None if either is unknown or missing): what
    `Catalog.procedure` returns, compiled with the core that asks it several times per event (a call
    into the interpreted catalog cost 3 % of the core, issue 19). From plain dicts built once per catalog
    (a worker has one): the catalog's own are behind two attribute reads of pydantic models, each through
    their `__getattr__` hook (about 1,200 instructions a lookup, 2.4 % of the core)."""
    if not agency or not code:
        return None
    last = _LAST_ASKED[0]
    if last[2] is code and last[1] is agency and last[0] is catalog:
        return last[3]
    by_code = procedure_table(catalog).get(agency)
    found = None if by_code is None else by_code.get(code)
    _LAST_ASKED[0] = (catalog, agency, code, found)
    return found


def procedure_table(catalog: Catalog) -> dict[str, dict[str, Procedure]]:
    """The catalog's procedures by agency code, then procedure code (every agency, with or without
    procedures), in plain dicts built once per catalog: what `procedure_of` and the stream's catalog check
    read. Not to be changed by the caller."""
    seen = _SEEN[0]
    if seen[0] is not catalog:
        agencies = catalog.agency_by_code.items()
        seen = (catalog, {key: dict(found.procedure_by_code) for key, found in agencies})
        _SEEN[0] = seen
    return seen[1]


_BLAKE2B_8: Final = hashlib.blake2b(digest_size=8)
"""BLAKE2b with an 8-byte digest, fed nothing: never updated itself, only copied. A copy fed the id gives
the digest `hashlib.blake2b(id, digest_size=8)` gives, for about 500 instructions less per event: the
constructor parses its thirteen keyword parameters and sets up the parameter block at every call (issue
19; tests/unit/test_event_hash.py holds the two equal). The methods read as statics of their type instead
of by name saved nothing."""
_FROM_BYTES: Final = int.from_bytes
"""Bound once (compiled, a static): read as `int.from_bytes`, each call looked it up by name (issue 19)."""


def event_hash(event_id: str) -> int:
    """A stable 63-bit digest of an event id (kept instead of the id to bound memory per dossier): the first
    eight bytes of BLAKE2b-64 of its UTF-8, big-endian, shifted right by one. Stored in every state: it may
    not change."""
    hasher = _BLAKE2B_8.copy()
    hasher.update(event_id.encode("utf-8"))
    return _FROM_BYTES(hasher.digest(), "big") >> 1


class Status(StrEnum):
    """Where a dossier stands (trạng thái)."""

    UNKNOWN = "unknown"  # events seen, but neither `received` nor `refused` yet
    OPEN = "open"  # đang giải quyết
    RESOLVED = "resolved"  # đã có kết quả
    REFUSED = "refused"  # từ chối tiếp nhận
    WITHDRAWN = "withdrawn"  # rút hồ sơ


class PauseKind(StrEnum):
    SUPPLEMENT = "s"  # yêu cầu bổ sung -> nhận bổ sung
    PAUSE = "p"  # tạm dừng -> tiếp tục


_PAUSE_KINDS: Final = tuple(PauseKind)


_PAUSE_START: Final = {
    EventType.SUPPLEMENT_REQUESTED: PauseKind.SUPPLEMENT, EventType.PAUSED: PauseKind.PAUSE,
}
_PAUSE_END: Final = {EventType.SUPPLEMENT_RECEIVED: PauseKind.SUPPLEMENT, EventType.RESUMED: PauseKind.PAUSE}


class Applied(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


# The members the core compares with on every event, as compiled constants. mypyc reads `Status.OPEN` as
# an attribute of the class, through the slot Python 3.11's `EnumType.__getattr__` gives every enum class
# (about 550 instructions a read, 3 % of the core); a `Final` name is a C static (issue 19).
STATUS_UNKNOWN: Final = Status.UNKNOWN
STATUS_OPEN: Final = Status.OPEN
STATUS_RESOLVED: Final = Status.RESOLVED
STATUS_REFUSED: Final = Status.REFUSED
STATUS_WITHDRAWN: Final = Status.WITHDRAWN
APPLIED: Final = Applied.APPLIED
DUPLICATE: Final = Applied.DUPLICATE
_RECEIVED: Final = EventType.RECEIVED
_REFUSED: Final = EventType.REFUSED
_WITHDRAWN: Final = EventType.WITHDRAWN
_RESOLVED: Final = EventType.RESOLVED
_RETURNED: Final = EventType.RETURNED
_EXTENDED: Final = EventType.EXTENDED
_RATED: Final = EventType.RATED
_PAID: Final = EventType.PAID
_TRANSFERRED: Final = EventType.TRANSFERRED
_SYNCED: Final = EventType.SYNCED
_COMPLAINED: Final = EventType.COMPLAINED


@dataclass(slots=True)
class DossierState:
    """Everything the stream keeps about one dossier; small on purpose (one per open dossier)."""

    dossier: str
    agency: str | None = None
    procedure: str | None = None
    channel: str | None = None
    received: Mark | None = None
    explicit_due: int | None = None
    refused: Mark | None = None
    withdrawn: Mark | None = None
    resolved: Mark | None = None
    outcome: str | None = None
    returned: Mark | None = None
    extended: Mark | None = None
    appointment: int | None = None
    rated: Mark | None = None
    rating: str | None = None
    paid: Mark | None = None
    paid_online: bool = False
    transfers: int = 0
    pauses: list[tuple[int, str, bool]] = field(default_factory=list)
    """(occurred_at, kind, is_start), kept sorted; paired into intervals by the SLA clock."""
    seen: list[int] = field(default_factory=list)
    """Hashes of applied event ids: duplicates are counted once."""
    conflicts: int = 0
    """Extra `received` events with other ids: a dossier is received once."""
    agency_key: tuple[int, int, int] | None = None
    """Which event set `agency`: a `received` beats others, then the earliest mark (order-free)."""
    evaluated_at: int | None = None
    """Stream bookkeeping, not a fact: the instant of the contribution the KPI counters hold."""
    alerted: str | None = None
    """Stream bookkeeping, not a fact: the last timeliness an alert was raised for."""
    extensions: int = 0
    """Distinct `extended` events: the appointment may be rescheduled once (Decree 61/2018)."""
    explicit_due_day: str | None = None
    """A date-only appointment on the receipt (ISO date), classified by date; else `explicit_due`.
    Last in the record so that states stored before it existed still decode."""
    # -- the 766 index (dossiers/index766.py); after every older field, for the same reason ----------
    synced: Mark | None = None
    """The earliest `synced` (đồng bộ lên Cổng DVCQG): a dossier synced again stays synced since then."""
    digitised: bool = False
    """A `received` said its components were digitised (số hóa thành phần hồ sơ); true once any did."""
    e_result: bool = False
    """A `resolved` said the result is electronic (kết quả điện tử); true once any did."""
    complaints: int = 0
    """Distinct `complained` events (phản ánh, kiến nghị)."""

    def __init__(
        self,
        dossier: str,
        agency: str | None = None,
        procedure: str | None = None,
        channel: str | None = None,
        received: Mark | None = None,
        explicit_due: int | None = None,
        refused: Mark | None = None,
        withdrawn: Mark | None = None,
        resolved: Mark | None = None,
        outcome: str | None = None,
        returned: Mark | None = None,
        extended: Mark | None = None,
        appointment: int | None = None,
        rated: Mark | None = None,
        rating: str | None = None,
        paid: Mark | None = None,
        paid_online: bool = False,
        transfers: int = 0,
        pauses: list[tuple[int, str, bool]] | None = None,
        seen: list[int] | None = None,
        conflicts: int = 0,
        agency_key: tuple[int, int, int] | None = None,
        evaluated_at: int | None = None,
        alerted: str | None = None,
        extensions: int = 0,
        explicit_due_day: str | None = None,
        synced: Mark | None = None,
        digitised: bool = False,
        e_result: bool = False,
        complaints: int = 0,
    ) -> None:
        # written out, not generated: mypyc compiles a class's own `__init__`, while the one `@dataclass`
        # generates runs interpreted (mypyc/mypyc#817); one per record, from `from_bytes` (issue 19).
        # The fields in order, with their defaults (`pauses`, `seen`: a new list): checked against the
        # dataclass's fields by tests/unit/test_lifecycle.py
        self.dossier = dossier
        self.agency = agency
        self.procedure = procedure
        self.channel = channel
        self.received = received
        self.explicit_due = explicit_due
        self.refused = refused
        self.withdrawn = withdrawn
        self.resolved = resolved
        self.outcome = outcome
        self.returned = returned
        self.extended = extended
        self.appointment = appointment
        self.rated = rated
        self.rating = rating
        self.paid = paid
        self.paid_online = paid_online
        self.transfers = transfers
        self.pauses = [] if pauses is None else pauses
        self.seen = [] if seen is None else seen
        self.conflicts = conflicts
        self.agency_key = agency_key
        self.evaluated_at = evaluated_at
        self.alerted = alerted
        self.extensions = extensions
        self.explicit_due_day = explicit_due_day
        self.synced = synced
        self.digitised = digitised
        self.e_result = e_result
        self.complaints = complaints

    # -- derived -------------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        if self.received is None:  # refused at the counter, or its `received` has not arrived (yet)
            return STATUS_REFUSED if self.refused is not None else STATUS_UNKNOWN
        refused, withdrawn, resolved = self.refused, self.withdrawn, self.resolved
        if refused is None and withdrawn is None:  # the usual cases first (read on every evaluation)
            return STATUS_OPEN if resolved is None else STATUS_RESOLVED
        ends = [(m, s) for m, s in ((refused, STATUS_REFUSED), (withdrawn, STATUS_WITHDRAWN),
                                     (resolved, STATUS_RESOLVED)) if m is not None]
        return min(ends)[1]

    @property
    def received_at(self) -> int | None:
        return self.received[0] if self.received else None

    @property
    def resolved_at(self) -> int | None:
        return self.resolved[0] if self.resolved else None

    def closed_at(self) -> int | None:
        """When the dossier left the open queue (resolved, refused or withdrawn), if it did."""
        refused, withdrawn, resolved = self.refused, self.withdrawn, self.resolved
        if refused is None and withdrawn is None:  # the usual cases first (read several times per event)
            return None if resolved is None else resolved[0]
        ends = [m[0] for m in (refused, withdrawn, resolved) if m is not None]
        return min(ends)

    def supplement_requests(self) -> list[int]:
        """The start of each supplement wait (yêu cầu bổ sung), in time order.

        A request re-sent while the citizen has not answered yet (a new id, no `supplement_received`
        between) is the same wait, as the SLA clock pairs them; so this counts requests the citizen saw.
        """
        if not self.pauses:
            return []
        pairs, open_starts, _ = _pair(self, PauseKind.SUPPLEMENT)
        return sorted([start for start, _ in pairs] + open_starts)

    def awaiting_supplement_since(self) -> int | None:
        """When the still-unanswered supplement request started, if one is open."""
        if not self.pauses:
            return None
        open_starts = _pair(self, PauseKind.SUPPLEMENT)[1]
        return open_starts[0] if open_starts else None

    def problems(self) -> list[str]:
        """Impossible combinations of facts, in words an operator can act on. Order-free."""
        found: list[str] = []
        if self.received is None and self.refused is None:
            found.append("no received event (yet)")
        terminals = [name for name, m in (("refused", self.refused), ("withdrawn", self.withdrawn),
                                          ("resolved", self.resolved)) if m is not None]
        if len(terminals) > 1:
            found.append(f"closed more than once: {' and '.join(terminals)}")
        if self.received and self.resolved and self.resolved[0] < self.received[0]:
            found.append("resolved before it was received")
        if self.returned and (self.resolved is None or self.returned[0] < self.resolved[0]):
            found.append("returned without (or before) a result")
        for kind in _PAUSE_KINDS:
            if _pair(self, kind)[2]:  # an end with no earlier start: the clock ignores it
                found.append(f"{'supplement_received' if kind is PauseKind.SUPPLEMENT else 'resumed'}"
                             " without a matching start")
        if self.conflicts:
            found.append(f"{self.conflicts} conflicting event(s)")
        if self.extensions > 1:
            found.append("rescheduled more than once")
        return found

    def figure_inputs(self) -> tuple[tuple[object, ...], ...]:
        """What the derived figures read of the state (its KPI contribution, its SLA clock, its keys of the
        running II.06a and 766 figures), as a value: equal before and after an event that changed none of
        it, such as a `returned` or a `transferred` (`UNREAD_BY_FIGURES`). Time apart, such an event
        leaves every figure as it was (`streams.processor.Processor`'s short cut). In three parts: what the
        SLA clock reads (`READ_BY_THE_CLOCK`), the pauses (read by the clock too) and the rest; an event
        that changes only the rest (a `paid`, a `rated`, a `synced`) leaves the clock as it was, time
        apart. Typed as a tuple of any length: mypyc keeps a fixed-length tuple unboxed, as a C struct, and
        builds a new tuple object from it at every comparison and slice (six per event; issue 19)."""
        # the fields written out, not read by `attrgetter`s: compiled, each is a direct read (twice per
        # event, 1 µs as `attrgetter`s; tests/unit/test_figure_inputs.py checks these are exactly the fields
        # of `READ_BY_THE_CLOCK` and the others not in `UNREAD_BY_FIGURES`, in the order of the fields)
        return (
            (self.agency, self.procedure, self.received, self.explicit_due, self.refused, self.withdrawn,
             self.resolved, self.explicit_due_day),
            tuple(self.pauses),
            (self.dossier, self.channel, self.rating, self.paid, self.paid_online, self.extensions,
             self.synced, self.digitised, self.e_result, self.complaints),
        )

    # -- compact codec (the stream's table stores bytes) ---------------------------------------

    def row(self) -> tuple[object, ...]:
        """Every field, in the order of the fields: what the stored forms hold. Written out rather than read
        by an `attrgetter`: compiled, each is a direct read (about 0.5 µs less per stored state; a test
        holds it to the fields)."""
        return (self.dossier, self.agency, self.procedure, self.channel, self.received, self.explicit_due,
                self.refused, self.withdrawn, self.resolved, self.outcome, self.returned, self.extended,
                self.appointment, self.rated, self.rating, self.paid, self.paid_online, self.transfers,
                self.pauses, self.seen, self.conflicts, self.agency_key, self.evaluated_at, self.alerted,
                self.extensions, self.explicit_due_day, self.synced, self.digitised, self.e_result,
                self.complaints)

    def ended_at(self, at: int) -> DossierState:
        """A shallow copy whose only end is a result at `at`, neither refused nor withdrawn: how forms II.06a
        and the 766 index time a withdrawal, a later refusal or a pending supplement request. Written out:
        `dataclasses.replace` runs interpreted, about 68,000 instructions a copy (issue 19); a test holds it
        to `replace`."""
        return DossierState(
            self.dossier, self.agency, self.procedure, self.channel, self.received, self.explicit_due,
            None, None, (at, 0), self.outcome, self.returned, self.extended, self.appointment, self.rated,
            self.rating, self.paid, self.paid_online, self.transfers, self.pauses, self.seen, self.conflicts,
            self.agency_key, self.evaluated_at, self.alerted, self.extensions, self.explicit_due_day,
            self.synced, self.digitised, self.e_result, self.complaints,
        )

    def facts(self) -> bytes:
        """The order-free facts only (without stream bookkeeping): equal for any event order."""
        return json.dumps([getattr(self, name) for name in _FIELDS if name not in _BOOKKEEPING],
                          separators=(",", ":")).encode()

    def to_bytes(self) -> bytes:
        """The stored form: the fields in order as one MessagePack array (msgspec), about half the size
        of the JSON array stored before 2026-12-05 and several times faster both ways (docs/benchmarks.md,
        issue 19). JSON still where MessagePack cannot hold a text (a lone surrogate, which a JSON event
        may carry as an escape); `from_bytes` reads both."""
        try:
            return _PACK(self.row())
        except UnicodeEncodeError:
            return self.to_json_bytes()

    def to_json_bytes(self) -> bytes:
        """The stored form before 2026-12-05 (a compact JSON array of the fields): what older changelogs
        hold, still read by `from_bytes`."""
        return _ENCODE(self.row()).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DossierState:
        # JSON (a state stored before 2026-12-05, or one with a lone surrogate) starts with "["; a
        # MessagePack array never does (0x90-0x9f, 0xdc, 0xdd); JSON is read as json.loads reads UTF-8
        json_form = raw[:1] == b"["
        values = _DECODE(raw.decode("utf-8", "surrogatepass")) if json_form else _UNPACK(raw)
        count = len(values)  # a state stored before the newest fields existed is shorter
        for index in _MARK_INDEXES:
            if index < count and values[index] is not None:
                values[index] = tuple(values[index])
        if count > _PAUSES_INDEX:
            values[_PAUSES_INDEX] = [(t, k, s) for t, k, s in values[_PAUSES_INDEX]]
        return cls(*values)


_FIELDS = tuple(DossierState.__dataclass_fields__)
_BOOKKEEPING = frozenset({"evaluated_at", "alerted"})
UNREAD_BY_FIGURES = frozenset({
    "outcome", "returned", "extended", "appointment", "rated", "transfers", "seen", "conflicts", "agency_key",
    "evaluated_at", "alerted",
})
"""Fields that neither `dossiers.kpi.contribution`, the SLA clock nor the running II.06a and 766 keys read
(`evaluated_at` is the instant they are asked at, handled apart). A field added to the state is read
until it is listed here, and tests/unit/test_figure_inputs.py checks that changing any of these changes
no figure."""
READ_BY_THE_CLOCK = ("agency", "procedure", "received", "refused", "withdrawn", "resolved", "explicit_due",
                     "explicit_due_day", "pauses")
"""The fields `dossiers.sla.clock` reads (its procedure through `agency` and `procedure`, its status through
the four marks); tests/unit/test_figure_inputs.py checks that changing any other field changes no clock."""
_MARKS = ("agency_key", "received", "refused", "withdrawn", "resolved", "returned", "extended", "rated",
          "paid", "synced")
_MARK_INDEXES = tuple(_FIELDS.index(name) for name in _MARKS)
_PAUSES_INDEX = _FIELDS.index("pauses")
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_PACK: Final = msgspec.msgpack.Encoder().encode
_UNPACK = msgspec.msgpack.Decoder(list[Any]).decode
_DECODE = json.JSONDecoder().decode


def _earliest(current: Mark | None, mark: Mark) -> bool:
    return current is None or mark < current


def apply(state: DossierState, event: EventRecord, occurred: int | None = None) -> Applied:
    """Merge one event's facts into the state (in place). Duplicates change nothing. `occurred`: the
    event's `occurred_at` in whole epoch seconds, when the caller has it (computed once per record).
    `event.data` is read by `type`: the contract gives each type its own fields, or None where optional."""
    digest = event_hash(event.event_id)
    position = _BISECT_LEFT(state.seen, digest)
    if position < len(state.seen) and state.seen[position] == digest:
        return DUPLICATE
    state.seen.insert(position, digest)
    ts = to_timestamp(event.occurred_at) if occurred is None else occurred
    mark = (ts, digest)
    kind = event.type
    agency_key = (0 if kind is _RECEIVED else 1, ts, digest)
    if state.agency_key is None or agency_key < state.agency_key:
        state.agency, state.agency_key = event.agency, agency_key
    if kind is _RECEIVED:
        data = event.data
        if data is not None and data.digitised:
            state.digitised = True
        if state.received is not None:
            state.conflicts += 1
        if _earliest(state.received, mark):
            state.received = mark
            state.procedure = event.procedure
            # str(): a StrEnum's value without `.value`, an interpreted property (issue 19)
            state.channel = str(event.channel) if event.channel else None
            due = event.due_at
            dated = due is not None and not isinstance(due, _DATETIME)
            state.explicit_due = to_timestamp(due) if isinstance(due, _DATETIME) else None
            state.explicit_due_day = due.isoformat() if due is not None and dated else None
    elif kind is _REFUSED:
        if _earliest(state.refused, mark):
            state.refused = mark
            if state.received is None:  # the earliest refusal's procedure (even none): order-free
                state.procedure = event.procedure
    elif kind is _WITHDRAWN:
        if _earliest(state.withdrawn, mark):
            state.withdrawn = mark
    elif kind is _RESOLVED:
        data = event.data
        if data is not None and data.e_result:
            state.e_result = True
        if _earliest(state.resolved, mark):
            state.resolved = mark
            state.outcome = str(data.outcome) if data is not None else "approved"
    elif kind is _RETURNED:
        if _earliest(state.returned, mark):
            state.returned = mark
    elif kind is _EXTENDED:
        state.extensions += 1
        if state.extended is None or mark > state.extended:
            state.extended = mark
            state.appointment = to_timestamp(event.data.new_due_at)
    elif kind is _RATED:
        if state.rated is None or mark > state.rated:
            state.rated = mark
            state.rating = str(event.data.rating)
    elif kind is _PAID:
        state.paid_online = state.paid_online or event.data.online
        if _earliest(state.paid, mark):
            state.paid = mark
    elif kind is _TRANSFERRED:
        state.transfers += 1
    elif kind is _SYNCED:
        if _earliest(state.synced, mark):
            state.synced = mark
    elif kind is _COMPLAINED:
        state.complaints += 1
    elif kind in _PAUSE_START or kind in _PAUSE_END:
        start = kind in _PAUSE_START
        pause = (ts, str((_PAUSE_START if start else _PAUSE_END)[kind]), start)
        _INSORT(state.pauses, pause)
    return APPLIED


def new_state(event: EventRecord) -> DossierState:
    return DossierState(dossier=event.dossier)


def _start_first_key(pause: tuple[int, str, bool]) -> tuple[int, bool]:
    return pause[0], not pause[2]


def _starts_first(pauses: list[tuple[int, str, bool]]) -> list[tuple[int, str, bool]]:
    """The pauses in time order, starts before ends at equal instants. Kept sorted by (instant, kind,
    start), they are already in that order unless two share an instant: then sorted again (a sort with a
    key calls back into Python per item, 2 % of the core when done at every evaluation; issue 19). Any
    list not strictly increasing in instant is sorted, so the answer never depends on how it was kept."""
    for at in range(1, len(pauses)):
        if pauses[at][0] <= pauses[at - 1][0]:
            return sorted(pauses, key=_start_first_key)
    return pauses


def _by_start(interval: tuple[int, int | None]) -> int:
    return interval[0]


def _pair(state: DossierState, kind: PauseKind) -> tuple[list[tuple[int, int | None]], list[int], int]:
    """One kind's pauses in time order: (closed intervals, the start of a still-open pause, stray ends).

    A pause of one kind cannot nest: a second `paused` while paused (an agency re-sending it with a new
    id) is part of the same wait, and one `resumed` ends it; the repeated start may later absorb one
    end that finds no open pause. At equal instants starts come first, so a pause requested and ended
    in the same second is a zero-length pause.
    """
    pairs: list[tuple[int, int | None]] = []
    if not state.pauses:
        return pairs, [], 0
    open_since: int | None = None
    repeated = orphans = 0
    for ts, k, is_start in _starts_first(state.pauses):
        if k != kind:  # a StrEnum equals its value
            continue
        if is_start and open_since is None:
            open_since = ts
        elif is_start:
            repeated += 1
        elif open_since is not None:
            pairs.append((open_since, ts))
            open_since = None
        elif repeated:
            repeated -= 1
        else:
            orphans += 1
    return pairs, [] if open_since is None else [open_since], orphans


def pause_intervals(state: DossierState, until: int | None = None) -> list[tuple[int, int | None]]:
    """Pause intervals (start, end or None while still paused), per kind in time order.

    An end closes the open pause of its kind; ends with no open pause are ignored (and reported by
    `problems`). `until` closes a still-open pause (a result ends any wait).
    """
    intervals: list[tuple[int, int | None]] = []
    if not state.pauses:
        return intervals
    for kind in _PAUSE_KINDS:
        pairs, open_starts, _ = _pair(state, kind)
        intervals.extend(pairs)
        for ts in open_starts:
            intervals.append((ts, until if until is not None and until >= ts else None))
    for at in range(1, len(intervals)):  # one kind's intervals come in order: sorted only when both kinds
        if intervals[at][0] < intervals[at - 1][0]:
            intervals.sort(key=_by_start)
            break
    return intervals
