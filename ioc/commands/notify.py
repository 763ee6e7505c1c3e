"""`ioc notify`: parse the options, run the notifier service (notifier/service.py) or print its state."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dossiers.calendar import WorkingCalendar
from ioc.options import KAFKA_PANEL, OUTPUT_PANEL, CatalogOption, load_catalog_or_exit
from notifier.policy import route
from notifier.service import NotifierJob, run_notifier
from notifier.settings import NotifySettings
from notifier.store import SqliteNotifyStore

NOTIFIER_PANEL = "Notifier state"
_FIELDS = NotifySettings.model_fields  # the defaults shown in the help are the settings' own

BootstrapOption = Annotated[
    str | None,
    typer.Option("--bootstrap", envvar="IOC_KAFKA_BOOTSTRAP", metavar="HOST:PORT,...", show_default=False,
                 help=f"Kafka bootstrap servers. Default: {_FIELDS['kafka_bootstrap'].default}.",
                 rich_help_panel=KAFKA_PANEL),
]
DbOption = Annotated[
    Path | None,
    typer.Option("--db", envvar="IOC_NOTIFY_DB", metavar="FILE", show_default=False,
                 help=f"SQLite state and outbox. Default: {_FIELDS['notify_db'].default}.",
                 rich_help_panel=NOTIFIER_PANEL),
]
FileOption = Annotated[
    Path | None,
    typer.Option("--file", envvar="IOC_NOTIFY_FILE", metavar="FILE", show_default=False,
                 help="Also write every notification to this JSON-lines file.", rich_help_panel=OUTPUT_PANEL),
]
CheckOption = Annotated[
    bool, typer.Option("--check", help="Print the channels and who receives what, then exit.",
                       rich_help_panel=OUTPUT_PANEL),
]
StatusOption = Annotated[
    bool, typer.Option("--status", help="Print the state's counts and failing deliveries, then exit.",
                       rich_help_panel=OUTPUT_PANEL),
]


def notify(
    bootstrap: BootstrapOption = None,
    catalog: CatalogOption = None,
    db: DbOption = None,
    file: FileOption = None,
    check: CheckOption = False,
    status: StatusOption = False,
) -> None:
    """Send supervisors overdue-dossier messages, daily digests and escalations (Ctrl-C stops).

    Every other setting (SMTP, channels, digest, escalation, retries) comes from the IOC_SMTP_* and
    IOC_NOTIFY_* environment variables.
    """
    overrides = {k: v for k, v in {"kafka_bootstrap": bootstrap, "catalog": catalog, "notify_db": db,
                                   "notify_file": file}.items() if v is not None}
    settings = NotifySettings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if check:
        _print_check(settings)
        return
    if status:
        _print_status(settings)
        return
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    run_notifier(settings, stop, jobs=report_jobs(settings))  # logs the sample-catalog warning itself


def report_jobs(settings: NotifySettings) -> list[NotifierJob]:
    """The periodic report's delivery (ioc/report_delivery.py), unless IOC_NOTIFY_REPORTS=false."""
    if not settings.notify_reports:
        return []
    from ioc.report_delivery import ReportDelivery

    catalog = load_catalog_or_exit(settings.catalog)
    return [ReportDelivery(settings, catalog, WorkingCalendar(catalog.calendar),
                           calendar_periods=settings.report_calendar_periods)]


def _print_check(settings: NotifySettings) -> None:
    catalog = load_catalog_or_exit(settings.catalog)
    console = Console(highlight=False)
    console.print(f"channels: {', '.join(sorted(settings.channels())) or 'none'}"
                  f" (enabled: {settings.notify_channels}; e-mail needs IOC_SMTP_HOST, file IOC_NOTIFY_FILE)")
    table = Table("agency", "recipients", "e-mail", "webhook", "note")
    for agency in catalog.agencies:
        found = route(catalog, agency.code)
        table.add_row(agency.code, escape(", ".join(c.name for c in found.recipients)),
                      ", ".join(c.email for c in found.recipients if c.email),
                      ", ".join("yes" for c in found.recipients if c.webhook), escape(found.note or ""))
    console.print(table)


def _print_status(settings: NotifySettings) -> None:
    store = SqliteNotifyStore(settings.notify_db)
    try:
        console = Console(highlight=False)
        for name, count in store.stats().items():
            console.print(f"{name:>14}: {count}")
        for record in store.deliveries():
            if record.state == "pending" and record.attempts:
                console.print(f"[yellow]pending[/] {record.key} via {record.channel} "
                              f"{escape(record.address)}: {record.attempts} attempt(s), "
                              f"{escape(str(record.last_error))}")
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.command("notify")(notify)
