"""`ioc replay`, `ioc validate`, `ioc schema` on files and stdin (no broker)."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
from strategies import at, event, sample_event
from typer.testing import CliRunner

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import SAMPLE_WARNING, load_catalog
from dossiers.replay import replay_lines
from ioc.commands import data as domain_cli

runner = CliRunner()


def without_sample_warning(stderr: str) -> str:
    """stderr less the sample-catalog warning (these tests run on the shipped sample on purpose)."""
    flat = " ".join(stderr.split())
    warning = f"WARNING: {SAMPLE_WARNING}"
    assert warning in flat, "the shipped sample catalog must be announced"
    return flat.replace(warning, "").strip()


AS_OF = "2026-03-13T12:00:00+07:00"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    domain_cli.register(app)
    return app


def ev(type_: str, dossier: str, when: datetime, **fields: Any) -> dict[str, Any]:
    return event(type_, when, dossier=dossier, event_id=f"{dossier}-{type_}", **fields)


P = {"procedure": "2.000488"}  # STP, 10 working days

# The worked example of test_kpi (justice, as of Friday 13 Mar 2026 12:00), plus one health dossier.
EVENTS = [
    ev("received", "D1", at(2026, 3, 2, 9), channel="counter", **P),
    ev("resolved", "D1", at(2026, 3, 4, 9)),
    ev("rated", "D1", at(2026, 3, 4, 10), data={"rating": "satisfied"}),
    ev("received", "D2", at(2026, 3, 2, 9), channel="online", due_at=at(2026, 3, 5, 10), **P),
    ev("resolved", "D2", at(2026, 3, 6, 8)),  # the day after the appointment's date: late in both modes
    ev("received", "D3", at(2026, 3, 2, 9), channel="postal", due_at=at(2026, 3, 11, 17), **P),
    ev("received", "D4", at(2026, 3, 12, 9), channel="online", **P),
    ev("refused", "D5", at(2026, 3, 3, 9), **P),
    ev("received", "D6", at(2026, 3, 3, 9), channel="counter", **P),
    ev("withdrawn", "D6", at(2026, 3, 4, 9)),
    ev("received", "H1", at(2026, 3, 10, 9), agency="SYT", procedure="1.003022", channel="counter"),
    ev("resolved", "H1", at(2026, 3, 20, 9), agency="SYT"),  # after as_of: not yet happened
]


def lines(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)


def write(tmp_path: Path, text: str, name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_replay(
    app: typer.Typer, *args: str, stdin: str | None = None, exit_code: int = 0
) -> tuple[dict[str, Any], str]:
    """`ioc replay --json`; exit code 1 when any line was invalid (the report is printed all the same)."""
    result = runner.invoke(app, ["replay", *args, "--as-of", AS_OF, "--json"], input=stdin)
    assert result.exit_code == exit_code, result.output + result.stderr
    return json.loads(result.stdout), result.stderr


# --- replay ------------------------------------------------------------------------------------------------


def test_replay_json_shape_and_values(app: typer.Typer, tmp_path: Path) -> None:
    report, stderr = run_replay(app, str(write(tmp_path, lines(EVENTS))))
    assert without_sample_warning(stderr) == ""
    assert report["as_of"] == AS_OF
    assert report["events"] == {"valid": 11, "invalid": 0, "duplicates": 0, "after_as_of": 1}
    assert set(report["agencies"]) == {a.code for a in load_catalog().agencies}
    for block in [report["centre"], *report["agencies"].values()]:
        assert {
            "received",
            "refused",
            "withdrawn",
            "resolved",
            "open",
            "on_time_rate",
            "satisfaction_rate",
        } <= set(block)
        assert {"early", "on_time", "late"} <= set(block["resolved"])
        assert {"within", "overdue", "due_soon"} <= set(block["open"])
    stp, syt, centre = report["agencies"]["STP"], report["agencies"]["SYT"], report["centre"]
    assert stp["received"] == 6 and stp["refused"] == 1 and stp["withdrawn"] == 1
    assert (stp["resolved"]["early"], stp["resolved"]["on_time"], stp["resolved"]["late"]) == (1, 0, 1)
    assert (stp["open"]["within"], stp["open"]["overdue"], stp["open"]["due_soon"]) == (1, 1, 0)
    assert stp["on_time_rate"] == 0.5
    assert stp["satisfaction_rate"] == 1.0
    # H1 is open at as_of (its result comes later): due Wed 18 Mar 09:00 (7 days), so within
    assert syt["received"] == 1 and syt["open"]["within"] == 1
    assert syt["on_time_rate"] is None  # nothing resolved: null, not 0
    assert syt["satisfaction_rate"] is None  # nothing rated
    assert report["agencies"]["SXD"]["received"] == 0
    assert centre["received"] == 7 and centre["on_time_rate"] == 0.5


def test_invalid_lines_are_counted_reported_and_skipped(app: typer.Typer, tmp_path: Path) -> None:
    good = lines(EVENTS).splitlines()
    bad_contract = json.dumps(sample_event("received", citizen_name="Nguyễn Văn A"), ensure_ascii=False)
    unknown_agency = json.dumps(sample_event("resolved", agency="SO_MA"))
    text = "\n".join([good[0], "{not json", *good[1:4], bad_contract, "", *good[4:], unknown_agency]) + "\n"
    report, stderr = run_replay(app, str(write(tmp_path, text)), exit_code=1)
    assert report["events"]["invalid"] == 3
    assert "15 event(s): 12 valid, 3 invalid" in stderr
    assert report["events"]["valid"] == 11  # every good line still counted
    assert "line 2" in stderr and "not valid JSON" in stderr
    assert "line 6" in stderr and "citizen_name" in stderr
    assert f"line {len(good) + 4}" in stderr and "SO_MA" in stderr
    clean, _ = run_replay(app, str(write(tmp_path, lines(EVENTS), "clean.jsonl")))
    assert report["centre"] == clean["centre"] and report["agencies"] == clean["agencies"]


def test_many_invalid_lines_are_summarised(app: typer.Typer, tmp_path: Path) -> None:
    report, stderr = run_replay(app, str(write(tmp_path, "[]\n" * 25)), exit_code=1)
    assert report["events"]["invalid"] == 25
    assert "line 20:" in stderr and "line 21:" not in stderr  # SHOWN_BAD_LINES, as every door
    assert "5 more invalid line(s)" in stderr


def test_shuffled_and_duplicated_events_give_identical_json(app: typer.Typer, tmp_path: Path) -> None:
    first, _ = run_replay(app, str(write(tmp_path, lines(EVENTS), "a.jsonl")))
    for seed in range(3):
        shuffled = list(EVENTS)
        random.Random(seed).shuffle(shuffled)
        again, _ = run_replay(app, str(write(tmp_path, lines(shuffled), f"s{seed}.jsonl")))
        assert again == first
    doubled = EVENTS + EVENTS[::-1]
    report, _ = run_replay(app, str(write(tmp_path, lines(doubled), "d.jsonl")))
    assert report["events"]["duplicates"] == 11  # the one after as_of is not applied, so not a duplicate
    assert report["centre"] == first["centre"] and report["agencies"] == first["agencies"]


def test_an_event_from_long_ago_does_not_stop_the_run(app: typer.Typer, tmp_path: Path) -> None:
    """2001 instead of 2026 (before the calendar's first year): counted, overdue, no crash."""
    typo = ev("received", "OLD", at(2001, 3, 2, 9), channel="counter", **P)
    report, _ = run_replay(app, str(write(tmp_path, lines([*EVENTS, typo]))))
    assert report["agencies"]["STP"]["received"] == 7
    assert report["agencies"]["STP"]["open"]["overdue"] == 2


def test_stdin(app: typer.Typer, tmp_path: Path) -> None:
    from_file, _ = run_replay(app, str(write(tmp_path, lines(EVENTS))))
    from_stdin, _ = run_replay(app, "-", stdin=lines(EVENTS))
    assert from_stdin == from_file


def test_bom_and_blank_lines(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n\n" + lines(EVENTS) + "\n").encode())
    report, stderr = run_replay(app, str(path))
    assert report["events"]["invalid"] == 0 and without_sample_warning(stderr) == ""


def test_as_of_needs_an_offset(app: typer.Typer, tmp_path: Path) -> None:
    path = str(write(tmp_path, lines(EVENTS)))
    result = runner.invoke(app, ["replay", path, "--as-of", "2026-03-13T12:00:00", "--json"])
    assert result.exit_code != 0
    assert "offset" in result.output + result.stderr


def test_table_output(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["replay", str(write(tmp_path, lines(EVENTS))), "--as-of", AS_OF], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0
    assert "TOÀN TRUNG TÂM" in result.stdout
    assert "50.0%" in result.stdout


def test_replay_lines_matches_the_cli(app: typer.Typer, tmp_path: Path) -> None:
    catalog = load_catalog()
    run = replay_lines(
        lines(EVENTS).splitlines(),
        catalog,
        WorkingCalendar(catalog.calendar),
        int(datetime.fromisoformat(AS_OF).timestamp()),
    )
    report, _ = run_replay(app, str(write(tmp_path, lines(EVENTS))))
    assert json.loads(json.dumps(run.report())) == report


# --- validate and schema ----------------------------------------------------------------------------------


def test_validate_clean_file_exits_0(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, lines(EVENTS)))])
    assert result.exit_code == 0, result.stderr
    assert "12 event(s): 12 valid, 0 invalid" in result.stdout


