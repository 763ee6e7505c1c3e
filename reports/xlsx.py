"""The form II.06a as the XLSX a centre sends (openpyxl): title, period, unit, the two-level merged
header, the row of column numbers, one row per agency or field, the total, and a print setup that fits
one landscape A4 page. Vietnamese throughout (`dossiers.labels`): staff read and sign it."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from dossiers import labels
from dossiers.report_ii06a import FORM_COLUMNS, Report

NUMBER_FORMAT = "#,##0"
HEADER_ROW = 5
"""The first header row; the second is below it, then the column numbers, then the data."""
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_BOLD = Font(bold=True)
LAST_COLUMN = 2 + len(FORM_COLUMNS) + 1
"""TT, label, (3)..(13), then refused at the counter outside the form."""


def _merge(sheet: Worksheet, top: int, left: int, bottom: int, right: int, value: str,
           font: Font | None = None, align: Alignment = _CENTRE) -> None:
    if (top, left) != (bottom, right):
        sheet.merge_cells(start_row=top, start_column=left, end_row=bottom, end_column=right)
    cell = sheet.cell(row=top, column=left, value=value)
    cell.alignment = align
    if font is not None:
        cell.font = font


def workbook(report: Report, centre: str, as_of: str | None = None) -> Workbook:
    """The form as a workbook; `as_of` (local time, text) is printed when the period is still running."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "II.06a"
    last = LAST_COLUMN
    _merge(sheet, 1, 1, 1, 5, centre.upper(), _BOLD, Alignment(horizontal="left", wrap_text=True))
    _merge(sheet, 1, last - 3, 1, last, labels.II06A_FORM, _BOLD, Alignment(horizontal="right"))
    _merge(sheet, 2, 1, 2, last, labels.II06A_TITLE, Font(bold=True, size=13))
    period = labels.period_line(report.period.first.isoformat(), report.period.last.isoformat(),
                                report.period.name)
    if as_of:
        period += f" — số liệu đến {as_of} (kỳ chưa kết thúc)"
    _merge(sheet, 3, 1, 3, last, period, Font(italic=True))
    _merge(sheet, 4, 1, 4, last, labels.II06A_UNIT, Font(italic=True), Alignment(horizontal="right"))
    top, sub, numbers = HEADER_ROW, HEADER_ROW + 1, HEADER_ROW + 2
    _merge(sheet, top, 1, sub, 1, labels.II06A_ROW, _BOLD)
    _merge(sheet, top, 2, sub, 2, labels.II06A_GROUP[report.by.value], _BOLD)
    column = 3
    for group, subs in labels.II06A_HEADER:
        _merge(sheet, top, column, top, column + len(subs) - 1, group, _BOLD)
        for _, text in subs:
            sheet.cell(row=sub, column=column, value=text).alignment = _CENTRE
            column += 1
    sheet.cell(row=top, column=last, value=labels.II06A_OUTSIDE).alignment = _CENTRE
    sheet.cell(row=sub, column=last, value=labels.II06A_REFUSED).alignment = _CENTRE
    for index in range(1, last):
        sheet.cell(row=numbers, column=index, value=f"({index})").alignment = _CENTRE
    sheet.cell(row=numbers, column=last, value="(*)").alignment = _CENTRE
    row_index = numbers + 1
    for number, row in enumerate(report.rows, start=1):
        _data_row(sheet, row_index, number, row.label, [getattr(row.counts, c) for c in FORM_COLUMNS]
                  + [row.counts.refused_at_counter])
        row_index += 1
    _data_row(sheet, row_index, None, labels.II06A_TOTAL,
              [getattr(report.total, c) for c in FORM_COLUMNS] + [report.total.refused_at_counter], bold=True)
    for r in range(top, row_index + 1):
        for c in range(1, last + 1):
            sheet.cell(row=r, column=c).border = _BOX
    note = row_index + 2
    _merge(sheet, note, 1, note, last, "(*) Hồ sơ bị từ chối tiếp nhận (chưa được tiếp nhận) không tính vào "
           "biểu; ghi ngoài biểu để đối chiếu.", Font(italic=True, size=9), Alignment(horizontal="left"))
    _layout(sheet, numbers)
    return book


def _data_row(sheet: Worksheet, index: int, number: int | None, label: str, values: list[int],
              bold: bool = False) -> None:
    font = _BOLD if bold else None
    first = sheet.cell(row=index, column=1, value=number)
    first.alignment = Alignment(horizontal="center")
    name = sheet.cell(row=index, column=2, value=label)
    name.alignment = Alignment(wrap_text=True, vertical="center")
    for offset, value in enumerate(values):
        cell = sheet.cell(row=index, column=3 + offset, value=value)
        cell.number_format = NUMBER_FORMAT
        if font is not None:
            cell.font = font
    if font is not None:
        name.font = font


def _layout(sheet: Worksheet, numbers: int) -> None:
    """Column widths, header heights, frozen header, and one landscape A4 page when printed."""
    sheet.column_dimensions["A"].width = 5
    sheet.column_dimensions["B"].width = 42
    for index in range(3, LAST_COLUMN + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 11
    sheet.row_dimensions[2].height = 36
    sheet.row_dimensions[HEADER_ROW].height = 22
    sheet.row_dimensions[HEADER_ROW + 1].height = 48
    sheet.freeze_panes = sheet.cell(row=numbers + 1, column=3)
    setup = sheet.page_setup
    setup.orientation = "landscape"
    setup.paperSize = sheet.PAPERSIZE_A4
    setup.fitToWidth = 1
    setup.fitToHeight = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.print_title_rows = f"{HEADER_ROW}:{numbers}"
    sheet.print_area = f"A1:{get_column_letter(LAST_COLUMN)}{sheet.max_row}"


def write_xlsx(report: Report, path: Path, centre: str, as_of: str | None = None) -> None:
    workbook(report, centre, as_of).save(path)
