"""Every workaround of a faust-streaming gap, in one place, with the version it was written for.

Five patches of Faust's internals (docs/faults.md, bugs 5, 6 and 9; docs/architecture.md), and the batch
hand-over that replaces its per-record one (`drain_in_batches`, `partition_context`; issue 19):
- `seek_uncommitted_to_earliest`: partitions without a committed offset restart from their earliest
  offset after a rebalance (records were skipped);
- `hold_flow_while_seeking`: the consumer's flow is stopped while Faust seeks to the committed offsets
  (records fetched during the seek were cleared unprocessed);
- `use_raw_changelog`: the table's changelog topic is rebuilt with the raw serializers, through the
  private `Collection._new_changelog_topic`;
- `shorten_fetch_wait`: the worker's aiokafka consumer waits at most 100 ms for a fetch, not Faust's fixed
  1,500 ms (the first records after a start or a rebalance came up to 1.5 s late);
- `deliver_before_commit`: the producer flush that precedes a commit waits until Kafka has every
  changelog record put before it began (Faust's gave up after 0.1 s; a killed worker lost dossiers);
- `drain_in_batches`: a partition's fetched records reach the worker in one call (Faust's
  `Consumer._drain_messages` replaced), and `partition_context` gives table writes their partition.

They were written against faust-streaming 0.15.3 and are proven by the two-worker and slow-seek tests
(tests/integration/test_stream_pipeline.py), the fault tests and
tests/integration/test_commit_delivery.py. `check_faust` runs at start-up: a version outside
`TESTED_FAUST` is a loud warning (re-run those tests, then widen the range), a missing internal is an
error (the patch cannot be applied; the message says what running without it costs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import faust.streams as faust_streams

log = logging.getLogger(__name__)

TESTED_FAUST = ((0, 15, 3), (0, 15, 3))
"""The faust-streaming versions (lowest, highest, inclusive) the workarounds were tested with."""

CONSUMER_INTERNALS = (
    "seek_to_committed",
    "perform_seek",
    "stop_flow",
    "resume_flow",
    "flow_active",
    "earliest_offsets",
    "seek",
)
"""What the consumer patches call or replace; all but `seek` and `earliest_offsets` are Faust internals."""


def _parse(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _shown(release: tuple[int, ...]) -> str:
    return ".".join(map(str, release))


def faust_version_problem(installed: str | None) -> str | None:
    """Why the installed faust-streaming is not one the workarounds were tested with, or None."""
    low, high = TESTED_FAUST
    tested = _shown(low) if low == high else f"{_shown(low)} to {_shown(high)}"
    if installed is None:
        return f"faust-streaming is not installed as a package; the workarounds were tested with {tested}"
    if low <= _parse(installed) <= high:
        return None
    return (
        f"faust-streaming {installed} is installed, but the workarounds in streams/faust_compat.py were "
        f"tested with {tested} only: they patch Faust's internals. Run the two-worker, slow-seek and "
        "fault tests (tests/integration/test_stream_pipeline.py, test_faults.py) on this version, then "
        "widen TESTED_FAUST or remove the workarounds it no longer needs"
    )


def check_faust(installed: str | None = None) -> None:
    """At start-up: a loud warning when faust-streaming is outside the tested range."""
    if installed is None:
        try:
            installed = version("faust-streaming")
        except PackageNotFoundError:
            installed = None
    problem = faust_version_problem(installed)
    if problem is not None:
        log.warning("UNTESTED FAUST VERSION: %s", problem)


LOSS = "without them records are lost on a rebalance"
"""What running without the record-keeping workarounds would cost (`_require`'s default)."""


def require_internals(target: Any, names: tuple[str, ...], what: str, cost: str = LOSS) -> None:
    missing = [name for name in names if not hasattr(target, name)]
    if missing:
        raise RuntimeError(
            f"this faust-streaming has no {', '.join(missing)} on its {what}: the workarounds in "
            f"streams/faust_compat.py and streams/changelog.py cannot be applied, and {cost}"
        )


def seek_uncommitted_to_earliest(consumer: Any, topics: set[str]) -> None:
    """Work around a faust-streaming (0.15.3) record loss on a rebalance, found by the two-worker test.

    After a rebalance Faust seeks every assigned partition to its committed offset and discards the
    records it had fetched before. aiokafka's seek skips a partition with no committed offset (or
    offset 0), which so stays at the position of those discarded records, and Faust's memory of the
    last offset read then drops what it does re-read: records are never processed. Seeking such a
    partition of `topics` to its earliest offset makes it restart like any other; records read again
    are duplicates, which the processor recognises.
    """
    require_internals(consumer, CONSUMER_INTERNALS, "consumer")
    original = consumer.seek_to_committed

    async def seek_to_committed() -> Mapping[Any, int]:
        committed = dict(await original())
        fresh = [tp for tp, offset in committed.items() if tp.topic in topics and not offset]
        if fresh:
            earliest = await consumer.earliest_offsets(*fresh)
            for tp in fresh:
                offset = int(earliest.get(tp) or 0)
                await consumer.seek(tp, offset)
                committed[tp] = offset
            log.info("no committed offset: %d partition(s) read from their earliest offset", len(fresh))
        return committed

    consumer.seek_to_committed = seek_to_committed


def hold_flow_while_seeking(consumer: Any) -> None:
    """Work around a faust-streaming (0.15.3) record loss after recovery (docs/faults.md, bug 6).

    When recovery ends Faust resumes the stream partitions, seeks them to their committed offsets,
    then resumes the flow, which clears the agents' queues. Its fetcher keeps running during the seek:
    records fetched from the new positions before the queues are cleared are dropped with them, yet
    the consumer has moved past them, so they are never processed. Stopping the flow for the seek
    closes that window: every caller of `perform_seek` resumes the flow after it (or, in `getmany`,
    calls it with the flow already stopped). What was fetched before the seek is read again.
    """
    require_internals(consumer, CONSUMER_INTERNALS, "consumer")
    original = consumer.perform_seek

    async def perform_seek() -> None:
        was_active = consumer.flow_active
        consumer.stop_flow()
        try:
            await original()
        except BaseException:
            if was_active:
                consumer.resume_flow()
            raise

    consumer.perform_seek = perform_seek


def use_raw_changelog(table: Any) -> None:
    """Store the table's values as the raw bytes they are, in the table and in its changelog.

    Faust derives a table's serializers from its types ("json" even for bytes, which it would store as
    their repr). The state is compact bytes already: use "raw", and rebuild the changelog topic (created
    by `app.Table` with the json serializers) so that recovery decodes what was written. Faust has no
    public way to do this; `_new_changelog_topic` is the method `app.Table` itself calls.
    """
    require_internals(table, ("_new_changelog_topic",), "table")
    table.key_serializer = table.value_serializer = "raw"
    table.changelog_topic = table._new_changelog_topic()


DRAIN_INTERNALS = (
    "_drain_messages",
    "getmany",
    "callback",
    "wait_first",
    "suspend_flow",
    "flow_active",
    "_read_offset",
    "_add_gap",
    "_n_acked",
    "_commit_every",
    "commit",
    "ack",
)
"""What `drain_in_batches` reads or replaces on the consumer: all Faust internals but `commit` and `ack`."""

Batch = Callable[[str, int, list[Any]], Awaitable[None]]
"""Takes (topic, partition, the messages of one fetch in offset order)."""


def drain_in_batches(app: Any, topics: set[str], on_batch: Batch) -> None:
    """Deliver the records of `topics` to `on_batch`, a partition's records of one fetch at a time,
    instead of one Faust `Event` per record (faust-streaming 0.15.3, `Consumer._drain_messages`).

    Faust's fetcher hands each record to the conductor inside a `wait_first` (two tasks per record),
    which decodes it into an `Event` and queues it for an agent's stream: about 70 µs per record before
    any work, a ceiling of ~13,000 records/s (docs/benchmarks.md, issue 19). This drain keeps the rest
    of Faust's loop as it is (its `getmany`, with the flow control and generation checks of a
    rebalance; the read offsets and gaps its commits rely on; `commit_every`) and differs only in the
    hand-over: the records of `topics` of one fetch are grouped per partition and awaited in one
    `on_batch` call each, which acknowledges them with `Consumer.ack`; records of other topics (the
    changelogs, during recovery) go to Faust's callback one by one, as before. A batch is not
    interrupted: once fetched it is handed over whole, unless a rebalance began first (flow stopped,
    or a new generation), in which case the rest of the fetch is dropped, as Faust drops what its
    queues held, and read again from the committed offsets.
    """
    consumer = app.consumer
    require_internals(consumer, DRAIN_INTERNALS, "consumer")

    async def _drain_messages(fetcher: Any) -> None:
        callback, getmany = consumer.callback, consumer.getmany
        consumer_stopped, fetcher_stopped = consumer._stopped.is_set, fetcher._stopped.is_set
        read_offsets = consumer._read_offset
        acks_enabled_for = app.topics.acks_enabled_for
        commit_every = consumer._commit_every
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                await consumer.sleep(0)  # Faust's own loop yields here too: getmany may not
                if consumer.should_stop:
                    continue
                generation = app.consumer_generation_id
                batches: dict[Any, list[Any]] = {}
                others: list[Any] = []
                async for tp, message in getmany(timeout=1.0):
                    offset, read = message.offset, read_offsets[tp]
                    if read is not None and offset < read:
                        continue  # Faust drops these too (read already, before a seek)
                    if read and offset - read > 1 and acks_enabled_for(message.topic):
                        await consumer._add_gap(tp, read + 1, offset)
                    if tp.topic in topics:
                        batches.setdefault(tp, []).append(message)
                    else:
                        others.append(message)
                    read_offsets[tp] = offset
                for message in others:
                    await consumer.wait_first(callback(message), consumer.suspend_flow.wait())
                for tp, messages in batches.items():
                    if (consumer.suspend_flow.is_set() or not consumer.flow_active
                            or app.consumer_generation_id != generation):
                        break
                    await on_batch(tp.topic, tp.partition, messages)
                if commit_every is not None and consumer._n_acked >= commit_every:
                    consumer._n_acked = 0
                    await consumer.commit()
        except consumer.consumer_stopped_errors:
            if not consumer.transport.app.should_stop:
                raise
            log.info("broker stopped the consumer: shutting down")
        except asyncio.CancelledError:
            if not consumer.transport.app.should_stop:
                raise

    consumer._drain_messages = _drain_messages


class _StandInEvent:
    """Stands for the current event of a stream iteration: only its `message` is read."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Any):
        self.message = message


@dataclass(frozen=True, slots=True)
class Where:
    """Stands for a record of `topic` and `partition` in `partition_context`, where no record is at hand
    (a state saved during a rebalance for a tick: `Worker.before_revoke`); Faust reads only these two."""

    topic: str
    partition: int


@contextlib.contextmanager
def partition_context(message: Any) -> Iterator[None]:
    """Code in this block reads and writes tables as a stream iteration of `message` would.

    Faust takes a table write's changelog partition (`Table.partition_for_key`, which also checks the
    source topic's partition count) and the RocksDB store its partition database from
    `faust.streams.current_event().message`, set per event by its streams; a batch has no `Event`. This
    sets that context variable (private in faust-streaming 0.15.3) to a stand-in whose `message` is a
    record of the batch: same topic and partition.
    """
    require_internals(faust_streams, ("_current_event",), "faust.streams module")
    event = _StandInEvent(message)
    stand_in: Any = weakref.ref(event)  # Faust holds a weak reference to an EventT; only .message is read
    token = faust_streams._current_event.set(stand_in)
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)


FETCH_MAX_WAIT_MS = 100
"""How long the broker may hold the worker's fetch when it has nothing to return (Faust fixes 1,500 ms)."""
LATE = "without it the first records after a start or a rebalance come up to 1.5 s late"


def shorten_fetch_wait(consumer: Any, milliseconds: int = FETCH_MAX_WAIT_MS) -> None:
    """The worker's aiokafka consumer gets `fetch_max_wait_ms=milliseconds` instead of the 1,500 Faust
    passes (faust-streaming 0.15.3, `AIOKafkaConsumerThread._create_worker_consumer`; not a setting).

    A fetch that finds nothing to return is held by the broker that long, and the consumer sends no
    other fetch to that broker meanwhile. After a rebalance or at start-up, when the partitions to read
    are resumed while such a fetch (of the empty ticks or changelog partitions) is held, the records
    waiting in the events partitions came up to 1.5 s later (docs/benchmarks.md, issue 19: a worker
    joining a running group). Shorter, an idle worker sends a few more empty fetches a second."""
    thread: Any = getattr(consumer, "_thread", None)
    require_internals(thread, ("_create_worker_consumer",), "consumer thread", LATE)
    create = thread._create_worker_consumer

    def _create_worker_consumer(transport: Any) -> Any:
        made = create(transport)
        require_internals(made, ("_fetch_max_wait_ms",), "aiokafka consumer", LATE)
        made._fetch_max_wait_ms = milliseconds
        return made

    thread._create_worker_consumer = _create_worker_consumer


UNDELIVERED = (
    "without it offsets are committed while the table's changelog records they stand for may still be "
    "waiting in Faust's producer buffer: a crash then loses those dossiers' states"
)


class RecordsNotDelivered(RuntimeError):
    """Kafka refused (or the stopping producer dropped) records put in Faust's producer buffer: the
    offsets that stand for them must not be committed."""


def deliver_before_commit(
    producer: Any, round_seconds: float = 0.5
) -> Callable[[asyncio.Future[Any]], None]:
    """Faust's producer flush, which runs before every commit of offsets (`Consumer._commit_offsets`),
    returns only once Kafka has answered for every record put in the producer's buffer before it began.

    The buffer holds what is sent with `send_soon`, a table's changelog records among them
    (`Table.__setitem__` cannot await, so Faust puts them there and a task sends them; the worker's own
    table sends its changelog in batches since 2026-12-06, `streams.changelog`, and its deliveries are
    kept here too). Its `ProducerBuffer.flush` (faust-streaming 0.15.3) gives up
    after 0.1 s without a record sent, and never waits for the one its task is sending: while the
    worker's event loop ran a batch, a commit went ahead with thousands of states still in the buffer
    (none of 3,000 delivered when the flush returned, tests/integration/test_commit_delivery.py), and
    a worker killed then lost those dossiers for good: their records were committed, their states never
    reached the changelog (docs/faults.md, bug 9).

    This wraps `put` to keep each record's future until it is done, and `flush` to wait, after Faust's
    own flush, for those put before the flush began (the commit's offsets were chosen then; records put
    while it waits belong to the next commit, and waiting for them could last as long as the stream),
    in rounds of `round_seconds` (the buffer's task must still run: a stopping producer raises instead
    of waiting for ever); a refused record raises `RecordsNotDelivered`, so nothing is committed past
    it. Returns `keep`, which makes the flush wait for a delivery sent outside the buffer as well (the
    table's changelog batches, `streams.changelog`)."""
    buffer: Any = getattr(producer, "buffer", None)
    require_internals(buffer, ("put", "flush", "should_stop"), "producer buffer", UNDELIVERED)
    put, flush = buffer.put, buffer.flush
    outstanding: set[asyncio.Future[Any]] = set()
    failed: list[BaseException] = []

    def done(future: asyncio.Future[Any]) -> None:
        outstanding.discard(future)
        error = None if future.cancelled() else future.exception()
        if error is not None:
            failed.append(error)

    def keep(future: asyncio.Future[Any]) -> None:
        outstanding.add(future)
        future.add_done_callback(done)

    def put_kept(future: Any) -> None:
        keep(future)
        put(future)

    async def flush_delivered() -> None:
        waiting = list(outstanding)  # put before the commit chose its offsets; later ones are not its
        await flush()
        while waiting := [future for future in waiting if not future.done()]:
            if buffer.should_stop:
                raise RecordsNotDelivered(f"the producer is stopping with {len(waiting)} record(s) "
                                          "not delivered: their offsets are not committed")
            await asyncio.wait(waiting, timeout=round_seconds)
        if failed:
            first, count = failed[0], len(failed)
            failed.clear()
            raise RecordsNotDelivered(f"Kafka refused {count} record(s) of the producer buffer: "
                                      f"their offsets are not committed ({first!r})") from first

    buffer.put, buffer.flush = put_kept, flush_delivered
    return keep


def patch_consumer(consumer: Any, topics: set[str]) -> None:
    """The consumer workarounds; `topics` are the ones the worker reads (events and ticks)."""
    seek_uncommitted_to_earliest(consumer, topics)
    hold_flow_while_seeking(consumer)
    shorten_fetch_wait(consumer)
