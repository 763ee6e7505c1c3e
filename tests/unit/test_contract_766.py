"""The contract's additions for the Decision 766 index: `synced`, `complained`, `data.digitised` on
`received`, `data.e_result` on `resolved`, the catalog's `has_fee` and `requires_written_result`; old
events and stored states stay valid; the new facts merge order-free and count duplicates once."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from strategies import at, event, parse, sample_event, state_of

from dossiers.catalog import parse_catalog
from dossiers.events import InvalidEvent, parse_event
from dossiers.lifecycle import DossierState, apply
from producers.files import read_csv

D = {"dossier": "D-1", "agency": "STP"}


def rec(**data: Any) -> dict[str, Any]:
    return event("received", at(2026, 3, 2, 9), procedure="2.000488", channel="online",
                 event_id="r", data=data or None, **D)


def test_new_types_and_fields_parse_and_round_trip() -> None:
    synced = parse_event(event("synced", at(2026, 3, 2, 10), **D))
    complained = parse_event(event("complained", at(2026, 3, 5, 10), **D))
    received = parse_event(rec(digitised=True))
    resolved = parse_event(event("resolved", at(2026, 3, 9, 9), data={"e_result": True}, **D))
    assert (synced.type, complained.type) == ("synced", "complained")
    assert json.loads(received.to_json())["data"] == {"digitised": True}
    assert json.loads(resolved.to_json())["data"] == {"outcome": "approved", "e_result": True}


def test_old_events_stay_valid_with_the_same_meaning() -> None:
    for type_ in ("received", "resolved", "paid", "rated"):
        parse_event(sample_event(type_))
    plain = state_of(parse([rec(), event("resolved", at(2026, 3, 9, 9), event_id="x", **D)]))
    assert (plain.digitised, plain.e_result, plain.synced, plain.complaints) == (False, False, None, 0)


@pytest.mark.parametrize(
    ("type_", "data", "field"),
    [("paid", {"online": False, "digitised": True}, "data.digitised"),
     ("synced", {"at": "2026-03-02"}, "data.at"),
     ("complained", {"text": "chậm"}, "data.text"),  # no free text: it may carry personal data
     ("received", {"e_result": True}, "data.e_result")],
)
def test_new_fields_only_where_they_belong(type_: str, data: dict[str, Any], field: str) -> None:
    raw = sample_event(type_, data=data)
    with pytest.raises(InvalidEvent) as err:
        parse_event(raw)
    assert err.value.reason.startswith(f"{field}: is not a field of the contract"), err.value.reason


def test_digitised_accepts_csv_style_text_and_refuses_nonsense() -> None:
    assert parse_event(rec(digitised="true")).data.digitised is True  # type: ignore[union-attr]
    with pytest.raises(InvalidEvent):
        parse_event(rec(digitised="maybe"))


HISTORY = [
    rec(digitised=True),
    event("synced", at(2026, 3, 3, 8), event_id="s2", **D),
    event("synced", at(2026, 3, 2, 11), event_id="s1", **D),
    event("complained", at(2026, 3, 4, 8), event_id="c1", **D),
    event("complained", at(2026, 3, 6, 8), event_id="c2", **D),
    event("resolved", at(2026, 3, 9, 9), event_id="x1", data={"e_result": True}, **D),
    event("resolved", at(2026, 3, 10, 9), event_id="x2", data={"e_result": False}, **D),
]


def test_new_facts_merge_order_free_and_duplicates_count_once() -> None:
    events = parse(HISTORY)
    reference = state_of(events)
    assert reference.synced is not None and reference.synced[0] == int(at(2026, 3, 2, 11).timestamp())
    assert (reference.digitised, reference.e_result, reference.complaints) == (True, True, 2)
    for order in itertools.permutations(events):
        state = state_of([*order, order[0], order[3]])  # two re-deliveries
        assert state.facts() == reference.facts()


def test_a_state_stored_before_the_766_fields_still_decodes() -> None:
    state = state_of(parse(HISTORY))
    old = json.loads(state.to_json_bytes())[:-4]  # the record as the previous release wrote it
    decoded = DossierState.from_bytes(json.dumps(old).encode())
    new_facts = (decoded.synced, decoded.digitised, decoded.e_result, decoded.complaints)
    assert new_facts == (None, False, False, 0)
    again = DossierState.from_bytes(state.to_bytes())
    assert again == state and isinstance(again.synced, tuple)


def test_supplement_requests_count_the_waits_the_citizen_saw() -> None:
    def request(n: int, day: int) -> dict[str, Any]:
        return event("supplement_requested", at(2026, 3, day, 9), event_id=f"q{n}", **D)

    def answer(n: int, day: int) -> dict[str, Any]:
        return event("supplement_received", at(2026, 3, day, 9), event_id=f"a{n}", **D)

    resent = state_of(parse([rec(), request(1, 3), request(2, 4)]))  # re-sent before any answer: one wait
    assert resent.supplement_requests() == [int(at(2026, 3, 3, 9).timestamp())]
    assert resent.awaiting_supplement_since() == int(at(2026, 3, 3, 9).timestamp())
    twice = state_of(parse([rec(), request(1, 3), answer(1, 4), request(2, 5)]))
    assert len(twice.supplement_requests()) == 2
    assert twice.awaiting_supplement_since() == int(at(2026, 3, 5, 9).timestamp())
    answered = state_of(parse([rec(), request(1, 3), answer(1, 4)]))
    assert len(answered.supplement_requests()) == 1 and answered.awaiting_supplement_since() is None


def test_catalog_flags_default_off_and_parse() -> None:
    catalog = parse_catalog("""
centre: {name: C}
agencies:
  - code: A
    name: Sở A
    procedures:
      - {code: "1", name: P1, field: F, processing: 5}
      - {code: "2", name: P2, field: F, processing: 5, has_fee: true, requires_written_result: true}
""")
    plain, flagged = catalog.agencies[0].procedures
    assert (plain.has_fee, plain.requires_written_result) == (False, False)
    assert (flagged.has_fee, flagged.requires_written_result) == (True, True)


def test_csv_carries_digitised_and_e_result() -> None:
    text = ("event_id,type,occurred_at,dossier,agency,procedure,channel,digitised,e_result\n"
            "r,received,2026-03-02T08:15:00+07:00,D-1,STP,2.000488,online,true,\n"
            "x,resolved,2026-03-09T08:15:00+07:00,D-1,STP,,,,1\n")
    got = [line.record for line in read_csv(text.splitlines(keepends=True))]
    received, resolved = (parse_event(r) for r in got if r is not None)
    assert json.loads(received.to_json())["data"] == {"digitised": True}
    assert json.loads(resolved.to_json())["data"] == {"outcome": "approved", "e_result": True}
    state = DossierState("D-1")
    apply(state, received)
    apply(state, resolved)
    assert state.digitised and state.e_result
