"""Stream worker throughput, memory per open dossier and overdue detection, on a real broker.

    python -m benchmarks.streams                    # starts its own Kafka broker and InfluxDB
    python -m benchmarks.streams --events 50000 --open 1000000 --json out.json
    python -m benchmarks.streams --bootstrap HOST:PORT --no-profile
    python -m benchmarks.streams --catalog dossiers/data/province.yaml   # the province (97 centres)

In ONE run, on one topic of `--partitions` partitions holding `--events` simulated events (the
19-agency simulator, pre-serialised, produced once, uncompressed); one module of benchmarks/phases each:

1. pure      - `json.loads`, `validate_event`, `read_event` and `Processor.handle` in this process, no
               Kafka: the domain cost apart from Faust's; plus a cProfile of `Processor.handle`;
2. ceiling   - a raw aiokafka consumer + `json.loads` of every value (docs/architecture.md: ~150k/s);
3. naive     - a minimal faust-streaming agent (stream.events(), json.loads, a memory-table count) in a
               child process: the peer baseline (docs/architecture.md: ~4.5-5.6k/s);
   quix      - Quix Streams 3.28 on the same topic, stateless and with per-dossier RocksDB state, in a
               child process of its own venv (created on first use; `--no-peers` skips it);
4. pipeline  - `ioc worker` (WorkerProcess, InfluxDB sink, Prometheus port), measured from its counters
               (ioc_events_total + ioc_dead_letters_total) until every record is consumed; also with
               two workers in one group (`--scale-workers`), and without its domain core (`--hollow`:
               `benchmarks.hollow_worker`, a named fake: what the rest of the pipeline costs);
5. profile   - py-spy (if installed: `pip install py-spy`) attached to `Processor.handle` in a loop
               (before the broker starts), to the naive agent and to the worker while they consume:
               where the per-event time goes;
6. overdue   - end-to-end on a real worker with `--overdue-open` open dossiers: from a dossier's due
               instant to its overdue alert consumed from the alerts topic;
7. memory    - per open dossier (table bytes + key + heap entry + views) at `--open` open dossiers, in
               fresh child processes, and `Processor.tick` firing K due dossiers at each size (the cost
               must not grow with the number of open dossiers); after the broker has stopped.

Not a pytest test: it takes minutes and its figures depend on the machine and its load (recorded
with every figure). Compare figures of one run with each other (the ratios), not across machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.harness import (
    Context,
    Figure,
    InfluxProcess,
    console,
    kafka,
    machine_info,
    new_topic,
    produce,
    simulated_traffic,
    uptime,
)
from benchmarks.phases import ceiling, memory, naive, overdue, pipeline, profile, pure, quix

Phase = Callable[[Context], list[Figure]]


class Best:
    """The best figure of each name over the rounds, in the order first measured; `every` keeps all of
    them, in the order measured (the spread of a figure over `--repeat` rounds)."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.every: list[Figure] = []

    def keep(self, module: ModuleType | str, found: list[Figure]) -> None:
        for figure in found:
            figure.phase = figure.phase or (
                module if isinstance(module, str) else module.__name__.rsplit(".", 1)[-1]
            )
            self.every.append(figure)
            previous = self.figures.get(figure.name)
            if previous is None or figure.value > previous.value:
                self.figures[figure.name] = figure
            shown = f"{figure.value:,.2f}" if figure.unit == "s" else f"{figure.value:,.0f}"
            console.print(f"  {figure.name}: [bold]{shown}[/bold] {figure.unit} (load {figure.load})")


def kafka_phases(options: argparse.Namespace) -> list[tuple[ModuleType, Phase]]:
    """The throughput phases, run in rounds (rotated so that outside load hits all of them alike)."""
    phases: list[tuple[ModuleType, Phase]] = [
        (ceiling, ceiling.run),
        (naive, naive.run),
        (pipeline, pipeline.run),
    ]
    if not options.no_peers:  # Quix Streams, from its own venv (installed on first use)
        phases += [(quix, quix.run_stateless), (quix, quix.run_stateful)]
    if not options.no_variants:  # what the per-event time is made of, and an environment-only tuning
        phases += [(naive, naive.run_no_table), (naive, naive.run_linger), (pipeline, pipeline.run_no_linger)]
    if not options.no_variants or options.hollow:  # the worker without its domain core: what the rest costs
        phases += [(pipeline, pipeline.run_hollow)]
    if options.tune:  # the worker with other settings, beside its defaults in the same rounds
        phases += [(pipeline, partial(pipeline.run_tuned, tuning=dict(options.tune)))]
    return phases


