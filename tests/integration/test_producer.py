"""The producer SDK and `ioc produce` against a real Kafka broker (no mocks).

The broker-outage tests stop and start a broker of their own: the session broker is shared with
other tests and must stay up. The SDK's tests run once per Kafka client (kafka-python, librdkafka): the
spool, order and callbacks must hold whichever client sends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from kafka.partitioner.default import murmur2
from prometheus_client import CollectorRegistry

from dossiers.catalog import load_catalog
from dossiers.events import parse_event
from ioc.devstack.kafka import KafkaBroker
from ioc.devstack.proc import DevstackError
from producers.clients import CLIENTS, LIBRDKAFKA
from producers.sdk import DurableBatch, EventProducer
from tests.support import stack as testing

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
AGENCY = CATALOG.agencies[0]
PROCEDURE = AGENCY.procedures[0]


@pytest.fixture(autouse=True)
def _no_inherited_spool(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's IOC_SPOOL_PATH must not leak into (or be emptied by) a test."""
    monkeypatch.delenv("IOC_SPOOL_PATH", raising=False)


def event(i: int, dossiers: int = 10, run: str = "") -> dict[str, Any]:
    """Event i of a run: dossier i % dossiers, all `received`-shaped so that each is valid on its own."""
    return {
        "event_id": f"{run}e-{i:05d}",
        "schema": "dossier-event/1",
        "type": "received",
        "occurred_at": "2026-03-02T08:15:00+07:00",
        "dossier": f"000.00.12.H48-260302-{i % dossiers:04d}",
        "agency": AGENCY.code,
        "procedure": PROCEDURE.code,
        "channel": PROCEDURE.channels[0],
    }


def consume(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Any]:
    """Read the topic from the start until `expected` records arrived (or the timeout)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        # a little longer, to see duplicates or strays beyond the expected count
        extra_deadline = time.monotonic() + 1.0
        while time.monotonic() < extra_deadline:
            for part in consumer.poll(timeout_ms=200).values():
                records.extend(part)
    finally:
        consumer.close()
    return records


def first_occurrences(records: list[Any]) -> list[Any]:
    """What the stream keeps after deduplicating by event_id (first occurrence wins)."""
    seen: set[str] = set()
    kept = []
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event_id = json.loads(record.value)["event_id"]
        if event_id not in seen:
            seen.add(event_id)
            kept.append(record)
    return kept


def assert_per_dossier_order(records: list[Any], sent: list[dict[str, Any]]) -> None:
    expected: dict[str, list[str]] = defaultdict(list)
    for e in sent:
        expected[e["dossier"]].append(e["event_id"])
    got: dict[str, list[str]] = defaultdict(list)
    for record in first_occurrences(records):
        got[record.key.decode()].append(json.loads(record.value)["event_id"])
    assert got == expected


def assert_delivered_in_order(bootstrap: str, topic: str, sent: list[dict[str, Any]]) -> None:
    """Every sent event is on the topic (duplicates allowed), each dossier's in the order sent."""
    records = consume(bootstrap, topic, len(sent))
    assert {json.loads(r.value)["event_id"] for r in records} == {e["event_id"] for e in sent}
    assert_per_dossier_order(records, sent)


@pytest.fixture
def delivered() -> Iterator[dict[str, Any]]:
    """An on_delivery callback that records results by event_id."""
    results: dict[str, Any] = {"ok": [], "failed": [], "lock": threading.Lock()}

    def on_delivery(event_id: str, metadata: Any, exc: BaseException | None) -> None:
        with results["lock"]:
            results["ok" if exc is None else "failed"].append((event_id, metadata, exc))

    results["callback"] = on_delivery
    yield results


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> str:
    """The SDK's Kafka client under test; librdkafka is installed by the test command (scripts/setup)."""
    name = str(request.param)
    if name == LIBRDKAFKA:
        testing.require_librdkafka()
    return name


