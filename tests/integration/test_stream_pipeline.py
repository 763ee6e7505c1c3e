"""The stream on the real broker and the real InfluxDB: producer -> Kafka -> Faust worker -> InfluxDB.

Business time is pinned to a weekday evening (no office-hour boundary is crossed while a test runs),
so the KPIs read back from InfluxDB must equal `ioc replay` at the snapshot's instant exactly.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog, load_catalog
from dossiers.replay import Replay
from grafana import queries as wall_queries
from ioc.devstack.ports import free_port
from producers.simulator import Simulator, warmup_start
from streams.app import partition_of
from streams.processor import Processor
from streams.readback import INT_FIELDS, LiveKpis, read_live_kpis
from streams.runner import WorkerProcess
from tests.support.catalogs import write_fast_catalog
from tests.support.events import VN, received
from tests.support.traffic import lifecycles, with_noise

PARTITIONS = 6
EVENING = int(datetime(2026, 3, 31, 18, 0, tzinfo=VN).timestamp())  # Tuesday after closing time


@dataclass
class Pipeline:
    """Topics, database and worker settings of one test, isolated from the others."""

    bootstrap: str
    env: dict[str, str]
    query: Callable[[str], list[dict[str, Any]]]
    tmp: Path
    workers: list[WorkerProcess]

    @property
    def topic(self) -> str:
        return self.env["IOC_EVENTS_TOPIC"]

    def worker(self, name: str, **env: str) -> WorkerProcess:
        port = str(free_port())
        process = WorkerProcess(
            {**self.env, "IOC_METRICS_PORT": port, "IOC_DATA_DIR": str(self.tmp / name), **env},
            self.tmp / f"{name}.log",
            name,
        )
        process.metrics_port = int(port)  # type: ignore[attr-defined]
        self.workers.append(process)
        return process.start()

    def produce(self, records: list[tuple[bytes, bytes]]) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        for key, value in records:
            producer.send(self.topic, key=key, value=value)
        producer.flush()
        producer.close()

    def read_topic(self, name: str, timeout_ms: int = 3000) -> list[Any]:
        consumer = KafkaConsumer(
            self.env[name],
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=timeout_ms,
            group_id=None,
        )
        messages = list(consumer)
        consumer.close()
        return messages


@pytest.fixture
def pipeline(kafka_broker: Any, influx_db: Any, tmp_path: Path) -> Iterator[Pipeline]:
    suffix = uuid.uuid4().hex[:8]
    env = {
        "IOC_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "IOC_EVENTS_TOPIC": f"events-{suffix}",
        "IOC_DLQ_TOPIC": f"dlq-{suffix}",
        "IOC_ALERTS_TOPIC": f"alerts-{suffix}",
        "IOC_TICKS_TOPIC": f"ticks-{suffix}",
        "IOC_APP_ID": f"ioc-test-{suffix}",
        "IOC_PARTITIONS": str(PARTITIONS),
        "IOC_INFLUX_URL": influx_db.url,
        "IOC_INFLUX_TOKEN": influx_db.token,
        "IOC_INFLUX_ORG": influx_db.org,
        "IOC_INFLUX_BUCKET": influx_db.bucket,
        "IOC_SNAPSHOT_SECONDS": "1",
        "IOC_SINK_FLUSH_SECONDS": "0.2",
        "IOC_CLOCK_ORIGIN": str(EVENING),
        "IOC_CLOCK_SPEED": "1",
        "IOC_SESSION_TIMEOUT_SECONDS": "6",
        "IOC_ALERT_BACKFILL_SECONDS": "none",
    }
    line = Pipeline(kafka_broker.bootstrap, env, influx_db.query, tmp_path, [])
    yield line
    for worker in line.workers:
        worker.kill()


def metric(worker: WorkerProcess, name: str, label: str = "") -> float:
    """Sum of a Prometheus metric's samples scraped from the worker (optionally those with `label`)."""
    url = f"http://127.0.0.1:{worker.metrics_port}/metrics"  # type: ignore[attr-defined]
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if (line.startswith(name + "{") or line.startswith(name + " ")) and label in line
    )


def settle(pipeline: Pipeline, expected_received: int, timeout: float = 240.0) -> LiveKpis:
    """Wait until InfluxDB shows every dossier and every partition's latest snapshot agrees on as_of."""
    deadline = time.monotonic() + timeout
    live = LiveKpis()
    while time.monotonic() < deadline:
        live = read_live_kpis(pipeline.query, window="30s")
        if (
            live.consistent
            and len(live.partitions) == PARTITIONS
            and live.centre.received == expected_received
        ):
            again = read_live_kpis(pipeline.query, window="30s")
            if again.consistent and again.centre.received == expected_received:
                return again
        time.sleep(0.5)
    logs = "\n".join(w.log_text()[-2000:] for w in pipeline.workers)
    for worker in pipeline.workers:
        if worker.running:
            logs += (
                f"\n{worker.name}: events={metric(worker, 'ioc_events_total')} "
                f"dead={metric(worker, 'ioc_dead_letters_total')} "
                f"partitions={metric(worker, 'ioc_assigned_partitions')}"
            )
    rows = pipeline.query(
        'SELECT last("received") AS r, last("as_of") AS a FROM "kpi" WHERE time > now() - 30s '
        'GROUP BY "partition"'
    )
    logs += f"\nper partition: {[(r.get('partition'), r.get('r'), r.get('a')) for r in rows]}"
    raise AssertionError(
        f"stream did not settle: received={live.centre.received} expected={expected_received} "
        f"as_of={live.as_of} partitions={live.partitions}\n{logs}"
    )


