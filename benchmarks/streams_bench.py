"""Stream worker throughput, memory per open dossier and overdue detection, on a real broker.

    python benchmarks/streams_bench.py                    # starts its own Kafka broker and InfluxDB
    python benchmarks/streams_bench.py --events 50000 --open 1000000 --json out.json
    python benchmarks/streams_bench.py --bootstrap HOST:PORT --no-profile

In ONE run, on one topic of `--partitions` partitions holding `--events` simulated events (the
19-agency simulator, pre-serialised, produced once, uncompressed):

1. ceiling   - a raw aiokafka consumer + `json.loads` of every value (DESIGN.md §6: ~150k/s);
2. naive     - a minimal faust-streaming agent (stream.events(), json.loads, a memory-table count)
               in a child process: the peer baseline (DESIGN.md §6: ~4.5-5.6k/s);
3. pipeline  - `ioc worker` (WorkerProcess, InfluxDB sink, Prometheus port), measured from its
               counters (ioc_events_total + ioc_dead_letters_total) until every record is consumed;
               also with two workers in one group (`--scale-workers`);
4. batched   - a prototype, NOT the product: the same `Processor` fed by aiokafka `getmany()`, one
               deduplicated changelog write per dossier per batch, the real InfluxSink: what the
               domain code reaches without Faust's per-event path;
5. pure      - `json.loads`, `validate_event` and `Processor.handle` in this process, no Kafka:
               the domain cost apart from Faust's; plus a cProfile of `Processor.handle`;
6. memory    - per open dossier (table bytes + key + heap entry + views) at `--open` open dossiers,
               in a fresh child process, and `Processor.tick` firing K due dossiers at 10,000 and at
               `--open` open dossiers (cost must not grow with the number of open dossiers);
7. overdue   - end-to-end on a real worker with `--overdue-open` open dossiers: from a dossier's due
               instant to its overdue alert consumed from the alerts topic;
8. profile   - py-spy (if installed: `pip install py-spy`) attached to the naive agent and to the
               worker while they consume: where the per-event time goes.

Not a pytest test: it takes minutes and its figures depend on the machine and its load (recorded
with every figure). Compare figures of one run with each other (the ratios), not across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import heapq
import itertools
import json
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402
    FAST_CATALOG,
    MORNING,
    Figure,
    InfluxProcess,
    Profile,
    Record,
    Traffic,
    broker_cpu,
    console,
    consumed,
    dump,
    follow,
    kafka,
    load_average,
    machine_info,
    new_topic,
    percentile,
    precreate_topics,
    produce,
    progress,
    py_spy,
    received_event,
    record_py_spy,
    rss_bytes,
    simulated_traffic,
    uptime,
    worker_env,
)
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

GOAL_EVENTS = 20_000
TRACE_LIMIT = 200_000
"""Largest number of open dossiers measured with tracemalloc as well (it doubles memory and time)."""
LINGER = {"PRODUCER_LINGER": "0.02"}
"""Faust's producer linger (s), read from the environment by faust.App: batches the table's changelog."""
GOAL_BYTES = 1024


def per_event(start: float | None, end: float | None, events: int) -> float | None:
    """µs per event of a CPU-seconds counter read at the start and at the end of a window."""
    return None if start is None or end is None or not events else (end - start) / events * 1e6


# -- 1. ceiling -------------------------------------------------------------------------------------------
async def _ceiling(
    bootstrap: str, topic: str, partitions: int, total: int
) -> tuple[float, float, float | None]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        count, first, cpu = 0, 0.0, 0.0
        broker: float | None = None
        loads = json.loads
        while count < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                if messages and not first:
                    first, cpu, broker = time.perf_counter(), time.process_time(), broker_cpu()
                for message in messages:
                    loads(message.value)
            count += sum(len(m) for m in batches.values())
        return (
            total / (time.perf_counter() - first),
            (time.process_time() - cpu) / total * 1e6,
            per_event(broker, broker_cpu(), total),
        )
    finally:
        await consumer.stop()


def ceiling(bootstrap: str, topic: str, partitions: int, total: int) -> Figure:
    with console.status("ceiling: raw aiokafka consumer + json.loads"):
        rate, cpu, broker = asyncio.run(_ceiling(bootstrap, topic, partitions, total))
    return Figure("ceiling: raw aiokafka + json.loads", rate, "events/s", cpu_us=cpu, broker_us=broker)


# -- 2. the naive faust agent (child process) -------------------------------------------------------------
def naive_child(args: argparse.Namespace) -> None:
    """Runs in a child: a minimal Faust app; writes its progress and timings to --status."""
    import faust

    status = Path(args.status)
    tuning: dict[str, Any] = {"producer_linger": 0.02} if args.variant == "linger" else {}
    app: Any = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=args.data_dir,
        topic_partitions=args.partitions,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        table_standby_replicas=0,
        **tuning,
    )
    topic = app.topic(
        args.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    counts = app.Table("naive-counts", default=int, partitions=args.partitions)
    expect: int = args.expect
    table = args.variant != "no-table"
    marks = {int(expect * q): q for q in (0.1, 0.9)}
    seen: dict[str, float] = {"count": 0, "first": 0.0}

    def write(final: bool = False) -> None:
        tmp = status.with_suffix(".tmp")
        tmp.write_text(json.dumps({**seen, "final": final}))
        tmp.replace(status)

    async def count(stream: Any) -> None:
        n = 0
        async for event in stream.events():
            body = json.loads(event.value)
            if table:
                counts[body["agency"]] += 1
            n += 1
            if n == 1:
                seen["first"], seen["cpu_first"] = time.time(), time.process_time()
            if n in marks:
                seen[f"t{marks[n]}"] = time.time()
            if n % 5000 == 0 or n == expect:
                seen["count"] = n
                seen["last"], seen["cpu_last"] = time.time(), time.process_time()
                write(final=n == expect)

    app.agent(topic, name="naive-count")(count)  # faust's decorators are untyped: applied as a call
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


class NaiveAgent:
    """The naive agent's child process, its status file and its log."""

    def __init__(
        self, bootstrap: str, topic: str, partitions: int, expect: int, work: Path, variant: str = "table"
    ) -> None:
        suffix = os.urandom(4).hex()
        self.status = work / f"naive-{suffix}.json"
        self.log = work / f"naive-{suffix}.log"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "_naive",
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
            "--partitions",
            str(partitions),
            "--expect",
            str(expect),
            "--app-id",
            f"naive-{suffix}",
            "--status",
            str(self.status),
            "--data-dir",
            str(work / f"naive-{suffix}"),
            "--variant",
            variant,
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )

    def read(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.status.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def count(self) -> float:
        return float(self.read().get("count", 0))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


NAIVE_VARIANTS = {
    "table": "naive faust agent",
    "no-table": "naive faust agent, no table update",
    "linger": "naive faust agent, producer_linger 20 ms",
}


def naive(
    bootstrap: str, topic: str, partitions: int, total: int, work: Path, variant: str = "table"
) -> list[Figure]:
    agent = NaiveAgent(bootstrap, topic, partitions, total, work, variant)
    try:
        series = follow(
            agent.count, total, NAIVE_VARIANTS[variant], timeout=1200, alive=agent.alive, interval=0.5
        )
        data = agent.read()
    finally:
        agent.stop()
    if not data.get("final"):
        raise RuntimeError(f"the naive agent did not finish:\n{agent.log.read_text()[-3000:]}")
    overall = total / (data["last"] - data["first"])
    steady = 0.8 * total / (data["t0.9"] - data["t0.1"])
    cpu = (data["cpu_last"] - data["cpu_first"]) / (total - 1) * 1e6
    return [
        Figure(
            NAIVE_VARIANTS[variant],
            overall,
            "events/s",
            f"steady (10-90%): {steady:,.0f}/s",
            cpu_us=cpu,
            broker_us=series.cpu_per_event(total, "broker"),
        ),
    ]


# -- 3. the pipeline (`ioc worker`) -----------------------------------------------------------------------
def _free_port() -> int:
    from ioc.devstack.ports import free_port

    return int(free_port())


def start_worker(env: dict[str, str], work: Path, name: str) -> tuple[Any, int]:
    from ioc.devstack.worker import WorkerProcess

    precreate_topics(env)
    port = _free_port()
    worker = WorkerProcess(
        {**env, "IOC_METRICS_PORT": str(port), "IOC_DATA_DIR": str(work / name)}, work / f"{name}.log", name
    )
    return worker.start(), port


def pipeline(
    bootstrap: str,
    topic: str,
    partitions: int,
    traffic: Traffic,
    influx: InfluxProcess,
    work: Path,
    workers: int = 1,
    tuning: dict[str, str] | None = None,
) -> Figure:
    """`workers` x `ioc worker` in one group on the events topic; `tuning`: extra environment (Faust
    reads some of its settings from the environment, e.g. PRODUCER_LINGER, without a code change)."""
    database, _ = influx.database("pipeline")
    env = worker_env(
        bootstrap,
        partitions,
        influx,
        database,
        IOC_EVENTS_TOPIC=topic,
        IOC_CLOCK_ORIGIN=str(traffic.now),
        **(tuning or {}),
    )
    started = [start_worker(env, work, f"worker-{i}-{env['IOC_APP_ID']}") for i in range(workers)]
    total = len(traffic.records)
    try:

        def read() -> float:
            return sum(consumed(port) for _, port in started)

        series = follow(
            read,
            total,
            f"ioc worker × {workers}",
            timeout=1800,
            alive=lambda: all(w.running for w, _ in started),
            pids=[w.process.pid for w, _ in started if w.process is not None],
        )
        if series.samples[-1][1] < total:
            raise RuntimeError(
                f"worker stopped at {series.samples[-1][1]:.0f}:\n{started[0][0].log_text()[-3000:]}"
            )
    finally:
        for w, _ in started:
            w.stop()
    overall, steady = series.rates(total)
    name = "pipeline: ioc worker" if workers == 1 else f"pipeline: {workers} ioc workers, one group"
    if tuning:
        name += ", " + ", ".join(f"{k}={v}" for k, v in tuning.items()) + " (environment only)"
    return Figure(
        name,
        overall,
        "events/s",
        f"steady (10-90%): {steady:,.0f}/s; InfluxDB sink on",
        cpu_us=series.cpu_per_event(total),
        broker_us=series.cpu_per_event(total, "broker"),
    )


# -- 4. batched prototype (not the product) ---------------------------------------------------------------
async def _batched(
    bootstrap: str, topic: str, partitions: int, traffic: Traffic, influx: InfluxProcess | None
) -> tuple[float, float, float, float | None]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from streams.influx import InfluxSink, alert_point, deadline_point, event_point
    from streams.metrics import WorkerMetrics
    from streams.processor import Processor

    changelog = new_topic(bootstrap, "bench-changelog", partitions, {"cleanup.policy": "compact"})
    alerts_topic = new_topic(bootstrap, "bench-alerts", partitions)
    store: dict[str, bytes] = {}
    processor = Processor(traffic.catalog, traffic.calendar, store, alert_backfill_seconds=2 * 86400)
    metrics = WorkerMetrics.create()
    sink = None
    if influx is not None:
        database, _ = influx.database("batched")
        sink = InfluxSink(influx.url, "bench", "ioc", database, metrics, 5000, 1.0, 500_000)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024)
    await consumer.start()
    await producer.start()
    total, count, writes, first, cpu = len(traffic.records), 0, 0, 0.0, 0.0
    broker: float | None = None
    broker_us: float | None = None
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        now = traffic.now
        while count < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if batches and not first:
                first, cpu, broker = time.perf_counter(), time.process_time(), broker_cpu()
            dirty: dict[str, int] = {}
            points: list[str] = []
            for tp, messages in batches.items():
                for message in messages:
                    outcome = processor.handle(tp.partition, message.value or b"", {}, now)
                    processor.save(processor.stage(outcome))  # the one write mode: staged, then saved
                    event = outcome.event
                    if outcome.status == "dead_letter" and outcome.error is not None:
                        metrics.dead_letters.labels(outcome.error.code).inc()
                    elif event is not None:
                        metrics.events.labels(event.type.value, event.agency, outcome.status).inc()
                        if outcome.status == "applied":
                            dirty[event.dossier] = tp.partition
                            points.append(
                                event_point(
                                    event.agency,
                                    event.type.value,
                                    outcome.channel,
                                    outcome.procedure_field,
                                    event.dossier,
                                    int(event.occurred_at.timestamp()),
                                )
                            )
                    for alert in outcome.alerts:
                        await producer.send(alerts_topic, alert.to_json(), alert.dossier.encode())
                        points.append(alert_point(alert))
                    points.extend(deadline_point(mark) for mark in outcome.deadlines)
                    count += 1
            for key, partition in dirty.items():  # one changelog record per dossier per batch
                await producer.send(changelog, store[key], key.encode(), partition=partition)
            writes += len(dirty)
            await producer.flush()  # the changelog is durable before the offsets would be committed
            if sink is not None and points:
                sink.add(points)
        seconds = time.perf_counter() - first
        cpu = (time.process_time() - cpu) / total * 1e6
        broker_us = per_event(broker, broker_cpu(), total)
    finally:
        await consumer.stop()
        await producer.stop()
        if sink is not None:
            sink.close(30)
    return total / seconds, writes / total, cpu, broker_us


