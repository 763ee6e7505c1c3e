"""`ioc produce FILE|-`: send an event file (JSON lines or CSV) to Kafka, validated, with a spool.

The loop is `producers.load.load_records`; the SDK (`producers.sdk.EventProducer`) validates, sends and
spools. This module reads options and prints.

Made for an agency's integrator and for the centre's operators loading an export by hand: every bad
line is reported with its line number and the field that is wrong, the valid ones still go out, and
the exit code (1) tells a script that the file needs fixing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dossiers import wire
from ioc.options import (
    BootstrapOption,
    CatalogOption,
    ClientName,
    EventsTopicOption,
    KafkaPasswordOption,
    KafkaUsernameOption,
    ProducerClientOption,
    SaslMechanismOption,
    SecurityProtocolOption,
    kafka_settings,
    load_catalog_or_exit,
    print_bad_lines,
)
from kafka_settings import SaslMechanism, SecurityProtocol
from producers.files import detect_format, open_source, read_records
from producers.load import load_records
from producers.sdk import DEFAULT_BOOTSTRAP, EventProducer, check_event, default_spool_path
from producers.spool import SpoolLocked


class FileFormatChoice(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def register(app: typer.Typer) -> None:
    """Mount `ioc produce` on the `ioc` app (see ioc/cli.py COMMAND_MODULES)."""
    app.command("produce", no_args_is_help=True, rich_help_panel="Run")(produce)


def produce(
    source: Annotated[
        str, typer.Argument(metavar="FILE|-", help="Event file (JSON lines or CSV); - reads stdin.")
    ],
    bootstrap: BootstrapOption = DEFAULT_BOOTSTRAP,
    topic: EventsTopicOption = wire.EVENTS_TOPIC,
    catalog_path: CatalogOption = None,
    file_format: Annotated[
        FileFormatChoice | None,
        typer.Option("--format", help="jsonl or csv; default: from the file extension (.csv → csv)."),
    ] = None,
    spool: Annotated[
        Path | None,
        typer.Option(
            "--spool",
            envvar="IOC_SPOOL_PATH",
            help="SQLite spool for events the broker did not take.",
            show_default="~/.local/state/ioc-monitor/spool.sqlite",
        ),
    ] = None,
    agency_identity: Annotated[
        str | None,
        typer.Option(
            "--agency-identity",
            envvar="IOC_AGENCY_IDENTITY",
            help="Your agency code: sent as the ioc-agency header; events of other agencies are refused.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only; send nothing.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait at the end for acks and the spool to drain.")
    ] = 30.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log the Kafka client's messages.")] = (
        False
    ),
    security_protocol: SecurityProtocolOption = SecurityProtocol.PLAINTEXT,
    sasl_mechanism: SaslMechanismOption = SaslMechanism.SCRAM_SHA_256,
    kafka_username: KafkaUsernameOption = None,
    kafka_password: KafkaPasswordOption = None,
    client: ProducerClientOption = ClientName.KAFKA_PYTHON,
) -> None:
    """Validate and send dossier events from FILE (or stdin) to Kafka; exit code 1 if any line is invalid."""
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    _configure_logging(verbose)
    security = ({} if dry_run else kafka_settings(
        bootstrap, security_protocol, sasl_mechanism, kafka_username, kafka_password).kafka_python_kwargs())

    catalog = load_catalog_or_exit(catalog_path, err)
    fmt = FileFormatChoice(file_format or detect_format(source))
    try:
        stream = open_source(source)
    except OSError as exc:
        err.print(f"[red]cannot read {escape(source)}: {escape(str(exc.strerror or exc))}[/red]")
        raise typer.Exit(2) from exc
    total = _count_lines(source)

    delivered = _Counter()
    producer: EventProducer | None = None
    if not dry_run:
        try:
            producer = EventProducer(
                bootstrap,
                topic,
                spool=spool or default_spool_path(),
                catalog=catalog,
                agency_identity=agency_identity,
                on_delivery=lambda _id, metadata, exc: delivered.add() if exc is None else None,
                client=client.value,
                **security,
            )
        except SpoolLocked as exc:
            stream.close()
            err.print(f"[red]{escape(str(exc))}: give this run its own --spool[/red]")
            raise typer.Exit(2) from exc
        except ValueError as exc:  # e.g. --client librdkafka without confluent-kafka installed
            stream.close()
            raise typer.BadParameter(str(exc), param_hint="--client") from exc
        if not producer.connected:
            err.print(f"[yellow]Kafka at {bootstrap} is unreachable: events go to the spool "
                      f"{producer.spool.path} and are sent when it is back[/yellow]")

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    send: Callable[[dict[str, Any]], object] = (
        (lambda record: check_event(record, catalog, agency_identity)) if producer is None else producer.send
    )
    try:
        with stream, progress:
            task = progress.add_task("validating" if dry_run else "sending", total=total)
            result = load_records(read_records(stream, fmt.value), send,
                                  on_line=lambda line: progress.update(task, completed=line))
            progress.update(task, completed=total)
    finally:
        left = 0
        if producer is not None:
            waiting: AbstractContextManager[Any] = (
                err.status("waiting for Kafka's acknowledgements…") if err.is_terminal else nullcontext()
            )
            with waiting:
                producer.close(timeout)
            left = producer.spool_depth

    invalid = result.invalid
    print_bad_lines(invalid, err)
    if dry_run:
        out.print(f"dry run: {result.valid} valid, {len(invalid)} invalid; nothing sent")
    else:
        assert producer is not None
        out.print(f"sent {delivered.value}, spooled {left}, invalid {len(invalid)}")
        if left:
            err.print(f"[yellow]{left} event(s) wait in the spool {producer.spool.path}; the next "
                      f"`ioc produce` (or any producer using that spool) sends them once Kafka is reachable"
                      f"[/yellow]")
    if invalid:
        raise typer.Exit(1)


def _count_lines(source: str) -> int | None:
    """Total lines for the progress bar (None for stdin, whose length is unknown)."""
    if source == "-":
        return None
    with open(source, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) + 1


def _configure_logging(verbose: bool) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        # an unreachable broker makes kafka-python log every reconnect attempt; the spool covers it
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        logging.getLogger("producers.sdk").setLevel(logging.ERROR)


class _Counter:
    """A thread-safe count (delivery callbacks come from kafka-python's sender and the drain thread)."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1
