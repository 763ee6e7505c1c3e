"""Memory per open dossier (table bytes + key + heap entry + views) and the cost of `Processor.tick`
firing K due dossiers, at each of `--small-open` and `--open` open dossiers, each size in fresh child
processes (no Kafka): the tick cost must not grow with the number of open dossiers.

    python -m benchmarks.phases.memory --child --open N --k K --partitions P --sample S [--trace]
"""

from __future__ import annotations

import argparse
import gc
import heapq
import itertools
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import replace
from functools import partial
from typing import Any

from benchmarks.harness import (
    ROOT,
    Context,
    Figure,
    console,
    load_average,
    module_command,
    percentile,
    progress,
    rss_bytes,
    simulated_traffic,
)

TRACE_LIMIT = 200_000
"""Largest number of open dossiers measured with tracemalloc as well (it doubles memory and time)."""


def _templates(sample_events: int, partitions: int) -> tuple[list[Any], Any, Any]:
    """Open dossier states of the simulator (`DossierState`s), its catalog and calendar."""
    from dossiers.lifecycle import DossierState, Status
    from streams.processor import Processor
    from streams.worker import partition_of

    sample = simulated_traffic(sample_events, seed=11, label="template dossiers")
    scratch: dict[str, bytes] = {}
    warm = Processor(sample.catalog, sample.calendar, scratch, alert_backfill_seconds=2 * 86400)
    for key, value in sample.records:
        warm.save(warm.stage(warm.handle(partition_of(key.decode(), partitions), value, {}, sample.now)))
    states = [DossierState.from_bytes(raw) for raw in scratch.values()]
    return [state for state in states if state.status is Status.OPEN], sample.catalog, sample.calendar


def _fill(templates: list[Any], n: int) -> dict[str, bytes]:
    """`n` open dossiers copied from the templates under new codes, due times spread over two hours,
    stored as the worker stores them (`DossierState.to_bytes`)."""
    store: dict[str, bytes] = {}
    with progress() as bar:
        task = bar.add_task(f"{n:,} open dossiers", total=n)
        for i in range(n):
            template = templates[i % len(templates)]
            code = f"{template.dossier.rsplit('-', 1)[0]}-{i:07d}"  # same shape as a real code
            mark = template.received
            # spread due times: no ties
            state = replace(template, dossier=code, received=(mark[0] - i % 7200, mark[1]))
            store[code] = state.to_bytes()
            if i % 50_000 == 0:
                bar.update(task, completed=i)
        bar.update(task, completed=n)
    return store


def _ticks(processor: Any, partitions: int, k: int, rounds: int = 5) -> list[dict[str, float]]:
    """`Processor.tick` on every partition at the instants the K, 2K... earliest-due dossiers are due."""
    views = processor.views.values()
    due = heapq.nsmallest(k * rounds, itertools.chain.from_iterable(v.due for v in views))
    ticks: list[dict[str, float]] = []
    for r in range(rounds):
        now = due[(r + 1) * k - 1][0]
        fired = sum(1 for v in views for entry in v.due if entry[0] <= now)
        started = time.perf_counter()
        alerts = marks = 0
        for p in range(partitions):
            outcome = processor.tick(p, now)
            processor.save(processor.stage(outcome))  # the one write mode: staged, then saved
            alerts += len(outcome.alerts)
            marks += len(outcome.deadlines)
        ticks.append(
            {"seconds": time.perf_counter() - started, "fired": fired, "alerts": alerts, "marks": marks}
        )
    return ticks


def open_child(args: argparse.Namespace) -> None:
    """Runs in a fresh child: N open dossiers in a dict store + the views; prints one JSON object."""
    from streams.processor import Processor
    from streams.worker import partition_of

    partitions, n, trace = int(args.partitions), int(args.open), bool(args.trace)
    templates, catalog, calendar = _templates(args.sample, partitions)
    gc.collect()
    base = rss_bytes()
    if trace:
        tracemalloc.start()
    store = _fill(templates, n)
    gc.collect()
    after_store = rss_bytes()
    traced_store = tracemalloc.get_traced_memory()[0] if trace else 0
    processor = Processor(catalog, calendar, store, alert_backfill_seconds=2 * 86400)
    with console.status(f"rebuilding the views of {n:,} dossiers (the full scan a restart does)"):
        started = time.perf_counter()
        processor.rebuild(range(partitions), store.items(), lambda key: partition_of(key, partitions))
        rebuild_seconds = time.perf_counter() - started
    gc.collect()
    after_views = rss_bytes()
    traced_all = tracemalloc.get_traced_memory()[0] if trace else 0
    if trace:
        tracemalloc.stop()
    sizes = [len(v) for v in itertools.islice(store.values(), 0, None, max(1, n // 10_000))]
    ticks = _ticks(processor, partitions, args.k)
    out = {
        "open": n,
        "templates": len(templates),
        "rss_per_dossier": (after_views - base) / n,
        "rss_store_per_dossier": (after_store - base) / n,
        "rss_views_per_dossier": (after_views - after_store) / n,
        "traced_per_dossier": traced_all / n if trace else None,
        "traced_store_per_dossier": traced_store / n if trace else None,
        "state_bytes_mean": statistics.fmean(sizes),
        "state_bytes_p90": percentile(sizes, 0.9),
        "heap_entries": sum(len(v.due) for v in processor.views.values()),
        "rebuild_seconds": rebuild_seconds,
        "k": args.k,
        "tick_seconds_median": statistics.median(t["seconds"] for t in ticks),
        "tick_fired_median": statistics.median(t["fired"] for t in ticks),
        "ticks": ticks,
        "load": load_average(),
    }
    print(json.dumps(out))


def open_dossiers(n: int, k: int, partitions: int, sample: int) -> dict[str, Any]:
    """RSS, rebuild and tick in a child without tracemalloc (it slows allocation ~10× and its own traces
    count in the RSS); then, up to TRACE_LIMIT, a second child with tracemalloc for the exact bytes."""
    options = ["--open", str(n), "--k", str(k), "--partitions", str(partitions), "--sample", str(sample)]

    def child(*extra: str) -> dict[str, Any]:
        cmd = module_command("benchmarks.phases.memory", "--child", *options, *extra)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"memory child failed ({proc.returncode})")
        found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return found

    data = child()
    if n <= TRACE_LIMIT:
        traced = child("--trace")
        data["traced_per_dossier"] = traced["traced_per_dossier"]
        data["traced_store_per_dossier"] = traced["traced_store_per_dossier"]
    return data


def run(ctx: Context) -> list[Figure]:
    o = ctx.options

    def one(size: int) -> list[Figure]:
        console.print(f"memory and tick at {size:,} open dossiers (child processes)")
        data = open_dossiers(size, o.k, ctx.partitions, o.template_events)
        note = f"tick {data['tick_seconds_median'] * 1000:.2f} ms for {data['tick_fired_median']:.0f} due"
        name = f"memory: {size:,} open dossiers"
        return [Figure(name, data["rss_per_dossier"], "bytes/dossier", note, load=data["load"], details=data)]

    # each size on its own: a failure at one size is recorded and the others are still measured
    return [
        f
        for size in sorted({*o.small_open, o.open})
        for f in ctx.attempt(f"memory at {size:,}", partial(one, size))
    ]


def main(argv: list[str] | None = None) -> int:
    child = argparse.ArgumentParser(prog="python -m benchmarks.phases.memory")
    child.add_argument("--child", action="store_true", required=True)
    for name in ("--open", "--k", "--partitions", "--sample"):
        child.add_argument(name, type=int, required=True)
    child.add_argument("--trace", action="store_true")
    open_child(child.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
