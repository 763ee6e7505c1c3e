"""Event builders and hypothesis strategies shared by the domain-core tests.

Builders return plain dicts (the wire shape an agency sends), so a test can break one field at a time;
`parse` turns them into models. The strategies produce two kinds of dossier histories:
- `dossier_story`: realistic ones (received, supplement pairs, pauses, transfers, extension, one ending,
  returned, rated, paid), the shape the SLA and KPI rules are about;
- `chaos_events`: arbitrary events of any type at arbitrary instants (ends without starts, two endings,
  results before receipt, ...), the shape order-free merging must survive.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from dossiers.catalog import Agency, Catalog, Procedure, load_catalog
from dossiers.events import SCHEMA_V1, Event, EventType, parse_event
from dossiers.lifecycle import DossierState, apply

ICT = timezone(timedelta(hours=7), "ICT")
"""Asia/Ho_Chi_Minh: UTC+7 all year (no daylight saving since 1975), so a fixed offset is exact."""

CATALOG: Catalog = load_catalog()

ALL_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)

_ids = itertools.count(1)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A local (Vietnam) instant."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ICT)


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def local(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, ICT)


def event(
    type_: str,
    when: datetime,
    *,
    dossier: str = "000.00.12.H48-260302-0001",
    agency: str = "STP",
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One event as a dict; `fields` adds procedure, channel, due_at, data... (None values are dropped)."""
    raw: dict[str, Any] = {
        "event_id": f"evt-{next(_ids)}" if event_id is None else event_id,
        "schema": SCHEMA_V1,
        "type": type_,
        "occurred_at": when.isoformat(),
        "dossier": dossier,
        "agency": agency,
    }
    for name, value in fields.items():
        if value is None:
            continue
        raw[name] = value.isoformat() if isinstance(value, date) else value
    return raw


def sample_event(type_: str, **overrides: Any) -> dict[str, Any]:
    """A minimal valid event of each type (procedure/channel from the shipped catalog)."""
    when = overrides.pop("when", at(2026, 3, 2, 9))
    defaults: dict[str, dict[str, Any]] = {
        "received": {"procedure": "2.000488", "channel": "counter"},
        "transferred": {"data": {"to_agency": "SYT"}},
        "paused": {"data": {"reason": "chờ thực hiện nghĩa vụ tài chính"}},
        "extended": {"data": {"new_due_at": "2026-03-20T17:00:00+07:00", "reason": "cần xác minh"}},
        "resolved": {"data": {"outcome": "approved"}},
        "rated": {"data": {"rating": "very_satisfied"}},
        "paid": {"data": {"online": True, "receipt": "BL-2026-000123", "amount_vnd": 200000}},
    }
    extra = dict(defaults.get(type_, {}))
    extra.update(overrides)
    return event(type_, when, **extra)


def parse(raws: Sequence[dict[str, Any]]) -> list[Event]:
    return [parse_event(raw) for raw in raws]


def state_of(events: Sequence[Event], dossier: str | None = None) -> DossierState:
    state = DossierState(dossier or (events[0].dossier if events else "D"))
    for item in events:
        apply(state, item)
    return state


def procedure(processing: float, unit: str = "days", code: str = "9.000001") -> Procedure:
    """A procedure outside the catalog, for SLA examples with a chosen processing time."""
    return Procedure.model_validate(
        {"code": code, "name": "Thủ tục thử", "field": "Thử nghiệm", "processing": processing, "unit": unit}
    )


# --- strategies ------------------------------------------------------------------------------------

OFFSETS = st.sampled_from(
    [ICT, UTC, timezone(timedelta(hours=-5, minutes=-30)), timezone(timedelta(hours=9))]
)


def instants(start: datetime, end: datetime) -> st.SearchStrategy[datetime]:
    """Whole-second local instants in [start, end]."""
    lo, hi = ts(start), ts(end)
    return st.integers(lo, hi).map(local)


def aware_datetimes() -> st.SearchStrategy[datetime]:
    return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=OFFSETS)


codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", min_size=1, max_size=64)
free_text = st.text(max_size=60)  # any Unicode: Vietnamese, emoji, quotes...


