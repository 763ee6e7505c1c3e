"""The contract read by msgspec (`dossiers.fast_events`, issue 19) agrees with the contract read by pydantic.

The fast path may decline anything (pydantic then decides), but what it accepts pydantic must accept
too, with the same values, and the core must make the same state of it. These tests feed both readers
valid events written several ways, the same events with one value replaced by one of the values where
msgspec and pydantic are known to differ (white space around codes, lax types, date-only and odd
date-time forms, years out of range, duplicate keys), and hostile bytes.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.harness import simulated_traffic
from dossiers.catalog import load_catalog
from dossiers.events import EventRecord, InvalidEvent, parse_event
from dossiers.fast_events import FastEvent
from dossiers.lifecycle import DossierState, apply
from dossiers.validation import read_event, read_fast, validate_event
from tests.unit.strategies import valid_event_dicts
from tests.unit.test_door_fuzz import hostile_bytes

CATALOG = load_catalog(None)
FIELDS = ("event_id", "type", "occurred_at", "dossier", "agency", "procedure", "channel", "due_at")


def _same_value(fast: Any, slow: Any) -> None:
    assert type(fast) is type(slow) or (isinstance(fast, datetime) and isinstance(slow, datetime))
    assert fast == slow
    if isinstance(slow, datetime):
        assert fast.utcoffset() == slow.utcoffset()
        assert fast.isoformat() == slow.isoformat()  # what an error message would print
    elif isinstance(slow, date):
        assert fast.isoformat() == slow.isoformat()


def assert_same_event(fast: FastEvent, slow: EventRecord) -> None:
    """Every field the core reads, the data's fields, and the state the core makes of each."""
    assert type(fast).__name__ == "Fast" + type(slow).__name__
    for name in FIELDS:
        _same_value(getattr(fast, name), getattr(slow, name))
    if slow.data is None:
        assert fast.data is None
    else:
        assert fast.data is not None
        assert set(type(slow.data).model_fields) == set(fast.data.__struct_fields__)
        for name in type(slow.data).model_fields:
            _same_value(getattr(fast.data, name), getattr(slow.data, name))
    states = []
    for event in (fast, slow):
        state = DossierState(event.dossier)
        apply(state, event)
        states.append(state.to_bytes())
    assert states[0] == states[1]


def assert_agrees(raw: bytes) -> FastEvent | None:
    """The fast reader either declines `raw` or reads what pydantic reads from it."""
    fast = read_fast(raw)
    if fast is not None:
        try:
            slow = parse_event(raw)
        except InvalidEvent as exc:  # pragma: no cover - the failure this test exists to find
            pytest.fail(f"msgspec accepted what pydantic refuses ({exc.reason}): {raw!r}")
        assert_same_event(fast, slow)
    return fast


def _write(body: dict[str, Any], style: str) -> bytes:
    if style == "msgspec":
        return msgspec.json.encode(body)
    if style == "compact":
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return json.dumps(body).encode()  # spaced, \u escapes: never plain, so never fast


@given(valid_event_dicts(), st.sampled_from(["msgspec", "compact", "spaced"]))
def test_valid_events_are_read_alike(body: dict[str, Any], style: str) -> None:
    assert_agrees(_write(body, style))


@given(valid_event_dicts())
def test_a_plain_valid_event_takes_the_fast_path(body: dict[str, Any]) -> None:
    """Else the fast path would be dead code and these tests would prove nothing."""
    body.pop("due_at", None)
    for moment in (body, body.get("data") or {}):
        for name in ("occurred_at", "new_due_at"):
            if name in moment:  # an offset with seconds (+05:30:00 is fine, RFC 3339 has no seconds)
                moment[name] = datetime.fromisoformat(moment[name]).isoformat(timespec="seconds")
    assert assert_agrees(msgspec.json.encode(body)) is not None


TRICKY: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 1.5, 10**20, "", " ", "x", " x", "x ", "\tx", "x\n", "\u00a0x",
    "x\u2028",
    "x\ny", "a" * 64, "a" * 65, " " + "a" * 64, "á" * 64, "true", "1", "null", [], {}, {"x": 1},
    "received", "counter", "online", "COUNTER", "approved", "denied", "satisfied",
    "dossier-event/1", "dossier-event/2",
    "2026-03-02", "2026-3-2", "2026-03-02T08:15:00+07:00", "2026-03-02T08:15:00Z", "2026-03-02T08:15:00z",
    "2026-03-02t08:15:00Z", "2026-03-02 08:15:00+07:00", "2026-03-02T08:15+07:00", "2026-03-02T08:15:00",
    "2026-03-02T08:15:00.5+07:00", "2026-03-02T08:15:00.123456789+07:00", "2026-03-02T08:15:00,5+07:00",
    "2026-03-02T08:15:00,123456789+07:00", "2026-03-02T08:15:00.1234567Z", "2026-03-02T08:15:00.1234565Z",
    "2026-03-02T08:15:60+07:00", "2026-03-02T24:00:00+07:00", "2026-02-30T08:15:00+07:00",
    "2026-03-02T08:15:00+0700", "2026-03-02T08:15:00+07", "2026-03-02T08:15:00+24:00",
    "2026-03-02T08:15:00+23:59", "2026-03-02T08:15:00-00:00", "1999-12-31T23:59:59+07:00",
    "2101-01-01T00:00:00+07:00", "2100-12-31T23:59:59-12:00", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "2026-03-02T08:15:00.000000Z", "20260302T081500Z", "1999-12-31",
    "2026-W10-1", "1700000000", 1700000000, "٢٠٢٦-٠٣-٠٢",
]
"""Values where two readers of JSON could disagree."""