def test_validate_bad_line_exits_1(app: typer.Typer, tmp_path: Path) -> None:
    text = lines(EVENTS[:3]) + json.dumps(sample_event("received", channel="fax")) + "\n"
    result = runner.invoke(app, ["validate", str(write(tmp_path, text))])
    assert result.exit_code == 1
    assert "line 4" in result.stderr and "channel" in result.stderr
    assert "4 event(s): 3 valid, 1 invalid" in result.stdout


def test_validate_stdin(app: typer.Typer) -> None:
    assert runner.invoke(app, ["validate", "-"], input=lines(EVENTS)).exit_code == 0
    assert runner.invoke(app, ["validate", "-"], input="nope\n").exit_code == 1


def test_schema_prints_the_json_schema(app: typer.Typer) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "dossier-event/1"
    validator = jsonschema.Draft202012Validator(schema)
    for raw in EVENTS:
        validator.validate(raw)
    assert not validator.is_valid({**EVENTS[0], "phone": "0900000000"})


def test_a_centre_catalog_is_not_announced_as_the_sample(app: typer.Typer, tmp_path: Path) -> None:
    """The warning names the shipped sample only: a centre's own catalog (sample: false) starts quietly."""
    import yaml

    from dossiers.catalog import load_catalog

    own = load_catalog().model_dump(mode="json")
    own["sample"] = False
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(own, allow_unicode=True), encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    quiet = runner.invoke(app, ["validate", str(events), "--catalog", str(path)])
    loud = runner.invoke(app, ["validate", str(events)])
    assert quiet.exit_code == 0 and "SAMPLE" not in quiet.stderr
    assert loud.exit_code == 0 and "SAMPLE" in loud.stderr
