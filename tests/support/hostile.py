"""The hostile corpus: files a centre may really feed the commands, each with what must come out of it.

Every file door (`ioc validate`, `ioc replay`, `ioc produce` with JSON lines and CSV) is fed every case
(tests/unit/test_hostile_doors.py); the stream has its own record-level corpus (tests/support/malformed.py).
A case says how many records are valid and how many must be reported, so each door's counts can be
checked: produced = valid + reported, and nothing is silently dropped or sent twice.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from dossiers.events import MAX_EVENT_BYTES

BOM = b"\xef\xbb\xbf"
CSV_HEADER = "event_id;type;occurred_at;dossier;agency;procedure;channel;reason"


@dataclass(frozen=True)
class Case:
    """One hostile file: its bytes, its format, and the counts every door must report."""

    name: str
    data: bytes
    fmt: str  # "jsonl" | "csv"
    valid: int
    invalid: int
    says: str = ""
    """A phrase the report of the bad lines must contain (the reason a person reads)."""
    receipts: int | None = None
    """Valid `received` events among the valid ones (default: all of them)."""

    @property
    def suffix(self) -> str:
        return ".csv" if self.fmt == "csv" else ".jsonl"


def good(n: int, **changes: Any) -> dict[str, Any]:
    """A valid `received` event of the shipped sample catalog, unique per n."""
    body: dict[str, Any] = {
        "event_id": f"hostile-{n}",
        "schema": "dossier-event/1",
        "type": "received",
        "occurred_at": "2026-03-02T09:00:00+07:00",
        "dossier": f"000.00.12.H48-260302-{n:04d}",
        "agency": "STP",
        "procedure": "2.000488",
        "channel": "counter",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def line(n: int, **changes: Any) -> bytes:
    return json.dumps(good(n, **changes), ensure_ascii=False).encode()


def jsonl(*lines: bytes, end: bytes = b"\n", final: bool = True) -> bytes:
    return end.join(lines) + (end if final else b"")


WRONG_TYPES: dict[str, list[Any]] = {
    "event_id": [17, None, "", "x" * 65, ["a"]],
    "schema": ["dossier-event/2", 1],
    "type": ["approved", 3, None],
    "occurred_at": [20260302, "2026-03-02 09:00", "2026-03-02T09:00:00", "10000-01-01T00:00:00+07:00",
                    "0000-01-01T00:00:00+07:00", "2026-13-02T09:00:00+07:00", True],
    "dossier": [42, "", {"code": "x"}],
    "agency": ["NOPE", 7, ""],
    "procedure": ["9.999999", 2.000488],
    "channel": ["fax", 1],
    "due_at": ["tomorrow", 5],
    "data": ["text", [1, 2]],
}
"""For each field of the contract, values of the wrong type or out of range (each line is one case)."""


def _wrong_type_lines() -> list[bytes]:
    lines = []
    for n, (field, values) in enumerate(WRONG_TYPES.items()):
        for m, value in enumerate(values):
            number = 1000 + 10 * n + m
            if value is None:  # the field left out
                lines.append(json.dumps({k: v for k, v in good(number).items() if k != field}).encode())
            else:
                lines.append(line(number, **{field: value}))
    return lines


def windows_1258(text: str) -> bytes:
    """Text as Windows saves it in the Vietnamese code page: base letters with tone marks as combining
    characters (the code page has â ă ê ô ơ ư đ but no precomposed tones)."""
    decomposed = unicodedata.normalize("NFD", text)
    composed = re.sub("[aeouAEOU][\u0302\u0306\u031b]", lambda m: unicodedata.normalize("NFC", m[0]),
                      decomposed)
    return composed.encode("cp1258")


def _csv(rows: list[str], *, sep: str = ";", end: str = "\r\n", header: str = CSV_HEADER) -> str:
    return end.join([header.replace(";", sep), *rows]) + end


def _csv_row(n: int, reason: str = "", sep: str = ";") -> str:
    """A `received` row, or a `paused` row of dossier n when a reason is given (quoted as Excel does)."""
    e = good(n)
    if reason:
        cells = [f"pause-{n}", "paused", e["occurred_at"], e["dossier"], e["agency"], "", "", f'"{reason}"']
    else:
        cells = [e["event_id"], e["type"], e["occurred_at"], e["dossier"], e["agency"], e["procedure"],
                 e["channel"], ""]
    return sep.join(cells)


def corpus() -> list[Case]:
    """Every case, small enough to feed each door in the fast suite."""
    wrong = _wrong_type_lines()
    deep = 5000
    vietnamese_export = _csv(
        [_csv_row(1), _csv_row(2).replace(";counter;", ";online;"),
         # a quoted cell with an embedded line break and the separator, as Excel writes a multi-line cell
         _csv_row(1, "chờ thực hiện nghĩa vụ tài chính;\r\nbản sao có chứng thực")],
    )
    cp1258 = windows_1258(_csv([_csv_row(1, "Sở Tư pháp"), _csv_row(2, "Trung tâm Phục vụ")]))
    return [
        Case("invalid_utf8", jsonl(line(1), b'{"event_id": "x-10", "dossier": "\xff\xfe"}', line(2)),
             "jsonl", 2, 1, "not UTF-8"),
        Case("utf8_bom", BOM + jsonl(line(1), line(2)), "jsonl", 2, 0),
        Case("crlf", jsonl(line(1), line(2), line(3), end=b"\r\n"), "jsonl", 3, 0),
        Case("lone_cr", jsonl(line(1), line(2), line(3), end=b"\r"), "jsonl", 3, 0),
        Case("nul_bytes", jsonl(line(1), line(2).replace(b'"STP"', b'"ST\x00P"'), b"\x00\x00\x00", line(3)),
             "jsonl", 2, 2, "JSON"),
        Case("line_over_the_limit", jsonl(line(1), b'{"event_id": "' + b"x" * (8 * MAX_EVENT_BYTES) + b'"}',
                                          line(2)), "jsonl", 2, 1, "limit"),
        Case("event_over_the_limit", jsonl(line(1), line(2, dossier="D" * (MAX_EVENT_BYTES + 10))),
             "jsonl", 1, 1, "limit"),
        Case("nesting_under_the_limit", jsonl(line(1), line(2, data={"a": {"b": {"c": [[[1]]]}}})),
             "jsonl", 1, 1, "data"),
        Case("nesting_over_the_limit", jsonl(line(1), b'{"a":' * deep + b"1" + b"}" * deep, b"[" * deep,
                                             line(2)), "jsonl", 2, 2),
        Case("huge_numbers", jsonl(line(1), line(2, event_id=10 ** 30),
                                   b'{"event_id": ' + b"9" * 5000 + b"}", b'{"event_id": 1e999}'),
             "jsonl", 1, 3),
        Case("duplicate_keys", jsonl(line(1), line(2)[:-1] + b', "type": "refused"}'), "jsonl", 1, 1,
             "given twice"),
        Case("wrong_types_in_every_field", jsonl(line(1), *wrong), "jsonl", 1, len(wrong)),
        Case("not_objects", jsonl(b"[]", b'"text"', b"42", b"null", b"true", line(1)), "jsonl", 1, 5,
             "JSON object"),
        Case("broken_json", jsonl(b"{", b'{"a": }', b"}{", line(1), b"{'single': 'quotes'}"), "jsonl", 1, 4,
             "not valid JSON"),
        Case("empty_file", b"", "jsonl", 0, 0),
        Case("blank_lines_only", b"\n \r\n\t\n", "jsonl", 0, 0),
        Case("no_final_newline", jsonl(line(1), line(2), final=False), "jsonl", 2, 0),
        Case("csv_vietnamese_excel_export", BOM + vietnamese_export.encode("utf-8"), "csv", 3, 0,
             receipts=2),
        Case("csv_comma_lf", _csv([_csv_row(1, sep=","), _csv_row(2, sep=",")], sep=",", end="\n").encode(),
             "csv", 2, 0),
        Case("csv_windows_1258", cp1258, "csv", 0, 2, "Windows-1258"),
        Case("csv_missing_required_column", _csv([_csv_row(1)], header=CSV_HEADER.replace("agency;", ""))
             .encode(), "csv", 0, 1, "missing required column"),
        Case("csv_unknown_column", _csv([_csv_row(1) + ";Nguyễn Văn A"], header=CSV_HEADER + ";citizen_name")
             .encode(), "csv", 0, 1, "unknown column"),
        Case("csv_extra_and_missing_cells", _csv([_csv_row(1) + ";extra", _csv_row(2), "hostile-3;received"])
             .encode(), "csv", 1, 2),
        Case("csv_nul_byte", _csv([_csv_row(1), _csv_row(2).replace("STP", "ST\x00P")]).encode(), "csv",
             1, 1),
        Case("csv_empty", b"", "csv", 0, 0),
    ]
