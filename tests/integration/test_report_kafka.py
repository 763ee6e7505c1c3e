"""`ioc report ii06a --from-kafka` on the real broker: the events topic created by the worker's
`ensure_topics` keeps its history (retention.ms=-1), and the form read from it equals the form read from
a file of the same events; the bytes a stored event takes on the broker's disk (docs/reports.md)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import typer
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from ioc.commands import report as report_cli
from ioc.devstack.kafka import KafkaBroker
from producers.sdk import EventProducer
from producers.simulator import Simulator, warmup_start
from streams.settings import StreamSettings
from streams.topics import ensure_topics
from tests.support.events import VN

CATALOG = load_catalog()
CALENDAR = WorkingCalendar(CATALOG.calendar)


def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, as under `ioc`."""

    report_cli.register(app)
    return app


def topic_retention(bootstrap: str, topic: str) -> tuple[Any, str]:
    """The topic's own `retention.ms` (None when it has none and the broker's default applies)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ioc-tests")
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    entry = described.get("topic", {}).get(topic, {}).get("retention.ms")  # kafka-python 3's shape
    return (entry.get("value") if isinstance(entry, dict) else entry), repr(described)[:2000]


def test_report_from_kafka_equals_the_file_and_the_topic_keeps_history(
        kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    from datetime import datetime

    name = f"report-events-{uuid.uuid4().hex[:8]}"
    settings = StreamSettings(kafka_bootstrap=kafka_broker.bootstrap, events_topic=name, partitions=3,
                              dlq_topic=f"{name}-dlq", alerts_topic=f"{name}-alerts",
                              ticks_topic=f"{name}-ticks")
    assert ensure_topics(settings) == 3
    retention, raw = topic_retention(kafka_broker.bootstrap, name)
    assert retention == "-1", raw

    start, end = datetime(2026, 3, 16, tzinfo=VN), datetime(2026, 4, 16, tzinfo=VN)
    events = list(Simulator(CATALOG, CALENDAR, 16, warmup_start(CALENDAR, start, 15), end).events())
    with EventProducer(kafka_broker.bootstrap, name, spool=tmp_path / "spool.sqlite", catalog=CATALOG,
                       registry=CollectorRegistry()) as producer:
        for item in events:
            producer.send(item)
        assert producer.flush(120) and producer.spool_depth == 0
    raw_producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    raw_producer.send(name, key=b"x", value=b"not json", partition=0).get(30)  # refused by the stream too
    raw_producer.close()
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")

    runner = CliRunner()
    from_file = runner.invoke(app(), ["report", "ii06a", str(path), "--period", "2026-04", "--json"])
    assert from_file.exit_code == 0, from_file.stderr
    from_kafka = runner.invoke(app(), ["report", "ii06a", "--from-kafka", "--bootstrap",
                                       kafka_broker.bootstrap, "--topic", name, "--period", "2026-04",
                                       "--json"])
    assert from_kafka.exit_code == 1, from_kafka.stderr  # the bad record is reported, the form printed
    assert "partition 0 offset" in from_kafka.stderr and "not valid JSON" in from_kafka.stderr
    assert json.loads(from_kafka.stdout) == json.loads(from_file.stdout)
    assert json.loads(from_kafka.stdout)["total"]["c3"] > 1000

    # the storage a stored event takes (lz4 batches of the SDK's "auto" compression, key and headers)
    assert kafka_broker.data_dir is not None
    logs = [f for p in range(3) for f in (kafka_broker.data_dir / "kraft" / f"{name}-{p}").glob("*.log")]
    on_disk = sum(f.stat().st_size for f in logs)
    json_bytes = path.stat().st_size
    per_event = on_disk / (len(events) + 1)
    print(f"\n{len(events)} events: {json_bytes / len(events):.0f} B/event as JSON lines, "
          f"{per_event:.0f} B/event in the topic's log segments ({on_disk} B)")
    assert 20 < per_event < json_bytes / len(events) * 1.5


def test_missing_topic_is_a_clear_error(kafka_broker: KafkaBroker) -> None:
    result = CliRunner().invoke(app(), ["report", "ii06a", "--from-kafka", "--bootstrap",
                                        kafka_broker.bootstrap, "--topic", f"absent-{uuid.uuid4().hex[:8]}",
                                        "--period", "2026-04"])
    assert result.exit_code == 2
    assert "not found" in result.stderr and "Traceback" not in result.stderr


def test_index766_from_kafka_equals_the_file(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """`ioc report 766 --from-kafka` reads the topic as `ii06a` does (the same reader) and gives the index of
    the same events read from a file; simulated with the 766 facts (syncs, digitised, e-results)."""
    from datetime import datetime

    from producers.simulator import Profile

    name = f"index766-events-{uuid.uuid4().hex[:8]}"
    settings = StreamSettings(kafka_bootstrap=kafka_broker.bootstrap, events_topic=name, partitions=3,
                              dlq_topic=f"{name}-dlq", alerts_topic=f"{name}-alerts",
                              ticks_topic=f"{name}-ticks")
    assert ensure_topics(settings) == 3
    start, end = datetime(2026, 3, 30, tzinfo=VN), datetime(2026, 4, 15, tzinfo=VN)
    events = list(Simulator(CATALOG, CALENDAR, 17, warmup_start(CALENDAR, start, 10), end,
                            profile=Profile(index766=True)).events())
    with EventProducer(kafka_broker.bootstrap, name, spool=tmp_path / "spool.sqlite", catalog=CATALOG,
                       registry=CollectorRegistry()) as producer:
        for item in events:
            producer.send(item)
        assert producer.flush(120) and producer.spool_depth == 0
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")

    runner = CliRunner()
    from_file = runner.invoke(app(), ["report", "766", str(path), "--period", "2026-04", "--json"])
    assert from_file.exit_code == 0, from_file.stderr
    from_kafka = runner.invoke(app(), ["report", "766", "--from-kafka", "--bootstrap", kafka_broker.bootstrap,
                                       "--topic", name, "--period", "2026-04", "--json"])
    assert from_kafka.exit_code == 0, from_kafka.stderr
    document = json.loads(from_kafka.stdout)
    assert document == json.loads(from_file.stdout)
    assert document["centre"]["indicators"]["1.4"]["numerator"] > 100
