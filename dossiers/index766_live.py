"""The 766 index of the running period, kept by counters: what a worker shows live (chỉ số 766 trực tuyến).

Like the running form II.06a (`dossiers.report_ii06a.live_keys`), each dossier adds weighted date-keyed
keys to counters; the index of any period running at `as_of` is then a sum of the keys dated in it, equal
to `build_index` over the same dossiers (tests/unit/test_index766_live.py). The dating follows the tally's
fields (`dossiers.index766.Tally`):

- the fields of dossiers *received in the period* (1.4, 2.2, 3.3, 3.6, 4.2 and the sync buckets) are dated
  by the receipt's local day;
- the fields of the form's column (3) (2.1, 4.1, 5.4) by the later of receipt and end for a finished
  dossier, and undated ("", kept whatever the period) for an open one: a dossier is in column (3) of a
  running period when it is open, or when it finished within the period.

`working_days` is kept as working seconds (an integer weight) so that counters add and subtract exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from dossiers.calendar import Timestamp, WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.counter_keys import CounterKeys
from dossiers.index766 import SYNC_WITHIN_HOURS, TALLY_FIELDS, Index766, Row, Tally, contribution, tally_of
from dossiers.lifecycle import DossierState
from dossiers.periods import Period
from dossiers.report_ii06a import Window, new_window
from dossiers.sla import Clock

LiveKey = tuple[str, ...]
"""("766", agency, field, local date or ""): one counter of the running index (of any length for mypyc, as
`dossiers.report_ii06a.LiveKey`)."""
WeightedKeys = tuple[tuple[LiveKey, ...], tuple[int, ...]]
"""Keys of the running index and their weights, item by item (`live_keys`): two tuples, not a pair per key,
which the worker would build for each key of each event and hold (issue 19)."""
NO_WEIGHTED: Final[WeightedKeys] = ((), ())

RECEIPT_DATED: frozenset[str] = frozenset(
    {"received", "synced", "online", "fee", "paid_online", "digitised", "finished", "working_days"}
)
"""Tally fields of dossiers received in the period: dated by the receipt day."""
WORK_FIELD: Final = "working_seconds"
"""The counter of `Tally.working_days`, in working seconds."""
SYNC_FIELDS: tuple[str, ...] = tuple(f"synced_{h}h" for h in SYNC_WITHIN_HOURS)
"""The counters of the sync buckets: dossiers received in the period and synced within h hours."""
SYNC_BUCKETS: Final[tuple[tuple[int, str], ...]] = tuple(zip(SYNC_WITHIN_HOURS, SYNC_FIELDS, strict=True))
"""(hours, counter field) of each sync bucket."""
KEYS: Final = CounterKeys("766")
"""The index's counter keys, shared (`dossiers.counter_keys`)."""
LIVE_FIELDS: tuple[str, ...] = (
    *(WORK_FIELD if name == "working_days" else name for name in TALLY_FIELDS), *SYNC_FIELDS
)
"""Every counter field, in the tally's order, then the sync buckets (the `i766` point's fields)."""


def tally_keys(tally: Tally, agency: str, receipt_day: str, form_day: str,
               day_seconds: int) -> tuple[list[LiveKey], list[int]]:
    """The keys of a dossier's tally and their weights: each field that is not 0, in `TALLY_FIELDS`'s order,
    dated by the receipt's day when `RECEIPT_DATED` names it, else by `form_day`; `working_days` as working
    seconds. Written out, each field a direct read, where a loop over `attrgetter`s made a call per field
    (issue 19): tests/unit/test_index766_live.py checks it against that loop. The keys come from `KEYS`
    (built once per day and agency); keys and weights in two lists, not a (key, weight) tuple per key."""
    keys: list[LiveKey] = []
    weights: list[int] = []
    t, r, f = tally, KEYS.of(agency, receipt_day), KEYS.of(agency, form_day)
    if t.received:
        keys.append(r.key("received"))
        weights.append(t.received)
    if t.synced:
        keys.append(r.key("synced"))
        weights.append(t.synced)
    if t.online:
        keys.append(r.key("online"))
        weights.append(t.online)
    if t.in_form:
        keys.append(f.key("in_form"))
        weights.append(t.in_form)
    if t.on_time:
        keys.append(f.key("on_time"))
        weights.append(t.on_time)
    if t.second_supplement:
        keys.append(f.key("second_supplement"))
        weights.append(t.second_supplement)
    if t.awaiting_supplement:
        keys.append(f.key("awaiting_supplement"))
        weights.append(t.awaiting_supplement)
    if t.finished:
        keys.append(r.key("finished"))
        weights.append(t.finished)
    if t.working_days:
        keys.append(r.key(WORK_FIELD))
        weights.append(round(t.working_days * day_seconds))
    if t.fee:
        keys.append(r.key("fee"))
        weights.append(t.fee)
    if t.paid_online:
        keys.append(r.key("paid_online"))
        weights.append(t.paid_online)
    if t.written:
        keys.append(f.key("written"))
        weights.append(t.written)
    if t.e_result:
        keys.append(f.key("e_result"))
        weights.append(t.e_result)
    if t.digitised:
        keys.append(r.key("digitised"))
        weights.append(t.digitised)
    if t.complaint_or_dislike:
        keys.append(f.key("complaint_or_dislike"))
        weights.append(t.complaint_or_dislike)
    return keys, weights


