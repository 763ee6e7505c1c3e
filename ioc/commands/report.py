"""`ioc report ii06a`: the periodic report form II.06a from event files or the events topic.

Reading is `ioc replay`'s (the same readers, bad lines reported and skipped); the figures are the core's
(`dossiers.report_ii06a`); the files are the `reports` adapter's. Messages in English, the form Vietnamese.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dossiers import labels, wire
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.index766 import COVERED, GROUPS, ITEMS, NOT_MEASURED, Index766, Indicator, build_index
from dossiers.index766 import Row as Index766Row
from dossiers.periods import Period, PeriodError, parse_period, period_between, relative_period
from dossiers.replay import Replay
from dossiers.report_ii06a import FORM_COLUMNS, Grouping, Report, Window, build_report
from ioc.commands.data import parse_instant, read_file, summary
from ioc.options import (
    KAFKA_PANEL,
    OUTPUT_PANEL,
    BootstrapOption,
    CatalogOption,
    EventsTopicOption,
    KafkaPasswordOption,
    KafkaUsernameOption,
    SaslMechanismOption,
    SecurityProtocolOption,
    kafka_settings,
    load_catalog_or_exit,
    print_bad_lines,
)
from kafka_settings import KafkaSettings, SaslMechanism, SecurityProtocol

PERIOD_PANEL = "Period"

# the options both reports take, declared once
FilesArgument = Annotated[
    list[str] | None,
    typer.Argument(metavar="FILE...", show_default=False,
                   help="Event files (any order): JSON lines, or CSV by the .csv name; - is stdin."),
]
FromOption = Annotated[
    str | None, typer.Option("--from", metavar="YYYY-MM-DD", rich_help_panel=PERIOD_PANEL,
                             help="First local date of the period (with --to).")
]
ToOption = Annotated[
    str | None, typer.Option("--to", metavar="YYYY-MM-DD", rich_help_panel=PERIOD_PANEL,
                             help="Last local date of the period, included.")
]
CalendarPeriodsOption = Annotated[
    bool, typer.Option("--calendar-periods", rich_help_panel=PERIOD_PANEL,
                       help="--period names calendar months, quarters, halves and years.")
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", rich_help_panel=PERIOD_PANEL,
                             help="RFC 3339 instant with an offset; a period still running at it ends "
                             "there. Default: now.")
]
FromKafkaOption = Annotated[
    bool, typer.Option("--from-kafka", rich_help_panel=KAFKA_PANEL,
                       help="Read the events topic from its earliest offset instead of files.")
]

report_app = typer.Typer(help="Official periodic reports (báo cáo định kỳ) computed from the events.",
                         no_args_is_help=True)


class By(StrEnum):
    AGENCY = "agency"
    FIELD = "field"


def _period(period: str | None, first: str | None, last: str | None, calendar: bool, today: date) -> Period:
    if period is not None and (first or last):
        raise typer.BadParameter("give --period, or --from and --to, not both", param_hint="--period")
    try:
        if period is not None:
            return relative_period(period, today, calendar) or parse_period(period, calendar=calendar)
        if first and last:
            return period_between(date.fromisoformat(first), date.fromisoformat(last))
    except PeriodError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from exc
    except ValueError as exc:
        raise typer.BadParameter(f"dates are YYYY-MM-DD ({exc})", param_hint="--from/--to") from exc
    raise typer.BadParameter("give --period (e.g. 2026-04, 2026-Q2, 2026-H1, 2026-9M, 2026), or --from and "
                             "--to (YYYY-MM-DD)", param_hint="--period")


def ii06a(
    files: FilesArgument = None,
    period: Annotated[
        str | None,
        typer.Option("--period", metavar="P", rich_help_panel=PERIOD_PANEL,
                     help="2026-04, 2026-Q2, 2026-H1, 2026-H2, 2026-9M or 2026: by the cut-off convention "
                     "(15th of the month before to the 14th) unless --calendar-periods; 'previous' is the "
                     "last closed month (as of --as-of), 'current' the month in progress."),
    ] = None,
    first: FromOption = None,
    last: ToOption = None,
    calendar_periods: CalendarPeriodsOption = False,
    as_of: AsOfOption = None,
    by: Annotated[By, typer.Option("--by", help="One row per agency (đơn vị) or per field (lĩnh vực).",
                                   case_sensitive=False)] = By.AGENCY,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.",
                                          rich_help_panel=OUTPUT_PANEL)] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (the JSON keys as header).",
                                         rich_help_panel=OUTPUT_PANEL)] = False,
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", metavar="OUT", rich_help_panel=OUTPUT_PANEL,
                                  help="Write the form as an Excel file, ready to print and send.")
    ] = None,
    from_kafka: FromKafkaOption = False,
    bootstrap: BootstrapOption = "127.0.0.1:9092",
    topic: EventsTopicOption = wire.EVENTS_TOPIC,
    security_protocol: SecurityProtocolOption = SecurityProtocol.PLAINTEXT,
    sasl_mechanism: SaslMechanismOption = SaslMechanism.SCRAM_SHA_256,
    kafka_username: KafkaUsernameOption = None,
    kafka_password: KafkaPasswordOption = None,
) -> None:
    """Biểu II.06a (tình hình, kết quả giải quyết TTHC tại Trung tâm) for a period, from the events."""
    err = Console(stderr=True, highlight=False)
    if sum((as_json, as_csv, xlsx is not None)) > 1:
        raise typer.BadParameter("choose one of --json, --csv and --xlsx", param_hint="--json")
    cat, cal, the_period, window, run, bad_records = _replay(
        files, from_kafka, period, first, last, calendar_periods, as_of, catalog, err,
        kafka_settings_of=lambda: kafka_settings(bootstrap, security_protocol, sasl_mechanism, kafka_username,
                                                 kafka_password, topic))
    report = build_report(run.states.values(), cat, cal, the_period, window, Grouping(by.value))
    running = window.end < the_period.last_instant(cal.tz)
    as_of_text = cal.local(window.end).isoformat() if running else None
    if as_json:
        document = report.as_dict()
        if as_of_text:
            document["as_of"] = as_of_text
        typer.echo(json.dumps(document, ensure_ascii=False))
    elif as_csv:
        from reports.tabular import csv_text

        typer.echo(csv_text(report), nl=False)
    elif xlsx is not None:
        try:
            from reports.xlsx import write_xlsx
        except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
            err.print("[red]--xlsx needs openpyxl: pip install openpyxl[/red]")
            raise typer.Exit(2) from exc
        try:
            write_xlsx(report, xlsx, cat.centre.name, as_of_text)
        except OSError as exc:
            err.print(f"[red]cannot write {escape(str(xlsx))}: {escape(str(exc.strerror or exc))}[/red]")
            raise typer.Exit(2) from exc
        err.print(f"wrote {escape(str(xlsx))}: form II.06a, {the_period.first} to {the_period.last}, "
                  f"{len(report.rows)} row(s)")
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=200)  # a file or a pipe: the whole form on one line per row, as printed
        short = {a.code: a.label for a in cat.agencies} if by is By.AGENCY else None
        out.print(form_table(report, cat.centre.name, as_of_text, short))
    if run.invalid or bad_records:
        err.print(summary(run))
        raise typer.Exit(1)


def _replay(files: list[str] | None, from_kafka: bool, period: str | None, first: str | None,
            last: str | None, calendar_periods: bool, as_of: str | None, catalog: Path | None, err: Console,
            kafka_settings_of: Callable[[], KafkaSettings],
            ) -> tuple[Catalog, WorkingCalendar, Period, Window, Replay, int]:
    """What every report reads: the catalog, the period and its window, and a replay of the events up to
    the window's end from files or the events topic (bad lines printed and counted, never raised)."""
    if bool(files) == from_kafka:
        raise typer.BadParameter("give event FILEs or --from-kafka (one of them)", param_hint="FILE")
    instant = parse_instant(as_of)
    cat = load_catalog_or_exit(catalog, err)
    cal = WorkingCalendar(cat.calendar)
    the_period = _period(period, first, last, calendar_periods, cal.local_date(instant))
    if instant < the_period.start(cal.tz):
        raise typer.BadParameter(f"the period starts on {the_period.first}, after the as-of instant "
                                 f"{cal.local(instant).isoformat()}", param_hint="--as-of")
    window = Window.of(the_period, cal, instant)
    run = Replay(cat, cal, window.end)
    bad_records = 0
    if from_kafka:
        bad_records = _read_kafka(run, err, kafka_settings_of())
    else:
        for path in files or ():
            before = len(run.invalid)
            read_file(path, run)
            if len(files or ()) > 1 and len(run.invalid) > before:
                err.print(f"[red]{escape(path)}:[/red]")
            print_bad_lines([(item.line, item.reason) for item in run.invalid[before:]], err)
    return cat, cal, the_period, window, run, bad_records


