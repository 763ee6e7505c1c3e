"""The dossier table's changelog sent in batches (`streams.changelog.BatchedChangelog`), on the real broker:
each write reaches the changelog partition of the record being processed, in order, a deletion as a
tombstone, however many batches it takes; the commit's flush waits for every batch; a RocksDB store is
told the last offset it holds.

The Faust table is a named fake (`FakeTable`: the three things the class reads of it); the producer is
Faust's, started on the real broker, and the records are read back from Kafka."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from kafka import KafkaConsumer, TopicPartition

from ioc.devstack.kafka import KafkaBroker
from streams import faust_compat
from streams.changelog import BatchedChangelog
from tests.support.stack import TopicFactory

PARTITIONS = 2


class FakeStore(dict[str, bytes]):
    """A fake of Faust's store: a dict that records the offsets it is told it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.persisted: dict[int, int] = {}

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        self.persisted[tp.partition] = offset


class FakeTopic:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_topic_name(self) -> str:
        return self.name


class FakeTable:
    """A fake of the Faust table: its store, the partition of the record being processed, its changelog."""

    def __init__(self, topic: str) -> None:
        self.data = FakeStore()
        self.changelog_topic = FakeTopic(topic)
        self.current = 0

    def partition_for_key(self, key: Any) -> int:
        return self.current


def read_back(bootstrap: str, topic: str) -> dict[int, list[tuple[bytes, bytes | None]]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        found: dict[int, list[tuple[bytes, bytes | None]]] = {p: [] for p in range(PARTITIONS)}
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for tp, records in consumer.poll(timeout_ms=500).items():
                found[tp.partition].extend((r.key, r.value) for r in records)
        return found
    finally:
        consumer.close()


async def write_and_commit(bootstrap: str, topic: str) -> tuple[FakeTable, int, int]:
    """Writes in two partitions (large values: several batches), one deletion, one send; then the commit's
    flush. Returns the table, the kept deliveries not done when the flush returned, and those kept."""
    app: Any = faust.App("changelog-batches", broker=f"kafka://{bootstrap}", store="memory://",
                         web_enabled=False)
    producer = app.producer
    kept: list[asyncio.Future[Any]] = []
    keep = faust_compat.deliver_before_commit(producer)

    def keep_and_count(future: asyncio.Future[Any]) -> None:
        kept.append(future)
        keep(future)

    await producer.start()
    try:
        table = FakeTable(topic)
        store = BatchedChangelog(table, producer, keep_and_count)
        for i in range(60):  # 60 x 1 KiB per partition: more than one producer batch (16 KiB)
            for partition in range(PARTITIONS):
                table.current = partition
                store[f"dossier-{partition}-{i % 40}"] = b"%d:%d:" % (partition, i) + b"s" * 1024
        table.current = 1
        del store["dossier-1-0"]
        assert store.get("dossier-1-0") is None and store["dossier-0-0"].startswith(b"0:40:")
        assert len(store) == 79 and dict(store.items()) == dict(table.data)
        await store.send()
        await store.send()  # nothing new: nothing sent
        await producer.flush()  # what a commit of offsets runs first
        return table, sum(not future.done() for future in kept), len(kept)
    finally:
        await producer.stop()


def test_each_write_reaches_its_partition_in_order_and_the_commit_waits_for_every_batch(
    kafka_broker: KafkaBroker, kafka_topic: TopicFactory
) -> None:
    topic = kafka_topic(partitions=PARTITIONS)
    table, undelivered, batches = asyncio.run(write_and_commit(kafka_broker.bootstrap, topic))
    assert batches > 2 * PARTITIONS and undelivered == 0
    found = read_back(kafka_broker.bootstrap, topic)
    for partition in range(PARTITIONS):
        expected: list[tuple[bytes, bytes | None]] = [
            (f"dossier-{partition}-{i % 40}".encode(), b"%d:%d:" % (partition, i) + b"s" * 1024)
            for i in range(60)
        ]
        if partition == 1:
            expected.append((b"dossier-1-0", None))
        assert found[partition] == expected
        assert table.data.persisted[partition] == len(expected) - 1  # the last offset of a fresh topic
