"""What one worker process does, as named callbacks the Faust app wires (streams/app.py); no Faust here.

The worker is handed the records of `dossier-events` and of the internal ticks topic (co-partitioned
with it) a partition's fetch at a time (`on_batch`), so that SLA timers, like events, update the table in
the right partition. A timer sends a tick to partition p only when p's due-time heap says something is
due, or when p's oldest unsaved states can be saved (saving happens in a batch of the partition): no
scan, and no tick traffic when idle. What happens to a batch's outcomes, and in which order, is
`streams.checkpoint.Checkpoint`'s job; the metrics are `streams.sensor.WorkerSensor`'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager

from kafka.partitioner.default import murmur2

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.clock import BusinessClock
from dossiers.events import InvalidEvent
from dossiers.wire import DLQ_CODE_HEADER, DLQ_REASON_HEADER
from streams.batch import Record, add_lines, handle_records
from streams.checkpoint import Ack, Changelog, Checkpoint, Delivery, Publisher, Sink
from streams.influx import LIVE_RP, centres_of, snapshot_lines, trend_lines
from streams.processor import Processor
from streams.sensor import WorkerSensor

log = logging.getLogger(__name__)

READY_LINE = "rebuilt "
"""How the worker's log line starts once its partition views are built, i.e. once it consumes
(`ioc.devstack.worker.WorkerProcess.wait_ready` waits for it): logged by `Worker.on_assigned`."""

SOURCE_TOPIC_HEADER = "ioc-source-topic"
SOURCE_PARTITION_HEADER = "ioc-source-partition"
SOURCE_OFFSET_HEADER = "ioc-source-offset"
"""On a dead letter, where the original record was: with partition and offset, one id per record."""

TICK_RESEND_SECONDS = 5.0
"""A tick not consumed after this long (lost in a rebalance) is sent again."""

REVOKE_FLUSH_SECONDS = 3.0
"""How long a rebalance waits for the InfluxDB sink to write what it holds (`Worker.before_revoke`): a
healthy sink writes 5,000 lines in about 0.1 s; a group waits for its slowest member's revocation."""

Lag = Callable[[], Awaitable[Mapping[int, int]]]
"""Reads the consumer lag per assigned events partition (skipping the ones it cannot tell)."""


