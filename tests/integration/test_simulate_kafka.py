"""`ioc simulate --kafka` and `run_simulation` against the session's real Kafka broker.

What the stream relies on: every simulated event arrives once, keyed by its dossier code, so all the
events of a dossier share a partition and keep their order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from ioc.devstack.kafka import KafkaBroker
from producers.pacing import run_simulation
from producers.sdk import EventProducer
from producers.simulator import Simulator
from tests.support.stack import TopicFactory

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CATALOG = load_catalog()
CALENDAR = WorkingCalendar(CATALOG.calendar)


@pytest.fixture(autouse=True)
def _no_inherited_spool(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's IOC_SPOOL_PATH must not leak into (or be emptied by) a test."""
    monkeypatch.delenv("IOC_SPOOL_PATH", raising=False)


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Any]:
    """Every record of the topic from the beginning, waiting up to `timeout` for `expected` of them,
    then a little longer to see any extra (duplicates) beyond them."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])
        consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def check_keyed_and_ordered(records: list[Any], sent: list[dict[str, Any]]) -> None:
    """Same events, key = dossier code, each dossier on one partition in the order it was sent."""
    assert len(records) == len(sent)
    by_id = {e["event_id"]: e for e in sent}
    partitions: dict[str, set[int]] = defaultdict(set)
    got: dict[str, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        value = json.loads(record.value)
        assert record.key.decode() == value["dossier"]
        assert value == by_id[value["event_id"]]
        partitions[value["dossier"]].add(record.partition)
        got[value["dossier"]].append(value["event_id"])
    expected: dict[str, list[str]] = defaultdict(list)
    for event in sent:
        expected[event["dossier"]].append(event["event_id"])
    assert got == expected
    assert all(len(p) == 1 for p in partitions.values())
    assert len({p for ps in partitions.values() for p in ps}) > 1  # spread over the partitions


def test_run_simulation_sends_a_day_keyed_by_dossier(
    kafka_broker: KafkaBroker, kafka_topic: TopicFactory, tmp_path: Path
) -> None:
    topic = kafka_topic(partitions=6, prefix="simulate")
    start = datetime(2026, 3, 2, 7, tzinfo=TZ)
    expected = list(Simulator(CATALOG, CALENDAR, 11, start, datetime(2026, 3, 3, tzinfo=TZ)).events())
    sent: list[dict[str, Any]] = []

    class Recording:
        """The producer, plus a copy of what went through it."""

        def __init__(self, producer: EventProducer) -> None:
            self.producer = producer

        def send(self, event: dict[str, Any]) -> None:
            self.producer.send(event)
            sent.append(json.loads(json.dumps(event)))

    with EventProducer(kafka_broker.bootstrap, topic, spool=tmp_path / "spool.sqlite", catalog=CATALOG,
                       registry=CollectorRegistry(), client_id="test-simulator") as producer:
        assert producer.connected
        summary = run_simulation(Simulator(CATALOG, CALENDAR, 11, start, datetime(2026, 3, 3, tzinfo=TZ)),
                                 Recording(producer))
        assert producer.flush(60) and producer.spool_depth == 0
    assert summary.events == len(sent) == len(expected) > 1000
    assert sent == expected
    check_keyed_and_ordered(consume_all(kafka_broker.bootstrap, topic, len(sent)), sent)


def test_ioc_simulate_kafka_sends_the_same_events_as_the_file_output(
    kafka_broker: KafkaBroker, kafka_topic: TopicFactory, tmp_path: Path
) -> None:
    topic = kafka_topic(partitions=6, prefix="simulate-cli")
    common = ["--start", "2026-03-02", "--days", "1", "--warmup-days", "3", "--seed", "5"]
    env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": kafka_broker.bootstrap, "IOC_EVENTS_TOPIC": topic}
    cli = [sys.executable, "-m", "ioc.cli", "simulate", *common]
    reference = subprocess.run([*cli, "--out", str(tmp_path / "day.jsonl")], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
    assert reference.returncode == 0, reference.stderr
    sent = [json.loads(line) for line in (tmp_path / "day.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(sent) > 1000

    run = subprocess.run([*cli, "--kafka", "--spool", str(tmp_path / "spool.sqlite")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""  # --kafka without --out writes nothing to stdout
    assert f"{len(sent):,}" in run.stderr  # the summary's total
    check_keyed_and_ordered(consume_all(kafka_broker.bootstrap, topic, len(sent)), sent)