def _read_kafka(run: Replay, err: Console, settings: KafkaSettings) -> int:
    """Feed the events topic into `run`; returns how many records were invalid (the first 20 printed)."""
    from kafka.errors import KafkaError

    from reports.kafka_source import TopicNotFound, read_topic

    before = len(run.invalid)
    try:
        for record in read_topic(settings):
            if record.value is None:
                run.reject(record.offset, "empty record (tombstone)", "json")
            elif run.feed_raw(record.value, record.offset) is None and len(run.invalid) > before:
                item = run.invalid[-1]
                if len(run.invalid) - before <= 20:
                    err.print(f"[red]partition {record.partition} offset {record.offset}:[/red] "
                              f"{escape(item.reason)}", soft_wrap=True)
    except (TopicNotFound, TimeoutError, KafkaError) as exc:
        err.print(f"[red]cannot read the events topic: {escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    return len(run.invalid) - before


def form_table(report: Report, centre: str, as_of: str | None = None,
               short: dict[str, str] | None = None) -> Table:
    """The form on a terminal: each column group named over its first column, the columns' numbers
    under their headers as on the form; `short` labels rows by the agencies' short names."""
    period = labels.period_line(report.period.first.isoformat(), report.period.last.isoformat(),
                                report.period.name)
    caption = labels.II06A_UNIT + (f" — số liệu đến {as_of} (kỳ chưa kết thúc)" if as_of else "")
    table = Table(title=f"{labels.II06A_FORM}\n{labels.II06A_TITLE}\n{centre}\n{period}", caption=caption)
    table.add_column(f"\n{labels.II06A_ROW}\n(1)", justify="right", no_wrap=True)
    table.add_column(f"\n{labels.II06A_GROUP[report.by.value]}\n(2)", min_width=12)
    number = 3
    for group, subs in labels.II06A_HEADER:
        for position, (_, text) in enumerate(subs):
            above = group if position == 0 else ""
            text = text.split(": ", 1)[-1].replace(", dịch vụ bưu chính", ", bưu chính")
            table.add_column(f"{above}\n{text}\n({number})", justify="right", no_wrap=True, min_width=6)
            number += 1
    table.add_column(f"{labels.II06A_OUTSIDE}\n{labels.REFUSED}\n(*)", justify="right", style="dim")
    for index, row in enumerate(report.rows, start=1):
        label = (short or {}).get(row.key, row.label)
        table.add_row(str(index), label, *(_n(getattr(row.counts, c)) for c in FORM_COLUMNS),
                      _n(row.counts.refused_at_counter))
    table.add_section()
    table.add_row("", f"[bold]{labels.II06A_TOTAL}[/bold]",
                  *(f"[bold]{_n(getattr(report.total, c))}[/bold]" for c in FORM_COLUMNS),
                  _n(report.total.refused_at_counter))
    return table


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")  # Vietnamese thousands separator


def index766(
    files: FilesArgument = None,
    period: Annotated[
        str | None,
        typer.Option("--period", metavar="P", rich_help_panel=PERIOD_PANEL,
                     help="As for ii06a: 2026-04, 2026-Q2, 2026-H1, 2026-9M, 2026, 'previous' or 'current'."),
    ] = None,
    first: FromOption = None,
    last: ToOption = None,
    calendar_periods: CalendarPeriodsOption = False,
    as_of: AsOfOption = None,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object (per indicator: rate, points, max, numerator, denominator).",
        rich_help_panel=OUTPUT_PANEL)] = False,
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", metavar="OUT", rich_help_panel=OUTPUT_PANEL,
                                  help="Write the scorecard as an Excel file.")
    ] = None,
    from_kafka: FromKafkaOption = False,
    bootstrap: BootstrapOption = "127.0.0.1:9092",
    topic: EventsTopicOption = wire.EVENTS_TOPIC,
    security_protocol: SecurityProtocolOption = SecurityProtocol.PLAINTEXT,
    sasl_mechanism: SaslMechanismOption = SaslMechanism.SCRAM_SHA_256,
    kafka_username: KafkaUsernameOption = None,
    kafka_password: KafkaPasswordOption = None,
) -> None:
    """Chỉ số 766 (Decision 766/QĐ-TTg): the items dossier events can measure, per agency, for a period."""
    err = Console(stderr=True, highlight=False)
    if as_json and xlsx is not None:
        raise typer.BadParameter("choose one of --json and --xlsx", param_hint="--json")
    cat, cal, the_period, window, run, bad_records = _replay(
        files, from_kafka, period, first, last, calendar_periods, as_of, catalog, err,
        kafka_settings_of=lambda: kafka_settings(bootstrap, security_protocol, sasl_mechanism, kafka_username,
                                                 kafka_password, topic))
    result = build_index(run.states.values(), cat, cal, the_period, window)
    running = window.end < the_period.last_instant(cal.tz)
    as_of_text = cal.local(window.end).isoformat() if running else None
    if as_json:
        document = result.as_dict()
        if as_of_text:
            document["as_of"] = as_of_text
        typer.echo(json.dumps(document, ensure_ascii=False))
    elif xlsx is not None:
        from reports.index766_xlsx import write_index_xlsx

        try:
            write_index_xlsx(result, xlsx, result.total.label, as_of_text)
        except OSError as exc:
            err.print(f"[red]cannot write {escape(str(xlsx))}: {escape(str(exc.strerror or exc))}[/red]")
            raise typer.Exit(2) from exc
        err.print(f"wrote {escape(str(xlsx))}: index 766, {the_period.first} to {the_period.last}, "
                  f"{len(result.rows)} agencies")
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=200)
        short = {a.code: a.label for a in cat.agencies}
        out.print(index_table(result, result.total.label, as_of_text, short))
    if run.invalid or bad_records:
        err.print(summary(run))
        raise typer.Exit(1)


