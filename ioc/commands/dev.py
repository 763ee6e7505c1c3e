"""`ioc dev ...`: the local stack in the foreground for manual work (dev only: `ioc.devstack`).

Each command starts the component exactly as the test fixtures do, prints how to connect, and stops it
cleanly on Ctrl-C (or SIGTERM). The servers die with this process even if it is killed (watchdog).
`ioc dev fetch` is also what scripts/setup runs to resolve Kafka's jars once.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from ioc.devstack.kafka import KAFKA_VERSION
from ioc.devstack.proc import DevstackError
from ioc.options import CatalogOption

if TYPE_CHECKING:
    from ioc.devstack.kafka_sasl import SecureKafkaBroker

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
    from ioc.devstack.kafka import ensure_jars

    started = time.monotonic()
    try:
        libs = ensure_jars(quiet=False)
    except DevstackError as exc:
        raise _fail(exc) from exc
    typer.echo(f"Kafka {KAFKA_VERSION} jars ready in {libs} ({time.monotonic() - started:.1f} s)")


@dev_app.command(
    "kafka", help=f"Run a single-node Apache Kafka {KAFKA_VERSION} (KRaft) broker on 127.0.0.1 until Ctrl-C."
)
def kafka(
    partitions: Annotated[int, typer.Option(help="Partitions of auto-created topics (num.partitions).")] = 6,
    port: Annotated[int | None, typer.Option(help="Broker port. Default: a free one.")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the data here across runs. Default: a temp dir, removed at exit."),
    ] = None,
    heap: Annotated[str, typer.Option(help="JVM heap (-Xmx).")] = "512m",
    prop: Annotated[
        list[str] | None,
        typer.Option("--property", "-p", metavar="KEY=VALUE", help="Extra server property (repeat)."),
    ] = None,
    sasl: Annotated[
        bool,
        typer.Option("--sasl", help="SASL/SCRAM and ACLs as in production: users and ACLs for the catalog's "
                                    "agencies, the worker and the notifier; passwords in DATA_DIR/secrets."),
    ] = False,
    catalog: CatalogOption = None,
) -> None:
    from ioc.devstack.kafka import KafkaBroker

    _sigterm_as_interrupt()
    from ioc.devstack.kafka_sasl import SecureKafkaBroker

    kind = SecureKafkaBroker if sasl else KafkaBroker
    broker = kind(
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
        if isinstance(broker, SecureKafkaBroker):
            _provision(broker, catalog)
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


def _provision(broker: SecureKafkaBroker, catalog: Path | None) -> None:
    """Users and ACLs for the catalog, as the compose job does; say how a worker logs in."""
    from ioc.options import load_catalog_or_exit
    from kafka_access.acl import NOTIFIER_USER, WORKER_USER
    from kafka_access.settings import KafkaAccessSettings

    codes = [agency.code for agency in load_catalog_or_exit(catalog).agencies]
    rules = broker.provision(codes, KafkaAccessSettings().topology())
    secrets = broker.secrets_dir
    typer.echo(f"  SASL/SCRAM-SHA-256 + {len(rules)} ACLs; passwords: {secrets}/<user> "
               f"(admin, {WORKER_USER}, {NOTIFIER_USER}, agency-<CODE>)")
    typer.echo(f"  worker: IOC_KAFKA_BOOTSTRAP={broker.bootstrap} IOC_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT "
               f"IOC_KAFKA_USERNAME={WORKER_USER} IOC_KAFKA_PASSWORD=$(cat {secrets}/{WORKER_USER})")


@dev_app.command("influx")
def influx(
    database: Annotated[str, typer.Option(help="Database (bucket) to create.")] = "ioc",
    port: Annotated[int | None, typer.Option(help="HTTP port of influxd. Default: a free one.")] = None,
    shim_port: Annotated[
        int | None, typer.Option(help="Port of the v2 write shim. Default: a free one.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the data here across runs. Default: a temp dir, removed at exit."),
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