def live_keys(state: DossierState, catalog: Catalog, calendar: WorkingCalendar, as_of: Timestamp,
              known: Clock | None = None, names: tuple[str, ...] | None = None) -> WeightedKeys:
    """The weighted keys of one dossier at `as_of`: what it adds to the running index of any period that
    runs at `as_of` (see the module's docstring), as its keys and their weights. `known`: its SLA clock at
    `as_of`, if the caller has it; `names`: its `dossiers.report_ii06a.whole_columns` at `as_of`, if the
    caller has them."""
    if state.received is None:
        return NO_WEIGHTED
    received = state.received[0]
    tally = (contribution(state, catalog, calendar, new_window(received, as_of), known) if names is None
             else tally_of(state, catalog, calendar, names))
    if not tally.in_form:
        return NO_WEIGHTED
    agency = state.agency or ""
    receipt_day = calendar.day_key(received)
    closed = state.closed_at()
    form_day = "" if closed is None else calendar.day_key(max(received, closed))
    keys, weights = tally_keys(tally, agency, receipt_day, form_day, calendar.day_seconds)
    if tally.synced and state.synced is not None:
        delay = max(state.synced[0] - received, 0)
        by_receipt = KEYS.of(agency, receipt_day)
        for hours, name in SYNC_BUCKETS:
            if delay <= hours * 3600:
                keys.append(by_receipt.key(name))
                weights.append(1)
    return tuple(keys), tuple(weights)


def sums(counts: Mapping[LiveKey, int], period: Period, as_of_day: str) -> dict[str, dict[str, int]]:
    """{agency: {field: sum}} of the keys that belong to the running `period` (undated ones always)."""
    first = period.first.isoformat()
    out: dict[str, dict[str, int]] = {}
    for (_, agency, name, day), n in counts.items():
        if not day or first <= day <= as_of_day:
            row = out.setdefault(agency, {})
            row[name] = row.get(name, 0) + n
    return out


def row_of(key: str, label: str, fields: Mapping[str, int], calendar: WorkingCalendar) -> Row:
    """A report row from one agency's (or a total's) counter sums."""
    tally = Tally(**{name: fields.get(name, 0) for name in TALLY_FIELDS if name != "working_days"})
    tally.working_days = fields.get(WORK_FIELD, 0) / calendar.day_seconds
    within = {h: fields.get(f"synced_{h}h", 0) for h in SYNC_WITHIN_HOURS}
    return Row(key, label, tally, sync_within=within)


def running_index(counts: Mapping[LiveKey, int], catalog: Catalog, calendar: WorkingCalendar, period: Period,
                  as_of: Timestamp) -> Index766:
    """The index of `period` running at `as_of` (within it), from the sums of `live_keys` of every dossier at
    `as_of`: per agency in catalog order, and the centre."""
    window = Window.of(period, calendar, as_of)
    if not window.start <= as_of <= period.last_instant(calendar.tz):
        raise ValueError("running_index: as_of must fall within the period")
    by_agency = sums(counts, period, calendar.day_key(as_of))
    return index_of(by_agency, catalog, calendar, period, window)


def index_of(by_agency: Mapping[str, Mapping[str, int]], catalog: Catalog, calendar: WorkingCalendar,
             period: Period, window: Window) -> Index766:
    """The index from per-agency counter sums (a worker's partition, or the board's sum of partitions)."""
    known = {a.code: a.name for a in catalog.agencies}
    order = [a.code for a in catalog.agencies] + sorted(set(by_agency) - set(known))
    rows = [row_of(code, known.get(code, code), by_agency.get(code, {}), calendar) for code in order]
    totals: dict[str, int] = {}
    for fields in by_agency.values():
        for name, n in fields.items():
            totals[name] = totals.get(name, 0) + n
    total = row_of(catalog.centre.code, catalog.centre.name, totals, calendar)
    return Index766(period, window, rows, total)
