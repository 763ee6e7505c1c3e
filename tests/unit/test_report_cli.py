"""`ioc report ii06a` on files: JSON, CSV, the terminal table, and the XLSX read back with openpyxl."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from openpyxl import load_workbook
from test_report_ii06a import ALL
from typer.testing import CliRunner

from dossiers import labels
from dossiers.report_ii06a import COUNT_FIELDS, FORM_COLUMNS
from ioc.commands import report as report_cli

runner = CliRunner()
COLUMNS = [*FORM_COLUMNS, "refused_at_counter"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, as under `ioc`."""

    report_cli.register(app)
    return app


def write(tmp_path: Path, events: list[dict[str, Any]], name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


def invoke(app: typer.Typer, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["report", "ii06a", *args])
    assert result.exit_code == code, result.output + result.stderr
    return result


def as_json(app: typer.Typer, *args: str) -> dict[str, Any]:
    return json.loads(invoke(app, *args, "--json").stdout)


def test_json_document(app: typer.Typer, tmp_path: Path) -> None:
    doc = as_json(app, str(write(tmp_path, ALL)), "--period", "2026-04")
    assert list(doc)[:3] == ["form", "period", "by"] and doc["form"] == "II.06a"
    assert doc["period"] == {"from": "2026-03-15", "to": "2026-04-14"}
    assert "as_of" not in doc  # the period is over (as of now)
    stp = next(row for row in doc["rows"] if row["key"] == "STP")
    assert stp["label"] == "Sở Tư pháp"
    assert {k: stp[k] for k in COLUMNS} == {
        "c3": 11, "c4": 3, "c5": 5, "c6": 3, "c7": 7, "c8": 4, "c9": 1, "c10": 2, "c11": 4, "c12": 3,
        "c13": 1, "refused_at_counter": 2}
    assert {k: doc["total"][k] for k in COLUMNS} == {k: stp[k] for k in COLUMNS}


def test_files_are_one_history_and_lines_may_come_twice(app: typer.Typer, tmp_path: Path) -> None:
    whole = as_json(app, str(write(tmp_path, ALL)), "--period", "2026-04")
    first = write(tmp_path, list(reversed(ALL[::2])), "a.jsonl")
    second = write(tmp_path, ALL[1::2] + ALL[:5], "b.jsonl")
    assert as_json(app, str(first), str(second), "--period", "2026-04") == whole


def test_calendar_periods_explicit_dates_and_as_of(app: typer.Typer, tmp_path: Path) -> None:
    path = str(write(tmp_path, ALL))
    calendar = as_json(app, path, "--period", "2026-03", "--calendar-periods")
    assert calendar["period"] == {"from": "2026-03-01", "to": "2026-03-31"}
    explicit = as_json(app, path, "--from", "2026-03-01", "--to", "2026-03-31")
    assert explicit["rows"] == calendar["rows"]
    running = as_json(app, path, "--period", "2026-04", "--as-of", "2026-03-20T12:00:00+07:00")
    assert running["as_of"] == "2026-03-20T12:00:00+07:00"
    assert running["total"]["c3"] == 8  # tests/unit/test_report_ii06a.py: the running period
    by_field = as_json(app, path, "--period", "2026-04", "--by", "field")
    assert by_field["by"] == "field" and by_field["rows"][0]["key"] == "ly-lich-tu-phap"
    assert by_field["total"] == as_json(app, path, "--period", "2026-04")["total"]


def test_previous_and_current_months_are_relative_to_as_of(app: typer.Typer, tmp_path: Path) -> None:
    path = str(write(tmp_path, ALL))
    previous = as_json(app, path, "--period", "previous", "--as-of", "2026-04-15T08:00:00+07:00")
    assert previous["period"] == {"from": "2026-03-15", "to": "2026-04-14"} and "as_of" not in previous
    assert previous["rows"] == as_json(app, path, "--period", "2026-04")["rows"]
    current = as_json(app, path, "--period", "current", "--as-of", "2026-04-10T08:00:00+07:00")
    assert current["period"] == {"from": "2026-03-15", "to": "2026-04-14"}
    assert current["as_of"] == "2026-04-10T08:00:00+07:00"


def test_csv(app: typer.Typer, tmp_path: Path) -> None:
    text = invoke(app, str(write(tmp_path, ALL)), "--period", "2026-04", "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["key", "label", *COUNT_FIELDS]
    assert rows[-1]["key"] == "total" and rows[-1]["c3"] == "11"
    assert next(r for r in rows if r["key"] == "STP")["c13"] == "1"
    assert len(rows) == 19 + 1


def test_terminal_table_in_vietnamese(app: typer.Typer, tmp_path: Path) -> None:
    out = invoke(app, str(write(tmp_path, ALL)), "--period", "2026-04").stdout
    flat = " ".join(out.split())
    for text in (labels.II06A_FORM, labels.II06A_TITLE, "Từ ngày 15/03/2026 đến ngày 14/04/2026",
                 labels.II06A_UNIT, labels.RECEIVED, labels.RESOLVED, labels.OPEN, labels.CARRIED_OVER,
                 labels.II06A_TOTAL, "Tư pháp", "(13)"):
        assert text in flat, text


def test_xlsx_read_back(app: typer.Typer, tmp_path: Path) -> None:
    events = write(tmp_path, ALL)
    out = tmp_path / "ii06a.xlsx"
    result = invoke(app, str(events), "--period", "2026-04", "--xlsx", str(out))
    assert "wrote" in result.stderr and result.stdout == ""
    doc = as_json(app, str(events), "--period", "2026-04")
    sheet = load_workbook(out).active
    assert sheet is not None
    texts = [str(c.value) for row in sheet.iter_rows(max_row=4) for c in row if c.value]
    assert labels.II06A_FORM in texts and labels.II06A_TITLE in texts and labels.II06A_UNIT in texts
    assert "Kỳ báo cáo: 2026-04 (Từ ngày 15/03/2026 đến ngày 14/04/2026)" in texts
    assert "Trung tâm Phục vụ hành chính công tỉnh Quảng Ngãi".upper() in texts
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A5:A6", "B5:B6", "C5:F5", "G5:J5", "K5:M5", "A2:N2"} <= merged
    assert [sheet.cell(5, c).value for c in (3, 7, 11, 14)] == [labels.RECEIVED, labels.RESOLVED, labels.OPEN,
                                                                   labels.II06A_OUTSIDE]
    assert [sheet.cell(6, c).value for c in range(7, 14)] == [labels.TOTAL, labels.EARLY, labels.ON_TIME,
                                                               labels.LATE, labels.TOTAL, labels.WITHIN,
                                                               labels.OVERDUE]
    assert [sheet.cell(7, c).value for c in range(1, 15)] == [f"({n})" for n in range(1, 14)] + ["(*)"]
    for index, row in enumerate(doc["rows"]):
        line = [sheet.cell(8 + index, c).value for c in range(1, 15)]
        assert line == [index + 1, row["label"], *(row[k] for k in COLUMNS)]
    total = 8 + len(doc["rows"])
    assert sheet.cell(total, 2).value == labels.II06A_TOTAL
    assert [sheet.cell(total, c).value for c in range(3, 15)] == [doc["total"][k] for k in COLUMNS]
    assert sheet.cell(total, 3).font.bold
    assert all(sheet.cell(8, c).number_format == "#,##0" for c in range(3, 15))
    setup = sheet.page_setup
    assert setup.orientation == "landscape" and setup.fitToWidth == 1 and setup.fitToHeight == 1
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == "$5:$7"
    assert sheet.freeze_panes == "C8"


def test_xlsx_of_a_running_period_says_so(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "running.xlsx"
    invoke(app, str(write(tmp_path, ALL)), "--period", "2026-04", "--as-of", "2026-03-20T12:00:00+07:00",
           "--xlsx", str(out))
    sheet = load_workbook(out).active
    assert sheet is not None
    assert "số liệu đến 2026-03-20T12:00:00+07:00 (kỳ chưa kết thúc)" in str(sheet["A3"].value)


@pytest.mark.parametrize(("args", "message"), [
    ((), "give --period"),
    (("--period", "2026-04", "--from", "2026-03-01", "--to", "2026-03-31"), "not both"),
    (("--period", "2026-13"), "not 1-12"),
    (("--from", "2026-03-32", "--to", "2026-04-01"), "YYYY-MM-DD"),
    (("--from", "2026-04-02", "--to", "2026-04-01"), "before it starts"),
    (("--period", "2026-04", "--json", "--csv"), "one of --json"),
    (("--period", "2026-04", "--as-of", "2026-03-01T00:00:00+07:00"), "after the as-of"),
])
def test_usage_errors(app: typer.Typer, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = invoke(app, str(write(tmp_path, ALL)), *args, code=2)
    assert message in " ".join(result.output.split() + result.stderr.split())


def test_neither_files_nor_kafka(app: typer.Typer) -> None:
    result = invoke(app, "--period", "2026-04", code=2)
    assert "--from-kafka" in " ".join(result.output.split() + result.stderr.split())


def test_bad_lines_are_reported_and_the_form_still_printed(app: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, ALL)
    path.write_text(path.read_text(encoding="utf-8") + "not json\n", encoding="utf-8")
    result = invoke(app, str(path), "--period", "2026-04", "--json", code=1)
    assert json.loads(result.stdout)["total"]["c3"] == 11
    assert f"line {len(ALL) + 1}:" in result.stderr and "1 invalid" in result.stderr
