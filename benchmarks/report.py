"""ONE command for the benchmark report (docs/benchmarks.md):

    python -m benchmarks.report                 # full sizes, about 15-20 minutes on 2 cores
    python -m benchmarks.report --quick --out /tmp/benchmarks.md   # smoke run, small sizes
    python -m benchmarks.report --only-extra    # latency, recovery and replay only (step 3), printed

It runs, one after the other, each on a local broker/InfluxDB it starts itself:

1. `python -m benchmarks.producer --json`: the producer SDK against raw clients;
2. `python -m benchmarks.streams --json`: ceiling, naive Faust agent and `ioc worker` events/s from
   the same run, the pure processor, the profiles, the overdue delay on a real worker, memory per open
   dossier and the tick cost at 100,000 and 1,000,000 open dossiers;
3. here (benchmarks/phases/latency.py, recovery.py, replay.py): end-to-end latency produce -> InfluxDB
   at a steady rate, recovery after a worker restart, and `ioc replay` of 1,000,000 events.

Every result is saved as JSON (`--results`); then only the blocks between `<!-- bench:NAME:start -->`
and `<!-- bench:NAME:end -->` markers of the report are rewritten (tables and the facts of the run:
date, machine, load, command). The prose around them is hand-written: after a run, read the new
tables and edit the figures the prose quotes. `--render-only RESULTS` refreshes the tables from a
saved run without measuring anything.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ROOT,
    Context,
    InfluxProcess,
    console,
    kafka,
    machine_info,
    module_command,
    uptime,
)
from benchmarks.phases import latency, recovery, replay
from benchmarks.tables import latency_block, producer_block, stream_blocks

DOCS = ROOT / "docs" / "benchmarks.md"
QUICK_STREAMS = [
    "--events", "20000", "--open", "20000", "--small-open", "5000", "--template-events", "10000",
    "--overdue-open", "1000", "--overdue-samples", "3", "--profile-seconds", "5",
]  # fmt: skip
FULL_STREAMS = [
    "--events", "200000", "--open", "1000000", "--small-open", "10000", "100000",
    "--overdue-open", "20000", "--profile-seconds", "10",
]  # fmt: skip


# -- the document -----------------------------------------------------------------------------------------
def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def refresh(text: str, name: str, body: str) -> str:
    """`text` with what lies between the `name` block's start and end markers replaced by `body`;
    everything outside the markers, the markers included, is kept byte for byte. Raises ValueError when
    the block is missing, appears twice, or its end comes before its start."""
    start, end = markers(name)
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"expected exactly one {start} and one {end}")
    head, rest = text.split(start)
    if end not in rest:
        raise ValueError(f"{end} comes before {start}")
    _, tail = rest.split(end)
    return f"{head}{start}\n{body.strip(chr(10))}\n{end}{tail}"


def refresh_doc(path: Path, blocks: dict[str, str]) -> None:
    """Refresh the given blocks of the report at `path` (read now: others may have edited it meanwhile)."""
    text = path.read_text(encoding="utf-8")
    for name, body in blocks.items():
        text = refresh(text, name, body)
    path.write_text(text, encoding="utf-8")


def blocks_of(saved: dict[str, Any]) -> dict[str, str]:
    """Every block a saved report run refreshes, by marker name."""
    blocks: dict[str, str] = {}
    if saved.get("producer"):
        blocks["producer"] = producer_block(saved["producer"])
    if saved.get("streams"):
        blocks.update(stream_blocks(saved["streams"], saved["streams_command"]))
    if saved.get("extra"):
        blocks["latency"] = latency_block(saved["extra"])
    return blocks


# -- the runs ---------------------------------------------------------------------------------------------
def run_module(module: str, argv: list[str], out: Path) -> tuple[dict[str, Any] | None, str]:
    """`python -m <module> <argv> --json <out>`; its results (None if it failed) and its command line."""
    command = shlex.join(["python", "-m", module, *argv])
    console.rule(f"[bold]{command}")
    proc = subprocess.run(module_command(module, *argv, "--json", str(out)), cwd=ROOT, check=False)
    if proc.returncode != 0:
        console.print(f"[red]{module} failed with exit code {proc.returncode}[/red]")
        return None, command
    found: dict[str, Any] = json.loads(out.read_text())
    return found, command


def run_extra(options: argparse.Namespace, work: Path, command: str) -> dict[str, Any]:
    """Latency and recovery on a local broker and InfluxDB, then replay (no Kafka)."""
    console.rule("[bold]latency, recovery, replay")
    ctx = Context(options, work)
    extra: dict[str, Any] = {"uptime_start": uptime(), "machine": machine_info(), "command": command}
    with kafka(None, options.partitions) as bootstrap, InfluxProcess(work / "influx.log") as influx:
        ctx.bootstrap, ctx.influx_process = bootstrap, influx
        for name, run in (("latency", latency.run), ("recovery", recovery.run)):
            figures = ctx.attempt(name, partial(run, ctx))
            extra[name] = figures[0].details if figures else None
            console.print(f"{name}: {extra[name]}")
        ctx.influx_process = None
    figures = ctx.attempt("replay", lambda: replay.run(ctx))
    extra["replay"] = figures[0].details if figures else None
    extra["uptime_end"], extra["errors"] = uptime(), ctx.errors
    return extra


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every step")
    p.add_argument(
        "--out", type=Path, default=DOCS, help="the report whose tables to refresh (default %(default)s)"
    )
    p.add_argument(
        "--skip-producer", action="store_true", help="keep the producer table instead of re-running"
    )
    p.add_argument(
        "--only-extra",
        action="store_true",
        help="only latency, recovery and replay (step 3): results printed and saved, the report left as is",
    )
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument(
        "--results",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ioc-benchmark-results.json",
        help="where every measured figure is saved as JSON (default %(default)s)",
    )
    p.add_argument(
        "--render-only",
        type=Path,
        metavar="RESULTS",
        help="measure nothing: refresh the tables from a --results file",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    options = parser().parse_args(raw_argv)
    if options.render_only:
        refresh_doc(options.out, blocks_of(json.loads(options.render_only.read_text())))
        console.print(f"refreshed the tables of {options.out} from {options.render_only}")
        return 0
    command = shlex.join(["python", "-m", "benchmarks.report", *raw_argv])
    started = time.monotonic()
    console.print("[bold]machine[/bold]: " + ", ".join(f"{k} {v}" for k, v in machine_info().items()))
    with tempfile.TemporaryDirectory(prefix="ioc-report-") as scratch:
        work = Path(scratch)
        saved: dict[str, Any] = {"report_command": command}
        if options.only_extra:
            saved["extra"] = run_extra(options, work, command)
            options.results.write_text(json.dumps(saved, indent=1, default=str))
            console.print(f"saved the results to {options.results}; {options.out} left as is")
            return 0
        if not options.skip_producer:
            producer_argv = ["--events", "20000", "--repeat", "1"] if options.quick else []
            saved["producer"], _ = run_module("benchmarks.producer", producer_argv, work / "producer.json")
        streams_argv = QUICK_STREAMS if options.quick else FULL_STREAMS
        saved["streams"], streams_command = run_module(
            "benchmarks.streams", streams_argv, work / "streams.json"
        )
        saved["streams_command"] = f"{streams_command} (run by `{command}`)"
        saved["extra"] = run_extra(options, work, command)
    options.results.write_text(json.dumps(saved, indent=1, default=str))
    console.print(f"saved the results to {options.results}")
    refresh_doc(options.out, blocks_of(saved))
    console.print(f"refreshed the tables of {options.out} in {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
