"""The stream under test, shared by the fault and bad-input tests: topics, workers, metrics, read-back.

Used by tests/integration/test_stream_pipeline.py, test_faults.py and test_bad_input.py: fresh topics
and consumer group per test, worker processes with their metrics, polling helpers, a crash check on the
worker's log, point counts in InfluxDB, and what an uninterrupted run computes (alerts, `events` points).

Business time is pinned to a weekday evening (EVENING): no office-hour boundary is crossed while a
test runs, so the KPIs read back from InfluxDB must equal `ioc replay` (the `Replay` class behind it)
at the snapshot's instant exactly.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from typer.testing import CliRunner

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.kpi import KPI_FIELDS
from dossiers.replay import Replay
from ioc.commands import report as report_cli
from ioc.devstack.influx import InfluxTarget
from ioc.devstack.ports import free_port
from ioc.devstack.worker import WorkerProcess
from ioc.readback import LiveKpis, read_live_kpis
from streams.lines import stamp
from streams.worker import partition_of
from tests.support.events import VN
from tests.support.processing import SavingProcessor

PARTITIONS = 6
EVENING = int(datetime(2026, 3, 31, 18, 0, tzinfo=VN).timestamp())  # Tuesday after closing time

CRASH_MARKERS = ("Crashed", "Restarting dead", "Traceback (most recent call last)")
"""What Faust logs when an agent raises (it restarts the agent, which must never happen here)."""

Record = tuple[bytes, bytes]
EventPointKey = tuple[str, str, str, str, int]
"""(agency, type, channel, field, nanosecond timestamp): what identifies an `events` point."""


class MetricWorker(WorkerProcess):
    """A worker process that also knows its Prometheus port."""

    def __init__(self, env: Mapping[str, str], log_path: Path, name: str, metrics_port: int):
        super().__init__(env, log_path, name)
        self.metrics_port = metrics_port

    def metrics_text(self, timeout: float = 10.0) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: bytes = response.read()
        return body.decode()

    def crash_lines(self) -> list[str]:
        """Log lines saying an agent crashed or was restarted (empty for a healthy worker)."""
        return [line for line in self.log_text().splitlines() if any(m in line for m in CRASH_MARKERS)]


@dataclass
class Pipeline:
    """Topics, database and worker settings of one test, isolated from the others."""

    bootstrap: str
    env: dict[str, str]
    influx: InfluxTarget
    tmp: Path
    workers: list[MetricWorker] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return self.env["IOC_EVENTS_TOPIC"]

    def query(self, q: str) -> list[dict[str, Any]]:
        """InfluxQL on the pipeline's database."""
        return self.influx.query(q)

    def worker(self, name: str, **env: str) -> MetricWorker:
        port = free_port()
        process = MetricWorker(
            {**self.env, "IOC_METRICS_PORT": str(port), "IOC_DATA_DIR": str(self.tmp / name), **env},
            self.tmp / f"{name}.log",
            name,
            port,
        )
        self.workers.append(process)
        process.start()
        return process

    def produce(self, records: Iterable[tuple[bytes | None, bytes | None]]) -> int:
        """Send with a plain KafkaProducer (acks=all), flush; returns how many were sent."""
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        sent = 0
        try:
            for key, value in records:
                producer.send(self.topic, key=key, value=value)
                sent += 1
            producer.flush(timeout=120)
        finally:
            producer.close(timeout=30)
        return sent

    def read_topic(self, name: str, expected: int | None = None, timeout: float = 60.0) -> list[Any]:
        """Every record of the topic named by env var `name`, from the start up to its end offsets.

        With `expected`, first waits (up to `timeout`) until the topic holds at least that many records.
        Reading to the end offsets, rather than until a quiet period, is what makes this robust to load.
        """
        topic = self.env[name]
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            deadline = time.monotonic() + timeout
            numbers = consumer.partitions_for_topic(topic)
            while not numbers:
                if time.monotonic() > deadline:
                    return []
                time.sleep(0.2)
                numbers = consumer.partitions_for_topic(topic)
            parts = [TopicPartition(topic, p) for p in sorted(numbers)]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            ends: dict[TopicPartition, int] = consumer.end_offsets(parts)
            while expected is not None and sum(ends.values()) < expected and time.monotonic() < deadline:
                time.sleep(0.5)
                ends = consumer.end_offsets(parts)
            messages: list[Any] = []
            while any(consumer.position(tp) < ends[tp] for tp in parts):
                if time.monotonic() > deadline + 60:
                    raise AssertionError(f"could not read {topic} to its end offsets {ends}")
                for records in consumer.poll(timeout_ms=500).values():
                    messages.extend(records)
            return messages
        finally:
            consumer.close()

    def records_in(self, topic: str) -> int:
        """How many records a topic holds (sum of its end offsets; 0 when it does not exist yet)."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        try:
            numbers = consumer.partitions_for_topic(topic) or set()
            parts = [TopicPartition(topic, p) for p in numbers]
            return sum(consumer.end_offsets(parts).values()) if parts else 0
        finally:
            consumer.close()

    @property
    def changelog_topic(self) -> str:
        """The dossier table's changelog topic (Faust names it `<app id>-<table>-changelog`)."""
        return f"{self.env['IOC_APP_ID']}-dossiers-changelog"

    def logs(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {w.name} ---\n{w.log_text()[-chars:]}" for w in self.workers)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()


def make_pipeline(bootstrap: str, influx: InfluxTarget, tmp: Path, **overrides: str) -> Pipeline:
    """Fresh topics (unique names) and consumer group on `bootstrap`, writing into `influx`."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        "IOC_KAFKA_BOOTSTRAP": bootstrap,
        "IOC_EVENTS_TOPIC": f"events-{suffix}",
        "IOC_DLQ_TOPIC": f"dlq-{suffix}",
        "IOC_ALERTS_TOPIC": f"alerts-{suffix}",
        "IOC_TICKS_TOPIC": f"ticks-{suffix}",
        "IOC_APP_ID": f"ioc-test-{suffix}",
        "IOC_PARTITIONS": str(PARTITIONS),
        "IOC_INFLUX_URL": influx.url,
        "IOC_INFLUX_TOKEN": influx.token,
        "IOC_INFLUX_ORG": influx.org,
        "IOC_INFLUX_BUCKET": influx.bucket,
        "IOC_SNAPSHOT_SECONDS": "1",
        "IOC_SINK_FLUSH_SECONDS": "0.2",
        "IOC_CLOCK_ORIGIN": str(EVENING),
        "IOC_CLOCK_SPEED": "1",
        "IOC_SESSION_TIMEOUT_SECONDS": "6",
        "IOC_ALERT_BACKFILL_SECONDS": "none",
        **overrides,
    }
    return Pipeline(bootstrap, env, influx, tmp)


def parse_metric(text: str, name: str, label: str = "") -> float:
    """Sum of a metric's samples in a Prometheus exposition (optionally only those containing `label`)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if (line.startswith(name + "{") or line.startswith(name + " ")) and label in line
    )


