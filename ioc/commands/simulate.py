"""`ioc simulate`: the centre's agencies as a deterministic event stream, to a file or to Kafka.

The command only reads options and prints: `producers.simulator` generates the events and
`producers.pacing.run_simulation` paces them and hands them to the sinks.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dossiers import wire
from dossiers.calendar import Timestamp, WorkingCalendar
from ioc.options import (
    KAFKA_PANEL,
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
)
from kafka_settings import SaslMechanism, SecurityProtocol
from producers.pacing import (
    DEFAULT_SEED,
    DEFAULT_WARMUP_DAYS,
    JsonLinesSink,
    SimulationSummary,
    pacing_clock,
    run_simulation,
)
from producers.sdk import DEFAULT_BOOTSTRAP, EventProducer, default_spool_path
from producers.simulator import (
    DEFAULT_PROFILE,
    Profile,
    Scenario,
    ScenarioError,
    SimEvent,
    SimulationStats,
    Simulator,
    parse_scenario,
    warmup_start,
)


def parse_moment(value: str, calendar: WorkingCalendar, *, date_means: str) -> Timestamp:
    """RFC 3339 (offset optional: business time zone), or a date: its opening (`date_means="open"`)
    or the midnight that ends it (`date_means="end"`)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if date_means == "end":
                return int(datetime.combine(day + timedelta(days=1), datetime.min.time(),
                                            tzinfo=calendar.tz).timestamp())
            opening = calendar.config.office_hours.periods[0][0]
            return int(datetime.combine(day, opening, tzinfo=calendar.tz).timestamp())
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is neither a date (2026-03-02) nor an RFC 3339 instant") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=calendar.tz)
    return int(moment.timestamp())


def _today_opening(calendar: WorkingCalendar) -> Timestamp:
    today = datetime.now(calendar.tz).date()
    return parse_moment(today.isoformat(), calendar, date_means="open")


