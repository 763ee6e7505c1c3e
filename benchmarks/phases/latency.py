"""End-to-end latency, produce -> InfluxDB, at a steady rate on a fresh `ioc worker`.

Each event is a `received` of a new dossier whose occurred_at is its send second (the worker's business
clock is the wall clock), so its `events` point lands in that second's bucket. A poller asks InfluxDB
every 100 ms for the per-second point counts of the seconds not yet complete; when a second's count
rises from a to b, its events a+1..b (in send order) became visible at that poll's end. latency =
visible - sent, per event: exact up to the poll period (plus the query's own time), and up to the order
in which the worker wrote the events of one second.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from benchmarks.harness import (
    Context,
    Figure,
    console,
    consumed,
    dump,
    follow,
    load_average,
    percentile,
    received_event,
    start_worker,
    worker_env,
)


class Poller:
    """Per-second `events` counts in InfluxDB, polled every 100 ms in a thread until every sent
    second is complete (or 60 s after the last send)."""

    def __init__(self, ql: Any, sent: dict[int, list[float]]) -> None:
        self.ql, self.sent = ql, sent
        self.visible: dict[int, list[tuple[float, int]]] = {}
        self.done = threading.Event()
        self.deadline = float("inf")
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        counted: dict[int, int] = {}
        while True:
            finished = self.done.is_set()
            pending = [s for s, times in list(self.sent.items()) if counted.get(s, 0) < len(times)]
            if finished and not pending:
                return
            low = min(pending) if pending else int(time.time())
            where = f"time >= {low}s AND time < {int(time.time()) + 2}s"
            try:
                rows = self.ql.query(
                    f'SELECT count("n") FROM "events" WHERE {where} GROUP BY time(1s)', epoch="s"
                )
            except Exception:  # a slow or failed poll: try again
                rows = []
            now = time.time()
            for row in rows:
                second, count = int(row["time"]), int(row.get("count") or 0)
                if count > counted.get(second, 0):
                    counted[second] = count
                    self.visible.setdefault(second, []).append((now, count))
            if finished and time.time() > self.deadline:
                return
            time.sleep(0.1)

    def finish(self) -> None:
        self.deadline = time.time() + 60
        self.done.set()
        with console.status("latency: waiting for the last points"):
            self.thread.join(90)


def _paced(send: Any, rate: int, count: int, tag: str) -> list[float]:
    """Send `count` events at `rate` per second; returns their send times."""
    started, times = time.monotonic(), []
    for i in range(count):
        pause = started + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        times.append(send(i, tag))
    return times


def measure(ctx: Context, rate: int, seconds: int) -> dict[str, Any]:
    from kafka import KafkaProducer

    from dossiers.catalog import load_catalog

    catalog = load_catalog()
    choices = [(a.code, p.code, p.channels[0]) for a in catalog.agencies for p in a.procedures[:2]]
    database, ql = ctx.influx.database("latency")
    env = worker_env(ctx.bootstrap, ctx.partitions, ctx.influx, database)
    worker, port = start_worker(env, ctx.work, f"latency-{env['IOC_APP_ID']}")
    sent: dict[int, list[float]] = {}
    poller = Poller(ql, sent)
    try:
        worker.wait_ready(120)
        producer = KafkaProducer(bootstrap_servers=ctx.bootstrap, acks="all", linger_ms=5)

        def send(i: int, tag: str) -> float:
            agency, procedure, channel = choices[i % len(choices)]
            at = time.time()
            body = received_event(f"{tag}-{i:07d}", int(at), procedure, agency, channel)
            producer.send(env["IOC_EVENTS_TOPIC"], key=body["dossier"].encode(), value=dump(body))
            if tag == "LAT":
                sent.setdefault(int(at), []).append(at)
            return at

        warm = min(5, seconds)  # a few seconds at the same rate, not measured
        _paced(send, rate, rate * warm, "WARM")
        producer.flush()
        follow(lambda: consumed(port), rate * warm, "latency: warm-up", 60, lambda: worker.running)
        first_second = int(time.time()) + 1
        while time.time() < first_second:  # start on a second boundary: every measured second is full
            time.sleep(0.001)
        poller.thread.start()
        _paced(send, rate, rate * seconds, "LAT")
        producer.flush()
        producer.close()
        poller.finish()
    finally:
        worker.stop()
    return _summary(sent, poller.visible, rate, seconds)


def _summary(
    sent: dict[int, list[float]], visible: dict[int, list[tuple[float, int]]], rate: int, seconds: int
) -> dict[str, Any]:
    latencies: list[float] = []
    missing = 0
    for second, times in sent.items():
        marks = visible.get(second, [])
        for rank, at in enumerate(sorted(times), start=1):
            seen = next((when for when, count in marks if count >= rank), None)
            if seen is None:
                missing += 1
            else:
                latencies.append(seen - at)
    return {
        "rate": rate,
        "seconds": seconds,
        "events": sum(len(t) for t in sent.values()),
        "missing": missing,
        "p50": percentile(latencies, 0.5),
        "p90": percentile(latencies, 0.9),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies) if latencies else float("nan"),
        "sink_flush_seconds": 1.0,
        "load": load_average(),
    }


def run(ctx: Context) -> list[Figure]:
    quick = bool(ctx.options.quick)
    data = measure(ctx, rate=100 if quick else 500, seconds=10 if quick else 60)
    note = (
        f"p90 {data['p90']:.2f} s, p99 {data['p99']:.2f} s; {data['rate']} events/s for {data['seconds']} s"
    )
    return [
        Figure(
            "end-to-end latency p50, produce → InfluxDB",
            data["p50"],
            "s",
            note,
            load=data["load"],
            details=data,
        )
    ]
