"""Options shared by the `ioc` commands, declared once: the catalog, the Kafka connection and security.

Every command that reads the catalog takes `--catalog` with `IOC_CATALOG`; every command that talks to
Kafka takes the same connection options, with the same variables as the services' settings
(`kafka_settings.KafkaSettings`), and turns them into one `KafkaSettings`.

The language rule of the command line: help, progress and error messages are in English (they are read
by integrators and the people who run the machines, and match the docs); what the centre's staff read,
the wall, alerts, e-mails and reports, is in Vietnamese (`dossiers.labels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.markup import escape

from dossiers import wire
from dossiers.catalog import SAMPLE_WARNING, Catalog, CatalogError, load_catalog
from kafka_settings import KafkaSettings, SaslMechanism, SecurityProtocol
from producers.clients import KAFKA_PYTHON, LIBRDKAFKA

KAFKA_PANEL = "Kafka connection"
SECURITY_PANEL = "Kafka security"
TIME_PANEL = "Business time"
OUTPUT_PANEL = "Output"

CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        envvar="IOC_CATALOG",
        metavar="FILE",
        help="Catalog YAML of the centre (agencies, procedures, calendar). Default: the shipped sample.",
        show_default=False,
    ),
]
BootstrapOption = Annotated[
    str,
    typer.Option("--bootstrap", envvar="IOC_KAFKA_BOOTSTRAP", metavar="HOST:PORT,...",
                 help="Kafka bootstrap servers.", rich_help_panel=KAFKA_PANEL),
]
EventsTopicOption = Annotated[
    str,
    typer.Option("--topic", envvar="IOC_EVENTS_TOPIC", help="Topic of dossier events.",
                 rich_help_panel=KAFKA_PANEL),
]
SecurityProtocolOption = Annotated[
    SecurityProtocol,
    typer.Option("--security-protocol", envvar="IOC_KAFKA_SECURITY_PROTOCOL", case_sensitive=False,
                 help="How to reach the broker.", rich_help_panel=SECURITY_PANEL),
]
SaslMechanismOption = Annotated[
    SaslMechanism,
    typer.Option("--sasl-mechanism", envvar="IOC_KAFKA_SASL_MECHANISM", case_sensitive=False,
                 help="SASL mechanism (with a SASL_* protocol).", rich_help_panel=SECURITY_PANEL),
]
KafkaUsernameOption = Annotated[
    str | None,
    typer.Option("--kafka-username", envvar="IOC_KAFKA_USERNAME", metavar="USER",
                 help="SASL user, e.g. agency-STP.", rich_help_panel=SECURITY_PANEL),
]
class ClientName(StrEnum):
    """The Kafka client the producer SDK sends through (`producers.clients`)."""

    KAFKA_PYTHON = KAFKA_PYTHON
    LIBRDKAFKA = LIBRDKAFKA


ProducerClientOption = Annotated[
    ClientName,
    typer.Option("--client", envvar="IOC_PRODUCER_CLIENT", case_sensitive=False,
                 help="Kafka client of the producer SDK: kafka-python, or librdkafka for bulk loads "
                      "(the librdkafka extra: pip install 'ioc-monitor[librdkafka]').",
                 rich_help_panel=KAFKA_PANEL),
]
KafkaPasswordOption = Annotated[
    str | None,
    typer.Option("--kafka-password", envvar="IOC_KAFKA_PASSWORD", metavar="PASSWORD", show_default=False,
                 help="SASL password (prefer the environment variable).", rich_help_panel=SECURITY_PANEL),
]


def kafka_settings(
    bootstrap: str,
    protocol: SecurityProtocol,
    mechanism: SaslMechanism,
    username: str | None,
    password: str | None,
    events_topic: str = wire.EVENTS_TOPIC,
) -> KafkaSettings:
    """The command's Kafka options as `KafkaSettings`; a wrong combination is a usage error."""
    try:
        settings = KafkaSettings(
            kafka_bootstrap=bootstrap,
            kafka_security_protocol=protocol,
            kafka_sasl_mechanism=mechanism,
            kafka_username=username,
            kafka_password=SecretStr(password) if password else None,
            events_topic=events_topic,
        )
        settings.sasl_login()  # SASL without credentials fails here, before anything is sent
    except (ValueError, ValidationError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--security-protocol") from exc
    return settings


def load_catalog_or_exit(path: Path | None, err: Console | None = None) -> Catalog:
    """The catalog, or a clear error and exit code 2; a loud warning when it is the shipped sample."""
    err = err or Console(stderr=True, highlight=False)
    try:
        catalog = load_catalog(path)
    except FileNotFoundError as exc:
        err.print(f"[red]catalog not found: {escape(str(path))}[/red]")
        raise typer.Exit(2) from exc
    except OSError as exc:
        reason = escape(str(exc.strerror or exc))
        err.print(f"[red]cannot read the catalog {escape(str(path))}: {reason}[/red]")
        raise typer.Exit(2) from exc
    except CatalogError as exc:  # names the file and the place in it
        err.print(f"[red]catalog: {escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(2) from exc
    if catalog.sample:
        warn_sample(err)
    return catalog


def warn_sample(err: Console) -> None:
    """The sample-catalog warning, in the command line's voice."""
    err.print(f"[bold yellow]WARNING: {escape(SAMPLE_WARNING)}[/bold yellow]")


SHOWN_BAD_LINES = 20
"""Bad lines reported one by one; beyond this only their count (a broken export can have 10^5)."""


def print_bad_lines(bad: Sequence[tuple[int, str]], err: Console) -> None:
    """`line N: reason` for the first bad lines of a file, then how many more: one format for every door."""
    for number, reason in bad[:SHOWN_BAD_LINES]:
        err.print(f"[red]line {number}:[/red] {escape(reason)}", soft_wrap=True)
    if len(bad) > SHOWN_BAD_LINES:
        err.print(f"[red]… and {len(bad) - SHOWN_BAD_LINES} more invalid line(s)[/red]")
