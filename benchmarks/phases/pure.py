"""The domain cost apart from Faust's: `json.loads`, `validate_event` (pydantic), `read_event` (what the
worker reads with) and `Processor.handle` over the run's traffic in this process, no Kafka; plus a
cProfile of `Processor.handle` (its call counts are in the `pure: Processor.handle` figure's details,
under "cprofile")."""

from __future__ import annotations

import cProfile
import gc
import json
import pstats
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import Context, Figure, Traffic, progress

HANDLE = "pure: Processor.handle"


def _timed(name: str, traffic: Traffic, parts: list[int], step: Callable[[int, bytes], object]) -> Figure:
    records = traffic.records
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    with progress() as bar:
        task = bar.add_task(name, total=len(records))
        chunk = 10_000
        for offset in range(0, len(records), chunk):
            for i in range(offset, min(offset + chunk, len(records))):
                step(parts[i], records[i][1])
            bar.update(task, advance=min(chunk, len(records) - offset))
    rate = len(records) / (time.perf_counter() - started)
    used = (time.process_time() - cpu) / len(records) * 1e6
    return Figure(name, rate, "events/s", cpu_us=used)


def top_of_cprofile(profiler: cProfile.Profile, top: int = 14) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0  # sum of self times
    rows = []
    for (path, line, func), (_cc, calls, self_time, cumulative, _callers) in raw.items():
        where = "/".join(Path(path).parts[-2:]) if path != "~" else "builtin"
        rows.append(
            {
                "function": f"{func} ({where}:{line})" if path != "~" else func,
                "calls": calls,
                "self": self_time / total,
                "cumulative": cumulative / total,
            }
        )
    rows.sort(key=lambda r: -r["self"])
    return rows[:top]


def run(ctx: Context) -> list[Figure]:
    from dossiers.validation import read_event, validate_event
    from streams.processor import Processor
    from streams.worker import partition_of

    traffic = ctx.events
    records = traffic.records
    parts = [partition_of(key.decode(), ctx.partitions) for key, _ in records]
    processor = Processor(traffic.catalog, traffic.calendar, {}, alert_backfill_seconds=2 * 86400)
    figures = [
        _timed("pure: json.loads", traffic, parts, lambda _p, value: json.loads(value)),
        _timed(
            "pure: validate_event", traffic, parts, lambda _p, value: validate_event(value, traffic.catalog)
        ),
        _timed(  # what the worker reads with: msgspec when it is sure, pydantic otherwise
            "pure: read_event", traffic, parts, lambda _p, value: read_event(value, traffic.catalog)
        ),
        _timed(
            HANDLE,
            traffic,
            parts,
            lambda p, value: processor.save(processor.stage(processor.handle(p, value, {}, traffic.now))),
        ),
    ]
    figures[-1].note = "dict store, no Kafka, no Faust"
    # cProfile over the first part of the same records, on a fresh processor
    sample = min(len(records), 50_000)
    fresh = Processor(traffic.catalog, traffic.calendar, {}, alert_backfill_seconds=2 * 86400)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(sample):
        fresh.save(fresh.stage(fresh.handle(parts[i], records[i][1], {}, traffic.now)))
    profiler.disable()
    figures[-1].details["cprofile"] = top_of_cprofile(profiler)
    figures[-1].details["cprofile_events"] = sample
    return figures