def simulate(
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed and options, same events.")] = (
        DEFAULT_SEED
    ),
    start: Annotated[
        str | None,
        typer.Option("--start", help="First emitted instant: RFC 3339 or a date (its 07:00) "
                                     "(default: today 07:00, business time)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="End (exclusive): RFC 3339, or a date (the whole day is included)."),
    ] = None,
    days: Annotated[
        float | None,
        typer.Option("--days", min=0.0, help="Run for N calendar days from --start (default: 1)."),
    ] = None,
    warmup_days: Annotated[
        int, typer.Option("--warmup-days", min=0,
                          help="Working days generated before --start, so that dossiers are already open.")
    ] = DEFAULT_WARMUP_DAYS,
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", help="silent:AGENCY[@HH:MM] (stops sending) or backlog:AGENCY[@HH:MM] "
                                        "(resolves 4x slower); repeatable. HH:MM is on the --start day."),
    ] = None,
    catalog_path: CatalogOption = None,
    lagging: Annotated[
        list[str] | None,
        typer.Option("--lagging", help="A province catalog: commune centre(s) that fall behind, by code "
                                       "(repeatable or comma-separated; 'none' for none); default: "
                                       "--lagging-count of them drawn from the seed."),
    ] = None,
    lagging_count: Annotated[
        int, typer.Option("--lagging-count", min=0, help="How many commune centres fall behind when "
                                                         "--lagging is not given (drawn from the seed).")
    ] = DEFAULT_PROFILE.lagging_count,
    index766: Annotated[
        bool, typer.Option("--index766", help="Also emit the 766 index's facts: syncs to the national "
                                              "portal (a few agencies late or never), digitised receipts, "
                                              "electronic results, complaints. Off: the output is unchanged.")
    ] = False,
    province: Annotated[
        str, typer.Option("--province", help="Province part of dossier codes (H48 = Quảng Ngãi).")
    ] = DEFAULT_PROFILE.province,
    out: Annotated[
        str | None, typer.Option("--out", help="Write JSON lines to FILE (- = stdout); default: stdout "
                                               "unless --kafka.")
    ] = None,
    kafka: Annotated[bool, typer.Option("--kafka", help="Send to Kafka with the producer SDK.",
                                        rich_help_panel=KAFKA_PANEL)] = False,
    bootstrap: BootstrapOption = DEFAULT_BOOTSTRAP,
    topic: EventsTopicOption = wire.EVENTS_TOPIC,
    spool: Annotated[
        Path | None,
        typer.Option("--spool", help="Producer spool (default: simulator-spool.sqlite beside the SDK's "
                                     "default spool)."),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", min=0.001, help="Business seconds per wall second (60 = a minute per "
                                                "second); default: as fast as possible."),
    ] = None,
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Business time = wall time (speed 1).")
    ] = False,
    clock_origin: Annotated[
        float | None,
        typer.Option("--clock-origin", envvar="IOC_CLOCK_ORIGIN",
                     help="Business epoch seconds at --clock-wall-origin (share a worker's clock)."),
    ] = None,
    clock_wall_origin: Annotated[
        float | None,
        typer.Option("--clock-wall-origin", envvar="IOC_CLOCK_WALL_ORIGIN",
                     help="Wall epoch seconds matching --clock-origin."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for Kafka's acks at the end.")
    ] = 30.0,
    security_protocol: SecurityProtocolOption = SecurityProtocol.PLAINTEXT,
    sasl_mechanism: SaslMechanismOption = SaslMechanism.SCRAM_SHA_256,
    kafka_username: KafkaUsernameOption = None,
    kafka_password: KafkaPasswordOption = None,
    client: ProducerClientOption = ClientName.KAFKA_PYTHON,
) -> None:
    """Simulate the centre: realistic, deterministic dossier events of every agency (JSON lines or Kafka)."""
    err = Console(stderr=True, highlight=False)
    catalog = load_catalog_or_exit(catalog_path, err)
    calendar = WorkingCalendar(catalog.calendar)
    first = parse_moment(start, calendar, date_means="open") if start else _today_opening(calendar)
    if end is not None and days is not None:
        raise typer.BadParameter("give --end or --days, not both")
    last = (parse_moment(end, calendar, date_means="end") if end is not None
            else first + round((1.0 if days is None else days) * 86400))
    if last <= first:
        raise typer.BadParameter("the end must be after the start")
    try:
        scenarios: list[Scenario] = [parse_scenario(s, catalog, calendar, calendar.local_date(first))
                                     for s in scenario or []]
    except ScenarioError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenario") from exc
    if realtime and speed is not None and speed != 1.0:
        raise typer.BadParameter("--realtime is --speed 1; give one of them")
    pace = 1.0 if realtime else speed
    chosen = _lagging_codes(lagging)
    try:
        simulator = Simulator(catalog, calendar, seed, warmup_start(calendar, first, warmup_days), last,
                              emit_from=first, scenarios=scenarios,
                              profile=Profile(province=province, index766=index766, lagging_centres=chosen,
                                              lagging_count=lagging_count))
    except ValueError as exc:  # --lagging names something that is not a commune centre
        raise typer.BadParameter(str(exc), param_hint="--lagging") from exc
    if catalog.is_province:
        err.print(lagging_line(simulator), soft_wrap=True)
    clock = pacing_clock(pace, first, clock_origin, clock_wall_origin, time.time())
    if clock is not None and not clock.is_real_time:
        err.print(f"business clock: start the worker with IOC_CLOCK_ORIGIN={clock.origin:.0f} "
                  f"IOC_CLOCK_WALL_ORIGIN={clock.wall_origin:.3f} IOC_CLOCK_SPEED={clock.speed:g}",
                  soft_wrap=True)

    security = (kafka_settings(bootstrap, security_protocol, sasl_mechanism, kafka_username, kafka_password)
                .kafka_python_kwargs() if kafka else {})

    sinks: list[Callable[[SimEvent], object]] = []
    handle: IO[str] | None = None
    producer = None
    if out is not None or not kafka:
        handle = sys.stdout if out in (None, "-") else open(out, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        sinks.append(JsonLinesSink(handle))
    if kafka:
        try:
            producer = EventProducer(bootstrap, topic, spool=spool or default_spool_path().with_name(
                "simulator-spool.sqlite"), catalog=catalog, client_id="ioc-simulator", client=client.value,
                **security)
        except ValueError as exc:  # e.g. --client librdkafka without confluent-kafka installed
            raise typer.BadParameter(str(exc), param_hint="--client") from exc
        if not producer.connected:
            err.print(f"[yellow]Kafka at {bootstrap} is unreachable: events go to the spool "
                      f"{producer.spool.path}[/yellow]")
        sinks.append(producer.send)

    stop = threading.Event()
    closed_output = False

    def fan_out(event: SimEvent) -> None:
        nonlocal closed_output
        try:
            for each in sinks:
                each(event)
        except BrokenPipeError:  # `ioc simulate | head`: the reader has gone, stop like Ctrl-C
            closed_output = True
            stop.set()
    previous = signal.getsignal(signal.SIGINT)

    def interrupted(_signum: int, _frame: FrameType | None) -> None:
        stop.set()  # the loop ends between two events; a second Ctrl-C interrupts for real
        signal.signal(signal.SIGINT, previous)

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=err, disable=not err.is_terminal, transient=False)
    task = progress.add_task("starting")

    def report(stats: SimulationStats, elapsed: float) -> None:
        # paced: the business clock's "now"; as fast as possible: the last event's time
        now = clock.now(time.time()) if clock is not None else time.time() if pace == 1.0 else stats.last_ts
        moment = calendar.local(int(now)).strftime("%Y-%m-%d %H:%M:%S") if now is not None else "—"
        rate = stats.events / elapsed if elapsed > 0 else 0.0
        progress.update(task, description=f"simulated {moment} · {stats.events:,} events · "
                                          f"{stats.dossiers:,} dossiers · {rate:,.0f} events/s")

    signal.signal(signal.SIGINT, interrupted)
    try:
        with progress:
            summary = run_simulation(simulator, fan_out, speed=pace, clock=clock, stop=stop,
                                     on_progress=report)
    finally:
        signal.signal(signal.SIGINT, previous)
        if closed_output:
            # nothing can be written to a closed pipe; point stdout at /dev/null so exit does not fail
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        elif handle is not None:
            handle.flush()
        if handle is not None and handle is not sys.stdout:
            handle.close()
        left = 0
        if producer is not None:
            waiting: AbstractContextManager[Any] = (
                err.status("waiting for Kafka's acknowledgements…") if err.is_terminal else nullcontext())
            with waiting:
                producer.close(timeout)
            left = producer.spool_depth
    err.print(summary_line(summary, calendar), soft_wrap=True)
    err.print(summary_table(summary))
    if catalog.is_province:
        err.print(levels_table(summary, simulator))
    if left:
        err.print(f"[yellow]{left} event(s) wait in the spool; they are sent by the next run[/yellow]")


