"""Readers for event files: JSON lines, and the CSV layout a one-stop system's export can be mapped to.

Every command that reads an event file (`ioc produce`, `ioc validate`, `ioc replay`) reads it here, as
bytes, so hostile input is handled once: lines end with LF, CRLF or a lone CR; a UTF-8 byte-order mark
(as Excel writes it) is ignored; a line longer than any event is skipped without being held in memory;
bytes that are not UTF-8 are reported (with a hint when the file was saved in the Windows Vietnamese code
page), never sent as mojibake. Both formats yield one `SourceLine` per record with its 1-based line
number, so the CLI can tell an integrator "line 7: occurred_at: must carry a time-zone offset" rather
than "record 5 is wrong". Blank lines are skipped, and a line that cannot be read becomes a `SourceLine`
with an `error` instead of stopping the file. A JSON line is decoded by the core's `decode_object`, the
same function the stream uses, so a line gets the same reason at every door.

CSV layout (contract v1 flattened; see docs/producer.md): a header row naming the columns
`event_id, type, occurred_at, dossier, agency, procedure, channel, due_at` and the data columns
`to_agency, reason, new_due_at, outcome, rating, online, receipt, amount_vnd, digitised, e_result`.
Column order is free and optional columns may be left out; an empty cell means "absent"; `schema` is
implied. Any other column is refused: an export must not smuggle personal data (names, ID numbers)
into the stream.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from dossiers.events import MAX_EVENT_BYTES, SCHEMA_V1, InvalidEvent, decode_object

FileFormat = Literal["jsonl", "csv"]

CSV_EVENT_COLUMNS = ("event_id", "type", "occurred_at", "dossier", "agency", "procedure", "channel", "due_at")
CSV_DATA_COLUMNS = (
    "to_agency", "reason", "new_due_at", "outcome", "rating", "online", "receipt", "amount_vnd",
    "digitised", "e_result",
)
CSV_REQUIRED_COLUMNS = ("event_id", "type", "occurred_at", "dossier", "agency")
CSV_COLUMNS = CSV_EVENT_COLUMNS + CSV_DATA_COLUMNS
_CSV_OPTIONAL_SCHEMA = "schema"  # tolerated when present: it must then say dossier-event/1 (validated later)


MAX_JSON_LINE_BYTES = 4 * MAX_EVENT_BYTES
"""Longer JSON lines are skipped unread (an event is at most MAX_EVENT_BYTES; pretty-printing aside)."""
MAX_CSV_LINE_BYTES = 1 << 20
"""Longer CSV lines are skipped unread: memory stays flat whatever the file holds."""
CHUNK_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"

_NOT_UTF8 = "not UTF-8 text: save the file as UTF-8"
_CP1258 = (
    "not UTF-8 text: the file looks saved in the Windows Vietnamese code page (Windows-1258); save it "
    "as UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"
)
_VIETNAMESE = re.compile("[\u0300-\u0323ăâđêôơưĂÂĐÊÔƠƯ]")
"""Letters and combining tone marks that Windows-1258 text of Vietnamese is made of."""


@dataclass(frozen=True, slots=True)
class RawLine:
    """One physical line of a file, without its line end; `too_long` is its size when it was skipped."""

    number: int
    data: bytes
    too_long: int = 0


def split_lines(chunks: Iterable[bytes], max_bytes: int) -> Iterator[RawLine]:
    """Numbered lines of a byte stream, whatever its line ends (LF, CRLF, lone CR), in bounded memory.

    A line over `max_bytes` is yielded once as `too_long` (its size) with no data: the rest of it is
    read and dropped, never held. A last line without a line end is a line like the others.
    """
    number = 0
    pending = b""
    skipped = 0  # > 0 while dropping the rest of an overlong line
    after_cr = False
    for chunk in chunks:
        if not chunk:
            continue
        if after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the LF of a CRLF split across two chunks
        after_cr = chunk[-1:] == b"\r"
        parts = re.split(rb"\r\n|\r|\n", chunk)
        for part in parts[:-1]:
            number += 1
            if skipped or len(pending) + len(part) > max_bytes:
                yield RawLine(number, b"", skipped + len(pending) + len(part))
            else:
                yield RawLine(number, pending + part)
            pending, skipped = b"", 0
        tail = parts[-1]
        if skipped or len(pending) + len(tail) > max_bytes:
            skipped, pending = skipped + len(pending) + len(tail), b""
        else:
            pending += tail
    if pending or skipped:
        number += 1
        yield RawLine(number, b"", skipped) if skipped else RawLine(number, pending)


def _raw_lines(lines: Iterable[RawLine | bytes | str], max_bytes: int) -> Iterator[RawLine]:
    """RawLines as they are; already-split text or byte lines (tests, other callers) numbered from 1."""
    for number, line in enumerate(lines, start=1):
        if isinstance(line, RawLine):
            yield line
            continue
        data = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
        data = data.rstrip(b"\r\n")
        yield RawLine(number, b"", len(data)) if len(data) > max_bytes else RawLine(number, data)


def _not_utf8(data: bytes) -> str:
    """Why bytes are not UTF-8, with the fix when they look like Windows-1258 Vietnamese."""
    try:
        text = data.decode("cp1258")
    except UnicodeDecodeError:
        return _NOT_UTF8
    return _CP1258 if _VIETNAMESE.search(text) else _NOT_UTF8


def _too_long(size: int, limit: int) -> str:
    return f"line: {size} bytes, over the {limit}-byte limit of a line (skipped unread)"


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One record of an input file: either `record` (a dict to validate) or `error` (unreadable)."""

    line: int
    record: dict[str, Any] | None = None
    error: str | None = None
    code: str = "invalid"
    """The machine-readable reason of `error` (`InvalidEvent.code`)."""


