"""The dossier table written with its changelog records sent in batches (bản ghi thay đổi của bảng):
one Kafka record batch per changelog partition per save, instead of Faust's path for each record.

A Faust table write (`Table.__setitem__`, faust-streaming 0.15.3) sends its changelog record through
`Topic.send_soon`: a `FutureMessage` and a `PendingMessage` per record, the producer buffer's queue, its
task's `publish_message`, aiokafka's `send` and the accumulator, then Faust's callbacks. Measured in the
worker, that path cost about 20 µs of CPU per record, close to a third of the worker's time, and the
worker writes about one record per event (one per dossier per batch; docs/benchmarks.md, issue 19).
Here a save writes the table's store directly and `send` hands each partition's records to aiokafka as
one batch (`AIOKafkaProducer.create_batch`, `send_batch`): the same records, keys, values and partitions
as Faust's path, so recovery reads the changelog as before.

What Faust's path did besides sending, kept here: the record goes to the partition of the record being
processed (`Table.partition_for_key`, from the current event: `faust_compat.partition_context`); the
commit of offsets waits for the batch's delivery (`faust_compat.deliver_before_commit`: the `keep` it
returns); a RocksDB store learns the changelog offset it holds once the batch is delivered (Faust's
`Table._on_changelog_sent`, at-least-once). Exactly-once processing (Faust's transactions) is not
supported by the worker (`StreamSettings.processing_guarantee`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from streams import faust_compat

TABLE_INTERNALS = ("data", "partition_for_key", "changelog_topic")
"""What this module reads of the Faust table (faust-streaming 0.15.3); `data` is its store."""
PRODUCER_INTERNALS = ("_ensure_producer",)
"""What it reads of Faust's producer: the aiokafka producer it wraps."""


class BatchedChangelog(MutableMapping[str, bytes]):
    """The worker's table as a mapping: reads and writes go to the table's store at once; the changelog
    records of the writes wait for `send`, which the checkpoint awaits before acknowledging the records
    they stand for."""

    def __init__(self, table: Any, producer: Any, keep: Callable[[asyncio.Future[Any]], None]):
        faust_compat.require_internals(table, TABLE_INTERNALS, "table")
        faust_compat.require_internals(producer, PRODUCER_INTERNALS, "producer")
        faust_compat.require_internals(table.data, ("set_persisted_offset",), "table's store")
        self.table = table
        self.store: Any = table.data
        self.producer = producer
        self.keep = keep
        self.unsent: dict[int, list[tuple[bytes, bytes | None]]] = {}
        """Changelog partition -> the records written since the last `send`, in order."""

    # -- the mapping: the table's store ----------------------------------------------------------

    def __getitem__(self, key: str) -> bytes:
        value: bytes = self.store[key]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        return self.store.get(key, default)

    def __setitem__(self, key: str, value: bytes) -> None:
        partition = self.table.partition_for_key(key)  # raises outside a partition's context
        self.store[key] = value
        self.unsent.setdefault(partition, []).append((key.encode("utf-8"), value))

    def __delitem__(self, key: str) -> None:
        partition = self.table.partition_for_key(key)
        del self.store[key]
        self.unsent.setdefault(partition, []).append((key.encode("utf-8"), None))  # a tombstone

    def __iter__(self) -> Iterator[str]:
        return iter(self.store)

    def __len__(self) -> int:
        return len(self.store)

    def items(self) -> Any:
        """The store's own items (a RocksDB store reads its databases in order, not key by key)."""
        return self.store.items()

    # -- the changelog ---------------------------------------------------------------------------

    async def send(self) -> None:
        """Hand the records written since the last call to the producer, one batch per partition (more
        when one is full). Handing a batch over may wait (aiokafka keeps one batch per partition waiting
        to leave), and a commit or a rebalance may run meanwhile: so the call's delivery is kept for the
        commits before anything is awaited, and it is done only once every batch of the call is."""
        if not self.unsent:
            return
        unsent, self.unsent = self.unsent, {}
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.keep(delivered)  # a commit whose flush begins from now on waits for this whole call
        batches: list[asyncio.Future[Any]] = []
        try:
            aio = self.producer._ensure_producer()
            topic = self.table.changelog_topic.get_topic_name()
            for partition, records in unsent.items():
                batch, count = aio.create_batch(), 0
                for key, value in records:
                    if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it
                        batches.append(await self._send(aio, batch, topic, partition, count))
                        batch, count = aio.create_batch(), 0
                        if batch.append(key=key, value=value, timestamp=None) is None:
                            raise ValueError(f"a changelog record of {len(value or b'')} bytes does not fit "
                                             "in a producer batch (max_batch_size)")
                    count += 1
                batches.append(await self._send(aio, batch, topic, partition, count))
        except BaseException as exc:
            delivered.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
            raise
        asyncio.gather(*batches).add_done_callback(lambda done: _settle(delivered, done))

    async def _send(self, aio: Any, batch: Any, topic: str, partition: int, count: int
                    ) -> asyncio.Future[Any]:
        delivery: asyncio.Future[Any] = await aio.send_batch(batch, topic, partition=partition)
        delivery.add_done_callback(lambda done: self._persisted(done, count))
        return delivery

    def _persisted(self, delivery: asyncio.Future[Any], count: int) -> None:
        """The store's note of the changelog offset it holds (RocksDB reads it at recovery; the memory
        store ignores it), as Faust's `Table._on_changelog_sent` does for each record."""
        if delivery.cancelled() or delivery.exception() is not None:
            return  # the commit raises for it (`keep`); nothing is persisted past it
        sent = delivery.result()
        self.store.set_persisted_offset(sent.topic_partition, sent.offset + count - 1)


def _settle(delivered: asyncio.Future[None], batches: asyncio.Future[Any]) -> None:
    """`delivered` done as the gathered batches are: with the first error, if any."""
    if batches.cancelled():
        delivered.set_exception(RuntimeError("a changelog batch was cancelled before Kafka had it"))
    elif (error := batches.exception()) is not None:
        delivered.set_exception(error)
    else:
        delivered.set_result(None)
