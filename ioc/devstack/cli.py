"""`ioc dev ...`: run the local Kafka broker or InfluxDB in the foreground for manual work.

Each command starts the component exactly as the test fixtures do, prints how to connect, and stops it
cleanly on Ctrl-C (or SIGTERM). The servers die with this process even if it is killed (watchdog).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from ioc.devstack.proc import DevstackError

dev_app = typer.Typer(
    name="dev",
    help="Local development stack: a real Kafka broker and InfluxDB on loopback, no Docker.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Mount `dev` on the `ioc` app (called by ioc.cli)."""
    app.add_typer(dev_app, name="dev")


def _sigterm_as_interrupt() -> None:
    """Turn SIGTERM into KeyboardInterrupt so `kill PID` stops the servers as cleanly as Ctrl-C."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _fail(exc: BaseException) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _parse_properties(items: list[str]) -> dict[str, str]:
    props: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--property")
        props[key.strip()] = value.strip()
    return props


@dev_app.command("fetch")
def fetch() -> None:
    """Resolve Apache Kafka's broker jars from Maven Central into the cache (once)."""
    from ioc.devstack.kafka import KAFKA_VERSION, ensure_jars

    started = time.monotonic()
    try:
        libs = ensure_jars(quiet=False)
    except DevstackError as exc:
        raise _fail(exc) from exc
    typer.echo(f"Kafka {KAFKA_VERSION} jars ready in {libs} ({time.monotonic() - started:.1f} s)")


@dev_app.command("kafka")
def kafka(
    partitions: Annotated[int, typer.Option(help="num.partitions for auto-created topics")] = 6,
    port: Annotated[int | None, typer.Option(help="broker port (default: a free one)")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="keep data here across runs (default: a temp dir, removed at exit)")
    ] = None,
    heap: Annotated[str, typer.Option(help="JVM -Xmx")] = "512m",
    prop: Annotated[
        list[str] | None, typer.Option("--property", "-p", help="extra server property KEY=VALUE")
    ] = None,
) -> None:
    """Run a single-node Apache Kafka 3.9.1 (KRaft) broker on 127.0.0.1 until Ctrl-C."""
    from ioc.devstack.kafka import KAFKA_VERSION, KafkaBroker

    _sigterm_as_interrupt()
    broker = KafkaBroker(
        partitions=partitions,
        data_dir=data_dir,
        port=port,
        heap=heap,
        extra_properties=_parse_properties(prop or []),
    )
    try:
        typer.echo(f"starting Kafka {KAFKA_VERSION} ...")
        broker.start()
        typer.echo(f"Kafka {KAFKA_VERSION} ready in {broker.startup_seconds:.1f} s")
        typer.echo(f"  bootstrap servers : {broker.bootstrap}")
        typer.echo(f"  data dir          : {broker.data_dir}")
        typer.echo(f"  broker log        : {broker.log_path}")
        typer.echo("Ctrl-C stops it.")
        while broker.running:
            time.sleep(0.5)
        raise _fail(DevstackError(f"the broker exited on its own; see {broker.log_path}"))
    except KeyboardInterrupt:
        typer.echo("\nstopping Kafka ...")
    except DevstackError as exc:
        raise _fail(exc) from exc
    finally:
        broker.close()


@dev_app.command("influx")
def influx(
    database: Annotated[str, typer.Option(help="database / bucket to create")] = "ioc",
    port: Annotated[int | None, typer.Option(help="influxd HTTP port (default: a free one)")] = None,
    shim_port: Annotated[int | None, typer.Option(help="v2 write shim port (default: a free one)")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="keep data here across runs (default: a temp dir, removed at exit)")
    ] = None,
) -> None:
    """Run InfluxDB 1.x (Debian's influxd) plus the dev-only v2 write shim until Ctrl-C."""
    from ioc.devstack.influx import LocalInflux

    _sigterm_as_interrupt()
    local = LocalInflux(database=database, data_dir=data_dir, port=port, shim_port=shim_port)
    try:
        local.start()
        typer.echo(f"InfluxDB 1.x ready in {local.startup_seconds:.2f} s")
        typer.echo(f"  influxdb-client url (dev-only v2 write shim): {local.url}")
        typer.echo(f"  InfluxQL / Grafana url (influxd)            : {local.query_url}")
        typer.echo(f"  org={local.org} bucket={local.bucket} token={local.token} (not checked)")
        typer.echo(f"  data dir: {local.engine.data_dir}  log: {local.engine.log_path}")
        typer.echo("Ctrl-C stops it.")
        while local.engine.running:
            time.sleep(0.5)
        raise _fail(DevstackError(f"influxd exited on its own; see {local.engine.log_path}"))
    except KeyboardInterrupt:
        typer.echo("\nstopping InfluxDB ...")
    except DevstackError as exc:
        raise _fail(exc) from exc
    finally:
        local.close()


if __name__ == "__main__":  # python -m ioc.devstack.cli dev kafka
    _app = typer.Typer()
    register(_app)
    sys.exit(_app())
