"""The Faust wiring: topics, the dossier table, one agent, timers. The logic lives in `Processor`.

One agent consumes `dossier-events` and the internal `ioc-sla-ticks` topic (co-partitioned with it),
so that SLA timers, like events, update the table inside a stream iteration of the right partition.
A timer sends a tick to partition p only when p's due-time heap says something is due: no scan, and
no tick traffic when nothing is due.

Ordering, so that a crash at any point replays instead of losing: a record's alerts are delivered,
then its InfluxDB lines written, then its new state saved to the table (so to the changelog), then
the record acknowledged (so committed). Until saved, states are staged in memory and read from there
(`Processor.stage`); saving needs a stream iteration of the partition, so a timer sends the partition
a tick when its oldest unsaved states can be saved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import faust
from kafka.partitioner.default import murmur2
from prometheus_client import start_http_server

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog, load_catalog
from dossiers.clock import BusinessClock
from dossiers.events import InvalidEvent
from streams.influx import InfluxSink, alert_point, deadline_point, event_point, kpi_point
from streams.metrics import WorkerMetrics
from streams.processor import Outcome, Processor
from streams.settings import StreamSettings

log = logging.getLogger(__name__)

TICK_RESEND_SECONDS = 5.0


def partition_of(key: str, partitions: int) -> int:
    """The partition the Kafka default partitioner (murmur2, as in Java and kafka-python) gives a key."""
    return int(murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def seek_uncommitted_to_earliest(consumer: Any, topics: set[str]) -> None:
    """Work around a faust-streaming (0.15.3) record loss on a rebalance, found by the two-worker test.

    After a rebalance Faust seeks every assigned partition to its committed offset and discards the
    records it had fetched before. aiokafka's seek skips a partition with no committed offset (or
    offset 0), which so stays at the position of those discarded records, and Faust's memory of the
    last offset read then drops what it does re-read: records are never processed. Seeking such a
    partition of `topics` to its earliest offset makes it restart like any other; records read again
    are duplicates, which the processor recognises.
    """
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


def _headers(raw: Any) -> Mapping[str, bytes]:
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): bytes(v) for k, v in raw.items() if v is not None}
    return {str(k): bytes(v) for k, v in raw if v is not None}


@dataclass(slots=True)
class Unsaved:
    """A record (None for a tick) whose staged states wait until the sink has written `seq` lines."""

    seq: int
    event: Any
    writes: list[tuple[str, bytes]]


@dataclass
class Worker:
    """Everything one worker process holds besides the Faust app."""

    settings: StreamSettings
    catalog: Catalog
    calendar: WorkingCalendar
    clock: BusinessClock
    metrics: WorkerMetrics
    partitions: int
    sink: InfluxSink | None = None
    processor: Processor | None = None
    needs_rebuild: bool = True
    tick_pending: dict[int, float] = field(default_factory=dict)
    """Partition -> wall time a tick was sent and not yet consumed (resent if lost in a rebalance)."""
    unsaved: dict[int, deque[Unsaved]] = field(default_factory=dict)
    """Partition -> staged states and records in arrival order, waiting for their InfluxDB lines."""
    mine: frozenset[int] = frozenset()

    def now(self) -> int:
        return int(self.clock.now(time.time()))


def create_app(settings: StreamSettings, partitions: int) -> tuple[faust.App, Worker]:
    """Build the Faust app and its worker state; `partitions` is the events topic's partition count."""
    catalog = load_catalog(settings.catalog)
    calendar = WorkingCalendar(catalog.calendar)
    wall = time.time()
    clock = BusinessClock(
        origin=settings.clock_origin if settings.clock_origin is not None else wall,
        wall_origin=settings.clock_wall_origin if settings.clock_wall_origin is not None else wall,
        speed=settings.clock_speed,
    )
    metrics = WorkerMetrics.create()
    worker = Worker(settings, catalog, calendar, clock, metrics, partitions)

    app: Any = faust.App(  # faust's decorators and signals are untyped: Any keeps mypy honest elsewhere
        settings.app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=settings.faust_broker_credentials(),
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=partitions,
        topic_allow_declare=True,
        processing_guarantee=settings.processing_guarantee,
        # on a rebalance Faust would wait for every started record to be acknowledged, but ours wait
        # for a stream iteration of their partition to be saved, and the streams are paused then:
        # unacknowledged records are simply consumed again (see `rebuild`)
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=max(settings.session_timeout_seconds / 10, 0.5),
        web_enabled=False,
        table_standby_replicas=0,
    )
    raw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    source = app.topic(settings.events_topic, settings.ticks_topic, **raw)
    seek_uncommitted_to_earliest(app.consumer, {settings.events_topic, settings.ticks_topic})
    hold_flow_while_seeking(app.consumer)
    ticks = app.topic(settings.ticks_topic, **raw)
    dlq = app.topic(settings.dlq_topic, **raw)
    alerts = app.topic(settings.alerts_topic, **raw)
    schema: Any = faust.Schema(key_type=str, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table: Any = app.Table(
        "dossiers",
        default=None,
        schema=schema,
        partitions=partitions,
        extra_topic_configs={"cleanup.policy": "compact"},
    )
    # Faust derives a table's serializers from its types ("json" even for bytes, which it would store as
    # their repr). The state is compact bytes already: use "raw", and rebuild the changelog topic
    # (created by app.Table with the json serializers) so that recovery decodes what was written.
    table.key_serializer = table.value_serializer = "raw"
    table.changelog_topic = table._new_changelog_topic()
    worker.processor = Processor(
        catalog,
        calendar,
        table,
        alert_backfill_seconds=settings.alert_backfill_seconds,
        max_future_seconds=settings.max_future_seconds,
        defer_writes=True,
    )

    def assigned() -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.events_topic}

    def rebuild() -> None:
        mine = assigned()
        started = time.perf_counter()
        assert worker.processor is not None
        worker.processor.rebuild(mine, table.items(), lambda key: partition_of(key, partitions))
        for partition in set(worker.unsaved) - mine:  # another worker consumes these records again
            del worker.unsaved[partition]
        worker.mine = frozenset(mine)
        worker.needs_rebuild = False
        worker.tick_pending.clear()
        worker.metrics.partitions.set(len(mine))
        log.info("rebuilt %d partition view(s) in %.3f s", len(mine), time.perf_counter() - started)

    @app.on_partitions_revoked.connect
    async def _on_revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
        worker.needs_rebuild = True  # and nothing is saved until the views are rebuilt

    @app.on_rebalance_complete.connect
    async def _on_rebalance(sender: Any, **kwargs: Any) -> None:
        worker.needs_rebuild = True
        worker.tick_pending.clear()

    @app.task
    async def _on_startup() -> None:
        if settings.influx_url:
            worker.sink = InfluxSink(
                settings.influx_url,
                settings.influx_token,
                settings.influx_org,
                settings.influx_bucket,
                metrics,
                settings.sink_batch_size,
                settings.sink_flush_seconds,
                settings.sink_max_buffer,
            )
        if settings.metrics_port:
            start_http_server(settings.metrics_port, registry=metrics.registry)

    @app.on_before_shutdown.connect
    async def _on_shutdown(sender: Any, **kwargs: Any) -> None:
        if worker.sink is not None:
            worker.sink.close(timeout=10)

    async def emit(outcome: Outcome, message: Any) -> None:
        """Dead letters, alerts and InfluxDB points for one outcome (the adapter side of Processor)."""
        points = []
        if outcome.status == "dead_letter" and outcome.error is not None:
            headers = [
                ("ioc-dlq-reason", outcome.error.reason.encode()),
                ("ioc-dlq-code", outcome.error.code.encode()),
                ("ioc-source-topic", str(message.topic).encode()),
                ("ioc-source-partition", str(message.partition).encode()),
                ("ioc-source-offset", str(message.offset).encode()),
            ]
            await dlq.send(key=message.key, value=message.value, headers=headers)
            metrics.dead_letters.labels(outcome.error.code).inc()
        elif outcome.event is not None:
            event = outcome.event
            metrics.events.labels(event.type.value, event.agency, outcome.status).inc()
            if outcome.status == "applied":
                points.append(
                    event_point(
                        event.agency,
                        event.type.value,
                        outcome.channel,
                        outcome.procedure_field,
                        event.dossier,
                        int(event.occurred_at.timestamp()),
                    )
                )
        sent = []
        for alert in outcome.alerts:
            sent.append(await alerts.send(key=alert.dossier.encode(), value=alert.to_json()))
            metrics.alerts.labels(alert.kind).inc()
            points.append(alert_point(alert))
        if sent:  # delivered before the state that says "alerted" is saved (see Processor.commit)
            await asyncio.gather(*sent)
        points.extend(deadline_point(mark) for mark in outcome.deadlines)
        if worker.sink is not None and points:
            while worker.sink.full:
                await asyncio.sleep(0.1)  # backpressure during a long sink outage: nothing is dropped
            worker.sink.add(points)

    def written(unit: Unsaved) -> bool:
        """Whether every InfluxDB line up to this unit's is written (so its states may be saved)."""
        return worker.sink is None or unit.seq <= worker.sink.written

    def saveable(partition: int) -> bool:
        """Whether the oldest unsaved states of a partition can be saved."""
        queue = worker.unsaved.get(partition)
        return queue is not None and len(queue) > 0 and written(queue[0])

    async def save(stream: Any, partition: int) -> None:
        """Save and acknowledge, in order, what the sink has caught up with; inside an iteration of
        `partition`, which is where Faust takes a table write's changelog partition from."""
        queue = worker.unsaved.get(partition)
        if worker.needs_rebuild or partition not in worker.mine or not queue:
            return
        assert worker.processor is not None
        while queue and written(queue[0]):
            unit = queue.popleft()
            worker.processor.save(unit.writes)
            if unit.event is not None:
                await stream.ack(unit.event)

    @app.agent(source, concurrency=1)
    async def process(stream: Any) -> None:
        manual = stream.noack()
        processor = worker.processor
        assert processor is not None
        async for event in manual.events():
            message = event.message
            if worker.needs_rebuild:
                rebuild()
            now = worker.now()
            is_tick = message.topic == settings.ticks_topic
            if is_tick:
                worker.tick_pending.pop(message.partition, None)
                started = time.perf_counter()
                outcome = processor.tick(message.partition, now)
                metrics.tick_seconds.observe(time.perf_counter() - started)
            else:
                try:
                    outcome = processor.handle(
                        message.partition, message.value or b"", _headers(message.headers), now
                    )
                except Exception as exc:  # a record the core cannot take must not kill the agent
                    log.exception("record %s/%s/%s failed", message.topic, message.partition, message.offset)
                    outcome = Outcome(
                        "dead_letter",
                        error=InvalidEvent(f"event: not processable ({exc!r})", "internal_error"),
                    )
            await emit(outcome, message)
            writes = processor.stage(outcome)
            if is_tick:  # nothing to replay in a tick: the heap is rebuilt after a restart
                await manual.ack(event)
            if writes or not is_tick:
                seq = worker.sink.added if worker.sink is not None else 0
                worker.unsaved.setdefault(message.partition, deque()).append(
                    Unsaved(seq, None if is_tick else event, writes)
                )
            await save(manual, message.partition)

    @app.timer(settings.tick_seconds)
    async def fire_timers() -> None:
        """Send a tick to each assigned partition whose earliest due time has passed or whose unsaved
        states can be saved."""
        processor = worker.processor
        if processor is None:
            return
        now, wall = worker.now(), time.time()
        for partition in sorted(assigned()):
            due = processor.next_due(partition)
            if wall - worker.tick_pending.get(partition, 0.0) < TICK_RESEND_SECONDS:
                continue  # one tick in flight per partition is enough
            if worker.needs_rebuild or (due is not None and due <= now) or saveable(partition):
                worker.tick_pending[partition] = wall
                await ticks.send(partition=partition, value=b"")

    @app.timer(settings.snapshot_seconds)
    async def snapshot() -> None:
        """KPI snapshot per agency and partition to InfluxDB; gauges and lag for Prometheus."""
        processor = worker.processor
        if processor is None or worker.needs_rebuild:
            return
        now = worker.now()
        day = calendar.local_date(now)
        points = []
        totals: dict[str, list[int]] = {}
        for partition, view in sorted(processor.views.items()):
            snap = view.counters.snapshot(catalog, day)
            for agency, block in snap.agencies.items():
                points.append(kpi_point(catalog, agency, partition, block, int(time.time()), now))
                total = totals.setdefault(agency, [0, 0, 0])
                total[0] += block.open
                total[1] += block.overdue
                total[2] += block.due_soon
        for agency, (open_, overdue, due_soon) in totals.items():
            metrics.open_dossiers.labels(agency).set(open_)
            metrics.overdue_dossiers.labels(agency).set(overdue)
            metrics.due_soon_dossiers.labels(agency).set(due_soon)
        if worker.sink is not None and points:
            worker.sink.add(points)
        await update_lag()

    async def update_lag() -> None:
        """Consumer lag per partition; unknown right after a rebalance, when it is simply skipped."""
        consumer = app.consumer
        for tp in app.assignor.assigned_actives():
            if tp.topic != settings.events_topic:
                continue
            try:
                position, highwater = await consumer.position(tp), consumer.highwater(tp)
            except Exception as exc:  # a metric must never stop the worker
                log.debug("lag of %s unknown: %s", tp, exc)
                continue
            if position is not None and highwater is not None:
                metrics.consumer_lag.labels(str(tp.partition)).set(max(highwater - position, 0))

    return app, worker