def metric(worker: MetricWorker, name: str, label: str = "") -> float:
    """Sum of a Prometheus metric's samples scraped from the worker (optionally those with `label`)."""
    return parse_metric(worker.metrics_text(), name, label)


def wait_until(condition: Callable[[], bool], timeout: float, message: Callable[[], str] | str) -> float:
    """Poll `condition` every 0.2 s; returns the seconds it took, raises AssertionError on timeout."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(0.2)
    return time.monotonic() - started


def settle(pipeline: Pipeline, expected_received: int, timeout: float = 240.0) -> LiveKpis:
    """Wait until InfluxDB shows every dossier and every partition's latest snapshot agrees on as_of."""
    deadline = time.monotonic() + timeout
    live = LiveKpis()
    while time.monotonic() < deadline:
        try:
            live = read_live_kpis(pipeline.query, window="30s")
        except Exception:  # InfluxDB restarting: try again
            time.sleep(0.5)
            continue
        if (
            live.consistent
            and len(live.partitions) == PARTITIONS
            and live.centre.received == expected_received
        ):
            again = read_live_kpis(pipeline.query, window="30s")
            if again.consistent and again.centre.received == expected_received:
                return again
        time.sleep(0.5)
    raise AssertionError(
        f"stream did not settle: received={live.centre.received} expected={expected_received} "
        f"as_of={live.as_of} partitions={live.partitions}\n{pipeline.logs(2000)}"
    )


def replay_of(records: Iterable[tuple[Any, bytes]], catalog: Catalog, as_of: int) -> Replay:
    """What `ioc replay` computes for the same records at `as_of` (the invalid ones are counted, not fed)."""
    replay = Replay(catalog, WorkingCalendar(catalog.calendar), as_of)
    for _, value in records:
        replay.feed_raw(value)
    return replay


