"""Overdue detection end to end on a real `ioc worker` holding `--overdue-open` open dossiers: from a
dossier's due instant (a 7-working-second SLA) to its overdue alert consumed from the alerts topic."""

from __future__ import annotations

import json
import statistics
import threading
import time
from datetime import datetime
from typing import Any

from benchmarks.harness import (
    FAST_CATALOG,
    MORNING,
    Context,
    Figure,
    Record,
    console,
    consumed,
    dump,
    follow,
    load_average,
    produce,
    received_event,
    start_worker,
    worker_env,
)

NAME = "overdue alert on a real worker, median delay"


class AlertCollector:
    """Overdue alerts of the FAST- dossiers, with the wall time each was consumed, in a thread."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaConsumer

        self.seen: dict[str, tuple[dict[str, Any], float]] = {}
        self.consumer = KafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        self.consumer.poll(500)  # join: partitions assigned before the first alert can exist
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._collect, daemon=True)
        self.thread.start()

    def _collect(self) -> None:
        while not self.stop.is_set():
            for messages in self.consumer.poll(100).values():
                wall = time.time()
                for message in messages:
                    alert = json.loads(message.value)
                    if alert["kind"] == "overdue" and alert["dossier"].startswith("FAST-"):
                        self.seen.setdefault(alert["dossier"], (alert, wall))

    def wait(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with console.status(f"waiting for {count} overdue alerts"):
            while len(self.seen) < count and time.monotonic() < deadline:
                time.sleep(0.2)
        self.stop.set()
        self.thread.join(5)
        self.consumer.close()


def _start(ctx: Context, wall_origin: float) -> tuple[Any, int, dict[str, str]]:
    import yaml

    catalog_path = ctx.work / "fast-catalog.yaml"
    catalog_path.write_text(yaml.safe_dump(FAST_CATALOG, allow_unicode=True), encoding="utf-8")
    database, _ = ctx.influx.database("overdue")
    env = worker_env(
        ctx.bootstrap,
        ctx.partitions,
        ctx.influx,
        database,
        IOC_CATALOG=str(catalog_path),
        IOC_CLOCK_ORIGIN=str(MORNING),
        IOC_CLOCK_WALL_ORIGIN=str(wall_origin),
    )
    worker, port = start_worker(env, ctx.work, f"overdue-{env['IOC_APP_ID']}")
    return worker, port, env


def measure(ctx: Context, preload: int, samples: int) -> dict[str, Any]:
    from kafka import KafkaProducer

    wall_origin = time.time()

    def business_now() -> int:
        return MORNING + int(time.time() - wall_origin)

    worker, port, env = _start(ctx, wall_origin)
    topic = env["IOC_EVENTS_TOPIC"]
    try:
        worker.wait_ready(120)
        if preload:
            now = business_now()
            codes = (f"000.00.31.H48-260303-{i:07d}" for i in range(preload))
            records: list[Record] = [(c.encode(), dump(received_event(c, now, "P.DAY"))) for c in codes]
            produce(ctx.bootstrap, topic, records, f"preloading {preload:,} open dossiers")
            follow(lambda: consumed(port), preload, "worker consuming them", 900, lambda: worker.running)
        alerts = AlertCollector(ctx.bootstrap, env["IOC_ALERTS_TOPIC"])
        producer = KafkaProducer(bootstrap_servers=ctx.bootstrap, acks="all", linger_ms=0)
        for i in range(samples):
            body = received_event(f"FAST-{i}", business_now(), "P.FAST")
            producer.send(topic, key=body["dossier"].encode(), value=dump(body)).get(30)
            time.sleep(1.3)
        producer.close()
        alerts.wait(samples, 60)
    finally:
        worker.stop()
    delays = []
    for alert, wall in alerts.seen.values():
        due = int(datetime.fromisoformat(alert["due_at"].replace("Z", "+00:00")).timestamp())
        delays.append(wall - (wall_origin + (due - MORNING)))
    return {
        "open": preload,
        "samples": samples,
        "seen": len(delays),
        "delays": delays,
        "median": statistics.median(delays) if delays else float("nan"),
        "max": max(delays) if delays else float("nan"),
        "tick_seconds": float(env.get("IOC_TICK_SECONDS", _default_tick())),
        "load": load_average(),
    }


def _default_tick() -> float:
    """The worker's tick period when the environment does not set it."""
    from streams.settings import StreamSettings

    return float(StreamSettings.model_fields["tick_seconds"].default)


def run(ctx: Context) -> list[Figure]:
    samples = int(ctx.options.overdue_samples)
    if not samples:
        return []
    data = measure(ctx, int(ctx.options.overdue_open), samples)
    note = f"max {data['max']:.2f} s; {data['seen']} of {samples} seen; {data['open']:,} open dossiers"
    return [Figure(NAME, data["median"], "s", note, load=data["load"], details=data)]
