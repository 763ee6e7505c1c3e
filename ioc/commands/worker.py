"""`ioc worker`: run one stream worker (start more to scale out across partitions)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError

from dossiers.catalog import load_catalog
from ioc.options import KAFKA_PANEL, CatalogOption, load_catalog_or_exit
from streams.service import run_worker
from streams.settings import StreamSettings

INFLUX_PANEL = "InfluxDB and metrics"


def worker(
    ctx: typer.Context,
    catalog: CatalogOption = None,
    bootstrap: Annotated[
        str | None,
        typer.Option(metavar="HOST:PORT,...", help="Kafka bootstrap servers (env IOC_KAFKA_BOOTSTRAP).",
                     rich_help_panel=KAFKA_PANEL, show_default=False),
    ] = None,
    influx_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="InfluxDB URL, v2 write API (env IOC_INFLUX_URL). Unset: no KPIs "
                     "are written.", rich_help_panel=INFLUX_PANEL, show_default=False),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(metavar="PORT", help="Prometheus /metrics port, 0 = none (env IOC_METRICS_PORT).",
                     rich_help_panel=INFLUX_PANEL, show_default=False),
    ] = None,
) -> None:
    """Consume dossier events, keep state and SLA timers, raise alerts, write KPIs to InfluxDB.

    Every other setting comes from the environment (IOC_*, docs/configuration.md).
    """
    source = ctx.get_parameter_source("catalog")
    if source is not None and source.name == "ENVIRONMENT":
        catalog = None  # StreamSettings reads IOC_CATALOG itself, like every IOC_* ("none" = the sample)
    given: dict[str, Any] = {
        "catalog": catalog,
        "kafka_bootstrap": bootstrap,
        "influx_url": influx_url,
        "metrics_port": metrics_port,
    }
    try:
        settings = StreamSettings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as exc:  # an IOC_* variable out of range: say which and why, no traceback
        typer.echo(f"invalid worker settings: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        loaded = load_catalog(settings.catalog)
    except (OSError, ValueError):
        load_catalog_or_exit(settings.catalog)  # says what is wrong with it and exits 2
        raise
    # the sample-catalog warning is the worker's to log (streams.service.warn_at_start_up)
    run_worker(settings, loaded)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
