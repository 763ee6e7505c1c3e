"""Event-file readers (JSON lines, CSV) and `ioc produce --dry-run`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dossiers.events import parse_event
from ioc.commands import produce as produce_cli
from producers.files import (
    CSV_COLUMNS,
    SourceLine,
    detect_format,
    open_source,
    read_csv,
    read_jsonl,
    read_records,
)

CATALOG_YAML = """
centre:
  name: Test centre
agencies:
  - code: STP
    name: Sở Tư pháp
    procedures:
      - {code: "1.004363", name: Cấp phiếu lý lịch tư pháp, field: Lý lịch tư pháp, processing: 10}
  - code: SXD
    name: Sở Xây dựng
    procedures:
      - {code: "1.009972", name: Cấp giấy phép xây dựng, field: Xây dựng, processing: 15,
         channels: [counter]}
"""


def event(i: int, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": f"e-{i}",
        "schema": "dossier-event/1",
        "type": "received",
        "occurred_at": "2026-03-02T08:15:00+07:00",
        "dossier": f"000.00.12.H48-260302-{i:04d}",
        "agency": "STP",
        "procedure": "1.004363",
        "channel": "online",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def lines(text: str) -> list[str]:
    return io.StringIO(text, newline="").readlines()


# -- JSON lines -----------------------------------------------------------------------------------------
def test_jsonl_numbers_lines_and_skips_blank_ones() -> None:
    text = "\ufeff" + json.dumps(event(1)) + "\n\n   \n" + json.dumps(event(2)) + "\r\n"
    got = list(read_jsonl(lines(text)))
    assert [(g.line, g.record["event_id"] if g.record else None) for g in got] == [(1, "e-1"), (4, "e-2")]
    assert all(g.error is None for g in got)


def test_jsonl_reports_unreadable_lines_and_goes_on() -> None:
    text = "\n".join([json.dumps(event(1)), "{broken", "[1, 2]", json.dumps(event(4))])
    got = list(read_jsonl(lines(text)))
    assert [g.line for g in got] == [1, 2, 3, 4]
    assert got[1].record is None and got[1].error is not None and "not valid JSON" in got[1].error
    assert got[2].error == "event: must be a JSON object" and got[2].code == "not_object"
    assert got[3].record == event(4)


def test_open_source_tolerates_bom_and_reports_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + json.dumps(event(1)).encode() + b"\n" + b'{"event_id": "\xff\xfe"}\n'
    )
    with open_source(str(path)) as stream:
        got = list(read_records(stream, "jsonl"))
    assert got[0] == SourceLine(1, record=event(1))
    assert got[1].line == 2 and got[1].error is not None and "UTF-8" in got[1].error


def test_detect_format() -> None:
    assert detect_format("export.CSV") == "csv"
    assert detect_format("export.tsv") == "csv"
    assert detect_format("events.jsonl") == "jsonl"
    assert detect_format("-") == "jsonl"


# -- CSV --------------------------------------------------------------------------------------------------
def test_csv_layout_maps_to_contract_dicts() -> None:
    text = (
        "\ufeffevent_id,type,occurred_at,dossier,agency,procedure,channel,due_at,"
        "to_agency,reason,new_due_at,outcome,rating,online,receipt,amount_vnd\r\n"
        "e-1,received,2026-03-02T08:15:00+07:00,D-1,STP,1.004363,online,2026-03-16T17:00:00+07:00,"
        ",,,,,,,\r\n"
        "\r\n"
        "e-2,paid,2026-03-02T09:00:00+07:00,D-1,STP,,,,,,,,,true,BL-001,150000\r\n"
        "e-3,extended,2026-03-10T09:00:00+07:00,D-1,STP,,,,,\"thiếu hồ sơ,\nchờ xác minh\","
        "2026-03-20T17:00:00+07:00,,,,,\r\n"
        "e-4,rated,2026-03-21T09:00:00+07:00,D-1,STP,,,,,,,,very_satisfied,,,\r\n"
    )
    got = list(read_csv(lines(text)))
    assert [g.line for g in got] == [2, 4, 5, 7]
    assert all(g.error is None for g in got)
    received, paid, extended, rated = (g.record for g in got)
    assert received == {
        "schema": "dossier-event/1", "event_id": "e-1", "type": "received",
        "occurred_at": "2026-03-02T08:15:00+07:00", "dossier": "D-1", "agency": "STP",
        "procedure": "1.004363", "channel": "online", "due_at": "2026-03-16T17:00:00+07:00",
    }
    assert paid is not None
    assert paid["data"] == {"online": "true", "receipt": "BL-001", "amount_vnd": "150000"}
    assert extended is not None and extended["data"]["reason"] == "thiếu hồ sơ,\nchờ xác minh"
    # the contract's own validation turns the CSV strings into typed values
    parsed = parse_event(paid)
    assert json.loads(parsed.to_json())["data"] == {"online": True, "receipt": "BL-001", "amount_vnd": 150000}
    assert parse_event(extended).type == "extended"
    assert rated is not None
    assert json.loads(parse_event(rated).to_json())["data"] == {"rating": "very_satisfied"}


def test_csv_columns_in_any_order_optional_ones_left_out_semicolons() -> None:
    text = "agency;dossier;type;event_id;occurred_at;procedure;channel\n" \
           "STP;D-9;received;e-9;2026-03-02T08:15:00+07:00;1.004363;counter\n"
    (got,) = read_csv(lines(text))
    assert got.record is not None
    assert parse_event(got.record).event_id == "e-9"
    assert "data" not in got.record


def test_csv_header_with_personal_data_or_missing_columns_is_refused() -> None:
    header = "event_id,type,occurred_at,dossier,agency,citizen_name\n"
    (got,) = read_csv(lines(header + "e,received,x,D,STP,Nguyễn Văn A\n"))
    assert got.line == 1 and got.record is None
    assert got.error is not None and "unknown column(s) 'citizen_name'" in got.error
    (got,) = read_csv(lines("\n\nevent_id,type\n"))
    assert got.line == 3 and got.error is not None
    assert "missing required column(s) occurred_at, dossier, agency" in got.error
    assert set(CSV_COLUMNS) >= {"to_agency", "amount_vnd", "due_at"}


def test_csv_too_many_cells_and_empty_file() -> None:
    got = list(read_csv(lines("event_id,type,occurred_at,dossier,agency\na,b,c,d,e,f\n")))
    assert got == [SourceLine(2, error="6 cells but the header has 5 columns", code="csv")]
    assert list(read_csv(lines(""))) == []
    assert list(read_csv(lines("\n  \n"))) == []


# -- ioc produce --dry-run --------------------------------------------------------------------------------
@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test root (makes `produce` a sub-command, as under `ioc`)."""

    produce_cli.register(app)
    return app


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG_YAML, encoding="utf-8")
    return path