def on_kafka(ctx: Context, best: Best) -> None:
    """Everything that needs the broker: produce the traffic once, then the phases that consume it."""
    o = ctx.options
    with ExitStack() as stack:
        ctx.bootstrap = stack.enter_context(kafka(o.bootstrap, ctx.partitions))
        with console.status("starting InfluxDB (ioc dev influx)"):
            ctx.influx_process = stack.enter_context(InfluxProcess(ctx.work / "influx.log"))
        ctx.topic = new_topic(ctx.bootstrap, "bench-events", ctx.partitions)
        seconds = produce(ctx.bootstrap, ctx.topic, ctx.events.records, f"producing {ctx.total:,} events")
        console.print(f"produced {ctx.total:,} events in {seconds:.1f} s to {ctx.topic}")
        phases = kafka_phases(o)
        for round_number in range(max(1, o.repeat)):
            shift = round_number % len(phases)
            for module, phase in phases[shift:] + phases[:shift]:
                best.keep(module, ctx.attempt(module.__name__, partial(phase, ctx)))
        best.keep(pipeline, ctx.attempt(f"{o.scale_workers} workers", lambda: pipeline.run_scaled(ctx)))
        if not o.no_profile:
            best.keep(profile, profile.run_on_kafka(ctx))
        best.keep(overdue, ctx.attempt("overdue on a real worker", lambda: overdue.run(ctx)))
        ctx.influx_process = None


