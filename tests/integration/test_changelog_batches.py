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


class Spy:
    """Wraps the aiokafka producer's `send_batch`: counts the calls and, while `gate` is closed, holds
    them (as aiokafka does when a partition's previous batch has not left yet); the real call follows."""

    def __init__(self, producer: Any) -> None:
        self.aio = producer._ensure_producer()
        self.real = self.aio.send_batch
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.aio.send_batch = self.send_batch

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        self.calls += 1
        await self.gate.wait()
        return await self.real(batch, topic, partition=partition)


async def started(bootstrap: str, name: str) -> tuple[Any, list[asyncio.Future[Any]], Any]:
    """Faust's producer on the real broker, patched as the worker's is; the deliveries kept for commits."""
    app: Any = faust.App(name, broker=f"kafka://{bootstrap}", store="memory://", web_enabled=False)
    producer = app.producer
    kept: list[asyncio.Future[Any]] = []
    keep = faust_compat.deliver_before_commit(producer)

    def keep_and_list(future: asyncio.Future[Any]) -> None:
        kept.append(future)
        keep(future)

    await producer.start()
    return producer, kept, keep_and_list


async def write_and_commit(bootstrap: str, topic: str) -> tuple[FakeTable, list[asyncio.Future[Any]], int]:
    """Writes in two partitions (large values: several batches), one deletion, one send; then the commit's
    flush. Returns the table, the deliveries kept for commits and the batches handed to aiokafka."""
    producer, kept, keep = await started(bootstrap, "changelog-batches")
    try:
        spy = Spy(producer)
        table = FakeTable(topic)
        store = BatchedChangelog(table, producer, keep)
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
        return table, kept, spy.calls
    finally:
        await producer.stop()


def test_each_write_reaches_its_partition_in_order_and_the_commit_waits_for_every_batch(
    kafka_broker: KafkaBroker, kafka_topic: TopicFactory
) -> None:
    topic = kafka_topic(partitions=PARTITIONS)
    table, kept, batches = asyncio.run(write_and_commit(kafka_broker.bootstrap, topic))
    assert batches > 2 * PARTITIONS
    assert len(kept) == 1 and kept[0].done() and kept[0].exception() is None  # one per send, delivered
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


async def flush_during_a_held_send(bootstrap: str, topic: str) -> tuple[bool, bool]:
    """A send held before its batch reaches aiokafka, and a commit's flush begun meanwhile: whether the
    flush was still waiting after 0.3 s, and whether it returned once the send went through."""
    producer, _, keep = await started(bootstrap, "changelog-held")
    try:
        spy = Spy(producer)
        table = FakeTable(topic)
        store = BatchedChangelog(table, producer, keep)
        store["dossier-0-1"] = b"state"
        spy.gate.clear()
        sending = asyncio.ensure_future(store.send())
        await asyncio.sleep(0.05)  # the send now waits at the gate, its record not handed over
        flushing = asyncio.ensure_future(producer.flush())
        await asyncio.sleep(0.3)
        waited = not flushing.done()
        spy.gate.set()
        await sending
        await asyncio.wait_for(flushing, 30)
        return waited, flushing.exception() is None
    finally:
        await producer.stop()


def test_a_commit_begun_while_a_send_waits_waits_for_that_send(
    kafka_broker: KafkaBroker, kafka_topic: TopicFactory
) -> None:
    """A rebalance's commit can run while a save's changelog batch waits to be handed over: that commit
    must not go ahead of it (its offsets' states would reach the changelog after the revocation)."""
    topic = kafka_topic(partitions=PARTITIONS)
    waited, returned = asyncio.run(flush_during_a_held_send(kafka_broker.bootstrap, topic))
    assert waited and returned
    assert read_back(kafka_broker.bootstrap, topic)[0] == [(b"dossier-0-1", b"state")]
