"""Every file door takes the hostile corpus: no traceback, each bad line reported with its number and
reason, the exit code says whether anything was bad, and valid + reported = every record of the file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from ioc.commands import data, produce, report
from ioc.options import SHOWN_BAD_LINES
from tests.support.big_file import stream
from tests.support.hostile import Case, corpus

CASES = corpus()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    data.register(app)
    produce.register(app)
    report.register(app)
    return app


def run(app: typer.Typer, args: list[str]) -> Result:
    result = CliRunner().invoke(app, args, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args[0]} raised {result.exception!r}"
    )
    assert "Traceback" not in result.output + result.stderr
    return result


def write(tmp_path: Path, case: Case) -> Path:
    path = tmp_path / f"{case.name}{case.suffix}"
    path.write_bytes(case.data)
    return path


def reported_lines(stderr: str) -> list[int]:
    return [int(n) for n in re.findall(r"^line (\d+)", stderr, re.M)]


def check_report(case: Case, result: Result) -> None:
    assert result.exit_code == (1 if case.invalid else 0), result.stderr[-3000:]
    flat = " ".join(result.stderr.split())
    assert len(reported_lines(result.stderr)) == min(case.invalid, SHOWN_BAD_LINES), result.stderr[-3000:]
    if case.says:
        assert case.says in flat, flat


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_validate(app: typer.Typer, tmp_path: Path, case: Case) -> None:
    result = run(app, ["validate", str(write(tmp_path, case))])
    check_report(case, result)
    total = case.valid + case.invalid
    assert f"{total} event(s): {case.valid} valid, {case.invalid} invalid" in result.stdout


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_replay(app: typer.Typer, tmp_path: Path, case: Case) -> None:
    as_of = "2026-03-31T17:00:00+07:00"
    result = run(app, ["replay", str(write(tmp_path, case)), "--json", "--as-of", as_of])
    check_report(case, result)
    events = json.loads(result.stdout)["events"]
    assert (events["valid"], events["invalid"]) == (case.valid, case.invalid)
    receipts = case.valid if case.receipts is None else case.receipts
    assert json.loads(result.stdout)["centre"]["received"] == receipts


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_report_ii06a(app: typer.Typer, tmp_path: Path, case: Case) -> None:
    result = run(app, ["report", "ii06a", str(write(tmp_path, case)), "--json", "--from", "2015-01-01",
                       "--to", "2030-12-31", "--as-of", "2026-03-31T17:00:00+07:00"])
    check_report(case, result)
    total = json.loads(result.stdout)["total"]
    assert total["c3"] == total["c7"] + total["c11"]
    receipts = case.valid if case.receipts is None else case.receipts
    assert total["c3"] + total["refused_at_counter"] == receipts  # as `ioc replay` counts them


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_report_766(app: typer.Typer, tmp_path: Path, case: Case) -> None:
    result = run(app, ["report", "766", str(write(tmp_path, case)), "--json", "--from", "2015-01-01",
                       "--to", "2030-12-31", "--as-of", "2026-03-31T17:00:00+07:00"])
    check_report(case, result)
    assert json.loads(result.stdout)["agencies"]  # the index is still printed, from the good lines


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_produce_dry_run(app: typer.Typer, tmp_path: Path, case: Case) -> None:
    result = run(app, ["produce", str(write(tmp_path, case)), "--dry-run"])
    check_report(case, result)
    assert f"dry run: {case.valid} valid, {case.invalid} invalid; nothing sent" in result.stdout


@pytest.mark.parametrize("command", [["produce", "-", "--dry-run"], ["validate", "-"]], ids=lambda c: c[0])
def test_a_large_file_streams_in_flat_memory(command: list[str]) -> None:
    """12x the input, the same peak memory (give or take 25 MB): nothing holds the file or its lines.
    (`scripts/fuzz` runs the same at 1 GB: docs/faults.md.)"""
    small = stream(command, 4)
    large = stream(command, 48)
    assert large.lines > 10 * small.lines
    counts = re.search(r"(\d+) valid, (\d+) invalid", large.stdout)
    assert counts is not None, large.stdout
    assert int(counts[1]) + int(counts[2]) == large.lines  # every line accounted for, valid or reported
    assert large.peak_rss_mb <= small.peak_rss_mb + 25, (small, large)
