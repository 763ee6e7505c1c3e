"""`ioc schema`, `ioc validate` and `ioc replay`: the domain core on files, no broker needed."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.table import Table

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog, load_catalog
from dossiers.events import json_schema
from dossiers.replay import InvalidLine, replay_lines

SHOWN_ERRORS = 10

CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog", envvar="IOC_CATALOG", help="Catalog YAML (default: the shipped Quảng Ngãi sample)"
    ),
]


@contextmanager
def open_input(path: str) -> Iterator[TextIO]:
    """A file path, or '-' for standard input; UTF-8 with or without BOM."""
    if path == "-":
        yield sys.stdin
    else:
        with open(path, encoding="utf-8-sig", errors="surrogateescape") as handle:
            yield handle


def parse_instant(value: str | None) -> int:
    if value is None:
        return int(datetime.now().timestamp())
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an RFC 3339 date-time") from exc
    if moment.tzinfo is None:
        raise typer.BadParameter("--as-of needs a time-zone offset, e.g. 2026-03-31T17:00:00+07:00")
    return int(moment.timestamp())


def report_invalid(invalid: list[InvalidLine], err: Console) -> None:
    for item in invalid[:SHOWN_ERRORS]:
        err.print(f"[red]line {item.line}[/red]: {item.reason}", highlight=False, markup=True)
    if len(invalid) > SHOWN_ERRORS:
        err.print(f"... and {len(invalid) - SHOWN_ERRORS} more invalid line(s)")


def schema() -> None:
    """Print the JSON Schema of the event contract (dossier-event/1)."""
    typer.echo(json.dumps(json_schema(), ensure_ascii=False, indent=2))


def validate(
    file: Annotated[str, typer.Argument(help="JSON-lines file of events, or - for stdin")],
    catalog: CatalogOption = None,
) -> None:
    """Check every event against the contract and the catalog; exit 1 if any is invalid."""
    cat = load_catalog(catalog)
    err = Console(stderr=True)
    with open_input(file) as handle:
        run = replay_lines(handle, cat, WorkingCalendar(cat.calendar), as_of=2**62)
    report_invalid(run.invalid, err)
    total = run.valid + run.duplicates + len(run.invalid)
    typer.echo(f"{total} event(s): {total - len(run.invalid)} valid, {len(run.invalid)} invalid")
    raise typer.Exit(1 if run.invalid else 0)


def replay(
    file: Annotated[str, typer.Argument(help="JSON-lines file of events (any order), or - for stdin")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="RFC 3339 instant (default: now)")] = None,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Run the domain core over events and print the KPI snapshot at --as-of."""
    instant = parse_instant(as_of)
    cat = load_catalog(catalog)
    err = Console(stderr=True)
    with open_input(file) as handle:
        run = replay_lines(handle, cat, WorkingCalendar(cat.calendar), instant)
    report_invalid(run.invalid, err)
    report = run.report()
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        Console().print(kpi_table(report, cat))


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def kpi_table(report: dict[str, Any], catalog: Catalog) -> Table:
    events = report["events"]
    table = Table(
        title=f"KPI tại {report['as_of']} — {events['valid']} sự kiện hợp lệ, "
        f"{events['invalid']} lỗi, {events['duplicates']} trùng"
    )
    for header in (
        "Cơ quan",
        "Tiếp nhận",
        "Đã giải quyết",
        "Trễ hạn",
        "Đang xử lý",
        "Quá hạn",
        "Sắp đến hạn",
        "Đúng hạn",
        "Mục tiêu",
        "Hài lòng",
        "Hẹn lại >1",
    ):
        table.add_column(header, justify="right" if header != "Cơ quan" else "left")
    rows = [
        (catalog.agency_by_code[c].label if c in catalog.agency_by_code else c, b)
        for c, b in report["agencies"].items()
    ]
    rows.append(("TOÀN TRUNG TÂM", report["centre"]))
    for label, block in rows:
        rate, target = block["on_time_rate"], block["target_on_time"]
        colour = "" if rate is None or target is None else ("green" if rate >= target else "red")
        table.add_row(
            label,
            str(block["received"]),
            str(block["resolved"]["total"]),
            str(block["resolved"]["late"]),
            str(block["open"]["total"]),
            str(block["open"]["overdue"]),
            str(block["open"]["due_soon"]),
            f"[{colour}]{_pct(rate)}[/{colour}]" if colour else _pct(rate),
            _pct(target),
            _pct(block["satisfaction_rate"]),
            str(block["rescheduled_more_than_once"]),
        )
    return table


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
    app.command("validate")(validate)
    app.command("replay")(replay)