def test_dry_run_reports_the_bad_line_and_exits_1(
    app: typer.Typer, catalog_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    rows = [event(1), event(2), event(3, occurred_at="2026-03-02 08:15"), event(4)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["produce", str(path), "--catalog", str(catalog_file), "--dry-run"])
    assert result.exit_code == 1, result.output
    assert "line 3: occurred_at:" in result.output
    assert "dry run: 3 valid, 1 invalid; nothing sent" in result.output


def test_dry_run_checks_the_catalog_and_the_identity(
    app: typer.Typer, catalog_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    rows = [event(1), event(2, agency="NOPE"), event(3, agency="SXD", procedure="1.009972", channel="online"),
            event(4, agency="SXD", procedure="1.009972", channel="counter")]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    args = ["produce", str(path), "--catalog", str(catalog_file), "--dry-run"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "line 2: agency: 'NOPE' is not an agency of the catalog" in result.output
    assert "line 3: channel: 'online' is not open for procedure '1.009972'" in result.output
    assert "dry run: 2 valid, 2 invalid" in result.output
    result = CliRunner().invoke(app, [*args, "--agency-identity", "STP"])
    assert "line 4: agency: 'SXD' differs from this producer's agency identity 'STP'" in result.output


def test_dry_run_all_valid_csv_from_stdin_exits_0(app: typer.Typer, catalog_file: Path) -> None:
    text = "event_id,type,occurred_at,dossier,agency,procedure,channel\n" \
           "e-1,received,2026-03-02T08:15:00+07:00,D-1,STP,1.004363,counter\n"
    result = CliRunner().invoke(
        app, ["produce", "-", "--format", "csv", "--catalog", str(catalog_file), "--dry-run"], input=text
    )
    assert result.exit_code == 0, result.output
    assert "dry run: 1 valid, 0 invalid" in result.output


def test_dry_run_lists_20_errors_then_a_count(app: typer.Typer, catalog_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(event(i, type="teleported")) for i in range(25)), encoding="utf-8")
    result = CliRunner().invoke(app, ["produce", str(path), "--catalog", str(catalog_file), "--dry-run"])
    assert result.exit_code == 1
    assert "line 20: type: is not a known event type" in result.output
    assert "line 21:" not in result.output
    assert "and 5 more invalid line(s)" in result.output


def test_missing_file_or_catalog_is_a_usage_error(
    app: typer.Typer, catalog_file: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["produce", str(tmp_path / "nope.jsonl"), "--catalog", str(catalog_file),
                                      "--dry-run"])
    assert result.exit_code == 2 and "cannot read" in result.output
    result = CliRunner().invoke(app, ["produce", "-", "--catalog", str(tmp_path / "nope.yaml"), "--dry-run"])
    assert result.exit_code == 2 and "catalog not found" in result.output


def test_reasons_are_printed_verbatim_not_as_markup(
    app: typer.Typer, catalog_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({**event(1), "[/red][bold]x": 1}), encoding="utf-8")
    result = CliRunner().invoke(app, ["produce", str(path), "--catalog", str(catalog_file), "--dry-run"])
    assert result.exit_code == 1
    assert "line 1: [/red][bold]x: is not a field of the contract" in result.output


def test_produce_reads_the_catalog_from_ioc_catalog(app: typer.Typer, tmp_path: Path) -> None:
    """An agency that sets IOC_CATALOG is checked against its own catalog, not the shipped sample."""
    own = tmp_path / "own.yaml"
    own.write_text(CATALOG_YAML.replace("code: STP", "code: ZZTEST"), encoding="utf-8")
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(event(1, agency="ZZTEST")) + "\n", encoding="utf-8")
    with_env = CliRunner().invoke(app, ["produce", str(path), "--dry-run"], env={"IOC_CATALOG": str(own)})
    assert with_env.exit_code == 0, with_env.output
    assert "1 valid, 0 invalid" in with_env.stdout and "SAMPLE" not in with_env.stderr
    without = CliRunner().invoke(app, ["produce", str(path), "--dry-run"], env={"IOC_CATALOG": None})
    assert without.exit_code == 1 and "SAMPLE" in without.stderr