def kpi_mismatches(live: LiveKpis, replay: Replay) -> dict[str, Any]:
    """Per agency, the KPI fields where InfluxDB and replay differ: (stream, replay)."""
    expected = replay.counters().snapshot(replay.catalog, replay.calendar.local_date(replay.as_of))
    found: dict[str, Any] = {}
    for code, block in expected.agencies.items():
        got = live.agencies.get(code)
        if got is None:
            found[code] = "missing in InfluxDB"
            continue
        diff = {
            name: (getattr(got, name), getattr(block, name))
            for name in KPI_FIELDS
            if getattr(got, name) != getattr(block, name)
        }
        if got.channels != block.channels:
            diff["channels"] = (dict(got.channels), dict(block.channels))
        if diff:
            found[code] = diff
    return found


def assert_same_kpis(live: LiveKpis, replay: Replay) -> None:
    mismatches = kpi_mismatches(live, replay)
    assert not mismatches, f"(stream, replay) differ: {mismatches}"


@dataclass
class Uninterrupted:
    """What one uninterrupted worker makes of the records (the pure Processor, same per-partition order)."""

    alert_ids: set[str]
    alerts: int
    applied: int
    duplicates: int
    dead_letters: int
    event_points: set[EventPointKey]
    """The `events` points as InfluxDB keys them (tags, timestamp): one written again overwrites itself."""


def uninterrupted(
    records: Iterable[tuple[bytes | None, bytes | None]], catalog: Catalog, now: int
) -> Uninterrupted:
    processor = SavingProcessor(catalog, WorkingCalendar(catalog.calendar), {})
    out = Uninterrupted(set(), 0, 0, 0, 0, set())
    for key, value in records:
        partition = partition_of((key or b"").decode("utf-8", "replace"), PARTITIONS)
        outcome = processor.handle(partition, value or b"", {}, now)
        out.alert_ids.update(a.alert_id for a in outcome.alerts)
        out.alerts += len(outcome.alerts)
        if outcome.status == "dead_letter":
            out.dead_letters += 1
        elif outcome.status == "duplicate":
            out.duplicates += 1
        elif outcome.status == "applied" and outcome.event is not None:
            out.applied += 1
            event = outcome.event
            out.event_points.add(
                (
                    event.agency,
                    event.type.value,
                    outcome.channel or "unknown",
                    outcome.procedure_field or "unknown",
                    stamp(int(event.occurred_at.timestamp()), event.dossier),
                )
            )
    return out


def expected_alert_ids(records: list[Record], catalog: Catalog, now: int) -> set[str]:
    """What one uninterrupted worker raises: the pure processor over the same per-partition order."""
    return uninterrupted(records, catalog, now).alert_ids


def count_points(query: Callable[[str], list[dict[str, Any]]], measurement: str, field_name: str) -> int:
    """How many points of `measurement` InfluxDB holds (counted on one field every point has)."""
    rows = query(f'SELECT count("{field_name}") FROM "{measurement}"')
    return int(rows[0]["count"]) if rows else 0


def stored_event_points(pipeline: Pipeline) -> set[EventPointKey]:
    """The `events` points InfluxDB holds, keyed like `Uninterrupted.event_points`."""
    rows = pipeline.influx.query(
        'SELECT "n" FROM "events" GROUP BY "agency", "type", "channel", "field"', epoch="ns"
    )
    return {(r["agency"], r["type"], r["channel"], r["field"], int(r["time"])) for r in rows}


def open_deadlines(pipeline: Pipeline, kind: str) -> int:
    """Dossiers InfluxDB lists as currently `kind` (overdue / due_soon): the wall's deadline lists."""
    rows = pipeline.query(f'SELECT count("open") FROM "deadlines" WHERE "kind" = \'{kind}\' AND "open" = 1')
    return int(rows[0]["count"]) if rows else 0


def cli_report(form: str, events: list[dict[str, Any]], tmp: Path, as_of: int) -> dict[str, Any]:
    """`ioc report FORM FILE --period current --as-of AS_OF --json`, as a user runs it (FORM: ii06a, 766)."""
    path = tmp / "events.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, as under `ioc`."""

    report_cli.register(app)
    instant = datetime.fromtimestamp(as_of, VN).isoformat()
    result = CliRunner().invoke(app, ["report", form, str(path), "--period", "current", "--as-of", instant,
                                      "--json"])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document
