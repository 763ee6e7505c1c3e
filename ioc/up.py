"""`ioc up`: the whole product on one machine without Docker, with a live terminal wall.

Starts the local Kafka broker and InfluxDB (ioc.devstack), one or more stream workers (child
processes), the supervisor notifier (to a local file by default) and the simulator on an accelerated
business clock; then draws the wall from what the workers wrote to InfluxDB until Ctrl-C, and stops
everything in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.live import Live

from dossiers import wire
from dossiers.alerts import Alert
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.clock import BusinessClock
from ioc.options import CatalogOption, load_catalog_or_exit
from ioc.readback import LiveKpis, read_live_kpis
from ioc.wall import render
from producers.pacing import DEFAULT_SEED

if TYPE_CHECKING:
    from ioc.devstack.influx import InfluxQL, LocalInflux
    from ioc.devstack.worker import WorkerProcess
    from producers.sdk import EventProducer

DEFAULT_SPEED = 60.0
"""A business minute per wall second: a working day of the centre in about nine minutes."""
SIMULATED_DAYS = 3650
"""The simulator runs open-ended: ten business years is more than any demo."""


class LocalGateway:
    """`ioc up --gateway PORT`: the HTTP gateway in a thread, with a fresh local key per agency.

    The keys are for this machine only: their hashes go to STATE/gateway-keys.txt (what the gateway
    reads), the keys themselves to STATE/gateway-local-keys.txt (owner-only) and to the terminal at start.
    """

    def __init__(self, state: Path, bootstrap: str, port: int, catalog: Catalog,
                 catalog_path: Path | None) -> None:
        from producers.gateway.keys import hash_key, new_key
        from producers.gateway.settings import GatewaySettings

        self.keys = {agency.code: new_key() for agency in catalog.agencies}
        hashes = state / "gateway-keys.txt"
        hashes.write_text("".join(f"{code} {hash_key(key)}\n" for code, key in self.keys.items()))
        self.local_keys = state / "gateway-local-keys.txt"
        self.local_keys.touch(mode=0o600)
        self.local_keys.chmod(0o600)
        self.local_keys.write_text("".join(f"{code} {key}\n" for code, key in self.keys.items()))
        self.url = f"http://127.0.0.1:{port}"
        self._settings = GatewaySettings(kafka_bootstrap=bootstrap, gateway_port=port, gateway_keys=hashes,
                                         gateway_spool=state / "gateway-spool.sqlite", catalog=catalog_path)
        self._catalog = catalog
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def _run(self) -> None:
        from producers.gateway.service import serve

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await serve(self._settings, self._catalog, self._stop)

        try:
            asyncio.run(main())
        finally:
            self._ready.set()

    def start(self) -> LocalGateway:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


def default_origin(calendar: WorkingCalendar, wall: float) -> int:
    """Business time starts at today's opening (or the next working day's): the wall fills from 07:00."""
    midnight = datetime.combine(calendar.local_date(int(wall)), dtime(), tzinfo=calendar.tz)
    return calendar.next_opening(int(midnight.timestamp()))


class AlertFeed:
    """Keeps the latest alerts from `dossier-alerts` (a thread with its own consumer)."""

    def __init__(self, bootstrap: str, topic: str, size: int = 8):
        self.lines: deque[Alert] = deque(maxlen=size)
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(bootstrap, topic), name="alert-feed", daemon=True
        )
        self._thread.start()

    def _run(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        try:
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        with contextlib.suppress(ValueError):
                            self.lines.appendleft(Alert.from_json(record.value))
                            self.count += 1
        finally:
            consumer.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@contextlib.contextmanager
def local_stack(state: Path, partitions: int, console: Console) -> Iterator[tuple[str, LocalInflux]]:
    """The local broker and InfluxDB, stopped on exit whatever happens."""
    from ioc.devstack.influx import LocalInflux
    from ioc.devstack.kafka import KafkaBroker

    console.print("[dim]Starting Kafka (local broker)…[/dim]")
    with KafkaBroker(partitions=partitions, data_dir=state / "kafka") as broker:
        console.print(
            f"[dim]Kafka ready: {broker.bootstrap} ({broker.startup_seconds:.1f} s). "
            "Starting InfluxDB…[/dim]"
        )
        influx = LocalInflux(data_dir=state / "influxdb").start()
        try:
            yield broker.bootstrap, influx
        finally:
            influx.close()


def up(
    no_simulator: Annotated[
        bool, typer.Option("--no-simulator", help="Only the service, for real producers (real time).")
    ] = False,
    speed: Annotated[
        float | None,
        typer.Option(min=0.001, show_default="60",
                     help="Business seconds per wall second of the simulator (60 = a minute per second)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=8, help="Stream worker processes.")] = 1,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = DEFAULT_SEED,
    scenario: Annotated[
        list[str] | None,
        typer.Option(metavar="KIND:AGENCY[@HH:MM]",
                     help="Simulator scenario, e.g. backlog:SKHDT; repeatable."),
    ] = None,
    catalog_path: CatalogOption = None,
    state_dir: Annotated[Path, typer.Option(help="Where the local stack keeps its data.")] = Path(".ioc-up"),
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the events topic.")] = 6,
    gateway_port: Annotated[
        int | None,
        typer.Option("--gateway", metavar="PORT", show_default=False,
                     help="Also run the HTTP gateway on this port, with a local API key per agency (printed "
                          "at start, kept in STATE/gateway-local-keys.txt)."),
    ] = None,
    centre: Annotated[
        str | None,
        typer.Option("--centre", metavar="CODE", show_default=False,
                     help="A province catalog: show this centre's wall instead of the province page."),
    ] = None,
) -> None:
    """Run the whole stack locally (Kafka, InfluxDB, worker, notifier, simulator) with a terminal wall."""
    from ioc.devstack.influx import InfluxQL
    from ioc.devstack.ports import free_port
    from ioc.devstack.worker import WorkerProcess
    from notifier.service import run_notifier
    from notifier.settings import NotifySettings

    if no_simulator and speed is not None:
        raise typer.BadParameter(
            "--speed paces the simulator; with --no-simulator business time is real time",
            param_hint="--speed",
        )
    speed = 1.0 if no_simulator else DEFAULT_SPEED if speed is None else speed
    console = Console()
    state = state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    catalog = load_catalog_or_exit(catalog_path)
    if centre is not None and centre not in catalog.centre_by_code:
        known = ", ".join(c.code for c in catalog.centres[:12]) + (" …" if len(catalog.centres) > 12 else "")
        raise typer.BadParameter(f"no centre {centre!r} in the catalog (centres: {known})",
                                 param_hint="--centre")
    calendar = WorkingCalendar(catalog.calendar)
    wall0 = time.time()
    clock = BusinessClock(
        origin=float(default_origin(calendar, wall0) if not no_simulator else wall0),
        wall_origin=wall0,
        speed=speed,
    )
    stop = threading.Event()
    threads: list[threading.Thread] = []
    processes: list[WorkerProcess] = []
    feed: AlertFeed | None = None
    producer: EventProducer | None = None
    gateway: LocalGateway | None = None
    with local_stack(state, partitions, console) as (bootstrap, influx):
        try:
            env = worker_env(
                kafka_bootstrap=bootstrap,
                influx_url=influx.url,
                influx_token=influx.token,
                influx_org=influx.org,
                influx_bucket=influx.bucket,
                partitions=partitions,
                clock_origin=clock.origin,
                clock_wall_origin=clock.wall_origin,
                clock_speed=clock.speed,
                snapshot_seconds=2,
                catalog=catalog_path.resolve() if catalog_path is not None else None,
            )
            for n in range(workers):
                worker = WorkerProcess(
                    {**env, **worker_env(metrics_port=free_port(), data_dir=state / f"worker-{n}")},
                    state / f"worker-{n}.log",
                    f"worker-{n}",
                )
                processes.append(worker.start())
            console.print(f"[dim]Waiting for {workers} worker(s)…[/dim]")
            for worker in processes:
                worker.wait_ready(timeout=120)
            notify = NotifySettings(
                kafka_bootstrap=bootstrap,
                catalog=catalog_path,
                clock_origin=clock.origin,
                clock_wall_origin=clock.wall_origin,
                clock_speed=clock.speed,
                notify_db=state / "notify.sqlite",
                notify_file=state / "notifications.jsonl",
                notify_channels="file",
            )
            threads.append(
                threading.Thread(target=run_notifier, args=(notify, stop), name="notifier", daemon=True)
            )
            if gateway_port is not None:
                gateway = LocalGateway(state, bootstrap, gateway_port, catalog, catalog_path).start()
                console.print(f"HTTP gateway on {gateway.url} (docs/gateway.md); local API keys, also in "
                              f"{gateway.local_keys}:")
                for code, key in gateway.keys.items():
                    console.print(f"  {code:<14} {key}", highlight=False)
            if not no_simulator:
                producer, simulation = _simulation(
                    catalog, calendar, clock, bootstrap, seed, scenario or [], state, stop
                )
                threads.append(simulation)
            for thread in threads:
                thread.start()
            feed = AlertFeed(bootstrap, wire.ALERTS_TOPIC)
            _show_wall(
                console,
                catalog,
                clock,
                InfluxQL(influx.query_url, influx.bucket),
                feed,
                processes,
                f"Kafka {bootstrap} · ×{speed:g} · {workers} worker · logs: {state}",
                centre,
            )
        except KeyboardInterrupt:
            pass
        finally:
            console.print("[dim]Stopping…[/dim]")
            stop.set()
            for thread in threads:
                thread.join(15)
            if producer is not None:
                producer.close(10)
            if gateway is not None:
                gateway.stop()
            if feed is not None:
                feed.stop()
            for worker in processes:
                worker.stop()
    console.print("Stopped.")


def worker_env(**values: object) -> dict[str, str]:
    """`IOC_*` variables for a worker process from `StreamSettings` field names (a typo fails here)."""
    from streams.settings import StreamSettings

    unknown = set(values) - set(StreamSettings.model_fields)
    if unknown:
        raise ValueError(f"not worker settings: {', '.join(sorted(unknown))}")
    return {f"IOC_{name.upper()}": str(value) for name, value in values.items() if value is not None}


def _simulation(
    catalog: Catalog,
    calendar: WorkingCalendar,
    clock: BusinessClock,
    bootstrap: str,
    seed: int,
    scenarios: list[str],
    state: Path,
    stop: threading.Event,
) -> tuple[EventProducer, threading.Thread]:
    from producers.pacing import run_simulation
    from producers.sdk import EventProducer
    from producers.simulator import Simulator, parse_scenario, warmup_start

    origin = int(clock.origin)
    day = calendar.local_date(origin)
    parsed = [parse_scenario(text, catalog, calendar, day) for text in scenarios]
    simulator = Simulator(
        catalog,
        calendar,
        seed=seed,
        start=warmup_start(calendar, origin, 20),
        end=origin + SIMULATED_DAYS * 86400,
        emit_from=origin,
        scenarios=parsed,
    )
    producer = EventProducer(bootstrap, spool=state / "spool.sqlite", catalog=catalog)
    thread = threading.Thread(
        target=run_simulation,
        args=(simulator, producer),
        kwargs={"clock": clock, "stop": stop},
        name="simulator",
        daemon=True,
    )
    return producer, thread


def _show_wall(
    console: Console,
    catalog: Catalog,
    clock: BusinessClock,
    ql: InfluxQL,
    feed: AlertFeed,
    processes: list[WorkerProcess],
    status: str,
    centre: str | None = None,
) -> None:
    """Redraw once a second until Ctrl-C (or until every worker died: then say so and stop)."""
    live = LiveKpis()
    with Live(console=console, refresh_per_second=2, screen=False) as screen:
        while True:
            with contextlib.suppress(Exception):  # InfluxDB restarting: keep the last picture
                live = read_live_kpis(ql.query, window="1m")
            business = datetime.fromtimestamp(clock.now(time.time()), ZoneInfo(catalog.calendar.timezone))
            screen.update(render(catalog, live, list(feed.lines), business, status, centre))
            if not any(p.running for p in processes):
                console.print("[red]Every worker has stopped: see their logs.[/red]")
                return
            time.sleep(1)


def register(app: typer.Typer) -> None:
    app.command("up", rich_help_panel="Run")(up)