def _cell(indicator: Indicator) -> str:
    """`40,0% · 2,4` (rate, points); 2.2 in working days; a dash where the item is N/A."""
    if indicator.rate is None:
        return labels.INDEX766_NOT_APPLICABLE
    if indicator.max is None:  # 2.2: an average in working days
        return _vn(f"{indicator.rate:.1f}")
    rate = _vn(f"{indicator.rate * 100:.1f}%")
    return f"{rate} · {_vn(f'{indicator.points or 0:.2f}')}"


def _vn(text: str) -> str:
    return text.replace(".", ",")  # Vietnamese decimal comma


def index_table(result: Index766, centre: str, as_of: str | None = None,
                short: dict[str, str] | None = None) -> Table:
    """The scorecard on a terminal: a row per agency, per centre when there are several, and the whole
    (the centre or the province), a column per item (rate · points),
    then points out of the maximum of the items that apply; the caption lists what is not measured."""
    period = labels.period_line(result.period.first.isoformat(), result.period.last.isoformat(),
                                result.period.name)
    title = f"{labels.INDEX766_TITLE}\n{labels.INDEX766_SUBTITLE}\n{centre}\n{period}"
    not_measured = ", ".join(code for code, _, _ in NOT_MEASURED)
    caption = "\n".join([
        labels.INDEX766_COVERS.format(covered=_vn(f"{COVERED:g}"), total=sum(GROUPS.values())),
        f"{labels.INDEX766_NOT_MEASURED}: {not_measured}",
        labels.INDEX766_ASSUMED,
        *([f"Số liệu đến {as_of} (kỳ chưa kết thúc)"] if as_of else []),
    ])
    table = Table(title=title, caption=caption)
    table.add_column(labels.AGENCY, min_width=12)
    for item in ITEMS:
        star = "*" if item.max_assumed else ""
        top = f"/{item.max:g}{star}" if item.max is not None else ""
        table.add_column(f"{item.code}{top}\n{labels.INDEX766_ITEMS[item.code]}", justify="right",
                         max_width=16)
    table.add_column(f"{labels.INDEX766_POINTS}\n/ tối đa", justify="right", no_wrap=True)
    table.add_column(labels.INDEX766_LOST, justify="right", no_wrap=True)

    def add(row: Index766Row, label: str, bold: bool = False) -> None:
        found = row.indicators()
        points, out_of = row.score()
        cells = [label, *(_cell(found[item.code]) for item in ITEMS),
                 f"{_vn(f'{points:.2f}')} / {out_of:g}", _vn(f"{out_of - points:.2f}")]
        table.add_row(*(f"[bold]{c}[/bold]" if bold else c for c in cells))

    for row in result.rows:
        add(row, (short or {}).get(row.key, row.label))
    table.add_section()
    if len(result.centres) > 1:  # a province: each centre on its own sums, then the province
        for row in result.centres:
            add(row, row.label)
        table.add_section()
    add(result.total, labels.PROVINCE if len(result.centres) > 1 else labels.CENTRE, bold=True)
    return table


def register(app: typer.Typer) -> None:
    report_app.command("ii06a", no_args_is_help=True)(ii06a)
    report_app.command("766", no_args_is_help=True)(index766)
    app.add_typer(report_app, name="report", rich_help_panel="Data tools")
