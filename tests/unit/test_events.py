"""The event contract v1 (docs/domain.md, section 1): parsing, error messages, catalog checks, JSON Schema."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from strategies import ALL_TYPES, CATALOG, sample_event, valid_event_dicts

from dossiers.events import (
    MAX_EVENT_BYTES,
    Channel,
    EventType,
    InvalidEvent,
    Outcome,
    Rating,
    json_schema,
    parse_event,
)
from dossiers.validation import check_against_catalog, validate_event


def reason_of(raw: Any) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as err:
        parse_event(raw)
    return err.value


# --- each type parses ---------------------------------------------------------------------------------


def test_there_are_fifteen_types() -> None:
    """13 from the start, then `synced` and `complained` for the 766 index (additive: still v1)."""
    assert len(ALL_TYPES) == 15
    assert set(ALL_TYPES) == {
        "received",
        "refused",
        "transferred",
        "supplement_requested",
        "supplement_received",
        "paused",
        "resumed",
        "extended",
        "resolved",
        "returned",
        "withdrawn",
        "rated",
        "paid",
        "synced",
        "complained",
    }


@pytest.mark.parametrize("type_", ALL_TYPES)
def test_a_valid_event_of_each_type_parses(type_: str) -> None:
    raw = sample_event(type_)
    parsed = parse_event(raw)
    assert parsed.type is EventType(type_)
    assert parsed.event_id == raw["event_id"]
    assert parsed.dossier == raw["dossier"]
    assert parsed.occurred_at == datetime.fromisoformat(raw["occurred_at"])
    # the same event as UTF-8 bytes and as text parses to the same model
    assert parse_event(json.dumps(raw).encode()) == parsed
    assert parse_event(json.dumps(raw, ensure_ascii=False)) == parsed
    # and it passes the shipped catalog too
    assert validate_event(raw, CATALOG) == parsed


def test_type_specific_data_is_typed() -> None:
    received = parse_event(sample_event("received", channel="online"))
    assert received.procedure == "2.000488" and received.channel is Channel.ONLINE
    resolved = parse_event(sample_event("resolved", data={"outcome": "denied"}))
    assert resolved.data is not None and resolved.data.outcome is Outcome.DENIED
    rated = parse_event(sample_event("rated", data={"rating": "unsatisfied"}))
    assert rated.data.rating is Rating.UNSATISFIED
    paid = parse_event(sample_event("paid", data={"online": False}))
    assert paid.data.online is False and paid.data.receipt is None
    extended = parse_event(sample_event("extended"))
    assert extended.data.new_due_at == datetime.fromisoformat("2026-03-20T17:00:00+07:00")


def test_resolved_outcome_defaults_to_approved_and_data_may_be_omitted() -> None:
    resolved = parse_event(sample_event("resolved", data={}))
    assert resolved.data is not None and resolved.data.outcome is Outcome.APPROVED
    bare = sample_event("resolved")
    del bare["data"]
    assert parse_event(bare).data is None


# --- rejected, with the field named -----------------------------------------------------------------


@pytest.mark.parametrize("field", ["citizen_name", "id_number", "phone"])
def test_unknown_top_level_field_is_rejected_naming_it(field: str) -> None:
    raw = sample_event("received")
    raw[field] = "Nguyễn Văn A"
    err = reason_of(raw)
    assert err.code == "schema"
    assert field in err.reason
    assert "not a field of the contract" in err.reason


@pytest.mark.parametrize("type_", ["received", "resolved", "paused", "rated", "paid", "extended", "returned"])
def test_unknown_data_field_is_rejected_naming_it(type_: str) -> None:
    raw = sample_event(type_)
    raw["data"] = {**raw.get("data", {}), "address": "12 Lê Lợi"}
    err = reason_of(raw)
    assert err.code == "schema"
    assert "data.address" in err.reason
    assert "not a field of the contract" in err.reason


@pytest.mark.parametrize(
    ("where", "build"),
    [
        ("occurred_at", lambda raw: raw.__setitem__("occurred_at", "2026-03-02T09:00:00")),
        ("due_at", lambda raw: raw.__setitem__("due_at", "2026-03-09T09:00:00")),
        ("data.new_due_at", lambda raw: raw["data"].__setitem__("new_due_at", "2026-03-20T17:00:00")),
    ],
)
def test_missing_time_zone_is_rejected_naming_the_field(where: str, build: Any) -> None:
    raw = sample_event("extended" if where == "data.new_due_at" else "received")
    build(raw)
    err = reason_of(raw)
    assert err.code == "schema"
    assert err.reason.startswith(f"{where}: ")
    assert "time-zone offset" in err.reason


def test_wrong_schema_is_rejected() -> None:
    raw = sample_event("received", schema="dossier-event/2")
    err = reason_of(raw)
    assert err.code == "schema"
    assert err.reason == 'schema: must be "dossier-event/1"'
    del raw["schema"]
    assert reason_of(raw).reason == "schema: is required"


def test_unknown_type_lists_the_valid_ones() -> None:
    err = reason_of(sample_event("approved"))
    assert err.code == "schema"
    assert err.reason.startswith("type: is not a known event type")
    for type_ in ALL_TYPES:
        assert type_ in err.reason
    missing = sample_event("received")
    del missing["type"]
    assert reason_of(missing).reason.startswith("type: is required")


@pytest.mark.parametrize("field", ["procedure", "channel"])
def test_received_needs_procedure_and_channel(field: str) -> None:
    raw = sample_event("received")
    del raw[field]
    err = reason_of(raw)
    assert err.reason == f"{field}: is required"
    # other types do not need them
    other = sample_event("resolved")
    assert field not in other
    parse_event(other)


def test_online_payment_needs_a_receipt_but_cash_does_not() -> None:
    err = reason_of(sample_event("paid", data={"online": True}))
    assert err.code == "schema"
    assert err.reason.startswith("data.receipt: ")
    assert "e-receipt" in err.reason
    assert reason_of(sample_event("paid", data={"online": True, "receipt": ""})).reason.startswith(
        "data.receipt"
    )
    parse_event(sample_event("paid", data={"online": False}))


def test_required_data_of_extended_rated_paid() -> None:
    for type_, field in (("extended", "data"), ("rated", "data"), ("paid", "data")):
        raw = sample_event(type_)
        del raw["data"]
        assert reason_of(raw).reason == f"{field}: is required"
    assert reason_of(sample_event("rated", data={"rating": "meh"})).reason.startswith("data.rating: ")


def test_bad_values_name_their_field() -> None:
    assert reason_of(sample_event("received", channel="fax")).reason.startswith("channel: ")
    assert reason_of(sample_event("received", event_id="")).reason.startswith("event_id: ")
    assert reason_of(sample_event("received", event_id="x" * 65)).reason.startswith("event_id: ")
    assert reason_of(sample_event("received", dossier="  ")).reason.startswith("dossier: ")
    assert reason_of(sample_event("received", occurred_at="yesterday")).reason.startswith("occurred_at: ")


def test_several_problems_are_all_reported() -> None:
    raw = sample_event("received", channel="fax", nickname="x")
    err = reason_of(raw)
    assert "channel: " in err.reason and "nickname: " in err.reason


# --- broken payloads: each a distinct code ------------------------------------------------------------


def test_broken_payloads_have_distinct_codes() -> None:
    good = json.dumps(sample_event("received"))
    not_utf8 = reason_of(good.replace("counter", "c\xf4unter").encode("latin-1"))
    broken_json = reason_of(good[:-1])
    not_object = reason_of(json.dumps([sample_event("received")]))
    padded = sample_event("paused", data={"reason": "x"})
    too_large = reason_of((json.dumps(padded)[:-2] + " " * MAX_EVENT_BYTES + "}}").encode())
    contract = reason_of(sample_event("received", channel="fax"))
    assert not_utf8.code == "encoding" and "UTF-8" in not_utf8.reason
    assert broken_json.code == "json" and "not valid JSON" in broken_json.reason
    assert not_object.reason == "event: must be a JSON object"
    assert too_large.code == "too_large" and str(MAX_EVENT_BYTES) in too_large.reason
    # a dead-letter consumer tells the five apart by code alone
    codes = [e.code for e in (not_utf8, broken_json, not_object, too_large, contract)]
    assert len(set(codes)) == 5, codes


def test_size_limit_is_on_bytes_and_exact() -> None:
    raw = sample_event("paused", data={"reason": ""})
    text = json.dumps(raw)
    pad = MAX_EVENT_BYTES - len(text.encode())
    at_limit = text[:-1] + " " * pad + "}"
    assert len(at_limit.encode()) == MAX_EVENT_BYTES
    parse_event(at_limit.encode())  # exactly 16 KiB is fine
    assert reason_of((at_limit + " ").encode()).code == "too_large"
    # multi-byte characters count as bytes, not characters: 6000 "ệ" are 18000 bytes
    reason = "ệ" * 6000
    assert reason_of(json.dumps({**raw, "data": {"reason": reason}}, ensure_ascii=False)).code == "too_large"


@pytest.mark.parametrize("value", ["[]", "42", '"received"', "null"])
def test_non_object_json_is_rejected(value: str) -> None:
    err = reason_of(value)
    assert err.code == reason_of("[]").code != reason_of("{").code
    assert err.reason == "event: must be a JSON object"


def test_invalid_event_is_a_value_error_with_reason() -> None:
    err = reason_of("{")
    assert issubclass(InvalidEvent, ValueError)
    assert str(err) == err.reason


# --- catalog checks ------------------------------------------------------------------------------------


def catalog_error(raw: dict[str, Any]) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as err:
        validate_event(raw, CATALOG)
    return err.value


def test_unknown_agency() -> None:
    err = catalog_error(sample_event("resolved", agency="SO_MA"))
    assert err.code == "unknown_agency"
    assert err.reason.startswith("agency: 'SO_MA'")
    parse_event(sample_event("resolved", agency="SO_MA"))  # the contract alone cannot know


def test_procedure_of_another_agency() -> None:
    # 1.012270 belongs to the health department (SYT), not to justice (STP)
    assert CATALOG.procedure("SYT", "1.012270") is not None
    err = catalog_error(sample_event("received", agency="STP", procedure="1.012270"))
    assert err.code == "unknown_procedure"
    assert "procedure: '1.012270'" in err.reason and "'STP'" in err.reason
    validate_event(sample_event("received", agency="SYT", procedure="1.012270"), CATALOG)


def test_procedure_on_other_types_is_checked_too() -> None:
    assert catalog_error(sample_event("refused", procedure="9.999999")).code == "unknown_procedure"


def test_channel_not_allowed_for_the_procedure() -> None:
    # STP 2.000505 accepts counter and postal only
    assert CATALOG.procedure("STP", "2.000505").channels == ("counter", "postal")
    err = catalog_error(sample_event("received", procedure="2.000505", channel="online"))
    assert err.code == "channel_not_allowed"
    assert err.reason.startswith("channel: 'online'")
    assert "counter, postal" in err.reason
    validate_event(sample_event("received", procedure="2.000505", channel="postal"), CATALOG)


def test_phone_only_for_the_pilot_procedures() -> None:
    assert catalog_error(sample_event("received", channel="phone")).code == "channel_not_allowed"
    validate_event(sample_event("received", agency="SNNPTNT", procedure="1.004692", channel="phone"), CATALOG)


def test_unknown_transfer_target() -> None:
    err = catalog_error(sample_event("transferred", data={"to_agency": "BO_NGOAI_GIAO"}))
    assert err.code == "unknown_agency"
    assert err.reason.startswith("data.to_agency: 'BO_NGOAI_GIAO'")
    validate_event(sample_event("transferred", data={}), CATALOG)


def test_check_against_catalog_accepts_every_shipped_procedure_and_channel() -> None:
    for agency in CATALOG.agencies:
        for proc in agency.procedures:
            for channel in proc.channels:
                raw = sample_event("received", agency=agency.code, procedure=proc.code, channel=channel)
                check_against_catalog(parse_event(raw), CATALOG)


# --- JSON Schema ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    published: dict[str, Any] = json_schema()
    return published


def test_json_schema_is_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    json.dumps(schema)  # serialisable as it is printed


@pytest.mark.parametrize("type_", ALL_TYPES)
def test_json_schema_accepts_valid_events(schema: dict[str, Any], type_: str) -> None:
    jsonschema.Draft202012Validator(schema).validate(sample_event(type_))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw.__setitem__("citizen_name", "Nguyễn Văn A"),
        lambda raw: raw["data"].__setitem__("address", "12 Lê Lợi"),
        lambda raw: raw.__setitem__("type", "approved"),
        lambda raw: raw.__setitem__("schema", "dossier-event/2"),
        lambda raw: raw.pop("event_id"),
    ],
    ids=["extra-field", "extra-data-field", "unknown-type", "wrong-schema", "missing-id"],
)
def test_json_schema_rejects_what_the_parser_rejects(schema: dict[str, Any], mutate: Any) -> None:
    raw = sample_event("paused")
    mutate(raw)
    with pytest.raises(InvalidEvent):
        parse_event(raw)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(raw)


# --- round trip ----------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(valid_event_dicts())
def test_parse_of_to_json_round_trips(raw: dict[str, Any]) -> None:
    first = parse_event(raw)
    wire = first.to_json()
    again = parse_event(wire)
    assert again == first
    assert again.to_json() == wire
    assert type(again) is type(first)
    # datetimes keep their instant and their offset
    assert again.occurred_at.utcoffset() == first.occurred_at.utcoffset()
    # the wire form is itself contract-valid bytes (no nulls, by alias)
    decoded = json.loads(wire)
    assert "schema" in decoded and "schema_" not in decoded
    assert None not in decoded.values()


def test_published_schema_file_matches_the_contract() -> None:
    """docs/dossier-event-1.schema.json is what `ioc schema` prints: regenerate it with the contract."""
    import json
    from pathlib import Path

    from dossiers.events import json_schema

    published = json.loads((Path(__file__).parents[2] / "docs" / "dossier-event-1.schema.json").read_text())
    assert published == json_schema()


@pytest.mark.parametrize(
    ("due_at", "expected"),
    [
        ("2026-03-05", "2026-03-05"),  # a date alone: the receipt's appointment day (classified by date)
        ("2026-03-05T10:00:00+07:00", "2026-03-05T10:00:00+07:00"),
    ],
)
def test_due_at_is_an_instant_or_a_date_alone(due_at: str, expected: str) -> None:
    raw = sample_event("received") | {"due_at": due_at}
    parsed = parse_event(raw)
    assert json.loads(parsed.to_json())["due_at"] == expected
    assert parse_event(parsed.to_json()) == parsed  # the wire form round-trips


@pytest.mark.parametrize(
    ("due_at", "reason"),
    [
        ("2026-02-30", "due_at: not a valid date"),
        ("1999-12-31", "due_at: year 1999 is out of range"),
        ("2026-03-05T10:00", "due_at: must carry a time-zone offset"),
    ],
)
def test_a_bad_appointment_names_its_field(due_at: str, reason: str) -> None:
    assert reason_of(sample_event("received") | {"due_at": due_at}).reason.startswith(reason)
