"""The Faust wiring, declarations only: the app, its topics and table, the batch hand-over, two timers.

The events and ticks topics are not read by an agent (one Faust `Event` per record) but handed over a
partition's fetched records at a time (`streams.faust_compat.drain_in_batches`); Faust still does the
rest: group membership, rebalances, the table, its changelog and recovery, commits and the timers.
What happens on each callback is `streams.worker.Worker`; the write ordering is
`streams.checkpoint.Checkpoint`; Faust's gaps are patched in `streams.faust_compat`.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from typing import Any

import faust

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from streams import faust_compat
from streams.changelog import BatchedChangelog
from streams.collector import settle_collector
from streams.influx import open_sink
from streams.processor import Processor
from streams.sensor import WorkerSensor
from streams.settings import StreamSettings
from streams.worker import Worker

log = logging.getLogger(__name__)

RAW: dict[str, Any] = {
    "key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"
}
"""Records are bytes as they came: the worker validates them itself and dead-letters the originals."""


def create_app(settings: StreamSettings, partitions: int, catalog: Catalog) -> tuple[faust.App, Worker]:
    """The Faust app and its worker; `partitions` is the events topic's partition count."""
    app: Any = faust.App(  # faust's decorators and signals are untyped: Any keeps mypy honest elsewhere
        settings.app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=settings.faust_broker_credentials(),
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=partitions,
        topic_allow_declare=True,
        processing_guarantee=settings.processing_guarantee,
        # records wait in the producer up to this long to leave in one request; the producer is flushed
        # (completely: faust_compat.deliver_before_commit) before offsets are committed
        producer_linger=settings.producer_linger_seconds,
        # records wait for their partition's next iteration to be saved, and streams are paused during
        # a rebalance: waiting for them would never end; unsaved records are consumed again instead
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        # a member learns of a rebalance (a worker joining) at its next heartbeat: 1 s, not 3, at the
        # default 30 s session (docs/benchmarks.md, "a worker joining a running group")
        broker_heartbeat_interval=max(settings.session_timeout_seconds / 30, 0.5),
        broker_max_poll_records=settings.max_poll_records,
        web_enabled=False,
        table_standby_replicas=0,
    )
    source = app.topic(settings.events_topic, settings.ticks_topic, **RAW)
    faust_compat.patch_consumer(app.consumer, {settings.events_topic, settings.ticks_topic})
    keep = faust_compat.deliver_before_commit(app.producer)
    schema: Any = faust.Schema(key_type=str, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = app.Table("dossiers", default=None, schema=schema, partitions=partitions,
                      extra_topic_configs={"cleanup.policy": "compact"})
    faust_compat.use_raw_changelog(table)

    def assigned() -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.events_topic}

    async def lag() -> dict[int, int]:
        found = {}
        for tp in app.assignor.assigned_actives():
            if tp.topic != settings.events_topic:
                continue
            try:
                position, highwater = await app.consumer.position(tp), app.consumer.highwater(tp)
            except Exception as exc:  # unknown right after a rebalance; a metric never stops the worker
                log.debug("lag of %s unknown: %s", tp, exc)
                continue
            if position is not None and highwater is not None:
                found[tp.partition] = highwater - position
        return found

    calendar = WorkingCalendar(catalog.calendar)
    store = BatchedChangelog(table, app.producer, keep)  # the changelog in one batch per partition and save
    worker = Worker(
        processor=Processor(
            catalog, calendar, store, settings.alert_backfill_seconds, settings.max_future_seconds,
            sync_late_seconds=settings.sync_late_seconds(),
        ),
        calendar=calendar,
        clock=settings.business_clock(time.time()),
        sensor=WorkerSensor(),
        partitions=partitions,
        events_topic=settings.events_topic,
        ticks_topic=settings.ticks_topic,
        alerts=app.topic(settings.alerts_topic, **RAW),
        dead_letters=app.topic(settings.dlq_topic, **RAW),
        ticks=app.topic(settings.ticks_topic, **RAW),
        assigned=assigned,
        lag=lag,
        changelog=store,
    )

    async def on_batch(topic: str, partition: int, messages: list[Any]) -> None:
        with faust_compat.partition_context(messages[-1]):
            await worker.on_batch(topic, partition, messages, app.consumer.ack)

    app.topics.add(source)  # subscribed without an agent: the batches are handed over by the drain
    faust_compat.drain_in_batches(app, {settings.events_topic, settings.ticks_topic}, on_batch)
    app.timer(settings.tick_seconds)(worker.fire_timers)
    app.timer(settings.snapshot_seconds)(worker.snapshot)
    # signal receivers are called as (sender, *args, signal=..., **kwargs)
    def where(partition: int) -> AbstractContextManager[None]:
        return faust_compat.partition_context(faust_compat.Where(settings.events_topic, partition))

    async def before_revoke(*_: Any, **__: Any) -> None:
        """Runs after Faust's own commit of what was acknowledged (`App._on_partitions_revoked`), still
        within the revocation: save and acknowledge what the sink has written, then commit that too."""
        if await worker.before_revoke(app.consumer.ack, where):
            for _attempt in range(2):  # a commit already running makes the first call wait, not commit
                if await app.consumer.commit():
                    break

    app.on_partitions_revoked.connect(before_revoke)
    app.on_rebalance_complete.connect(lambda *_, **__: worker.on_rebalanced())
    app.on_before_shutdown.connect(lambda *_, **__: worker.stop(timeout=10))

    @app.task
    async def start() -> None:
        # start-up is done: its objects leave the collector's reach, full collections become rarer
        frozen = settle_collector(settings.gc_full_threshold, settings.gc_young_threshold)
        worker.sensor.metrics.gc_frozen.set(frozen)
        worker.start(open_sink(settings, worker.sensor.metrics))
        if settings.metrics_port:
            worker.sensor.serve(settings.metrics_port)

    return app, worker
