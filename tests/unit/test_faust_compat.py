"""The Faust workarounds (streams/faust_compat.py): what each patch does, on fakes and on the installed
Faust, and the start-up check of the faust-streaming version they were tested with."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import faust
import pytest

from streams import faust_compat
from streams.changelog import BatchedChangelog
from streams.faust_compat import TESTED_FAUST, check_faust, faust_version_problem


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class FakeConsumer:
    """Test double of Faust's consumer: committed offsets, earliest offsets, seeks and the flow."""

    committed: dict[TP, int]
    earliest: dict[TP, int]
    seeks: list[tuple[TP, int]] = field(default_factory=list)
    flow_active: bool = True
    flow_during_seek: list[bool] = field(default_factory=list)
    fail_seek: bool = False
    stopped: int = 0

    async def seek_to_committed(self) -> dict[TP, int]:
        return dict(self.committed)

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.earliest[tp] for tp in tps}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def perform_seek(self) -> None:
        self.flow_during_seek.append(self.flow_active)
        if self.fail_seek:
            raise RuntimeError("seek failed")

    def stop_flow(self) -> None:
        self.flow_active = False
        self.stopped += 1

    def resume_flow(self) -> None:
        self.flow_active = True


def test_the_installed_faust_streaming_is_the_one_the_workarounds_were_tested_with() -> None:
    """Fails on an upgrade: run the two-worker, slow-seek and fault tests, then widen TESTED_FAUST."""
    assert faust_version_problem(version("faust-streaming")) is None


@pytest.mark.parametrize("installed", ["0.15.2", "0.16.0", "1.0.0", "0.14.9"])
def test_a_version_outside_the_tested_range_is_named_with_what_to_do(installed: str) -> None:
    problem = faust_version_problem(installed)
    low = TESTED_FAUST[0]
    assert problem is not None and installed in problem and "test_stream_pipeline.py" in problem
    assert ".".join(map(str, low)) in problem


def test_the_edges_of_the_tested_range_are_accepted() -> None:
    for edge in TESTED_FAUST:
        assert faust_version_problem(".".join(map(str, edge))) is None


def test_an_untested_version_is_a_loud_warning_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="streams.faust_compat")
    check_faust("0.16.1")
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "UNTESTED FAUST VERSION" in record.getMessage()
    caplog.clear()
    check_faust(".".join(map(str, TESTED_FAUST[0])))
    assert caplog.records == []


def test_partitions_without_a_committed_offset_are_sought_to_their_earliest() -> None:
    fresh, committed, other = TP("events", 0), TP("events", 1), TP("elsewhere", 0)
    consumer = FakeConsumer({fresh: 0, committed: 42, other: 0}, {fresh: 7, committed: 3, other: 9})
    faust_compat.seek_uncommitted_to_earliest(consumer, {"events", "ticks"})
    result = asyncio.run(consumer.seek_to_committed())
    assert consumer.seeks == [(fresh, 7)]
    assert result == {fresh: 7, committed: 42, other: 0}


def test_the_flow_is_stopped_for_the_seek_and_resumed_only_if_the_seek_fails() -> None:
    consumer = FakeConsumer({}, {})
    faust_compat.hold_flow_while_seeking(consumer)
    asyncio.run(consumer.perform_seek())
    assert consumer.flow_during_seek == [False]
    assert consumer.flow_active is False  # Faust's callers resume the flow after the seek
    consumer.flow_active, consumer.fail_seek = True, True
    with pytest.raises(RuntimeError, match="seek failed"):
        asyncio.run(consumer.perform_seek())
    assert consumer.flow_active is True


def test_a_faust_without_the_patched_internals_fails_loudly_at_start_up() -> None:
    class Renamed:
        async def seek_to_committed(self) -> dict[Any, int]:
            return {}

    with pytest.raises(RuntimeError, match="perform_seek"):
        faust_compat.patch_consumer(Renamed(), {"events"})
    with pytest.raises(RuntimeError, match="_new_changelog_topic"):
        faust_compat.use_raw_changelog(object())


