"""`ioc schema`, `ioc validate` and `ioc replay`: the domain core on files, no broker needed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dossiers import labels
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.events import json_schema
from dossiers.replay import Replay
from ioc.options import CatalogOption, load_catalog_or_exit, print_bad_lines
from producers.files import detect_format, open_source, read_records


def read_file(path: str, run: Replay) -> None:
    """Every record of a JSON-lines or CSV file (by its name; - is JSON lines on stdin) into `run`;
    unreadable lines are recorded with their number and reason, the rest go on."""
    try:
        stream = open_source(path)
    except OSError as exc:
        Console(stderr=True, highlight=False).print(
            f"[red]cannot read {escape(path)}: {escape(str(exc.strerror or exc))}[/red]")
        raise typer.Exit(2) from exc
    with stream:
        for item in read_records(stream, detect_format(path)):
            if item.record is None:
                run.reject(item.line, item.error or "unreadable", item.code)
            else:
                run.feed_raw(item.record, item.line)


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


def summary(run: Replay) -> str:
    """How many records were read and how many were bad: the line a script or a person checks."""
    total = run.valid + run.duplicates + run.after_as_of + len(run.invalid)
    return (f"{total} event(s): {total - len(run.invalid)} valid, {len(run.invalid)} invalid"
            + (f", {run.duplicates} duplicate(s)" if run.duplicates else ""))


def schema() -> None:
    """Print the JSON Schema of the event contract (dossier-event/1)."""
    typer.echo(json.dumps(json_schema(), ensure_ascii=False, indent=2))


def validate(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE|-", help="Event file: JSON lines, or CSV by its .csv name; - is stdin."),
    ],
    catalog: CatalogOption = None,
) -> None:
    """Check every event against the contract and the catalog; exit code 1 if any line is invalid."""
    err = Console(stderr=True)
    cat = load_catalog_or_exit(catalog, err)
    run = Replay(cat, WorkingCalendar(cat.calendar), as_of=2**62)
    read_file(file, run)
    print_bad_lines([(item.line, item.reason) for item in run.invalid], err)
    typer.echo(summary(run))
    raise typer.Exit(1 if run.invalid else 0)


def replay(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE|-", help="Event file (any order): JSON lines, or CSV by its .csv name; "
                       "- is stdin."),
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="RFC 3339 instant with an offset. Default: now.")
    ] = None,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run the domain core over events and print the KPI snapshot at --as-of."""
    instant = parse_instant(as_of)
    err = Console(stderr=True)
    cat = load_catalog_or_exit(catalog, err)
    run = Replay(cat, WorkingCalendar(cat.calendar), instant)
    read_file(file, run)
    print_bad_lines([(item.line, item.reason) for item in run.invalid], err)
    report = run.report()
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        Console().print(kpi_table(report, cat))
    if run.invalid:
        err.print(summary(run))
        raise typer.Exit(1)


def _short(catalog: Catalog, code: str) -> str:
    """A centre's name without the words every centre shares, for the table's first column."""
    centre = catalog.centre_by_code.get(code)
    return centre.name.removeprefix("Trung tâm Phục vụ hành chính công ") if centre else code


def kpi_table(report: dict[str, Any], catalog: Catalog) -> Table:
    events = report["events"]
    table = Table(
        title=f"KPI tại {report['as_of']} — {events['valid']} sự kiện hợp lệ, "
        f"{events['invalid']} lỗi, {events['duplicates']} trùng"
    )
    for header in (
        labels.AGENCY,
        labels.RECEIVED,
        labels.RESOLVED,
        f"{labels.RESOLVED} {labels.LATE.lower()}",
        labels.OPEN,
        f"{labels.OPEN} {labels.OVERDUE.lower()}",
        labels.DUE_SOON,
        labels.ON_TIME_RATE,
        labels.TARGET,
        labels.SATISFACTION,
        labels.RESCHEDULED_TWICE,
    ):
        table.add_column(header, justify="right" if header != labels.AGENCY else "left")
    rows = [
        (catalog.agency_by_code[c].label if c in catalog.agency_by_code else c, b)
        for c, b in report["agencies"].items()
    ]
    if catalog.is_province:  # a subtotal per centre, then the province
        rows += [(f"▸ {_short(catalog, c)}", entry)
                 for c, entry in report["centres"].items()]
    rows.append(("TOÀN TỈNH" if catalog.is_province else "TOÀN TRUNG TÂM", report["centre"]))
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
            f"[{colour}]{labels.percent(rate)}[/{colour}]" if colour else labels.percent(rate),
            labels.percent(target),
            labels.percent(block["satisfaction_rate"]),
            str(block["rescheduled_more_than_once"]),
        )
    return table


def register(app: typer.Typer) -> None:
    app.command("schema", rich_help_panel="Data tools")(schema)
    app.command("validate", no_args_is_help=True, rich_help_panel="Data tools")(validate)
    app.command("replay", no_args_is_help=True, rich_help_panel="Data tools")(replay)