def _lagging_codes(values: list[str] | None) -> tuple[str, ...] | None:
    """`--lagging` values as centre codes; None when not given (drawn from the seed), () for `none`."""
    if not values:
        return None
    codes = tuple(code.strip() for value in values for code in value.split(",") if code.strip())
    return () if [c.lower() for c in codes] == ["none"] else codes


def lagging_line(simulator: Simulator) -> str:
    """Which commune centres fall behind in this run (and how they were chosen)."""
    catalog, profile = simulator.catalog, simulator.profile
    how = ("given by --lagging" if profile.lagging_centres is not None
           else f"drawn from seed {simulator.seed}")
    if not simulator.lagging:
        return f"commune centres falling behind: none ({how})"
    names = ", ".join(f"{code} {catalog.centre_by_code[code].name}" for code in simulator.lagging)
    return f"commune centres falling behind ({how}): {names}"


def levels_table(summary: SimulationSummary, simulator: Simulator) -> Table:
    """A province run: dossiers per level, and those of the commune centres that fall behind."""
    catalog = simulator.catalog
    by_centre: Counter[str] = Counter()
    for agency, count in summary.dossiers_by_agency.items():
        centre = catalog.centre_of(agency)
        if centre is not None:
            by_centre[centre.code] += count
    table = Table()
    table.add_column("centres")
    table.add_column("count", justify="right")
    table.add_column("dossiers", justify="right")
    table.add_column("mean per working day (model)", justify="right")
    provincial = catalog.centre
    provincial_volume = sum(simulator.volumes[a.code] for a in catalog.agencies_of(provincial.code))
    table.add_row(f"provincial: {provincial.code}", "1", f"{by_centre[provincial.code]:,}",
                  f"{provincial_volume:,.0f}")
    communes = list(simulator.centre_volumes)
    table.add_row("commune", f"{len(communes)}", f"{sum(by_centre[c] for c in communes):,}",
                  f"{sum(simulator.centre_volumes.values()):,.0f}")
    for code in simulator.lagging:
        table.add_row(f"  falling behind: {code}", "1", f"{by_centre[code]:,}",
                      f"{simulator.centre_volumes[code]:,.0f}")
    return table


def summary_line(summary: SimulationSummary, calendar: WorkingCalendar) -> str:
    """One line: dossiers, the simulated period, wall time and rate (and whether Ctrl-C stopped it)."""

    def when(ts: Timestamp | None) -> str:
        return calendar.local(ts).strftime("%Y-%m-%d %H:%M") if ts is not None else "—"

    stopped = "stopped: " if summary.stopped else ""
    return (f"{stopped}{summary.events:,} events, {summary.dossiers:,} dossiers, "
            f"{when(summary.first_ts)} → {when(summary.last_ts)} (business time), "
            f"{summary.elapsed_s:.1f} s, {summary.rate:,.0f} events/s")


def summary_table(summary: SimulationSummary) -> Table:
    """Events by type, most frequent first, and the total."""
    table = Table()
    table.add_column("type")
    table.add_column("events", justify="right")
    for kind, count in sorted(summary.by_type.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(kind, f"{count:,}")
    table.add_row("[bold]total[/bold]", f"[bold]{summary.events:,}[/bold]")
    return table


def register(app: typer.Typer) -> None:
    """Mount `ioc simulate` on the `ioc` app (see ioc/cli.py COMMAND_MODULES)."""
    app.command("simulate", rich_help_panel="Run")(simulate)
