"""Readers for event files: JSON lines, and the CSV layout a one-stop system's export can be mapped to.

Both yield one `SourceLine` per record with its 1-based line number, so the CLI can tell an integrator
"line 7: occurred_at: must carry a time-zone offset" rather than "record 5 is wrong". Blank lines are
skipped, a UTF-8 byte-order mark (as Excel writes it) is ignored, and a line that cannot be read at
all becomes a `SourceLine` with an `error` instead of stopping the file.

CSV layout (contract v1 flattened; see docs/producer.md): a header row naming the columns
`event_id, type, occurred_at, dossier, agency, procedure, channel, due_at` and the data columns
`to_agency, reason, new_due_at, outcome, rating, online, receipt, amount_vnd`. Column order is free and
optional columns may be left out; an empty cell means "absent"; `schema` is implied. Any other column is
refused: an export must not smuggle personal data (names, ID numbers) into the stream.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from dossiers.events import SCHEMA_V1

FileFormat = Literal["jsonl", "csv"]

CSV_EVENT_COLUMNS = ("event_id", "type", "occurred_at", "dossier", "agency", "procedure", "channel", "due_at")
CSV_DATA_COLUMNS = (
    "to_agency", "reason", "new_due_at", "outcome", "rating", "online", "receipt", "amount_vnd",
)
CSV_REQUIRED_COLUMNS = ("event_id", "type", "occurred_at", "dossier", "agency")
CSV_COLUMNS = CSV_EVENT_COLUMNS + CSV_DATA_COLUMNS
_CSV_OPTIONAL_SCHEMA = "schema"  # tolerated when present: it must then say dossier-event/1 (validated later)


_NOT_UTF8 = "not UTF-8 text (save the file as UTF-8)"


def _is_utf8(text: str) -> bool:
    """False when the text carries undecodable bytes (kept as surrogates by `open_source`)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One record of an input file: either `record` (a dict to validate) or `error` (unreadable)."""

    line: int
    record: dict[str, Any] | None = None
    error: str | None = None


def detect_format(name: str) -> FileFormat:
    """`csv` for *.csv and *.tsv (any case), else `jsonl` (*.jsonl, *.ndjson, *.json, standard input)."""
    return "csv" if name.lower().endswith((".csv", ".tsv")) else "jsonl"


def read_jsonl(lines: Iterable[str]) -> Iterator[SourceLine]:
    """JSON lines: one JSON object per line."""
    for number, text in enumerate(lines, start=1):
        if number == 1:
            text = text.removeprefix("\ufeff")
        stripped = text.strip()
        if not stripped:
            continue
        if not _is_utf8(stripped):
            yield SourceLine(number, error=_NOT_UTF8)
            continue
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            yield SourceLine(number, error=f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(value, dict):
            yield SourceLine(number, error="must be a JSON object (one event per line)")
            continue
        yield SourceLine(number, record=value)


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


def read_csv(lines: Iterable[str]) -> Iterator[SourceLine]:
    """The documented CSV layout (header row first) → contract-shaped dicts; see the module docstring."""
    counting = _CountingLines(lines)
    first: str | None = None
    for text in counting:
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
    for row in reader:
        start = counting.record_start or counting.number
        counting.record_start = None
        if not any(cell.strip() for cell in row):
            continue
        if not all(_is_utf8(cell) for cell in row):
            yield SourceLine(start, error=_NOT_UTF8)
            continue
        if len(row) > len(header):
            yield SourceLine(start, error=f"{len(row)} cells but the header has {len(header)} columns")
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


def read_records(stream: TextIO, fmt: FileFormat) -> Iterator[SourceLine]:
    """Dispatch on the format; `stream` is text (open with encoding="utf-8-sig", newline="")."""
    return read_csv(stream) if fmt == "csv" else read_jsonl(stream)


def open_source(path: str) -> TextIO:
    """A text stream for a file path, or for standard input when `path` is "-".

    UTF-8 with the BOM tolerated; undecodable bytes are kept (as surrogates) so that the readers can
    report the line rather than abort the whole file.
    """
    if path == "-":
        import sys

        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="", errors="surrogateescape")
    return Path(path).open(encoding="utf-8-sig", newline="", errors="surrogateescape")
