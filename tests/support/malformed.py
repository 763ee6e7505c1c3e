"""Hypothesis strategies for malformed dossier events: what a buggy or hostile agency system may send.

Each strategy gives `Bad` records: the exact bytes (and headers) to put on the events topic, the
category, and what the stream must do with them: the dead-letter code it must give (`code`), or None
for records that are valid by the contract but describe an impossible history (`resumed` without
`paused`, `resolved` before `received`, two `refused`...): those are processed by the order-free
state and reported as problems, never dead-lettered.

Valid bases come from the shipped catalog, so that each record breaks exactly one rule.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from dossiers.catalog import Catalog
from dossiers.events import MAX_EVENT_BYTES

VN = timezone(timedelta(hours=7))
BASE = datetime(2026, 3, 2, 8, 0, tzinfo=VN)  # a Monday morning; every instant is within 20 days of it
_serial = itertools.count(1)


@dataclass(frozen=True)
class Bad:
    """One record to produce, with what the stream must do with it."""

    category: str
    value: bytes | None
    code: str | None
    """Dead-letter code expected (`ioc-dlq-code`), or None: valid, must be processed."""
    headers: tuple[tuple[str, bytes], ...] = field(default=())
    dossier: str | None = None
    """For processed records: the dossier (the key, so that one dossier's records keep their order)."""


def _unique(prefix: str) -> str:
    return f"{prefix}-{next(_serial):06d}"


def _dump(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@st.composite
def valid_receipt(draw: st.DrawFn, catalog: Catalog) -> dict[str, Any]:
    """A valid `received` event of a fresh dossier (catalog agency, procedure and an open channel)."""
    agency = draw(st.sampled_from(catalog.agencies))
    procedure = draw(st.sampled_from(agency.procedures))
    minutes = draw(st.integers(0, 20 * 24 * 60))
    dossier = _unique(f"MAL-{agency.code}")
    return {
        "event_id": f"{dossier}-r",
        "schema": "dossier-event/1",
        "type": "received",
        "occurred_at": (BASE + timedelta(minutes=minutes)).isoformat(),
        "dossier": dossier,
        "agency": agency.code,
        "procedure": procedure.code,
        "channel": draw(st.sampled_from(procedure.channels)),
    }


def follow_up(base: dict[str, Any], kind: str, minutes: int, suffix: str, **extra: Any) -> dict[str, Any]:
    """Another event of `base`'s dossier, `minutes` after (or before, if negative) its receipt."""
    at = datetime.fromisoformat(base["occurred_at"]) + timedelta(minutes=minutes)
    body = {k: v for k, v in base.items() if k not in ("procedure", "channel")}
    body.update(event_id=f"{base['dossier']}-{suffix}", type=kind, occurred_at=at.isoformat(), **extra)
    return body


# -- categories that must be dead-lettered -----------------------------------------------------------


@st.composite
def broken_json(draw: st.DrawFn, catalog: Catalog) -> Bad:
    text = _dump(draw(valid_receipt(catalog))).decode()
    how = draw(st.sampled_from(["truncated", "single_quotes", "trailing_garbage", "missing_comma", "bare"]))
    if how == "truncated":  # any proper prefix of a JSON object is not JSON
        broken = text[: draw(st.integers(0, len(text) - 1))]
    elif how == "single_quotes":
        broken = text.replace('"', "'")
    elif how == "trailing_garbage":
        broken = text + draw(st.sampled_from(["}", ",", "x", "{}", "]"]))
    elif how == "missing_comma":
        broken = text.replace(",", " ", 1)
    else:
        broken = draw(st.sampled_from(["undefined", "{event_id: 1}", "<xml/>", "{", "[1,]", "nul"]))
    return Bad(f"broken_json/{how}", broken.encode(), "json")


WRONG_TYPES: dict[str, list[Any]] = {
    "event_id": [123, 1.5, True, [], {}, None],
    "schema": [1, None, ["dossier-event/1"]],
    "type": [1, None, ["received"], {"name": "received"}],
    "occurred_at": [True, [], {}, "yesterday", "2026-13-45T25:61:00+07:00", None],
    "dossier": [42, [], {}, None, False],
    "agency": [7, [], {}, None],
    "procedure": [1.25, [], {}, True],
    "channel": [3, "fax", [], True],
    "data": ["none", 5, [1, 2], {"rating": "satisfied"}],
}


@st.composite
def wrong_types(draw: st.DrawFn, catalog: Catalog) -> Bad:
    body = draw(valid_receipt(catalog))
    name = draw(st.sampled_from(sorted(WRONG_TYPES)))
    body[name] = draw(st.sampled_from(WRONG_TYPES[name]))
    return Bad(f"wrong_type/{name}", _dump(body), "schema")


PERSONAL = st.sampled_from(
    [
        ("citizen_name", st.sampled_from(["Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Hoàng Phúc"])),
        ("citizen_phone", st.from_regex(r"\A0[35789][0-9]{8}\Z")),
        ("citizen_id", st.from_regex(r"\A0[0-9]{11}\Z")),  # căn cước công dân: 12 digits
        ("address", st.just("12 Lê Lợi, phường Nghĩa Chánh, Quảng Ngãi")),
        ("email", st.just("an.nguyen@example.vn")),
        ("date_of_birth", st.just("1990-05-17")),
    ]
)


@st.composite
def unknown_fields(draw: st.DrawFn, catalog: Catalog) -> Bad:
    body = draw(valid_receipt(catalog))
    name, values = draw(PERSONAL)
    where = draw(st.sampled_from(["top", "data", "other"]))
    if where == "top":
        body[name] = draw(values)
    elif where == "data":
        body["data"] = {name: draw(values)}
    else:
        extra = draw(st.from_regex(r"\A[a-z][a-z_]{2,20}\Z").filter(lambda n: n not in body))
        body[extra] = draw(st.one_of(st.integers(), st.text(max_size=20), st.booleans()))
        name = "other"
    return Bad(f"unknown_field/{name}", _dump(body), "schema")


@st.composite
def missing_time_zone(draw: st.DrawFn, catalog: Catalog) -> Bad:
    body = draw(valid_receipt(catalog))
    naive = datetime.fromisoformat(body["occurred_at"]).replace(tzinfo=None)
    which = draw(st.sampled_from(["occurred_at", "due_at", "date_only", "extended"]))
    if which == "occurred_at":
        body["occurred_at"] = naive.isoformat()
    elif which == "due_at":
        body["due_at"] = (naive + timedelta(days=5)).isoformat(sep=draw(st.sampled_from(["T", " "])))
    elif which == "date_only":
        body["occurred_at"] = naive.date().isoformat()
    else:
        body = follow_up(
            body, "extended", 60, "x", data={"new_due_at": (naive + timedelta(days=9)).isoformat()}
        )
    return Bad(f"missing_time_zone/{which}", _dump(body), "schema")


@st.composite
def unknown_agency(draw: st.DrawFn, catalog: Catalog) -> Bad:
    body = draw(valid_receipt(catalog))
    known = {a.code for a in catalog.agencies}
    body["agency"] = draw(st.from_regex(r"\A[A-Z][A-Z0-9_]{1,15}\Z").filter(lambda c: c not in known))
    return Bad("unknown_agency", _dump(body), "unknown_agency")


@st.composite
def unknown_procedure(draw: st.DrawFn, catalog: Catalog) -> Bad:
    body = draw(valid_receipt(catalog))
    agency = catalog.agency(body["agency"])
    assert agency is not None
    other = [p.code for a in catalog.agencies if a.code != agency.code for p in a.procedures]
    mine = set(agency.procedure_by_code)
    body["procedure"] = draw(
        st.one_of(
            st.sampled_from([c for c in other if c not in mine]),  # another agency's procedure
            st.from_regex(r"\A[0-9]\.[0-9]{6}\Z").filter(lambda c: c not in mine),
        )
    )
    return Bad("unknown_procedure", _dump(body), "unknown_procedure")


@st.composite
def oversized(draw: st.DrawFn, catalog: Catalog) -> Bad:
    """Over MAX_EVENT_BYTES: refused on size alone, whatever is inside (here a valid event, padded)."""
    body = draw(valid_receipt(catalog))
    size = draw(st.integers(MAX_EVENT_BYTES + 1, 4 * MAX_EVENT_BYTES))
    how = draw(st.sampled_from(["whitespace", "long_field", "vietnamese"]))
    text = _dump(body).decode()
    if how == "whitespace":  # still a valid JSON object once parsed: only the size is wrong
        raw = (text[:-1] + " " * size + "}").encode()
    elif how == "long_field":
        raw = _dump({**body, "note": "x" * size})
    else:
        raw = _dump({**body, "note": "Hồ sơ đất đai " * (size // 10)})
    return Bad(f"oversized/{how}", raw, "too_large")


INVALID_UTF8 = [
    b"\xff",
    b"\xfe\xff",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xe1\xbb",
]


@st.composite
def not_utf8(draw: st.DrawFn, catalog: Catalog) -> Bad:
    body = draw(valid_receipt(catalog))
    how = draw(st.sampled_from(["inserted", "utf16", "latin1", "cp1258"]))
    if how == "inserted":
        raw = _dump(body)
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(INVALID_UTF8)) + raw[at:]
    elif how == "utf16":
        raw = json.dumps(body).encode("utf-16")
    else:  # a legacy code page, with a Vietnamese reason that is not ASCII
        paused = follow_up(body, "paused", 30, "p", data={"reason": "chờ bổ sung"})
        text = json.dumps(paused, ensure_ascii=False)
        raw = text.encode("latin-1", "replace") if how == "latin1" else text.encode("cp1258", "replace")
        raw = raw.replace(b"?", b"\xe0", 1) if b"?" in raw else raw + b"\xe0"  # never plain ASCII
    return Bad(f"not_utf8/{how}", raw, "encoding")


@st.composite
def empty_values(draw: st.DrawFn, catalog: Catalog) -> Bad:
    how = draw(
        st.sampled_from(
            [
                "empty_payload",
                "whitespace_payload",
                "empty_object",
                "empty_field",
                "blank_field",
                "null_field",
                "empty_data",
            ]
        )
    )
    if how == "empty_payload":
        return Bad("empty/payload", b"", "json")
    if how == "whitespace_payload":
        return Bad("empty/whitespace_payload", draw(st.sampled_from([b" ", b"\n", b"\t \r\n"])), "json")
    if how == "empty_object":
        return Bad("empty/object", b"{}", "schema")
    body = draw(valid_receipt(catalog))
    name = draw(
        st.sampled_from(["event_id", "dossier", "agency", "procedure", "type", "occurred_at", "schema"])
    )
    if how == "empty_field":
        body[name] = ""
    elif how == "blank_field":
        body[name] = "   "
        if name == "event_id":  # an id of spaces is an id; a dossier code or agency of spaces is not
            name = "dossier"
            body = {**body, "event_id": body["dossier"] + "-r", "dossier": "   "}
    elif how == "null_field":
        body[name] = None
    else:
        body = follow_up(body, "rated", 600, "q", data={})  # `rating` is required
        name = "data"
    return Bad(f"empty/{how}/{name}", _dump(body), "schema")


@st.composite
def null_bytes(draw: st.DrawFn, catalog: Catalog) -> Bad:
    how = draw(st.sampled_from(["only_nuls", "inside_string", "between_tokens", "prefix", "suffix"]))
    raw = _dump(draw(valid_receipt(catalog)))
    nul = b"\x00" * draw(st.integers(1, 8))
    if how == "only_nuls":
        raw = nul
    elif how == "inside_string":  # a raw control character in a JSON string is not JSON
        at = raw.index(b'"dossier":"') + len(b'"dossier":"') + 2
        raw = raw[:at] + nul + raw[at:]
    elif how == "between_tokens":
        at = raw.index(b",")
        raw = raw[:at] + nul + raw[at:]
    elif how == "prefix":
        raw = nul + raw
    else:
        raw = raw + nul
    return Bad(f"null_bytes/{how}", raw, "json")


@st.composite
def not_an_object(draw: st.DrawFn, catalog: Catalog) -> Bad:
    body = draw(valid_receipt(catalog))
    raw = draw(st.sampled_from([_dump([body]), b"42", b'"received"', b"null", b"true", b"[]"]))
    return Bad("not_an_object", raw, "not_object")


@st.composite
def wrong_contract(draw: st.DrawFn, catalog: Catalog) -> Bad:
    body = draw(valid_receipt(catalog))
    how = draw(st.sampled_from(["schema_v2", "unknown_type", "bad_enum", "too_long"]))
    if how == "schema_v2":
        body["schema"] = "dossier-event/2"
    elif how == "unknown_type":
        body["type"] = draw(st.sampled_from(["approved", "RECEIVED", "cancelled", "tiếp nhận"]))
    elif how == "bad_enum":
        body = follow_up(body, "rated", 600, "q", data={"rating": "rất hài lòng"})
    else:
        body["dossier"] = "D" * draw(st.integers(65, 200))
    return Bad(f"contract/{how}", _dump(body), "schema")


@st.composite
def agency_mismatch(draw: st.DrawFn, catalog: Catalog) -> Bad:
    """A valid event produced under another agency's identity header (set by the producer SDK)."""
    body = draw(valid_receipt(catalog))
    other = draw(st.sampled_from([a.code for a in catalog.agencies if a.code != body["agency"]]))
    return Bad("agency_mismatch", _dump(body), "agency_mismatch", headers=(("ioc-agency", other.encode()),))


def tombstone(catalog: Catalog) -> st.SearchStrategy[Bad]:
    """A Kafka record with no value at all (null, not empty bytes)."""
    del catalog
    return st.just(Bad("tombstone", None, "json"))


# -- valid by the contract, impossible as a history: processed, reported as problems --------------------


@st.composite
def impossible_history(draw: st.DrawFn, catalog: Catalog) -> list[Bad]:
    base = draw(valid_receipt(catalog))
    how = draw(
        st.sampled_from(
            [
                "resumed_without_paused",
                "resolved_before_received",
                "refused_twice",
                "supplement_received_without_request",
                "returned_without_result",
                "received_twice",
                "closed_twice",
                "events_without_received",
            ]
        )
    )
    if how == "resumed_without_paused":
        events = [base, follow_up(base, "resumed", 120, "u")]
    elif how == "resolved_before_received":
        events = [follow_up(base, "resolved", -600, "z"), base]
    elif how == "refused_twice":
        events = [follow_up(base, "refused", 5, "x1"), follow_up(base, "refused", 9, "x2")]
    elif how == "supplement_received_without_request":
        events = [base, follow_up(base, "supplement_received", 90, "s2")]
    elif how == "returned_without_result":
        events = [base, follow_up(base, "returned", 300, "t")]
    elif how == "received_twice":
        events = [base, {**base, "event_id": f"{base['dossier']}-r2"}]
    elif how == "closed_twice":
        events = [base, follow_up(base, "resolved", 600, "z"), follow_up(base, "withdrawn", 700, "w")]
    else:
        events = [
            follow_up(base, "paused", 60, "p"),
            follow_up(base, "rated", 90, "q", data={"rating": "satisfied"}),
        ]
    return [Bad(f"impossible/{how}", _dump(e), None, dossier=e["dossier"]) for e in events]


@st.composite
def odd_but_valid(draw: st.DrawFn, catalog: Catalog) -> list[Bad]:
    """Valid events whose text fields carry escaped NULs, newlines, quotes, RTL marks: processed, and
    written to InfluxDB (the dossier code is a field of the `events` point) without breaking a batch."""
    base = draw(valid_receipt(catalog))
    odd = draw(st.sampled_from(["\u0000", "\n", '"', "\\", "\u202e", "😀", " , = ", "\t"]))
    dossier = f"{base['dossier']}{odd}x"
    body = {**base, "dossier": dossier, "event_id": f"{dossier}-r"}
    return [Bad("odd_but_valid", _dump(body), None, dossier=dossier)]


def _one(strategy: st.SearchStrategy[Bad]) -> st.SearchStrategy[list[Bad]]:
    return strategy.map(lambda bad: [bad])


def categories(catalog: Catalog) -> dict[str, st.SearchStrategy[list[Bad]]]:
    """Every kind of malformed input, each a strategy of record lists (impossible histories have several)."""
    return {
        "broken_json": _one(broken_json(catalog)),
        "wrong_types": _one(wrong_types(catalog)),
        "unknown_fields": _one(unknown_fields(catalog)),
        "missing_time_zone": _one(missing_time_zone(catalog)),
        "unknown_agency": _one(unknown_agency(catalog)),
        "unknown_procedure": _one(unknown_procedure(catalog)),
        "oversized": _one(oversized(catalog)),
        "not_utf8": _one(not_utf8(catalog)),
        "empty_values": _one(empty_values(catalog)),
        "null_bytes": _one(null_bytes(catalog)),
        "not_an_object": _one(not_an_object(catalog)),
        "wrong_contract": _one(wrong_contract(catalog)),
        "agency_mismatch": _one(agency_mismatch(catalog)),
        "tombstone": _one(tombstone(catalog)),
        "impossible_history": impossible_history(catalog),
        "odd_but_valid": odd_but_valid(catalog),
    }


@st.composite
def corpus_batch(draw: st.DrawFn, catalog: Catalog, per_category: tuple[int, int] = (1, 4)) -> list[Bad]:
    """Every category at least once, plus valid lifecycles, in a random (but reproducible) order."""
    low, high = per_category
    records: list[Bad] = []
    for strategy in categories(catalog).values():
        for group in draw(st.lists(strategy, min_size=low, max_size=high)):
            records.extend(group)
    for _ in range(draw(st.integers(5, 15))):
        base = draw(valid_receipt(catalog))
        done = follow_up(base, "resolved", draw(st.integers(30, 9000)), "z")
        records.extend(Bad("valid", _dump(e), None, dossier=base["dossier"]) for e in (base, done))
    order = draw(st.permutations(range(len(records))))
    # keep each dossier's records in their drawn order (the stream sees them in partition order)
    positions: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        if record.dossier is not None:
            positions.setdefault(record.dossier, []).append(index)
    shuffled = [records[i] for i in order]
    for indices in positions.values():
        slots = sorted(order.index(i) for i in indices)
        for slot, original in zip(slots, indices, strict=True):
            shuffled[slot] = records[original]
    return shuffled


# -- inputs that break the parser or the calendar instead of being refused ------------------------------


def _receipt_json(**changes: Any) -> bytes:
    body = {
        "event_id": _unique("CRASH") + "-r",
        "schema": "dossier-event/1",
        "type": "received",
        "occurred_at": BASE.isoformat(),
        "dossier": _unique("CRASH"),
        "agency": "STP",
        "procedure": "2.000488",
        "channel": "counter",
        **changes,
    }
    return _dump(body)


CRASHERS: dict[str, bytes] = {
    # json.loads raises RecursionError (not JSONDecodeError) past ~1000 levels; 5000 bytes < 16 KiB
    "deeply_nested_json": b"[" * 5000,
    # json.loads raises ValueError (Python's 4300-digit limit on int()), not JSONDecodeError
    "huge_integer": b'{"event_id":' + b"9" * 5000 + b"}",
    # valid by the contract; the working calendar cannot represent the local day before year 1
    "year_1": _receipt_json(occurred_at="0001-01-01T00:00:00+07:00"),
    # valid by the contract; the calendar is built day by day up to year 9999, then overflows
    "due_at_year_9999": _receipt_json(due_at="9999-12-31T23:59:59+07:00"),
}
"""Record values that make `Processor.handle` raise something other than InvalidEvent
(see tests/integration/test_bad_input.py)."""
