"""`ioc replay` (the domain core, no Kafka) of the simulator's first N events written to a JSON-lines
file, in a new process: wall time includes the interpreter's start; peak memory is the child's maximum
resident set (`ru_maxrss` from `wait4`).

    # issue 19: 10 million events in under 10 minutes (the province: about 3.7 million events a year)
    python -m benchmarks.phases.replay --events 10000000 --catalog dossiers/data/province.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ROOT,
    Context,
    Figure,
    console,
    dump,
    load_average,
    machine_info,
    progress,
    simulated_events,
)
from dossiers.catalog import Catalog, load_catalog

YEARS = 40
"""How far the simulation may run to find the events asked for (the sample centre needs 13 years for 10
million; the province under 3)."""


def write_simulated(path: Path, events: int, seed: int = 7, catalog: Catalog | None = None) -> int:
    """The simulator's first `events` events as JSON lines, streamed to `path`; returns the business
    instant just after the last."""
    last, n = 0, 0
    with path.open("wb") as out, progress() as bar:
        task = bar.add_task(f"replay: simulating {events:,} events", total=events)
        for n, (ts, event) in enumerate(simulated_events(events, seed, catalog, YEARS), start=1):
            out.write(dump(event))
            out.write(b"\n")
            last = ts
            if n % 50_000 == 0:
                bar.update(task, completed=n)
        bar.update(task, completed=n)
    if n < events:
        raise RuntimeError(f"the simulator gave {n:,} events in {YEARS} years, not {events:,}")
    return last + 1


def measure_file(path: Path, events: int, now: int, catalog: Path | None = None) -> dict[str, Any]:
    """`ioc replay FILE --as-of NOW --json` in a child process: seconds, rate and peak memory."""
    as_of = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    chosen = ["--catalog", str(catalog)] if catalog is not None else []
    cmd = [sys.executable, "-m", "ioc.cli", "replay", str(path), "--as-of", as_of, "--json", *chosen]
    with (
        console.status(f"ioc replay of {events:,} events"),
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,  # files, not pipes: nothing to drain while waiting
    ):
        started = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # also the child's own peak memory, which run() drops
        seconds = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code:
            err.seek(0)
            raise RuntimeError(f"ioc replay exited with {code}: {err.read()[-2000:]}")
        out.seek(0)
        report = json.loads(out.read())
    return {
        "events": events,
        "bytes": path.stat().st_size,
        "seconds": seconds,
        "rate": events / seconds,
        "peak_rss_bytes": usage.ru_maxrss * 1024,  # KiB on Linux
        "valid": report.get("events", {}).get("valid"),
        "dossiers": report.get("dossiers", {}).get("total"),
        "command": " ".join(["ioc replay", f"events-{events}.jsonl --as-of {as_of} --json", *chosen]),
        "load": load_average(),
    }


def measure(ctx: Context, events: int) -> dict[str, Any]:
    path = ctx.work / f"replay-{events}.jsonl"
    catalog_path: Path | None = getattr(ctx.options, "catalog", None)
    started = time.perf_counter()
    now = write_simulated(path, events, catalog=load_catalog(catalog_path))
    simulated = time.perf_counter() - started
    try:
        return {**measure_file(path, events, now, catalog_path), "simulated_seconds": simulated}
    finally:
        path.unlink(missing_ok=True)


def figure(data: dict[str, Any]) -> Figure:
    note = (f"{data['seconds']:.1f} s for {data['events']:,} events, peak memory "
            f"{data['peak_rss_bytes'] / 2**30:.2f} GiB, {data['dossiers']:,} dossiers")
    return Figure(f"replay of {data['events']:,} events", data["rate"], "events/s", note,
                  load=data["load"], details=data)


def run(ctx: Context) -> list[Figure]:
    return [figure(measure(ctx, 50_000 if ctx.options.quick else 1_000_000))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--catalog", type=Path, help="simulate and replay with this catalog (default: the sample)")
    p.add_argument("--json", type=Path, help="also write the figures as JSON here")
    options = p.parse_args(argv)
    options.quick = False
    console.print("[bold]machine[/bold]: " + ", ".join(f"{k} {v}" for k, v in machine_info().items()))
    console.print(f"load before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="ioc-replay-bench-") as work:
        data = measure(Context(options, Path(work)), options.events)
    console.print(figure(data).note)
    console.print({k: v for k, v in data.items() if k != "load"} | {"load after": data["load"]})
    if options.json:
        options.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