@st.composite
def valid_event_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Any contract-valid event of any type, with arbitrary values for every optional field."""
    type_ = draw(st.sampled_from(ALL_TYPES))
    raw: dict[str, Any] = {
        "event_id": draw(st.text(min_size=1, max_size=64)),
        "schema": SCHEMA_V1,
        "type": type_,
        "occurred_at": draw(aware_datetimes()).isoformat(),
        "dossier": draw(codes),
        "agency": draw(codes),
    }
    needs_origin = type_ == "received"
    if needs_origin or draw(st.booleans()):
        raw["procedure"] = draw(codes)
    if needs_origin or draw(st.booleans()):
        raw["channel"] = draw(st.sampled_from(["counter", "online", "postal", "phone"]))
    if draw(st.booleans()):
        raw["due_at"] = draw(aware_datetimes()).isoformat()
    data: dict[str, Any] | None = None
    if type_ == "transferred":
        data = draw(st.sampled_from([None, {}, {"to_agency": draw(codes)}]))
    elif type_ == "paused":
        data = draw(st.sampled_from([None, {}, {"reason": draw(free_text)}]))
    elif type_ == "extended":
        data = {"new_due_at": draw(aware_datetimes()).isoformat()}
        if draw(st.booleans()):
            data["reason"] = draw(free_text)
    elif type_ == "resolved":
        data = draw(st.sampled_from([None, {}, {"outcome": "approved"}, {"outcome": "denied"}]))
    elif type_ == "rated":
        data = {"rating": draw(st.sampled_from(["very_satisfied", "satisfied", "unsatisfied"]))}
    elif type_ == "paid":
        online = draw(st.booleans())
        data = {"online": online}
        if online or draw(st.booleans()):
            data["receipt"] = draw(st.text(min_size=1, max_size=64))
        if draw(st.booleans()):
            data["amount_vnd"] = draw(st.integers(0, 10**10))
    elif draw(st.booleans()):
        data = {}
    if data is not None:
        raw["data"] = data
    return raw


def _number(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deterministic ids (dossier#n): hypothesis must see the same example when it replays one."""
    for n, raw in enumerate(events):
        raw["event_id"] = f"{raw['dossier']}#{n}"
    return events


STORY_START = at(2025, 1, 2)
STORY_LAST_START = at(2026, 6, 30)
CHAOS_START, CHAOS_END = at(2025, 1, 1), at(2026, 12, 31)
ENDINGS = ("open", "resolved", "withdrawn", "refused")


def _gap(max_days: int = 6) -> st.SearchStrategy[timedelta]:
    return st.integers(0, max_days * 86400).map(lambda s: timedelta(seconds=s))