WHERE = ["event_id", "schema", "type", "occurred_at", "dossier", "agency", "procedure", "channel", "due_at",
         "data", "data.to_agency", "data.reason", "data.new_due_at", "data.outcome", "data.e_result",
         "data.digitised", "data.rating", "data.online", "data.receipt", "data.amount_vnd", "extra",
         "data.extra"]


def _changed(body: dict[str, Any], where: str, value: Any, drop: bool) -> bytes:
    body = json.loads(json.dumps(body))
    if where.startswith("data."):
        data = body.get("data")
        body["data"] = data = data if isinstance(data, dict) else {}
        target, name = data, where.removeprefix("data.")
    else:
        target, name = body, where
    if drop:
        target.pop(name, None)
    else:
        target[name] = value
    return msgspec.json.encode(body)


BASE = {"event_id": "e-1", "schema": "dossier-event/1", "occurred_at": "2026-03-02T08:15:00+07:00",
        "dossier": "H48-1", "agency": "STP", "procedure": "1.001", "channel": "counter",
        "due_at": "2026-03-09T17:00:00+07:00"}
DATA: dict[str, list[dict[str, Any] | None]] = {
    "received": [None, {"digitised": True}], "transferred": [{"to_agency": "SXD"}],
    "paused": [{"reason": "chờ ý kiến"}], "extended": [{"new_due_at": "2026-03-12T17:00:00+07:00"}],
    "resolved": [{"outcome": "denied", "e_result": True}], "rated": [{"rating": "satisfied"}],
    "paid": [{"online": True, "receipt": "BL-1", "amount_vnd": 50000}, {"online": False}],
}


def test_every_tricky_value_in_every_field_of_every_type_is_read_alike_or_declined() -> None:
    """All of them, not a sample: a rule the fast path forgets shows up here whatever hypothesis draws."""
    from dossiers.events import EventType

    fast = 0
    for kind in EventType:
        for data in DATA.get(kind.value, [None, {}]):
            body = {**BASE, "type": kind.value, **({"data": data} if data is not None else {})}
            assert assert_agrees(msgspec.json.encode(body)) is not None
            for where in WHERE:
                for drop in (True, False):
                    for value in TRICKY if not drop else [None]:
                        fast += assert_agrees(_changed(body, where, value, drop)) is not None
    assert fast > 1000  # most changes keep a valid event that the fast path still takes


@given(
    valid_event_dicts(),
    st.sampled_from(["event_id", "schema", "type", "occurred_at", "dossier", "agency", "procedure",
                     "channel", "due_at", "data", "data.to_agency", "data.reason", "data.new_due_at",
                     "data.outcome", "data.e_result", "data.digitised", "data.rating", "data.online",
                     "data.receipt", "data.amount_vnd", "extra", "data.extra"]),
    st.sampled_from(TRICKY),
    st.booleans(),
)
@settings(max_examples=600)
def test_one_tricky_value_is_read_alike_or_declined(body: dict[str, Any], where: str, value: Any,
                                                    drop: bool) -> None:
    assert_agrees(_changed(body, where, value, drop))


@given(valid_event_dicts(), st.sampled_from(["schema", "type", "agency", "dossier", "occurred_at"]))
def test_a_key_given_twice_is_never_fast(body: dict[str, Any], key: str) -> None:
    """msgspec alone keeps the last of two equal keys; the contract refuses such an event."""
    compact = msgspec.json.encode(body)
    twice = b"{" + msgspec.json.encode({key: body[key]})[1:-1] + b"," + compact[1:]
    assert read_fast(twice) is None
    with pytest.raises(InvalidEvent):
        parse_event(twice)


@given(hostile_bytes)
def test_hostile_bytes_are_declined_or_read_alike(raw: bytes) -> None:
    assert_agrees(raw)


@given(valid_event_dicts())
def test_read_event_answers_as_validate_event(body: dict[str, Any]) -> None:
    """The stream's door: the same event or the same refusal (catalog rules included) either way."""
    catalog = CATALOG
    raw = msgspec.json.encode(body)
    try:
        slow: EventRecord | None = validate_event(raw, catalog)
        slow_error = None
    except InvalidEvent as exc:
        slow, slow_error = None, (exc.reason, exc.code)
    try:
        fast: EventRecord | None = read_event(raw, catalog)
        fast_error = None
    except InvalidEvent as exc:
        fast, fast_error = None, (exc.reason, exc.code)
    assert fast_error == slow_error
    if slow is not None and fast is not None:
        for name in FIELDS:
            _same_value(getattr(fast, name), getattr(slow, name))


def test_the_simulators_events_all_take_the_fast_path_and_read_alike() -> None:
    """The 19 agencies' traffic (every type, the catalog's procedures): fast, and the same as pydantic's."""
    traffic = simulated_traffic(20000, label="simulating events (fast contract)")
    types = set()
    for _, raw in traffic.records:
        fast = assert_agrees(raw)
        assert fast is not None
        assert read_event(raw, traffic.catalog) == fast
        types.add(fast.type)
    assert len(types) >= 12


def test_no_fast_struct_has_a_subclass() -> None:
    """`read_fast` tells the types apart by `type(event) is ...` (an `isinstance` on a msgspec struct calls
    its metaclass's `__instancecheck__`): a subclass of one of them would slip past its checks."""
    import typing

    for struct in typing.get_args(FastEvent):
        assert struct.__subclasses__() == [], struct


@given(st.one_of(st.none(), st.dates(), st.datetimes()))
def test_the_fast_reader_s_years_are_the_contract_s(moment: date | None) -> None:
    from dossiers.events import in_contract_years
    from dossiers.validation import _in_years

    assert _in_years(moment) == (moment is None or in_contract_years(moment))