def java_partition(key: bytes, partitions: int) -> int:
    """The Java client's partition of a keyed record (murmur2), which both SDK clients must use."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


# -- on the session broker ------------------------------------------------------------------------------
def test_n_events_in_n_events_out_keyed_by_dossier(
    kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], tmp_path: Path, delivered: dict[str, Any],
    client: str,
) -> None:
    topic = kafka_topic(partitions=6)
    sent = [event(i, dossiers=25) for i in range(400)]
    registry = CollectorRegistry()
    with EventProducer(kafka_broker.bootstrap, topic, spool=tmp_path / "spool.sqlite", catalog=CATALOG,
                       agency_identity=AGENCY.code, on_delivery=delivered["callback"],
                       registry=registry, client=client) as producer:
        assert producer.connected
        for e in sent:
            producer.send(e)
        assert producer.flush(60)
        assert producer.spool_depth == 0
    assert len(delivered["ok"]) == 400 and not delivered["failed"]
    assert {event_id for event_id, _, _ in delivered["ok"]} == {e["event_id"] for e in sent}
    reported = {(m.topic, m.partition) for _, m, _ in delivered["ok"]}
    assert {t for t, _ in reported} == {topic} and all(0 <= p < 6 for _, p in reported)

    records = consume(kafka_broker.bootstrap, topic, 400)
    assert len(records) == 400
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    for record in records:
        payload = parse_event(record.value)
        assert record.key == payload.dossier.encode("utf-8")
        assert record.value == payload.to_json().encode("utf-8")  # canonical JSON
        assert dict(record.headers) == {"ioc-agency": AGENCY.code.encode(), "ioc-schema": b"dossier-event/1"}
        partition_of[record.key].add(record.partition)
        assert record.partition == java_partition(record.key, 6), "the Java client's murmur2 mapping"
    assert all(len(parts) == 1 for parts in partition_of.values()), "same key, same partition"
    assert len({p for parts in partition_of.values() for p in parts}) > 1, "keys spread over partitions"
    assert_per_dossier_order(records, sent)
    assert registry.get_sample_value("ioc_producer_events_sent_total", {"agency": AGENCY.code}) == 400
    assert not registry.get_sample_value("ioc_producer_events_spooled_total", {"agency": AGENCY.code})
    assert (registry.get_sample_value("ioc_producer_send_latency_seconds_count") or 0) == 400


def test_send_durable_many_settles_each_event_once_kafka_has_it(
    kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], tmp_path: Path, client: str,
) -> None:
    """The gateway's door: every event of a batch says "kafka" only after acks=all; one on_done."""
    topic = kafka_topic(partitions=6)
    raw = [event(i, dossiers=25, run="many-") for i in range(1_000)]
    events = [parse_event(e) for e in raw]
    done = threading.Event()
    calls: list[int] = []

    def on_done(batch: DurableBatch) -> None:
        calls.append(len(batch.outcomes))
        done.set()

    with EventProducer(kafka_broker.bootstrap, topic, spool=tmp_path / "spool.sqlite",
                       registry=CollectorRegistry(), client=client) as producer:
        first = producer.send_durable_many(events[:500], AGENCY.code, on_done)
        second = producer.send_durable_many(events[500:], AGENCY.code)
        assert done.wait(30), "the batch never settled"
        deadline = time.monotonic() + 30
        while not second.done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls == [500]
        assert first.outcomes == ["kafka"] * 500 and second.outcomes == ["kafka"] * 500
        assert producer.spool_depth == 0
    records = consume(kafka_broker.bootstrap, topic, 1_000)
    assert sorted(json.loads(r.value)["event_id"] for r in records) == sorted(e.event_id for e in events)
    assert all(dict(r.headers)["ioc-agency"] == AGENCY.code.encode() for r in records)
    assert_per_dossier_order(records, raw)


