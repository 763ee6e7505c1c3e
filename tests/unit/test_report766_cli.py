"""`ioc report 766` on files: the JSON per indicator, the Vietnamese terminal table, the XLSX read back,
a running period, bad lines and usage errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from openpyxl import load_workbook
from test_index766 import ALL, CATALOG
from typer.testing import CliRunner

from dossiers import labels
from dossiers.index766 import COVERED, ITEMS
from ioc.commands import report as report_cli

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, as under `ioc`."""

    report_cli.register(app)
    return app


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in ALL), encoding="utf-8")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(json.dumps(CATALOG.model_dump(mode="json"), ensure_ascii=False), encoding="utf-8")
    return str(events), str(catalog)


def invoke(app: typer.Typer, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["report", "766", *args])
    assert result.exit_code == code, result.output + result.stderr
    return result


def test_json_per_indicator(app: typer.Typer, files: tuple[str, str]) -> None:
    events, catalog = files
    doc = json.loads(invoke(app, events, "--catalog", catalog, "--period", "2026-04", "--json").stdout)
    assert doc["index"] == "766" and doc["period"] == {"from": "2026-03-15", "to": "2026-04-14"}
    assert doc["covers"] == {"points": COVERED, "of": 100}
    assert {n["item"] for n in doc["not_measured"]} >= {"1.1", "5.2", "4.3-4.5"}
    stp = next(a for a in doc["agencies"] if a["key"] == "STP")
    assert list(stp["indicators"]) == [item.code for item in ITEMS]
    for got in stp["indicators"].values():
        assert {"rate", "points", "max", "numerator", "denominator"} <= set(got)
    assert (stp["indicators"]["2.1"]["numerator"], stp["indicators"]["2.1"]["denominator"]) == (3, 6)
    assert doc["centre"]["indicators"]["1.4"]["denominator"] == 7


def test_from_and_to_and_a_running_period(app: typer.Typer, files: tuple[str, str]) -> None:
    events, catalog = files
    doc = json.loads(invoke(app, events, "--catalog", catalog, "--from", "2026-03-15", "--to", "2026-04-14",
                            "--json").stdout)
    assert doc["centre"]["indicators"]["2.1"]["denominator"] == 8
    early = json.loads(invoke(app, events, "--catalog", catalog, "--period", "2026-04", "--as-of",
                              "2026-03-20T12:00:00+07:00", "--json").stdout)
    assert early["as_of"] == "2026-03-20T12:00:00+07:00"
    # by 20 March only A B C and the SYT dossier S were received in the period; E is carried over
    assert early["centre"]["indicators"]["1.4"]["denominator"] == 4


def test_terminal_table_in_vietnamese(app: typer.Typer, files: tuple[str, str]) -> None:
    events, catalog = files
    out = invoke(app, events, "--catalog", catalog, "--period", "2026-04").stdout
    expected = (labels.INDEX766_TITLE, labels.CENTRE, "Sở Tư pháp", "50,0% · 10,00", "Phần đo được: 64 / 100")
    for text in expected:
        assert text in out, text
    assert labels.INDEX766_NOT_MEASURED in out


def test_xlsx_read_back(app: typer.Typer, files: tuple[str, str], tmp_path: Path) -> None:
    events, catalog = files
    target = tmp_path / "chi-so-766.xlsx"
    result = invoke(app, events, "--catalog", catalog, "--period", "2026-04", "--xlsx", str(target))
    assert "wrote" in result.stderr
    book = load_workbook(target)
    sheet = book["Chỉ số 766"]
    assert sheet["A1"].value == labels.INDEX766_TITLE
    rows = {sheet.cell(row=r, column=1).value: r for r in range(6, 9)}
    assert set(rows) == {"Sở Tư pháp", "Sở Y tế", labels.CENTRE}
    header = [c.value for c in sheet[5]]
    rate_21 = header.index(f"2.1 {labels.INDEX766_ITEMS['2.1']}: tỷ lệ") + 1
    assert sheet.cell(row=rows["Sở Tư pháp"], column=rate_21).value == 0.5
    e_result = header.index(f"4.1 {labels.INDEX766_ITEMS['4.1']}: tỷ lệ") + 1
    assert sheet.cell(row=rows["Sở Y tế"], column=e_result).value == labels.INDEX766_NOT_APPLICABLE
    assert book[labels.INDEX766_NOT_MEASURED]["A2"].value == "1.1"