def replay_of(records: list[tuple[bytes, bytes]], catalog: Catalog, as_of: int) -> Replay:
    replay = Replay(catalog, WorkingCalendar(catalog.calendar), as_of)
    for _, value in records:
        replay.feed_raw(value)
    return replay


def assert_same_kpis(live: LiveKpis, replay: Replay) -> None:
    expected = replay.counters().snapshot(replay.catalog, replay.calendar.local_date(replay.as_of))
    for code, block in expected.agencies.items():
        got = live.agencies.get(code)
        assert got is not None, f"agency {code} missing in InfluxDB"
        mismatches = {
            name: (getattr(got, name), getattr(block, name))
            for name in INT_FIELDS
            if getattr(got, name) != getattr(block, name)
        }
        assert not mismatches, f"{code}: (stream, replay) differ: {mismatches}"
        assert got.channels == block.channels, code


def assert_wall_queries_match(pipeline: Pipeline, replay: Replay) -> None:
    """The InfluxQL of the wall's stat panels and per-agency grid (grafana/queries.py), run on what the
    stream wrote, show what `ioc replay` computes for the same events."""
    centre = replay.snapshot().centre

    def rate(good: int, total: int) -> float | None:
        return good / total if total else None

    expected: dict[str, float | None] = {
        "received_today": centre.received_today,
        "resolved_today": centre.today_resolved,
        "open": centre.open,
        "overdue": centre.overdue,
        "due_soon": centre.due_soon,
        "rate_today": rate(centre.today_good, centre.today_resolved),
        "rate_month": rate(centre.month_good, centre.month_resolved),
        "rate_year": rate(centre.year_good, centre.year_resolved),
        "satisfaction": rate(centre.satisfied, centre.satisfied + centre.unsatisfied),
        "online_payment": rate(centre.paid_online, centre.paid_online + centre.paid_offline),
    }
    shown = wall_queries.centre_kpis(pipeline.query)
    for name, value in expected.items():
        got = shown[name]
        if value is None or value == 0:
            assert not got, f"{name}: wall shows {got}, replay {value}"
        else:
            assert got == pytest.approx(value), f"{name}: wall shows {got}, replay {value}"
    by_agency = wall_queries.per_agency(pipeline.query, "overdue")
    for code, block in replay.snapshot().agencies.items():
        assert by_agency.get(code, 0) == block.overdue, code


def expected_alert_ids(records: list[tuple[bytes, bytes]], catalog: Catalog, now: int) -> set[str]:
    """What one uninterrupted worker raises: the pure processor over the same per-partition order."""
    processor = Processor(catalog, WorkingCalendar(catalog.calendar), {})
    ids: set[str] = set()
    for key, value in records:
        outcome = processor.handle(partition_of(key.decode("utf-8", "replace"), PARTITIONS), value, {}, now)
        ids.update(a.alert_id for a in outcome.alerts)
    return ids


def test_a_simulated_month_reaches_influxdb_equal_to_replay(pipeline: Pipeline) -> None:
    """March 2026 of the 19-agency simulator, with duplicates and invalid records mixed in."""
    catalog = load_catalog()
    calendar = WorkingCalendar(catalog.calendar)
    month = datetime(2026, 3, 2, tzinfo=VN)
    simulator = Simulator(
        catalog, calendar, seed=7, start=warmup_start(calendar, month, 10), end=EVENING, emit_from=month
    )
    events = list(simulator.events())
    records, duplicates, invalid = with_noise(events, seed=1)
    worker = pipeline.worker("w1")
    print(f"worker ready in {worker.wait_ready():.1f} s")
    pipeline.produce(records)
    live = settle(pipeline, expected_received=replay_of(records, catalog, EVENING).snapshot().centre.received)
    replay = replay_of(records, catalog, max(live.as_of))
    assert_same_kpis(live, replay)
    dead = pipeline.read_topic("IOC_DLQ_TOPIC")
    assert len(dead) == invalid
    assert all(dict(m.headers).get("ioc-dlq-reason") for m in dead)
    assert {m.value for m in dead} <= {value for _, value in records}  # the original bytes
    processed = metric(worker, "ioc_events_total")
    dead_lettered = metric(worker, "ioc_dead_letters_total")
    assert processed + dead_lettered == len(records)  # produced = processed + dead-lettered
    assert metric(worker, "ioc_events_total", 'result="duplicate"') == duplicates
    alerts = [json.loads(m.value) for m in pipeline.read_topic("IOC_ALERTS_TOPIC")]
    assert {a["alert_id"] for a in alerts} == expected_alert_ids(records, catalog, EVENING)
    assert len(alerts) == len({a["alert_id"] for a in alerts})
    assert_wall_queries_match(pipeline, replay)
    overdue = replay.snapshot().centre.overdue
    open_overdue = pipeline.query(
        'SELECT count("open") FROM "deadlines" WHERE "kind" = \'overdue\' AND "open" = 1'
    )
    assert (open_overdue[0]["count"] if open_overdue else 0) == overdue