@st.composite
def dossier_story(
    draw: st.DrawFn,
    dossier: str = "000.00.12.H48-260302-0001",
    agencies: Sequence[Agency] | None = None,
    start: datetime = STORY_START,
    end: datetime = STORY_LAST_START,
) -> list[dict[str, Any]]:
    """A realistic history of one dossier, in time order, as wire dicts.

    received, then some of: supplement requested (and usually received), paused (and usually resumed),
    transfers, an extension, a payment; then one ending (or none: still open); after a result maybe
    returned and rated. A `refused` dossier is refused at the counter, so it has no `received`.
    """
    agency = draw(st.sampled_from(list(agencies or CATALOG.agencies)))
    proc = draw(st.sampled_from(agency.procedures))
    channel = draw(st.sampled_from(proc.channels))
    ending = draw(st.sampled_from(ENDINGS))
    cursor = draw(instants(start, end))
    common = {"dossier": dossier, "agency": agency.code}
    if ending == "refused":
        return _number([event("refused", cursor, procedure=proc.code, **common)])
    appointment = cursor + timedelta(days=draw(st.integers(1, 40))) if draw(st.integers(0, 9)) == 0 else None
    due_at: datetime | date | None = appointment
    if appointment is not None and draw(st.booleans()):
        due_at = appointment.date()  # a receipt that carries the appointment's date only
    story = [event("received", cursor, procedure=proc.code, channel=channel, due_at=due_at, **common)]
    steps = draw(st.lists(st.sampled_from(["supplement", "pause", "transfer", "extend", "pay"]), max_size=4))
    for step in steps:
        cursor += draw(_gap())
        if step in ("supplement", "pause"):
            first, second = (
                ("supplement_requested", "supplement_received")
                if step == "supplement"
                else ("paused", "resumed")
            )
            data = {"reason": "chờ nghĩa vụ tài chính"} if step == "pause" else None
            story.append(event(first, cursor, data=data, **common))
            if draw(st.integers(0, 4)):  # usually the citizen comes back
                cursor += draw(_gap())
                story.append(event(second, cursor, **common))
        elif step == "transfer":
            target = draw(st.sampled_from([None, draw(st.sampled_from(CATALOG.agencies)).code]))
            story.append(
                event("transferred", cursor, data={"to_agency": target} if target else None, **common)
            )
        elif step == "extend":
            if any(e["type"] == "extended" for e in story):
                continue  # rescheduled once at most (Decree 61/2018); a second time is a problem
            new_due = cursor + timedelta(days=draw(st.integers(1, 20)))
            story.append(event("extended", cursor, data={"new_due_at": new_due.isoformat()}, **common))
        else:
            online = channel == "online" or draw(st.booleans())
            receipt = f"BL-{draw(st.integers(1, 10**6))}" if online else None
            story.append(event("paid", cursor, data={"online": online, "receipt": receipt}, **common))
    if ending == "open":
        return _number(story)
    cursor += draw(_gap(30))
    if ending == "withdrawn":
        story.append(event("withdrawn", cursor, **common))
        return _number(story)
    story.append(
        event("resolved", cursor, data={"outcome": draw(st.sampled_from(["approved", "denied"]))}, **common)
    )
    if draw(st.booleans()):
        cursor += draw(_gap())
        story.append(event("returned", cursor, **common))
        if draw(st.booleans()):
            cursor += draw(_gap(2))
            rating = draw(st.sampled_from(["very_satisfied", "satisfied", "unsatisfied"]))
            story.append(event("rated", cursor, data={"rating": rating}, **common))
    return _number(story)


@st.composite
def chaos_events(
    draw: st.DrawFn,
    dossier: str = "000.00.12.H48-260302-0009",
    start: datetime = CHAOS_START,
    end: datetime = CHAOS_END,
    max_size: int = 12,
) -> list[dict[str, Any]]:
    """Arbitrary events of one dossier: any types, any order of instants, several instants shared.

    Valid against the contract and the shipped catalog (the stream applies only validated events), but
    with no regard for the lifecycle: resumed without paused, two endings, result before receipt...
    """
    agency = draw(st.sampled_from(["STP", "SYT"]))
    procs = [p for p in CATALOG.agency_by_code[agency].procedures if "counter" in p.channels]
    # a few shared instants make ties (same second, different events) likely
    moments = draw(st.lists(instants(start, end), min_size=1, max_size=4))
    size = draw(st.integers(0, max_size))
    out: list[dict[str, Any]] = []
    for _ in range(size):
        type_ = draw(st.sampled_from(ALL_TYPES))
        when = draw(st.one_of(st.sampled_from(moments), instants(start, end)))
        fields: dict[str, Any] = {"dossier": dossier, "agency": agency}
        if type_ == "received" or (
            (type_ == "refused" or draw(st.integers(0, 5)) == 0) and draw(st.booleans())
        ):
            fields["procedure"] = draw(st.sampled_from(procs)).code
        if type_ == "received":
            fields["channel"] = "counter"
            if draw(st.integers(0, 4)) == 0:
                fields["due_at"] = when + timedelta(days=draw(st.integers(-3, 30)))
        if type_ == "extended":
            fields["data"] = {"new_due_at": (when + timedelta(days=draw(st.integers(1, 20)))).isoformat()}
        elif type_ == "rated":
            fields["data"] = {"rating": draw(st.sampled_from(["very_satisfied", "satisfied", "unsatisfied"]))}
        elif type_ == "paid":
            online = draw(st.booleans())
            fields["data"] = {"online": online, "receipt": "BL-1" if online else None}
        elif type_ == "resolved":
            fields["data"] = {"outcome": draw(st.sampled_from(["approved", "denied"]))}
        out.append(event(type_, when, **fields))
    return _number(out)


def calendar_dates(
    first: date = date(2020, 1, 1), last: date = date(2035, 12, 31)
) -> st.SearchStrategy[date]:
    return st.dates(min_value=first, max_value=last)