def test_produce_cli_sends_valid_lines_and_reports_the_bad_one(
    kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = kafka_topic(partitions=3)
    path = tmp_path / "events.jsonl"
    rows = [event(i, run="cli-") for i in range(5)]
    rows[2] = {**rows[2], "citizen_name": "Nguyễn Văn A"}
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    result = run_cli(path, kafka_broker.bootstrap, topic, tmp_path / "spool.sqlite")
    assert result.returncode == 1, result.stderr
    assert "line 3: citizen_name: is not a field of the contract" in result.stderr
    assert "sent 4, spooled 0, invalid 1" in result.stdout
    got = {json.loads(r.value)["event_id"] for r in consume(kafka_broker.bootstrap, topic, 4)}
    assert got == {r["event_id"] for i, r in enumerate(rows) if i != 2}


def run_cli(source: Path, bootstrap: str, topic: str, spool: Path, *extra: str,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`ioc produce` in its own process, as an operator would run it."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("IOC_SPOOL_PATH", None)
    return subprocess.run(
        [sys.executable, "-m", "ioc.cli", "produce", str(source), "--bootstrap", bootstrap, "--topic", topic,
         "--spool", str(spool), *extra],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout, check=False,
    )


# -- on a broker of our own, stopped and started ----------------------------------------------------------
@pytest.fixture(scope="module")
def own_broker() -> Iterator[KafkaBroker]:
    """A broker these tests may stop; always left running between tests and closed at the end."""
    broker = KafkaBroker(partitions=3)
    try:
        broker.start()
    except DevstackError as exc:
        broker.close()
        testing.component_unavailable("kafka", exc)
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def running_own_broker(own_broker: KafkaBroker) -> Iterator[KafkaBroker]:
    own_broker.start()
    try:
        yield own_broker
    finally:
        own_broker.start()  # restore, whatever the test did


def create_topic(bootstrap: str, partitions: int = 3) -> str:
    name = f"producer-test-{uuid.uuid4().hex[:10]}"
    testing.create_topic(bootstrap, name, partitions)
    return name


def wait_until(condition: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)


@pytest.mark.slow
def test_broker_down_mid_run_spools_then_delivers_everything(
    running_own_broker: KafkaBroker, tmp_path: Path, delivered: dict[str, Any], client: str
) -> None:
    broker = running_own_broker
    topic = create_topic(broker.bootstrap)
    registry = CollectorRegistry()
    sent = [event(i, dossiers=7, run="outage-") for i in range(300)]
    producer = EventProducer(broker.bootstrap, topic, spool=tmp_path / "spool.sqlite", catalog=CATALOG,
                             on_delivery=delivered["callback"], registry=registry, linger_ms=5,
                             delivery_timeout_ms=4000, request_timeout_ms=1500, max_block_ms=3000,
                             connect_timeout_s=2, retry_backoff_s=(0.2, 2.0), client=client)
    try:
        for e in sent[:100]:
            producer.send(e)
        assert producer.flush(60)

        broker.stop()
        for e in sent[100:200]:
            producer.send(e)
        wait_until(lambda: producer.spool_depth > 0, 30, "sends to a stopped broker were never spooled")
        for e in sent[200:]:
            producer.send(e)  # behind the spooled ones: the spool is not empty
        # nothing sent after the stop can be delivered: all 200 end up in the spool
        wait_until(lambda: producer.spool_depth == 200, 30, f"spool depth {producer.spool_depth}, not 200")
        depth = registry.get_sample_value("ioc_producer_spool_depth", {"agency": "any"})
        assert depth == producer.spool_depth
        assert registry.get_sample_value("ioc_producer_events_failed_total", {"agency": AGENCY.code})
        assert producer.flush(1.0) is False

        broker.start()
        assert producer.flush(120), f"spool still holds {producer.spool_depth} event(s)"
        assert producer.spool_depth == 0
    finally:
        producer.close(30)

    records = consume(broker.bootstrap, topic, 300, timeout=60)
    ids = [json.loads(r.value)["event_id"] for r in records]
    assert set(ids) == {e["event_id"] for e in sent}, "every event at least once, nothing else"
    assert len(ids) >= 300
    assert_per_dossier_order(records, sent)
    assert {event_id for event_id, _, exc in delivered["ok"]} == {e["event_id"] for e in sent}
    spooled = registry.get_sample_value("ioc_producer_events_spooled_total", {"agency": AGENCY.code}) or 0
    assert spooled >= 100


@pytest.mark.slow
def test_producer_started_while_broker_is_down_connects_later_and_drains(
    running_own_broker: KafkaBroker, tmp_path: Path, client: str
) -> None:
    broker = running_own_broker
    topic = create_topic(broker.bootstrap)
    sent = [event(i, dossiers=3, run="late-") for i in range(40)]
    broker.stop()
    started = time.monotonic()
    producer = EventProducer(broker.bootstrap, topic, spool=tmp_path / "spool.sqlite", catalog=CATALOG,
                             registry=CollectorRegistry(), connect_timeout_s=1, retry_backoff_s=(0.2, 1.0),
                             client=client)
    try:
        assert not producer.connected
        for e in sent:
            producer.send(e)
        assert time.monotonic() - started < 10, "a producer must start and accept events with the broker down"
        assert producer.spool_depth == 40
        broker.start()
        assert producer.flush(120)
        assert producer.connected and producer.spool_depth == 0
    finally:
        producer.close(30)
    assert_delivered_in_order(broker.bootstrap, topic, sent)


@pytest.mark.slow
def test_producer_started_while_broker_is_down_then_restarted_resends_spool(
    running_own_broker: KafkaBroker, tmp_path: Path, client: str
) -> None:
    broker = running_own_broker
    topic = create_topic(broker.bootstrap)
    spool = tmp_path / "agency-spool.sqlite"
    first = tmp_path / "first.jsonl"
    second = tmp_path / "second.jsonl"
    first_events = [event(i, run="restart-a-") for i in range(50)]
    second_events = [event(i, run="restart-b-") for i in range(50, 60)]
    first.write_text("\n".join(json.dumps(e) for e in first_events), encoding="utf-8")
    second.write_text("\n".join(json.dumps(e) for e in second_events), encoding="utf-8")

    broker.stop()
    down = run_cli(first, broker.bootstrap, topic, spool, "--timeout", "1", "--client", client)
    assert down.returncode == 0, down.stderr
    assert "unreachable" in down.stderr
    assert "sent 0, spooled 50, invalid 0" in down.stdout

    broker.start()
    up = run_cli(second, broker.bootstrap, topic, spool, "--timeout", "60", "--client", client)
    assert up.returncode == 0, up.stderr
    assert "sent 60, spooled 0, invalid 0" in up.stdout  # the 50 from the spool first, then the 10 new

    assert_delivered_in_order(broker.bootstrap, topic, first_events + second_events)


@pytest.mark.slow
def test_closing_while_the_broker_is_down_keeps_every_event_for_the_next_run(
    running_own_broker: KafkaBroker, tmp_path: Path, client: str
) -> None:
    """A process that stops during an outage: what the client still held is spooled, not dropped."""
    broker = running_own_broker
    topic = create_topic(broker.bootstrap)
    spool = tmp_path / "spool.sqlite"
    sent = [event(i, dossiers=4, run=f"close-{client}-") for i in range(60)]
    options: dict[str, Any] = dict(spool=spool, catalog=CATALOG, registry=CollectorRegistry(), client=client,
                                   connect_timeout_s=2, retry_backoff_s=(0.2, 1.0))
    first = EventProducer(broker.bootstrap, topic, **options)
    assert first.connected
    broker.stop()
    for e in sent:
        first.send(e)  # the client takes them: its delivery timeout (30 s) has not run out
    assert first.close(2) is False, "nothing can have been delivered"
    second = EventProducer(broker.bootstrap, topic, **options)
    try:
        assert second.spool_depth == 60, "every event the first process held is in the spool"
        broker.start()
        assert second.flush(120)
    finally:
        second.close(30)
    assert_delivered_in_order(broker.bootstrap, topic, sent)


@pytest.mark.slow
def test_a_batch_the_client_refuses_goes_to_the_spool_without_blocking_on_every_event(
    running_own_broker: KafkaBroker, tmp_path: Path, client: str
) -> None:
    """Broker down and the client unable to take a record (librdkafka: its queue full; kafka-python: no
    metadata yet for the topic): it blocks max_block_ms and refuses it; the rest of the gateway's batch
    follows it into the spool at once, in order, and all of it arrives."""
    broker = running_own_broker
    topic = create_topic(broker.bootstrap)
    raw = [event(i, dossiers=5, run=f"refused-{client}-") for i in range(200)]
    events = [parse_event(e) for e in raw]
    small: dict[str, Any] = {"queue.buffering.max.messages": 10} if client == LIBRDKAFKA else {}
    producer = EventProducer(broker.bootstrap, topic, spool=tmp_path / "spool.sqlite",
                             registry=CollectorRegistry(), client=client, max_block_ms=500,
                             delivery_timeout_ms=4000, request_timeout_ms=1500, connect_timeout_s=2,
                             retry_backoff_s=(0.2, 1.0), **small)
    try:
        assert producer.connected
        broker.stop()
        started = time.monotonic()
        batch = producer.send_durable_many(events, AGENCY.code)
        took = time.monotonic() - started
        # one refusal costs max_block_ms (0.5 s); one per event of the batch would cost over a minute
        assert took < 10, f"send_durable_many blocked {took:.1f} s"
        assert producer.spool_depth > 150, "the refused record and the rest of the batch are spooled"
        wait_until(lambda: batch.done, 60, "the batch never settled")
        assert set(batch.outcomes) <= {"spool", "kafka"} and "spool" in batch.outcomes
        broker.start()
        assert producer.flush(120), f"spool still holds {producer.spool_depth} event(s)"
    finally:
        producer.close(30)
    assert_delivered_in_order(broker.bootstrap, topic, raw)
