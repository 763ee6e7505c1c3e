"""The fast reading of plain JSON (`dossiers.events.plain_object`, issue 19) never changes what
`decode_object` answers: the same object, or the same refusal, as the standard decoder's path."""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dossiers.events import InvalidEvent, _decode_slowly, decode_object, parse_event, plain_object
from tests.unit.test_door_fuzz import hostile_bytes

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=8), values, max_size=6)


def _answer(decode: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "ok", decode(raw)
    except InvalidEvent as exc:
        return "refused", (exc.reason, exc.code)


def _same(raw: bytes) -> None:
    fast, slow = _answer(decode_object, raw), _answer(_decode_slowly, raw)
    assert fast == slow
    if fast[0] == "ok":  # equal, and of equal types (1 is not 1.0; -0.0 keeps its sign)
        assert repr(fast[1]) == repr(slow[1])


def _with_a_key_twice(body: dict[str, Any], compact: bytes) -> bytes:
    """`compact` with its first member written twice (what msgspec alone would silently take)."""
    key, value = next(iter(body.items()))
    member = msgspec.json.encode({key: value})[1:-1]
    return b"{" + member + b"," + compact[1:]


@given(objects, st.sampled_from(["msgspec", "compact", "ascii", "spaced"]), st.booleans())
def test_any_object_written_any_way_is_read_as_the_standard_decoder_reads_it(
    body: dict[str, Any], style: str, twice: bool
) -> None:
    if style == "msgspec":
        raw = msgspec.json.encode(body)
    elif style == "compact":
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    elif style == "ascii":
        raw = json.dumps(body, separators=(",", ":")).encode()
    else:
        raw = json.dumps(body).encode()
    if twice and body:
        raw = _with_a_key_twice(body, raw)
    _same(raw)


@given(hostile_bytes)
def test_hostile_bytes_get_the_same_answer_either_way(raw: bytes) -> None:
    _same(raw)


def test_plain_compact_events_take_the_fast_path() -> None:
    """Otherwise the equality above would hold trivially."""
    event = {"event_id": "e-1", "type": "received", "dossier": "Hồ sơ 1", "data": {"a": [1, 2.5, None]}}
    raw = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    assert plain_object(raw) == event
    assert plain_object(json.dumps(event).encode()) is None  # \u escapes: not what msgspec writes


def test_what_the_producer_sdk_sends_takes_the_fast_path() -> None:
    """`Event.to_json` is the SDK's and the gateway's wire form: the stream reads it the fast way."""
    event = parse_event({
        "event_id": "e-2", "schema": "dossier-event/1", "type": "paused",
        "occurred_at": "2026-01-05T08:00:00+07:00", "dossier": "D-1", "agency": "STP",
        "data": {"reason": "Thiếu bản sao giấy chứng nhận"},
    })
    raw = event.to_json().encode()
    assert plain_object(raw) == json.loads(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type":"paid","type":"received"}',
        b'{"a":1,"data":{"to_agency":"X","to_agency":"Y"}}',
        b'{"a":[{"k":1,"k":1}]}',
    ],
)
def test_a_key_given_twice_in_compact_json_is_still_refused(raw: bytes) -> None:
    assert plain_object(raw) is None
    with pytest.raises(InvalidEvent, match="given twice"):
        decode_object(raw)


def test_a_number_longer_than_the_standard_decoder_takes_is_still_refused() -> None:
    digits = sys.get_int_max_str_digits() or 4300
    raw = b'{"amount_vnd":' + b"9" * (digits + 1) + b"}"
    with pytest.raises(InvalidEvent, match="too long"):
        decode_object(raw)