def batched(
    bootstrap: str, topic: str, partitions: int, traffic: Traffic, influx: InfluxProcess | None
) -> Figure:
    with console.status("batched prototype: aiokafka getmany + Processor + batched changelog"):
        rate, writes, cpu, broker = asyncio.run(_batched(bootstrap, topic, partitions, traffic, influx))
    return Figure(
        "prototype: getmany + Processor, batched changelog",
        rate,
        "events/s",
        f"not the product; {writes:.2f} changelog writes per event; InfluxDB sink on",
        cpu_us=cpu,
        broker_us=broker,
    )


# -- 5. pure --------------------------------------------------------------------------------------------
def pure(traffic: Traffic, partitions: int) -> tuple[list[Figure], list[dict[str, Any]]]:
    from dossiers.validation import validate_event
    from streams.processor import Processor
    from streams.worker import partition_of

    records = traffic.records
    parts = [partition_of(key.decode(), partitions) for key, _ in records]
    figures: list[Figure] = []

    def timed(name: str, step: Callable[[int, bytes], object], note: str = "") -> None:
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
        figures.append(Figure(name, rate, "events/s", note, cpu_us=used))

    timed("pure: json.loads", lambda _p, value: json.loads(value))
    timed("pure: validate_event", lambda _p, value: validate_event(value, traffic.catalog))
    processor = Processor(traffic.catalog, traffic.calendar, {}, alert_backfill_seconds=2 * 86400)
    timed(
        "pure: Processor.handle",
        lambda p, value: processor.save(processor.stage(processor.handle(p, value, {}, traffic.now))),
        "dict store, no Kafka, no Faust",
    )
    # cProfile over the first part of the same records, on a fresh processor
    sample = min(len(records), 50_000)
    fresh = Processor(traffic.catalog, traffic.calendar, {}, alert_backfill_seconds=2 * 86400)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(sample):
        fresh.save(fresh.stage(fresh.handle(parts[i], records[i][1], {}, traffic.now)))
    profiler.disable()
    return figures, top_of_cprofile(profiler)


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


