"""The 766 index scorecard as an XLSX (openpyxl): a row per agency and the centre, per item its rate and
points (2.2: working days), then points, maximum and points lost; a second sheet lists what is not
measured. Vietnamese throughout (`dossiers.labels`): staff read it; rates are real numbers in a percent
format, so the sheet can be sorted and charted."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from dossiers import labels
from dossiers.index766 import COVERED, GROUPS, ITEMS, NOT_MEASURED, Index766, Row

HEADER_ROW = 5
_BOLD = Font(bold=True)
_WRAP = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _header(sheet: Worksheet) -> None:
    names = [labels.AGENCY]
    for item in ITEMS:
        text = f"{item.code} {labels.INDEX766_ITEMS[item.code]}"
        if item.max is None:
            names.append(text)
            continue
        star = "*" if item.max_assumed else ""
        names += [f"{text}: tỷ lệ", f"{item.code}: {labels.INDEX766_POINTS.lower()} /{item.max:g}{star}"]
    names += [labels.INDEX766_POINTS, "Tối đa", labels.INDEX766_LOST]
    for column, name in enumerate(names, start=1):
        cell = sheet.cell(row=HEADER_ROW, column=column, value=name)
        cell.font, cell.alignment = _BOLD, _WRAP


def _row(sheet: Worksheet, at: int, row: Row, label: str, bold: bool = False) -> None:
    found = row.indicators()
    values: list[tuple[float | str | None, str | None]] = [(label, None)]
    for item in ITEMS:
        got = found[item.code]
        if item.max is None:
            values.append((None if got.rate is None else round(got.rate, 2), "0.00"))
            continue
        values.append((got.rate, "0.0%"))
        values.append((None if got.points is None else round(got.points, 2), "0.00"))
    points, out_of = row.score()
    values += [(round(points, 2), "0.00"), (out_of, "0"), (round(out_of - points, 2), "0.00")]
    for column, (value, number_format) in enumerate(values, start=1):
        shown = value if value is not None else labels.INDEX766_NOT_APPLICABLE
        cell = sheet.cell(row=at, column=column, value=shown)
        if number_format and value is not None:
            cell.number_format = number_format
        if bold:
            cell.font = _BOLD


def workbook(result: Index766, centre: str, as_of: str | None = None) -> Workbook:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Chỉ số 766"
    sheet["A1"] = labels.INDEX766_TITLE
    sheet["A1"].font = _BOLD
    sheet["A2"] = f"{labels.INDEX766_SUBTITLE} — {centre}"
    sheet["A3"] = labels.period_line(result.period.first.isoformat(), result.period.last.isoformat(),
                                     result.period.name)
    covers = labels.INDEX766_COVERS.format(covered=f"{COVERED:g}", total=sum(GROUPS.values()))
    sheet["A4"] = covers + (f" — số liệu đến {as_of} (kỳ chưa kết thúc)" if as_of else "")
    _header(sheet)
    at = HEADER_ROW + 1
    for row in result.rows:
        _row(sheet, at, row, row.label)
        at += 1
    province = len(result.centres) > 1
    for row in result.centres if province else ():  # each centre on its own sums, then the province
        _row(sheet, at, row, row.label, bold=True)
        at += 1
    _row(sheet, at, result.total, labels.PROVINCE if province else labels.CENTRE, bold=True)
    sheet.cell(row=at + 2, column=1, value=labels.INDEX766_ASSUMED)
    sheet.column_dimensions["A"].width = 40
    sheet.freeze_panes = sheet.cell(row=HEADER_ROW + 1, column=2)
    missing = book.create_sheet(labels.INDEX766_NOT_MEASURED)
    for column, name in enumerate(("Chỉ tiêu", "Điểm tối đa", "Lý do"), start=1):
        missing.cell(row=1, column=column, value=name).font = _BOLD
    for at, (code, points, why) in enumerate(NOT_MEASURED, start=2):
        missing.cell(row=at, column=1, value=code)
        missing.cell(row=at, column=2, value=points if points is not None else "chưa xác định")
        missing.cell(row=at, column=3, value=why)
    missing.column_dimensions["C"].width = 90
    return book


def write_index_xlsx(result: Index766, path: Path, centre: str, as_of: str | None = None) -> None:
    """Write the workbook to `path` (OSError when the place cannot be written)."""
    workbook(result, centre, as_of).save(path)
