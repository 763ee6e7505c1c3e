"""Byte-level fuzzing of each door's parsing function: whatever the bytes, a clear error, never a crash.

Bounded for the suite (hypothesis' default 100 examples each). `scripts/fuzz` runs the same properties
with many more examples (`IOC_FUZZ_EXAMPLES`, default 20,000) and prints how many inputs were tried;
its figures are in docs/faults.md.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers.alerts import Alert
from dossiers.catalog import CatalogError, parse_catalog
from dossiers.events import InvalidEvent, decode_object, parse_event
from producers.files import RawLine, read_csv, read_jsonl, split_lines

if os.environ.get("IOC_FUZZ_EXAMPLES"):
    settings.register_profile(
        "fuzz",
        max_examples=int(os.environ["IOC_FUZZ_EXAMPLES"]),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    settings.load_profile("fuzz")

JSONISH = st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b":", b",", b"\\", b"\\u00", b"\xff", b"\x00", b"\r", b"\n", b"\r\n",
     b"\xef\xbb\xbf", b"1e999", b"-0", b"9" * 50, b'"event_id"', b'"type"', b'"received"', b"null", b"true",
     b" ", b"\t", b"\xc3\xa1", b"\xed\xa0\x80"]
)
"""Pieces that make JSON parsers and line splitters work: structure, escapes, bad UTF-8, line ends."""

hostile_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(JSONISH, max_size=60).map(b"".join),
    st.lists(st.one_of(JSONISH, st.binary(max_size=8)), max_size=40).map(b"".join),
)


def reference_lines(data: bytes) -> list[bytes]:
    """What line splitting means, on the whole input at once."""
    parts = re.split(rb"\r\n|\r|\n", data)
    return parts[:-1] + ([parts[-1]] if parts[-1] else [])


@given(hostile_bytes)
def test_the_core_decoder_only_raises_invalid_event(raw: bytes) -> None:
    try:
        body = decode_object(raw)
    except InvalidEvent as exc:
        assert exc.reason and exc.code in {"encoding", "json", "not_object", "too_large"}
    else:
        assert isinstance(body, dict)
    try:
        parse_event(raw)
    except InvalidEvent as exc:
        assert exc.reason


@given(hostile_bytes, st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20))
def test_line_splitting_does_not_depend_on_where_chunks_end(data: bytes, cuts: list[int]) -> None:
    chunks, rest = [], data
    for cut in cuts:
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    got = list(split_lines(chunks, max_bytes=10_000))
    assert [line.data for line in got] == reference_lines(data)
    assert [line.number for line in got] == list(range(1, len(got) + 1))


@given(hostile_bytes, st.integers(min_value=1, max_value=50))
def test_overlong_lines_are_reported_with_their_size_and_nothing_else_is_lost(
    data: bytes, limit: int
) -> None:
    got = list(split_lines([data], max_bytes=limit))
    expected = reference_lines(data)
    assert len(got) == len(expected)
    for line, text in zip(got, expected, strict=True):
        assert (line.data, line.too_long) == ((text, 0) if len(text) <= limit else (b"", len(text)))


@given(st.lists(hostile_bytes, max_size=12))
def test_every_jsonl_line_with_content_is_a_record_or_a_reported_error(lines: list[bytes]) -> None:
    raws = [RawLine(n, data.replace(b"\n", b" ").replace(b"\r", b" ")) for n, data in enumerate(lines, 1)]
    got = list(read_jsonl(raws))
    with_content = [r.number for r in raws
                    if (r.data.removeprefix(b"\xef\xbb\xbf") if r.number == 1 else r.data).strip(b" \t\r\n")]
    assert [item.line for item in got] == with_content
    assert all((item.record is None) != (item.error is None) for item in got)


@given(st.lists(hostile_bytes, max_size=12), st.sampled_from([",", ";", "\t"]))
def test_csv_reading_never_crashes_and_reports_each_bad_row(lines: list[bytes], sep: str) -> None:
    header = sep.join(["event_id", "type", "occurred_at", "dossier", "agency"]).encode()
    raws = [RawLine(1, header)] + [RawLine(n, data.replace(b"\n", b" ").replace(b"\r", b" "))
                                   for n, data in enumerate(lines, 2)]
    for item in read_csv(raws):
        assert (item.record is None) != (item.error is None)
        assert 1 <= item.line <= len(raws)


@settings(deadline=None)
@given(st.one_of(st.text(max_size=300), hostile_bytes.map(lambda b: b.decode("utf-8", "replace"))))
def test_the_catalog_loader_only_raises_catalog_error(text: str) -> None:
    try:
        parse_catalog(text, "fuzz.yaml")
    except CatalogError as exc:
        assert str(exc).startswith("fuzz.yaml")


@given(hostile_bytes)
def test_the_alert_decoder_only_raises_value_error(raw: bytes) -> None:
    try:
        alert = Alert.from_json(raw)
    except ValueError as exc:
        assert str(exc)
    else:
        assert Alert.from_json(alert.to_json()) == alert