def partition_of(key: str, partitions: int) -> int:
    """The partition the Kafka default partitioner (murmur2, as in Java and kafka-python) gives a key."""
    return int(murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def dead_letter_headers(error: InvalidEvent, message: Record) -> list[tuple[str, bytes]]:
    """Why a record was refused and where it came from; the dead letter keeps the original bytes."""
    return [
        (DLQ_REASON_HEADER, error.reason.encode()),
        (DLQ_CODE_HEADER, error.code.encode()),
        (SOURCE_TOPIC_HEADER, str(message.topic).encode()),
        (SOURCE_PARTITION_HEADER, str(message.partition).encode()),
        (SOURCE_OFFSET_HEADER, str(message.offset).encode()),
    ]


SNAPSHOT_SHARE = 0.1
"""The most of a worker's time its snapshots may take. A snapshot costs a point per agency, partition and
measurement (a province: 307 agencies x 6 partitions x 3, ~0.4 s of CPU): while one takes longer than
this share of the interval, the next ones wait (a worker catching up goes on consuming)."""
SNAPSHOT_MAX_SECONDS = 30.0
"""The longest a snapshot waits, however costly: the boards read the last minute (`time > now() - 1m`)."""


class Worker:
    """Everything one worker process holds besides the Faust app, and what it does on each callback."""

    def __init__(
        self,
        *,
        processor: Processor,
        calendar: WorkingCalendar,
        clock: BusinessClock,
        sensor: WorkerSensor,
        partitions: int,
        events_topic: str,
        ticks_topic: str,
        alerts: Publisher,
        dead_letters: Publisher,
        ticks: Publisher,
        assigned: Callable[[], set[int]],
        lag: Lag | None = None,
        changelog: Changelog | None = None,
        wall: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ):
        self.processor = processor
        self.catalog: Catalog = processor.catalog
        self.centres = centres_of(self.catalog)
        """Agency code -> centre code: the `centre` tag of the points (streams/influx.py)."""
        self.calendar = calendar
        self.clock = clock
        self.sensor = sensor
        self.partitions = partitions
        """The events topic's partition count: which partition a table key belongs to."""
        self.events_topic, self.ticks_topic = events_topic, ticks_topic
        self.dead_letters, self.ticks = dead_letters, ticks
        self.assigned = assigned
        """The events partitions assigned to this worker now (from Faust's assignor)."""
        self.lag = lag
        self.wall = wall
        self.timer = timer
        """Measures how long a snapshot takes (SNAPSHOT_SHARE)."""
        self.snapshot_after = 0.0
        """Wall time before which the snapshot timer does nothing (SNAPSHOT_SHARE)."""
        self.checkpoint = Checkpoint(processor, alerts, changelog=changelog)
        self.needs_rebuild = True
        """Set on a revocation or rebalance: nothing is saved until the views are rebuilt."""
        self.tick_pending: dict[int, float] = {}
        """Partition -> wall time a tick was sent and not yet consumed (resent if lost in a rebalance)."""
        self.mine: frozenset[int] = frozenset()
        """The partitions whose views were last rebuilt."""

    # -- life cycle ------------------------------------------------------------------------------

    def start(self, sink: Sink | None) -> None:
        """Attach the InfluxDB sink (None: no InfluxDB, states are saved as soon as alerts are out)."""
        self.checkpoint.sink = sink

    def stop(self, timeout: float = 10.0) -> None:
        """Write what the sink holds (up to `timeout`) and close it."""
        if self.checkpoint.sink is not None:
            self.checkpoint.sink.close(timeout)

    def now(self) -> int:
        """Business time now (accelerated in demos)."""
        return int(self.clock.now(self.wall()))

    # -- rebalances ------------------------------------------------------------------------------

    def on_revoked(self) -> None:
        self.needs_rebuild = True

    async def before_revoke(self, ack: Ack, context: Callable[[int], AbstractContextManager[None]]) -> int:
        """Save what can be saved before a rebalance moves partitions, and return how many records that
        acknowledged (the caller then commits them).

        Without it, every record whose InfluxDB lines were not yet written when the group rebalanced stayed
        unacknowledged, and whoever owned its partition next consumed it again: when a second worker joined
        seconds after the first, all of the first one's first seconds (24,219 of 200,000 records,
        2026-12-05, docs/benchmarks.md). The sink is flushed first, for at most `REVOKE_FLUSH_SECONDS` (an
        InfluxDB that does not answer must not hold the group's rebalance: what it keeps unwritten is
        consumed again, as before); then each partition's states whose lines are written are saved and their
        records acknowledged, in the usual order. No batch saves from here until the views are rebuilt.
        `context(partition)`: the table's partition context for that partition's writes."""
        self.on_revoked()
        checkpoint = self.checkpoint
        if not checkpoint.pending:
            return 0
        sink = checkpoint.sink
        started = time.perf_counter()
        if sink is not None:
            await asyncio.get_running_loop().run_in_executor(None, sink.flush, REVOKE_FLUSH_SECONDS)
        flushed = time.perf_counter()
        before = checkpoint.pending
        for partition in sorted(checkpoint.unsaved):
            with context(partition):
                await checkpoint.save(partition, ack)
        self.sensor.on_unsaved(checkpoint.pending)
        saved = before - checkpoint.pending
        log.info("saved the states of %d record(s) before the rebalance (%d left to consume again; sink "
                 "flushed in %.3f s, states saved in %.3f s)", saved, checkpoint.pending, flushed - started,
                 time.perf_counter() - flushed)
        return saved

    def on_rebalanced(self) -> None:
        self.needs_rebuild = True
        self.tick_pending.clear()

    def on_assigned(self) -> None:
        """Rebuild the views of the assigned partitions from the table and the staged states.

        Runs in the first stream iteration after a rebalance (the table is recovered by then). Queued
        states of partitions gone are dropped: their new owner consumes the records again.
        """
        mine = self.assigned()
        started = time.perf_counter()
        self.processor.rebuild(mine, self.processor.store.items(), self.partition_of)
        self.checkpoint.keep(mine)
        self.sensor.on_unsaved(self.checkpoint.pending)
        self.mine = frozenset(mine)
        self.needs_rebuild = False
        self.tick_pending.clear()
        self.sensor.on_assigned(len(mine))
        log.info(READY_LINE + "%d partition view(s) in %.3f s", len(mine), time.perf_counter() - started)

    def partition_of(self, key: str) -> int:
        return partition_of(key, self.partitions)

    # -- the agent -------------------------------------------------------------------------------

    async def on_batch(self, topic: str, partition: int, messages: Sequence[Record], ack: Ack) -> None:
        """The records of one partition from one fetch, in offset order: events or ticks. `ack(message)`
        lets Faust commit a record's offset; the adapter calls this in the partition's context."""
        if self.needs_rebuild:
            self.on_assigned()
        if topic == self.ticks_topic:
            await self.on_ticks(partition, messages, ack)
        else:
            await self.on_records(partition, messages, ack)

    async def on_records(self, partition: int, messages: Sequence[Record], ack: Ack) -> None:
        """Events: each applied (its states staged at once, for the next ones), counted as a duplicate or
        refused; then the batch's dead letters, and its alerts, points and states through the checkpoint.
        No await between the records: a rebalance cannot come in the middle of a batch."""
        done = handle_records(self.processor, partition, messages, self.now(), self.centres)
        for alert in done.alerts:
            self.sensor.on_alert(alert.kind)
        self.sensor.on_events(done.seen)
        sent = [await self.dead_letter(error, message) for error, message in done.refused]
        await self.checkpoint.write(partition, done.alerts, done.lines, done.writes, messages, sent)
        if self.may_save(partition):
            await self.checkpoint.save(partition, ack)
        self.sensor.on_unsaved(self.checkpoint.pending)

    async def on_ticks(self, partition: int, messages: Sequence[Record], ack: Ack) -> None:
        """Ticks (one, or a few sent before a rebalance): fire the partition's due SLA timers once, and
        save what can be saved."""
        self.tick_pending.pop(partition, None)
        for message in messages:
            ack(message)  # nothing to replay in a tick: the heap is rebuilt after a restart
        started = time.perf_counter()
        outcome = self.processor.tick(partition, self.now())
        self.sensor.on_tick(time.perf_counter() - started)
        lines: list[str] = []
        add_lines(outcome, lines, self.centres)
        for alert in outcome.alerts:
            self.sensor.on_alert(alert.kind)
        writes = dict(self.processor.stage(outcome))
        await self.checkpoint.write(partition, outcome.alerts, lines, writes)
        if self.may_save(partition):
            await self.checkpoint.save(partition, ack)
        self.sensor.on_unsaved(self.checkpoint.pending)

    async def dead_letter(self, error: InvalidEvent, message: Record) -> Delivery:
        """The original record to the dead-letter topic, with why and where from in its headers; returns
        its delivery, which the checkpoint waits for before the record is acknowledged."""
        delivery = await self.dead_letters.send(
            key=message.key, value=message.value, headers=dead_letter_headers(error, message)
        )
        self.sensor.on_dead_letter(error.code)
        return delivery

    def may_save(self, partition: int) -> bool:
        """Whether the checkpoint can save some of the partition's states now: only for a partition
        this worker owns with its views rebuilt, and only what the sink has caught up with."""
        return not self.needs_rebuild and partition in self.mine and self.checkpoint.saveable(partition)

    # -- timers ----------------------------------------------------------------------------------

    async def fire_timers(self) -> None:
        """Send a tick to each assigned partition whose earliest due time has passed or whose unsaved
        states can be saved; one tick in flight per partition."""
        now, wall = self.now(), self.wall()
        for partition in sorted(self.assigned()):
            if wall - self.tick_pending.get(partition, 0.0) < TICK_RESEND_SECONDS:
                continue
            due = self.processor.next_due(partition)
            if self.needs_rebuild or (due is not None and due <= now) or self.checkpoint.saveable(partition):
                self.tick_pending[partition] = wall
                await self.ticks.send(partition=partition, value=b"")

    async def snapshot(self) -> None:
        """KPI snapshot, running form II.06a and 766 tallies per agency and partition to InfluxDB;
        dossier gauges and lag to the sensor. Skipped while the last one was too costly to repeat
        yet (SNAPSHOT_SHARE)."""
        if self.needs_rebuild or self.wall() < self.snapshot_after:
            return
        started, began = self.wall(), self.timer()
        now = self.now()
        stamped = int(self.wall())
        lines, totals = snapshot_lines(self.processor, self.calendar, self.centres, now, stamped)
        self.sensor.on_snapshot(totals)
        sink = self.checkpoint.sink
        if sink is not None and lines:
            sink.add(lines, LIVE_RP)
            sink.add(trend_lines(lines, stamped, self.calendar.tz))
        spent = self.timer() - began
        self.sensor.on_snapshot_time(spent)
        self.snapshot_after = started + min(spent / SNAPSHOT_SHARE, SNAPSHOT_MAX_SECONDS)
        if self.lag is not None:
            for partition, lag in (await self.lag()).items():
                self.sensor.on_lag(partition, lag)