def run(options: argparse.Namespace) -> dict[str, Any]:
    info = machine_info()
    result: dict[str, Any] = {
        "machine": info,
        "uptime_start": uptime(),
        "command": "python -m benchmarks.streams " + " ".join(options.argv),
        "events": options.events,
        "partitions": options.partitions,
        "catalog": str(options.catalog or "sample (19 agencies)"),
        "date": time.strftime("%Y-%m-%d"),
    }
    console.print("[bold]machine[/bold]: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    console.print(f"[bold]uptime[/bold]: {result['uptime_start']}")
    best = Best()
    with tempfile.TemporaryDirectory(prefix="ioc-streams-bench-") as work:
        ctx = Context(options, Path(work))
        if not options.only_memory:
            ctx.traffic = simulated_traffic(options.events, catalog_path=options.catalog)
            result["mean_size"] = ctx.traffic.mean_size
            result["business_now"] = ctx.traffic.now
            best.keep(pure, pure.run(ctx))
            if not options.no_profile:
                best.keep(profile, profile.run_offline(ctx))
            on_kafka(ctx, best)
        best.keep(memory, memory.run(ctx))
    result["figures"] = [f.as_dict() for f in best.figures.values()]
    result["ratios"] = ratios(best.figures)
    if options.repeat > 1:
        result["rounds"] = [f.as_dict() for f in best.every]
    result["errors"] = ctx.errors
    result["uptime_end"] = uptime()
    return result


def ratios(figures: dict[str, Figure]) -> dict[str, float]:
    def value(name: str) -> float | None:
        found = figures.get(name)
        return found.value if found else None

    pipe, naive_, top, pure_ = (
        value(pipeline.NAME), value(naive.VARIANTS["table"]), value(ceiling.NAME), value(pure.HANDLE),
    )  # fmt: skip
    quix_less, quix_state = value(quix.MODES["stateless"]), value(quix.MODES["stateful"])
    out: dict[str, float] = {}
    if pipe and quix_state:
        out["pipeline / Quix Streams with state"] = pipe / quix_state
    if pipe and quix_less:
        out["pipeline / Quix Streams stateless"] = pipe / quix_less
    if pipe and naive_:
        out["pipeline / naive"] = pipe / naive_
    if pipe and top:
        out["pipeline / ceiling"] = pipe / top
    if pipe and pure_:
        out["pipeline / pure Processor.handle"] = pipe / pure_
    return out


def render(result: dict[str, Any]) -> None:
    """The run's figures on the terminal."""
    out = Console()
    table = Table(title=f"Stream benchmarks, {result['events']:,} events, {result['partitions']} partitions, "
                        f"catalog {result.get('catalog', 'sample')}")
    numeric = ("value", "CPU µs/event", "broker µs/event")
    for column in ("figure", "value", "unit", "CPU µs/event", "broker µs/event", "load 1/5/15", "note"):
        table.add_column(column, justify="right" if column in numeric else "left")
    for f in result["figures"]:
        cpu = "—" if f["cpu_us"] is None else f"{f['cpu_us']:.0f}"
        broker = "—" if f.get("broker_us") is None else f"{f['broker_us']:.0f}"
        value = f"{f['value']:,.0f}" if f["unit"] != "s" else f"{f['value']:.2f}"
        table.add_row(f["name"], value, f["unit"], cpu, broker, f["load"], f["note"])
    out.print(table)
    for name, value in result["ratios"].items():
        out.print(f"{name}: {value:.3f}")
    for f in result["figures"]:
        if f["phase"] == "pipeline" and "cpu_split" in f["details"]:
            out.print(f"{f['name']}: {f['details']['cpu_split']}")
            for saved, left, flush, save in f["details"].get("revocations", []):
                out.print(f"  a revocation: {saved:,.0f} records saved ({left:,.0f} left to consume again), "
                          f"sink flushed in {flush:.3f} s, states saved in {save:.3f} s")
        if f["phase"] == "profile":
            groups = ", ".join(f"{g} {s:.0%}" for g, s in f["details"]["by_group"][:8])
            out.print(f"{f['name']}: {f['value']:.0f} samples; self time by library: {groups}")
    for error in result.get("errors", []):
        out.print(f"[red]failed: {error}[/red]")
    out.print(f"uptime at start: {result['uptime_start']}\nuptime at end:   {result['uptime_end']}")


def setting(text: str) -> tuple[str, str]:
    """`IOC_NAME=VALUE` of `--tune`, as (name, value)."""
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("IOC_"):
        raise argparse.ArgumentTypeError(f"expected IOC_NAME=VALUE, got {text!r}")
    return name, value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.streams",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bootstrap", help="use this broker instead of starting a KafkaBroker")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument(
        "--catalog",
        type=Path,
        help="simulate and run the worker with this catalog (default: the 19-agency sample; "
        "dossiers/data/province.yaml for the province)",
    )
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--open", type=int, default=100_000, help="open dossiers for the memory/tick phase")
    p.add_argument(
        "--small-open", type=int, nargs="*", default=[10_000], help="smaller sizes, to compare the tick cost"
    )
    p.add_argument("--k", type=int, default=100, help="dossiers due at each measured tick")
    p.add_argument("--template-events", type=int, default=30_000, help="simulated events for the templates")
    p.add_argument("--repeat", type=int, default=1, help="rounds of the Kafka phases (best kept)")
    p.add_argument("--scale-workers", type=int, default=2, help="also run N workers in one group (0: skip)")
    p.add_argument(
        "--stagger", type=int, default=0, metavar="RECORDS",
        help="start the scaled group's first worker alone, the others once RECORDS are consumed "
        "(0: all together)",
    )
    p.add_argument("--no-profile", action="store_true", help="skip the py-spy runs")
    p.add_argument(
        "--no-peers", action="store_true", help="skip the Quix Streams peers (installed in their own venv)"
    )
    p.add_argument("--only-memory", action="store_true", help="only the memory/tick phase (no Kafka)")
    p.add_argument(
        "--no-variants",
        action="store_true",
        help="skip the naive agent without table / with producer linger, the worker without linger and the "
        "worker without its domain core",
    )
    p.add_argument(
        "--hollow",
        action="store_true",
        help="the worker without its domain core (benchmarks.hollow_worker), even with --no-variants",
    )
    p.add_argument(
        "--tune",
        action="append",
        type=setting,
        default=[],
        metavar="IOC_NAME=VALUE",
        help="also run the worker with this setting (repeat for several in one figure), beside its defaults",
    )
    p.add_argument("--profile-seconds", type=float, default=15.0)
    p.add_argument("--overdue-open", type=int, default=50_000, help="open dossiers in the real-worker test")
    p.add_argument("--overdue-samples", type=int, default=5, help="fast dossiers timed (0: skip)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument(
        "--profile-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ioc-streams-bench",
        help="where the raw py-spy profiles are kept",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parser().parse_args(argv)
    options.argv = argv
    result = run(options)
    render(result)
    if options.json:
        options.json.write_text(json.dumps(result, indent=1, default=str))
        console.print(f"wrote {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