# -- 6. memory and tick (child process) -------------------------------------------------------------------
def open_child(args: argparse.Namespace) -> None:
    """Runs in a fresh child: N open dossiers in a dict store + the views; prints one JSON object."""
    from dossiers.lifecycle import DossierState, Status
    from streams.processor import Processor
    from streams.worker import partition_of

    partitions: int = args.partitions
    sample = simulated_traffic(args.sample, seed=11, label="template dossiers")
    scratch: dict[str, bytes] = {}
    warm = Processor(sample.catalog, sample.calendar, scratch, alert_backfill_seconds=2 * 86400)
    for key, value in sample.records:
        warm.save(warm.stage(warm.handle(partition_of(key.decode(), partitions), value, {}, sample.now)))
    templates = [
        json.loads(raw) for raw in scratch.values() if DossierState.from_bytes(raw).status is Status.OPEN
    ]
    fields = tuple(DossierState.__dataclass_fields__)
    received = fields.index("received")
    catalog, calendar = sample.catalog, sample.calendar
    del warm, scratch, sample
    gc.collect()
    n: int = args.open
    trace: bool = args.trace
    base = rss_bytes()
    if trace:
        tracemalloc.start()
    store: dict[str, bytes] = {}
    with progress() as bar:
        task = bar.add_task(f"{n:,} open dossiers", total=n)
        for i in range(n):
            values = list(templates[i % len(templates)])
            values[0] = f"{values[0].rsplit('-', 1)[0]}-{i:07d}"  # same shape as a real code
            mark = values[received]
            values[received] = [mark[0] - i % 7200, mark[1]]  # spread due times: no ties
            store[values[0]] = json.dumps(values, separators=(",", ":")).encode()
            if i % 50_000 == 0:
                bar.update(task, completed=i)
        bar.update(task, completed=n)
    gc.collect()
    after_store = rss_bytes()
    traced_store = tracemalloc.get_traced_memory()[0] if trace else 0
    cache: dict[str, int] = {}

    def part(key: str) -> int:
        found = cache.get(key)
        if found is None:
            found = partition_of(key, partitions)
        return found

    processor = Processor(catalog, calendar, store, alert_backfill_seconds=2 * 86400)
    with console.status(f"rebuilding the views of {n:,} dossiers (the full scan a restart does)"):
        started = time.perf_counter()
        processor.rebuild(range(partitions), store.items(), part)
        rebuild_seconds = time.perf_counter() - started
    gc.collect()
    after_views = rss_bytes()
    traced_all = tracemalloc.get_traced_memory()[0] if trace else 0
    if trace:
        tracemalloc.stop()
    sizes = [len(v) for v in itertools.islice(store.values(), 0, None, max(1, n // 10_000))]
    heap = sum(len(v.due) for v in processor.views.values())
    # tick: K dossiers genuinely due now (the K earliest due times over all partitions)
    k: int = args.k
    rounds = 5
    due = heapq.nsmallest(k * rounds, itertools.chain.from_iterable(v.due for v in processor.views.values()))
    ticks: list[dict[str, float]] = []
    for r in range(rounds):
        now = due[(r + 1) * k - 1][0]
        fired = sum(1 for v in processor.views.values() for entry in v.due if entry[0] <= now)
        started = time.perf_counter()
        alerts = marks = 0
        for p in range(partitions):
            outcome = processor.tick(p, now)
            processor.save(processor.stage(outcome))
            alerts += len(outcome.alerts)
            marks += len(outcome.deadlines)
        seconds = time.perf_counter() - started
        ticks.append({"seconds": seconds, "fired": fired, "alerts": alerts, "marks": marks})
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
        "heap_entries": heap,
        "rebuild_seconds": rebuild_seconds,
        "k": k,
        "tick_seconds_median": statistics.median(t["seconds"] for t in ticks),
        "tick_fired_median": statistics.median(t["fired"] for t in ticks),
        "ticks": ticks,
        "load": load_average(),
    }
    print(json.dumps(out))


def open_dossiers(n: int, k: int, partitions: int, sample: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_open",
        "--open",
        str(n),
        "--k",
        str(k),
        "--partitions",
        str(partitions),
        "--sample",
        str(sample),
    ]

    def child(*extra: str) -> dict[str, Any]:
        proc = subprocess.run([*cmd, *extra], stdout=subprocess.PIPE, stderr=None, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"memory child failed ({proc.returncode})")
        found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return found

    # RSS, rebuild and tick without tracemalloc (it slows allocation ~10× and its own traces count in
    # the RSS); then, up to TRACE_LIMIT, a second child with tracemalloc for the exact Python bytes.
    data = child()
    if n <= TRACE_LIMIT:
        traced = child("--trace")
        data["traced_per_dossier"] = traced["traced_per_dossier"]
        data["traced_store_per_dossier"] = traced["traced_store_per_dossier"]
    return data


# -- 7. overdue on a real worker --------------------------------------------------------------------------
def overdue_e2e(
    bootstrap: str, partitions: int, influx: InfluxProcess, work: Path, preload: int, samples: int
) -> dict[str, Any]:
    import yaml
    from kafka import KafkaConsumer, KafkaProducer

    catalog_path = work / "fast-catalog.yaml"
    catalog_path.write_text(yaml.safe_dump(FAST_CATALOG, allow_unicode=True), encoding="utf-8")
    database, _ = influx.database("overdue")
    wall_origin = time.time()
    env = worker_env(
        bootstrap,
        partitions,
        influx,
        database,
        IOC_CATALOG=str(catalog_path),
        IOC_CLOCK_ORIGIN=str(MORNING),
        IOC_CLOCK_WALL_ORIGIN=str(wall_origin),
    )
    worker, port = start_worker(env, work, f"overdue-{env['IOC_APP_ID']}")
    try:
        worker.wait_ready(120)

        def business_now() -> int:
            return MORNING + int(time.time() - wall_origin)

        if preload:
            now = business_now()
            records: list[Record] = [
                (code.encode(), dump(received_event(code, now, "P.DAY")))
                for code in (f"000.00.31.H48-260303-{i:07d}" for i in range(preload))
            ]
            produce(bootstrap, env["IOC_EVENTS_TOPIC"], records, f"preloading {preload:,} open dossiers")
            follow(
                lambda: consumed(port),
                preload,
                "worker consuming them",
                timeout=900,
                alive=lambda: worker.running,
            )
        seen: dict[str, tuple[dict[str, Any], float]] = {}
        consumer = KafkaConsumer(
            env["IOC_ALERTS_TOPIC"], bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        consumer.poll(500)  # join: partitions assigned before the first alert can exist
        stop = threading.Event()

        def collect() -> None:
            while not stop.is_set():
                for messages in consumer.poll(100).values():
                    wall = time.time()
                    for message in messages:
                        alert = json.loads(message.value)
                        if alert["kind"] == "overdue" and alert["dossier"].startswith("FAST-"):
                            seen.setdefault(alert["dossier"], (alert, wall))

        thread = threading.Thread(target=collect, daemon=True)
        thread.start()
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
        for i in range(samples):
            code = f"FAST-{i}"
            body = received_event(code, business_now(), "P.FAST")
            producer.send(env["IOC_EVENTS_TOPIC"], key=code.encode(), value=dump(body)).get(30)
            time.sleep(1.3)
        producer.close()
        deadline = time.monotonic() + 60
        with console.status(f"waiting for {samples} overdue alerts"):
            while len(seen) < samples and time.monotonic() < deadline:
                time.sleep(0.2)
        stop.set()
        thread.join(5)
        consumer.close()
    finally:
        worker.stop()
    delays = []
    for alert, wall in seen.values():
        from datetime import datetime

        due = int(datetime.fromisoformat(alert["due_at"].replace("Z", "+00:00")).timestamp())
        delays.append(wall - (wall_origin + (due - MORNING)))
    return {
        "open": preload,
        "samples": samples,
        "seen": len(delays),
        "delays": delays,
        "median": statistics.median(delays) if delays else float("nan"),
        "max": max(delays) if delays else float("nan"),
        "tick_seconds": float(env.get("IOC_TICK_SECONDS", "0.5")),
        "load": load_average(),
    }


# -- 8. profiles ------------------------------------------------------------------------------------------
def pure_child(args: argparse.Namespace) -> None:
    """Runs in a child: `Processor.handle` over simulated traffic in a loop, for py-spy to sample."""
    from streams.processor import Processor
    from streams.worker import partition_of

    traffic = simulated_traffic(args.events, label="pure processor (profile run)")
    records = [(partition_of(k.decode(), args.partitions), v) for k, v in traffic.records]
    print("ready", flush=True)
    while True:  # until the parent stops it; fresh state each round, as a new worker would have
        processor = Processor(traffic.catalog, traffic.calendar, {}, alert_backfill_seconds=2 * 86400)
        for partition, value in records:
            processor.save(processor.stage(processor.handle(partition, value, {}, traffic.now)))


def profile_pure(events: int, partitions: int, seconds: float, out: Path) -> Profile | None:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_pure",
        "--events",
        str(events),
        "--partitions",
        str(partitions),
    ]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            return None
        return record_py_spy(child.pid, seconds, out)
    finally:
        child.kill()
        child.wait(10)


def profile_naive(
    bootstrap: str, topic: str, partitions: int, total: int, work: Path, seconds: float, out: Path
) -> Profile | None:
    agent = NaiveAgent(bootstrap, topic, partitions, total, work)
    try:
        follow(agent.count, min(total, 10_000), "naive agent (profile run): warm-up", 120, agent.alive, 0.2)
        return record_py_spy(agent.process.pid, seconds, out)
    finally:
        agent.stop()


def profile_worker(
    bootstrap: str,
    topic: str,
    partitions: int,
    traffic: Traffic,
    influx: InfluxProcess,
    work: Path,
    seconds: float,
    out: Path,
) -> Profile | None:
    database, _ = influx.database("profile")
    env = worker_env(
        bootstrap, partitions, influx, database, IOC_EVENTS_TOPIC=topic, IOC_CLOCK_ORIGIN=str(traffic.now)
    )
    worker, port = start_worker(env, work, f"profile-{env['IOC_APP_ID']}")
    try:
        follow(
            lambda: consumed(port),
            min(len(traffic.records), 10_000),
            "worker (profile run): warm-up",
            120,
            lambda: worker.running,
            0.2,
        )
        assert worker.process is not None
        return record_py_spy(worker.process.pid, seconds, out)
    finally:
        worker.stop()


# -- the run ----------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    info = machine_info()
    result: dict[str, Any] = {
        "machine": info,
        "uptime_start": uptime(),
        "command": "python benchmarks/streams_bench.py " + " ".join(args.argv),
        "events": args.events,
        "partitions": args.partitions,
    }
    console.print("[bold]machine[/bold]: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    console.print(f"[bold]uptime[/bold]: {result['uptime_start']}")
    figures: dict[str, Figure] = {}

    errors: list[str] = []
    result["errors"] = errors

    def attempt(name: str, step: Callable[[], Any]) -> Any:
        """Run one phase; a failure is recorded and the run goes on (one phase must not cost the others)."""
        try:
            return step()
        except Exception as exc:
            console.print(f"[red]{name} failed: {exc!r}[/red]")
            errors.append(f"{name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return None

    def keep(found: Figure | list[Figure] | None) -> None:
        if found is None:
            return
        for figure in found if isinstance(found, list) else [found]:
            previous = figures.get(figure.name)
            if previous is None or figure.value > previous.value:
                figures[figure.name] = figure
            console.print(
                f"  {figure.name}: [bold]{figure.value:,.0f}[/bold] {figure.unit} (load {figure.load})"
            )

    if args.only_memory:
        result["memory"] = memory_phase(args, attempt)
        result["figures"], result["ratios"], result["uptime_end"] = {}, {}, uptime()
        return result
    traffic = simulated_traffic(args.events)
    result["mean_size"] = traffic.mean_size
    result["business_now"] = traffic.now
    pure_figures, cprofile_top = pure(traffic, args.partitions)
    keep(pure_figures)
    result["cprofile_handle"] = cprofile_top
    if not args.no_profile and py_spy() is not None:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
        with console.status("py-spy on Processor.handle (child process)"):
            found = profile_pure(
                min(args.events, 100_000),
                args.partitions,
                args.profile_seconds,
                args.profile_dir / "pure.pyspy.txt",
            )
        if found is not None:
            result.setdefault("py_spy", {})["pure"] = found.as_dict()

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ioc-streams-bench-")))
        bootstrap = stack.enter_context(kafka(args.bootstrap, args.partitions))
        with console.status("starting InfluxDB (ioc dev influx)"):
            influx = stack.enter_context(InfluxProcess(work / "influx.log"))
        topic = new_topic(bootstrap, "bench-events", args.partitions)
        seconds = produce(bootstrap, topic, traffic.records, f"producing {len(traffic.records):,} events")
        console.print(f"produced {len(traffic.records):,} events in {seconds:.1f} s to {topic}")
        total = len(traffic.records)
        phases: list[Callable[[], Figure | list[Figure]]] = [
            lambda: ceiling(bootstrap, topic, args.partitions, total),
            lambda: naive(bootstrap, topic, args.partitions, total, work),
            lambda: pipeline(bootstrap, topic, args.partitions, traffic, influx, work),
            lambda: batched(bootstrap, topic, args.partitions, traffic, influx),
        ]
        if not args.no_variants:  # what the per-event time is made of, and an environment-only tuning
            phases += [
                lambda: naive(bootstrap, topic, args.partitions, total, work, "no-table"),
                lambda: naive(bootstrap, topic, args.partitions, total, work, "linger"),
                lambda: pipeline(bootstrap, topic, args.partitions, traffic, influx, work, tuning=LINGER),
            ]
        for round_number in range(max(1, args.repeat)):
            shift = round_number % len(phases)
            for phase in phases[shift:] + phases[:shift]:
                keep(attempt("phase", phase))
        if args.scale_workers > 1:
            keep(
                attempt(
                    f"{args.scale_workers} workers",
                    lambda: pipeline(
                        bootstrap, topic, args.partitions, traffic, influx, work, args.scale_workers
                    ),
                )
            )
        if not args.no_profile and py_spy() is not None:
            result.setdefault("py_spy", {})
            found = attempt(
                "naive profile",
                lambda: profile_naive(
                    bootstrap,
                    topic,
                    args.partitions,
                    total,
                    work,
                    args.profile_seconds,
                    args.profile_dir / "naive.pyspy.txt",
                ),
            )
            if found is not None:
                result["py_spy"]["naive"] = found.as_dict()
            found = attempt(
                "worker profile",
                lambda: profile_worker(
                    bootstrap,
                    topic,
                    args.partitions,
                    traffic,
                    influx,
                    work,
                    args.profile_seconds,
                    args.profile_dir / "worker.pyspy.txt",
                ),
            )
            if found is not None:
                result["py_spy"]["worker"] = found.as_dict()
        elif not args.no_profile:
            console.print("[yellow]py-spy is not installed (pip install py-spy): no worker profile[/yellow]")
        if args.overdue_samples:
            result["overdue_e2e"] = attempt(
                "overdue on a real worker",
                lambda: overdue_e2e(
                    bootstrap, args.partitions, influx, work, args.overdue_open, args.overdue_samples
                ),
            )
    result["memory"] = memory_phase(args, attempt)
    result["figures"] = {name: f.as_dict() for name, f in figures.items()}
    result["ratios"] = ratios(figures)
    result["uptime_end"] = uptime()
    return result


def memory_phase(args: argparse.Namespace, attempt: Callable[[str, Callable[[], Any]], Any]) -> list[Any]:
    memory = []
    for size in sorted({*args.small_open, args.open}):
        console.print(f"memory and tick at {size:,} open dossiers (child processes)")
        found = attempt(
            f"memory at {size:,}", partial(open_dossiers, size, args.k, args.partitions, args.template_events)
        )
        if found is not None:
            memory.append(found)
    return memory


def ratios(figures: dict[str, Figure]) -> dict[str, float]:
    def value(name: str) -> float | None:
        found = figures.get(name)
        return found.value if found else None

    out: dict[str, float] = {}
    pipe, naive_, top = (
        value("pipeline: ioc worker"),
        value("naive faust agent"),
        value("ceiling: raw aiokafka + json.loads"),
    )
    pure_ = value("pure: Processor.handle")
    if pipe and naive_:
        out["pipeline / naive"] = pipe / naive_
    if pipe and top:
        out["pipeline / ceiling"] = pipe / top
    if pipe and pure_:
        out["pipeline / pure Processor.handle"] = pipe / pure_
    proto = value("prototype: getmany + Processor, batched changelog")
    if proto and pipe:
        out["prototype / pipeline"] = proto / pipe
    return out


def render(result: dict[str, Any]) -> None:
    out = Console()
    table = Table(title=f"Stream throughput, {result['events']:,} events, {result['partitions']} partitions")
    numeric = ("value", "CPU µs/event", "broker µs/event")
    for column in ("phase", "value", "unit", "CPU µs/event", "broker µs/event", "load 1/5/15", "note"):
        table.add_column(column, justify="right" if column in numeric else "left")
    for f in result["figures"].values():
        cpu = "—" if f["cpu_us"] is None else f"{f['cpu_us']:.0f}"
        broker = "—" if f.get("broker_us") is None else f"{f['broker_us']:.0f}"
        table.add_row(f["name"], f"{f['value']:,.0f}", f["unit"], cpu, broker, f["load"], f["note"])
    out.print(table)
    for name, value in result["ratios"].items():
        out.print(f"{name}: {value:.3f}")
    memory = Table(title="Open dossiers: memory and overdue detection (Processor, dict store)")
    for column in (
        "open",
        "RSS B/dossier",
        "traced B/dossier",
        "state bytes",
        "rebuild s",
        "tick ms",
        "fired",
    ):
        memory.add_column(column, justify="right")
    for m in result["memory"]:
        memory.add_row(
            f"{m['open']:,}",
            f"{m['rss_per_dossier']:.0f}",
            "—" if m["traced_per_dossier"] is None else f"{m['traced_per_dossier']:.0f}",
            f"{m['state_bytes_mean']:.0f}",
            f"{m['rebuild_seconds']:.1f}",
            f"{m['tick_seconds_median'] * 1000:.2f}",
            f"{m['tick_fired_median']:.0f}",
        )
    out.print(memory)
    e2e = result.get("overdue_e2e")
    if e2e:
        out.print(
            f"overdue alert on a real worker with {e2e['open']:,} open dossiers: median "
            f"{e2e['median']:.2f} s, max {e2e['max']:.2f} s after the due instant ({e2e['seen']} samples)"
        )
    for name, prof in (result.get("py_spy") or {}).items():
        groups = ", ".join(f"{g} {s:.0%}" for g, s in prof["by_group"][:8])
        out.print(f"py-spy {name}: {prof['samples']} samples; self time by library: {groups}")
    for error in result.get("errors", []):
        out.print(f"[red]failed: {error}[/red]")
    out.print(f"uptime at start: {result['uptime_start']}\nuptime at end:   {result['uptime_end']}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", help="use this broker instead of starting a KafkaBroker")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--open", type=int, default=100_000, help="open dossiers for the memory/tick phase")
    p.add_argument(
        "--small-open", type=int, nargs="*", default=[10_000], help="smaller sizes, to compare the tick cost"
    )
    p.add_argument("--k", type=int, default=100, help="dossiers due at each measured tick")
    p.add_argument("--template-events", type=int, default=30_000, help="simulated events for the templates")
    p.add_argument("--repeat", type=int, default=1, help="rounds of the Kafka phases (best kept)")
    p.add_argument("--scale-workers", type=int, default=2, help="also run N workers in one group (0: skip)")
    p.add_argument("--no-profile", action="store_true", help="skip the py-spy runs")
    p.add_argument("--only-memory", action="store_true", help="only the memory/tick phase (no Kafka)")
    p.add_argument(
        "--no-variants",
        action="store_true",
        help="skip the naive agent without table / with producer linger, and the worker with PRODUCER_LINGER",
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
    if argv and argv[0] == "_naive":
        child = argparse.ArgumentParser()
        for name in ("--bootstrap", "--topic", "--app-id", "--status", "--data-dir"):
            child.add_argument(name, required=True)
        child.add_argument("--partitions", type=int, required=True)
        child.add_argument("--expect", type=int, required=True)
        child.add_argument("--variant", choices=list(NAIVE_VARIANTS), default="table")
        naive_child(child.parse_args(argv[1:]))
        return 0
    if argv and argv[0] == "_pure":
        child = argparse.ArgumentParser()
        child.add_argument("--events", type=int, required=True)
        child.add_argument("--partitions", type=int, required=True)
        pure_child(child.parse_args(argv[1:]))
        return 0
    if argv and argv[0] == "_open":
        child = argparse.ArgumentParser()
        child.add_argument("--open", type=int, required=True)
        child.add_argument("--k", type=int, required=True)
        child.add_argument("--partitions", type=int, required=True)
        child.add_argument("--sample", type=int, required=True)
        child.add_argument("--trace", action="store_true")
        open_child(child.parse_args(argv[1:]))
        return 0
    args = parser().parse_args(argv)
    args.argv = argv
    result = run(args)
    render(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