def test_the_patches_apply_to_the_installed_faust() -> None:
    """The consumer and table internals the patches use exist on this faust-streaming, and the table's
    changelog is rebuilt with the raw serializers (no broker is contacted)."""
    app: Any = faust.App("compat-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    schema: Any = faust.Schema(key_type=str, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = app.Table("dossiers", default=None, schema=schema, partitions=3)
    assert table.changelog_topic.value_serializer == "json"  # what Faust derives from the types
    faust_compat.use_raw_changelog(table)
    assert (table.key_serializer, table.value_serializer) == ("raw", "raw")
    assert (table.changelog_topic.key_serializer, table.changelog_topic.value_serializer) == ("raw", "raw")
    assert table.changelog_topic.get_topic_name() == "compat-test-dossiers-changelog"
    faust_compat.patch_consumer(app.consumer, {"events"})
    assert app.consumer.perform_seek.__qualname__.startswith("hold_flow_while_seeking")
    assert app.consumer.seek_to_committed.__qualname__.startswith("seek_uncommitted_to_earliest")


@dataclass
class Record:
    """A consumed record as Faust's consumer yields it (only what the drain reads)."""

    topic: str
    partition: int
    offset: int


class Fetcher:
    """Test double of Faust's fetcher service: the drain runs until it stops."""

    def __init__(self) -> None:
        self._stopped = asyncio.Event()


def drain_rig(rounds: list[list[Record]]) -> tuple[Any, Fetcher, list[Any], list[Any]]:
    """The installed Faust's app and consumer (no broker contacted), its `getmany` replaced by `rounds`
    of fetched records in Faust's round-robin order; returns what the callback and the batches got.
    Call it in the running event loop: Faust's services keep the loop they were made in."""
    app: Any = faust.App("drain-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    consumer = app.consumer
    fetcher, delivered, batches = Fetcher(), list[Any](), list[Any]()
    remaining = list(rounds)

    async def getmany(timeout: float) -> Any:
        if not remaining:
            fetcher._stopped.set()
            return
        for record in remaining.pop(0):
            yield faust.types.TP(record.topic, record.partition), record

    async def callback(message: Any) -> None:
        delivered.append(message)

    consumer.getmany, consumer.callback = getmany, callback
    app.topics._acking_topics.update({"events", "ticks"})  # what subscribing acking topics sets
    return app, fetcher, delivered, batches


def test_the_drain_hands_each_partitions_records_of_a_fetch_over_at_once_in_offset_order() -> None:
    fetched = [Record("events", p, o) for o in (10, 11, 12) for p in (0, 1)]  # Faust interleaves them
    fetched += [Record("events", 0, 13), Record("ticks", 1, 0), Record("app-dossiers-changelog", 0, 5)]

    async def run() -> tuple[Any, list[Any], list[Any]]:
        app, fetcher, delivered, batches = drain_rig([fetched, [Record("events", 0, 17)]])

        async def on_batch(topic: str, partition: int, messages: list[Any]) -> None:
            batches.append((topic, partition, [m.offset for m in messages]))

        faust_compat.drain_in_batches(app, {"events", "ticks"}, on_batch)
        await app.consumer._drain_messages(fetcher)
        return app, delivered, batches

    app, delivered, batches = asyncio.run(run())
    assert batches == [
        ("events", 0, [10, 11, 12, 13]),
        ("events", 1, [10, 11, 12]),
        ("ticks", 1, [0]),
        ("events", 0, [17]),
    ]
    assert [m.offset for m in delivered] == [5]  # other topics (a changelog in recovery): Faust's callback
    tp = faust.types.TP("events", 0)
    assert app.consumer._read_offset[tp] == 17
    assert sorted((i.begin, i.end) for i in app.consumer._gap[tp]) == [(14, 18)]  # as Faust adds it itself


def test_a_rebalance_during_a_batch_drops_the_rest_of_the_fetch() -> None:
    """Records already fetched when a rebalance stops the flow are not handed over: Faust seeks to the
    committed offsets afterwards, and they are read again (as Faust drops what its queues held)."""
    fetched = [Record("events", p, 0) for p in (0, 1, 2)]

    async def run() -> list[Any]:
        app, fetcher, _, batches = drain_rig([fetched])

        async def on_batch(topic: str, partition: int, messages: list[Any]) -> None:
            batches.append(partition)
            app.consumer.suspend_flow.set()  # a rebalance began while this batch awaited

        faust_compat.drain_in_batches(app, {"events"}, on_batch)
        await app.consumer._drain_messages(fetcher)
        return batches

    assert asyncio.run(run()) == [0]


def test_in_a_partition_context_table_writes_go_to_that_partitions_changelog() -> None:
    app: Any = faust.App("context-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    table = app.Table("dossiers", default=None, partitions=3)
    with pytest.raises(TypeError, match="outside of stream iteration"):
        table.partition_for_key("D1")
    with faust_compat.partition_context(Record("events", 2, 41)):
        assert table.partition_for_key("D1") == 2
        assert faust.streams.current_event().message.offset == 41  # type: ignore[union-attr]
    assert faust.streams.current_event() is None


def test_the_drain_applies_to_the_installed_faust() -> None:
    app: Any = faust.App("drain-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)

    async def on_batch(topic: str, partition: int, messages: list[Any]) -> None: ...

    faust_compat.drain_in_batches(app, {"events"}, on_batch)
    assert app.consumer._drain_messages.__qualname__.startswith("drain_in_batches")
    with pytest.raises(RuntimeError, match="_drain_messages"):
        faust_compat.drain_in_batches(type("App", (), {"consumer": object()})(), {"events"}, on_batch)


def test_the_worker_consumer_is_made_with_a_short_fetch_wait_on_the_installed_faust() -> None:
    """Faust makes the worker's aiokafka consumer with `fetch_max_wait_ms=1500`; patched, with
    `FETCH_MAX_WAIT_MS` (the consumer is made, not started: no broker is contacted)."""

    async def made(patched: bool) -> Any:
        app: Any = faust.App("fetch-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
        if patched:
            faust_compat.patch_consumer(app.consumer, {"events"})
        return app.consumer._thread._create_worker_consumer(app.transport)

    assert asyncio.run(made(False))._fetch_max_wait_ms == 1500
    assert asyncio.run(made(True))._fetch_max_wait_ms == faust_compat.FETCH_MAX_WAIT_MS == 100
    with pytest.raises(RuntimeError, match="_create_worker_consumer"):
        faust_compat.shorten_fetch_wait(object())


class FakeBuffer:
    """Test double of Faust's `ProducerBuffer`: `put` keeps the futures, `flush` returns at once (as
    Faust's may, after 0.1 s without a record sent); the test settles the futures itself."""

    def __init__(self) -> None:
        self.put_futures: list[asyncio.Future[Any]] = []
        self.should_stop = False
        self.flushes = 0

    def put(self, future: asyncio.Future[Any]) -> None:
        self.put_futures.append(future)

    async def flush(self) -> None:
        self.flushes += 1


def test_the_flush_before_a_commit_waits_for_every_buffered_record_and_raises_on_a_refused_one() -> None:
    async def scenario() -> None:
        buffer = FakeBuffer()
        faust_compat.deliver_before_commit(type("Producer", (), {"buffer": buffer})(), round_seconds=0.01)
        loop = asyncio.get_running_loop()
        first, second = loop.create_future(), loop.create_future()
        buffer.put(first)
        buffer.put(second)
        assert buffer.put_futures == [first, second]  # Faust's put still runs
        flush = asyncio.ensure_future(buffer.flush())
        await asyncio.sleep(0.05)
        assert not flush.done()  # Faust's flush returned, the records are not delivered
        first.set_result("metadata")
        later = loop.create_future()
        buffer.put(later)  # put while the commit waits: the stream goes on, the next commit covers it
        await asyncio.sleep(0.05)
        assert not flush.done()
        second.set_result("metadata")
        await asyncio.wait_for(flush, 1)
        assert buffer.flushes == 1 and not later.done()
        flush = asyncio.ensure_future(buffer.flush())
        await asyncio.sleep(0.05)
        assert not flush.done()  # the next commit waits for it
        later.set_result("metadata")
        await asyncio.wait_for(flush, 1)
        await asyncio.wait_for(buffer.flush(), 1)  # nothing outstanding: returns at once

        refused = loop.create_future()
        buffer.put(refused)
        refused.set_exception(ValueError("MessageSizeTooLarge"))
        await asyncio.sleep(0)  # the future's callbacks run
        with pytest.raises(faust_compat.RecordsNotDelivered, match=r"refused 1 record.*MessageSizeTooLarge"):
            await buffer.flush()
        await asyncio.wait_for(buffer.flush(), 1)  # reported once: the next commit is not held by it

        stuck = loop.create_future()
        buffer.put(stuck)
        buffer.should_stop = True
        with pytest.raises(faust_compat.RecordsNotDelivered, match="stopping with 1 record"):
            await buffer.flush()

    asyncio.run(scenario())


def test_the_batched_changelog_applies_to_the_installed_faust() -> None:
    """`streams.changelog.BatchedChangelog` on a real table: a write goes to the table's store at once and
    waits to be sent to the changelog partition of the record in context (no broker is contacted)."""
    app: Any = faust.App("batched-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    schema: Any = faust.Schema(key_type=str, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = app.Table("dossiers", default=None, schema=schema, partitions=3)
    faust_compat.use_raw_changelog(table)
    store = BatchedChangelog(table, app.producer, faust_compat.deliver_before_commit(app.producer))
    with pytest.raises(TypeError, match="outside of stream iteration"):
        store["D1"] = b"state"
    with faust_compat.partition_context(Record("events", 2, 41)):
        store["D1"] = b"state"
    assert table["D1"] == b"state" and store.get("D1") == b"state" and store.get("D2") is None
    assert store.unsent == {2: [(b"D1", b"state")]}
    with pytest.raises(RuntimeError, match="partition_for_key"):
        BatchedChangelog(object(), app.producer, lambda _: None)
    with pytest.raises(RuntimeError, match="_ensure_producer"):
        BatchedChangelog(table, object(), lambda _: None)


def test_the_delivery_patch_applies_to_the_installed_faust() -> None:
    app: Any = faust.App("flush-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    faust_compat.deliver_before_commit(app.producer)
    assert app.producer.buffer.flush.__qualname__.startswith("deliver_before_commit")
    with pytest.raises(RuntimeError, match="buffer"):
        faust_compat.deliver_before_commit(object())
