"""`ioc replay` (the domain core, no Kafka) of the simulator's first N events written to a JSON-lines
file, in a new process: wall time includes the interpreter's start."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.harness import ROOT, Context, Figure, console, load_average, simulated_traffic, write_jsonl


def measure(ctx: Context, events: int) -> dict[str, Any]:
    traffic = simulated_traffic(events, seed=7, label="replay: simulating events")
    path = ctx.work / f"replay-{events}.jsonl"
    write_jsonl(path, traffic)
    as_of = datetime.fromtimestamp(traffic.now, UTC).isoformat().replace("+00:00", "Z")
    cmd = [sys.executable, "-m", "ioc.cli", "replay", str(path), "--as-of", as_of, "--json"]
    with console.status(f"ioc replay of {events:,} events"):
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - started
    report = json.loads(proc.stdout)
    return {
        "events": events,
        "bytes": path.stat().st_size,
        "seconds": seconds,
        "rate": events / seconds,
        "valid": report.get("events", {}).get("valid"),
        "command": f"ioc replay events-{events}.jsonl --as-of {as_of} --json",
        "load": load_average(),
    }


def run(ctx: Context) -> list[Figure]:
    data = measure(ctx, 50_000 if ctx.options.quick else 1_000_000)
    note = f"{data['seconds']:.1f} s for {data['events']:,} events"
    return [
        Figure(
            f"replay of {data['events']:,} events",
            data["rate"],
            "events/s",
            note,
            load=data["load"],
            details=data,
        )
    ]
