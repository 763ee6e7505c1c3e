"""`ioc worker`: run one stream worker (start more to scale out across partitions)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from streams.settings import StreamSettings


def worker(
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap (env IOC_KAFKA_BOOTSTRAP)")] = None,
    influx_url: Annotated[str | None, typer.Option(help="InfluxDB URL (env IOC_INFLUX_URL)")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Prometheus port (env IOC_METRICS_PORT)")] = None,
) -> None:
    """Consume dossier events, keep state and SLA timers, write KPIs to InfluxDB."""
    overrides = {
        k: v
        for k, v in {
            "kafka_bootstrap": bootstrap,
            "influx_url": influx_url,
            "metrics_port": metrics_port,
        }.items()
        if v is not None
    }
    settings = StreamSettings(**overrides)  # type: ignore[arg-type]
    run_worker(settings)


def run_worker(settings: StreamSettings) -> None:
    import faust

    from streams.app import create_app
    from streams.topics import ensure_topics

    logging.basicConfig(level=settings.log_level)
    partitions = ensure_topics(settings)
    app, _ = create_app(settings, partitions)
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