def test_bad_lines_are_reported_and_the_index_still_printed(app: typer.Typer, files: tuple[str, str],
                                                            tmp_path: Path) -> None:
    events, catalog = files
    broken = tmp_path / "broken.jsonl"
    broken.write_text(Path(events).read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    result = invoke(app, str(broken), "--catalog", catalog, "--period", "2026-04", "--json", code=1)
    assert json.loads(result.stdout)["index"] == "766"
    assert "not valid JSON" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--period", "2026-04", "--json", "--xlsx", "x.xlsx"), "choose one of --json and --xlsx"),
     (("--period", "2026-13"), "month 13"),
     (("--period", "2026-04", "--from", "2026-03-01"), "not both")],
)
def test_usage_errors(app: typer.Typer, files: tuple[str, str], args: tuple[str, ...], message: str) -> None:
    events, catalog = files
    result = invoke(app, events, "--catalog", catalog, *args, code=2)
    assert message in result.output + result.stderr


def test_a_province_has_a_row_per_centre_and_the_province(app: typer.Typer, files: tuple[str, str],
                                                           tmp_path: Path) -> None:
    """The same events with STP in a commune centre and SYT in the provincial one: each centre is scored on
    its own sums, the province on all of them (JSON, terminal and XLSX)."""
    events, _ = files
    agencies = {a.code: a.model_dump(mode="json", exclude={"centre"}) for a in CATALOG.agencies}
    province = tmp_path / "province.yaml"
    province.write_text(json.dumps({
        "province": {"code": "51", "name": "Tỉnh thử nghiệm"},
        "centres": [
            {"code": "TT", "name": "Trung tâm tỉnh", "level": "province", "agencies": [agencies["SYT"]]},
            {"code": "X1", "name": "Trung tâm xã Một", "level": "commune", "agencies": [agencies["STP"]]},
        ],
    }, ensure_ascii=False), encoding="utf-8")
    doc = json.loads(invoke(app, events, "--catalog", str(province), "--period", "2026-04", "--json").stdout)
    single = json.loads(invoke(app, events, "--catalog", files[1], "--period", "2026-04", "--json").stdout)
    rows = {a["key"]: a for a in doc["agencies"]}
    centres = {c["key"]: c for c in doc["centres"]}
    assert [(c["key"], c["agencies"]) for c in doc["centres"]] == [("TT", ["SYT"]), ("X1", ["STP"])]
    for code, agency in (("TT", "SYT"), ("X1", "STP")):  # one agency each: the centre is that agency
        assert {k: v for k, v in centres[code].items() if k not in ("key", "label", "agencies")} == {
            k: v for k, v in rows[agency].items() if k not in ("key", "label")}
    assert (doc["centre"]["key"], doc["centre"]["label"]) == ("51", "Tỉnh thử nghiệm")
    assert doc["centre"]["indicators"] == single["centre"]["indicators"]  # the province = the old centre
    assert doc["centre"]["total"] == single["centre"]["total"]

    out = invoke(app, events, "--catalog", str(province), "--period", "2026-04").stdout
    for text in ("Trung tâm xã Một", "Trung tâm tỉnh", labels.PROVINCE, "Tỉnh thử nghiệm"):
        assert text in out, text
    target = tmp_path / "tinh-766.xlsx"
    invoke(app, events, "--catalog", str(province), "--period", "2026-04", "--xlsx", str(target))
    sheet = load_workbook(target)["Chỉ số 766"]
    names = [sheet.cell(row=r, column=1).value for r in range(6, 11)]
    assert names == ["Sở Y tế", "Sở Tư pháp", "Trung tâm tỉnh", "Trung tâm xã Một", labels.PROVINCE]