def detect_format(name: str) -> FileFormat:
    """`csv` for *.csv and *.tsv (any case), else `jsonl` (*.jsonl, *.ndjson, *.json, standard input)."""
    return "csv" if name.lower().endswith((".csv", ".tsv")) else "jsonl"


def read_jsonl(lines: Iterable[RawLine | bytes | str]) -> Iterator[SourceLine]:
    """JSON lines: one JSON object per line, decoded by the core (`decode_object`)."""
    for raw in _raw_lines(lines, MAX_JSON_LINE_BYTES):
        if raw.too_long:
            yield SourceLine(raw.number, error=_too_long(raw.too_long, MAX_JSON_LINE_BYTES), code="too_large")
            continue
        data = raw.data.removeprefix(BOM) if raw.number == 1 else raw.data
        data = data.strip(b" \t\r\n")
        if not data:
            continue
        try:
            yield SourceLine(raw.number, record=decode_object(data))
        except InvalidEvent as exc:
            reason = _not_utf8(data) if exc.code == "encoding" else exc.reason
            yield SourceLine(raw.number, error=reason, code=exc.code)


class _CountingLines:
    """Feeds csv.reader and remembers on which physical line the current record began."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._it = iter(lines)
        self.number = 0
        self.record_start: int | None = None

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        text = next(self._it)
        self.number += 1
        if self.record_start is None:
            self.record_start = self.number
        return text


def _sniff_delimiter(header: str) -> str:
    """Comma unless the header clearly uses semicolons or tabs (spreadsheet exports vary by locale)."""
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _csv_text(lines: Iterable[RawLine | bytes | str], bad: dict[int, str]) -> Iterator[str]:
    """Text lines for the csv module (each ending with LF, so quoted fields may span lines); lines that
    are not UTF-8 or too long are noted in `bad` and given to the reader empty."""
    for raw in _raw_lines(lines, MAX_CSV_LINE_BYTES):
        if raw.too_long:
            bad[raw.number] = _too_long(raw.too_long, MAX_CSV_LINE_BYTES)
            yield "\n"
            continue
        data = raw.data.removeprefix(BOM) if raw.number == 1 else raw.data
        try:
            yield data.decode("utf-8") + "\n"
        except UnicodeDecodeError:
            bad[raw.number] = _not_utf8(data)
            yield "\n"


def read_csv(lines: Iterable[RawLine | bytes | str]) -> Iterator[SourceLine]:
    """The documented CSV layout (header row first) → contract-shaped dicts; see the module docstring."""
    bad: dict[int, str] = {}
    counting = _CountingLines(_csv_text(lines, bad))
    first: str | None = None
    for text in counting:
        if counting.number in bad:
            yield SourceLine(counting.number, error=f"header: {bad.pop(counting.number)}", code="encoding")
            return
        if text.strip().removeprefix("\ufeff"):
            first = text.removeprefix("\ufeff")
            break
    if first is None:
        return
    header_line = counting.number
    delimiter = _sniff_delimiter(first)
    header = [cell.strip().lower() for cell in next(csv.reader([first], delimiter=delimiter))]
    problems = _check_header(header)
    if problems:
        yield SourceLine(header_line, error=f"header: {problems}")
        return
    counting.record_start = None
    reader = csv.reader(counting, delimiter=delimiter)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a NUL byte, a field over the csv module's limit
            start = counting.record_start or counting.number
            counting.record_start = None
            yield SourceLine(start, error=f"not a readable CSV row ({exc})", code="csv")
            continue
        start = counting.record_start or counting.number
        end = counting.number
        counting.record_start = None
        unreadable = [bad.pop(n) for n in range(start, end + 1) if n in bad]
        if unreadable:
            yield SourceLine(start, error=unreadable[0], code="encoding")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield SourceLine(start, error=f"{len(row)} cells but the header has {len(header)} columns",
                             code="csv")
            continue
        yield SourceLine(start, record=_csv_record(dict(zip(header, row, strict=False))))


def _check_header(header: list[str]) -> str:
    known = set(CSV_COLUMNS) | {_CSV_OPTIONAL_SCHEMA}
    unknown = [c for c in header if c not in known]
    missing = [c for c in CSV_REQUIRED_COLUMNS if c not in header]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    parts = []
    if unknown:
        names = ", ".join(repr(c) for c in unknown)
        parts.append(f"unknown column(s) {names} (allowed: {', '.join(CSV_COLUMNS)})")
    if missing:
        parts.append(f"missing required column(s) {', '.join(missing)}")
    if duplicated:
        parts.append(f"column(s) given twice: {', '.join(duplicated)}")
    return "; ".join(parts)


def _csv_record(cells: dict[str, str]) -> dict[str, Any]:
    """Flattened row → contract dict; strings are coerced by the contract's own validation."""
    record: dict[str, Any] = {"schema": SCHEMA_V1}
    data: dict[str, Any] = {}
    for column, raw in cells.items():
        value = raw.strip()
        if not value:
            continue
        if column in CSV_DATA_COLUMNS:
            data[column] = value
        else:
            record[column] = value
    if data:
        record["data"] = data
    return record


def read_records(stream: BinaryIO, fmt: FileFormat) -> Iterator[SourceLine]:
    """Dispatch on the format; `stream` is binary (`open_source`) and read in chunks."""
    limit = MAX_CSV_LINE_BYTES if fmt == "csv" else MAX_JSON_LINE_BYTES
    lines = split_lines(iter(lambda: stream.read(CHUNK_BYTES), b""), limit)
    return read_csv(lines) if fmt == "csv" else read_jsonl(lines)


def open_source(path: str) -> BinaryIO:
    """A binary stream for a file path, or for standard input when `path` is "-"."""
    if path == "-":
        return sys.stdin.buffer
    return Path(path).open("rb")