def test_two_workers_split_the_partitions_and_agree_with_replay(pipeline: Pipeline) -> None:
    catalog = load_catalog()
    records, _, _ = with_noise(
        lifecycles(catalog, seed=2, dossiers=1200, start=EVENING - 20 * 86400, span=19 * 86400), seed=2
    )
    first, second = pipeline.worker("w1"), pipeline.worker("w2")
    first.wait_ready()
    second.wait_ready()
    pipeline.produce(records)
    live = settle(pipeline, replay_of(records, catalog, EVENING).snapshot().centre.received)
    shares = [metric(w, "ioc_assigned_partitions") for w in (first, second)]
    assert sum(shares) == PARTITIONS and min(shares) >= 1, shares
    assert_same_kpis(live, replay_of(records, catalog, max(live.as_of)))
    alerts = [json.loads(m.value) for m in pipeline.read_topic("IOC_ALERTS_TOPIC")]
    assert {a["alert_id"] for a in alerts} == expected_alert_ids(records, catalog, EVENING)


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_a_worker_killed_mid_stream_and_restarted_loses_and_doubles_nothing(
    pipeline: Pipeline, store: str
) -> None:
    """Memory store: state comes back from the changelog; RocksDB (production): from disk + changelog."""
    catalog = load_catalog()
    records, _, _ = with_noise(
        lifecycles(catalog, seed=3, dossiers=4000, start=EVENING - 25 * 86400, span=24 * 86400), seed=3
    )
    worker = pipeline.worker("w1", IOC_STORE=store)
    worker.wait_ready()
    pipeline.produce(records)
    deadline = time.monotonic() + 60
    while metric(worker, "ioc_events_total") < len(records) / 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    seen_before_kill = metric(worker, "ioc_events_total")
    worker.kill()  # SIGKILL: no flush, no commit, no goodbye
    assert 0 < seen_before_kill < len(records), "the kill must land mid-stream"
    restarted = pipeline.worker("w1-again", IOC_STORE=store, IOC_DATA_DIR=worker.env["IOC_DATA_DIR"])
    restarted.wait_ready()
    live = settle(pipeline, replay_of(records, catalog, EVENING).snapshot().centre.received)
    assert_same_kpis(live, replay_of(records, catalog, max(live.as_of)))
    alerts = [json.loads(m.value) for m in pipeline.read_topic("IOC_ALERTS_TOPIC")]
    ids = [a["alert_id"] for a in alerts]
    assert set(ids) == expected_alert_ids(records, catalog, EVENING)
    print(
        f"killed after {seen_before_kill:.0f} of {len(records)} records; alerts {len(ids)}, "
        f"distinct {len(set(ids))}"
    )


def test_an_overdue_alert_fires_within_two_seconds_of_the_due_instant_with_no_new_event(
    pipeline: Pipeline,
) -> None:
    morning = int(datetime(2026, 3, 3, 9, 0, tzinfo=VN).timestamp())  # business time: Tuesday 09:00
    catalog_path = write_fast_catalog(pipeline.tmp)
    worker = pipeline.worker(
        "w1",
        IOC_CATALOG=str(catalog_path),
        IOC_CLOCK_ORIGIN=str(morning),
        IOC_CLOCK_WALL_ORIGIN=str(time.time()),
    )
    worker.wait_ready()
    wall_origin = float(worker.env["IOC_CLOCK_WALL_ORIGIN"])
    business_now = morning + int(time.time() - wall_origin)
    body = received("FAST-1", business_now, procedure="P.FAST")  # 7 working seconds
    consumer = KafkaConsumer(
        pipeline.env["IOC_ALERTS_TOPIC"],
        bootstrap_servers=pipeline.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=30_000,
    )
    pipeline.produce([(b"FAST-1", json.dumps(body).encode())])
    overdue = None
    for message in consumer:
        alert = json.loads(message.value)
        if alert["kind"] == "overdue":
            overdue = (alert, time.time())
            break
    consumer.close()
    assert overdue is not None, worker.log_text()[-2000:]
    alert, seen_wall = overdue
    due = int(datetime.fromisoformat(alert["due_at"].replace("Z", "+00:00")).timestamp())
    assert due == business_now + 7
    wall_due = wall_origin + (due - morning)
    delay = seen_wall - wall_due
    print(f"overdue alert seen {delay:.2f} s after the due instant")
    assert delay <= 2.0
