"""The worker's callbacks without Faust: records, ticks, rebalances, timers, snapshots, dead letters.

Kafka topics and the InfluxDB sink are test doubles (tests/support/doubles.py); the processor, the
checkpoint and the sensor (with its own Prometheus registry) are the production ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from dossiers.alerts import Alert
from dossiers.calendar import WorkingCalendar
from dossiers.clock import BusinessClock
from dossiers.lifecycle import DossierState, Status
from dossiers.wire import AGENCY_HEADER, DLQ_CODE_HEADER, DLQ_REASON_HEADER
from ioc.devstack import worker as devstack_worker
from streams.influx import LIVE_RP
from streams.processor import Processor
from streams.sensor import WorkerSensor
from streams.worker import READY_LINE, REVOKE_FLUSH_SECONDS, TICK_RESEND_SECONDS, Worker, partition_of
from tests.support.catalogs import fast_catalog
from tests.support.doubles import FakeSink, FakeTopic, LoggingStore
from tests.support.events import VN, received
from tests.support.processing import SavingProcessor

T0 = int(datetime(2026, 3, 3, 9, 0, tzinfo=VN).timestamp())  # a Tuesday, office hours
WALL0 = 1_000_000.0
CATALOG = fast_catalog()
CALENDAR = WorkingCalendar(CATALOG.calendar)
PARTITIONS = 4
EVENTS, TICKS = "events", "ticks"


@dataclass
class FakeMessage:
    """A consumed Kafka record, as the worker reads it (test double of a Faust Message)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any = None
    label: str = ""
    """How the test log names the record when it is acknowledged."""


class Rig:
    """A worker on partitions 0 and 1 with a business clock that moves only when told to."""

    def __init__(self, sink: bool = True, lag: dict[int, int] | None = None):
        self.log: list[tuple[Any, ...]] = []
        self.store = LoggingStore(self.log)
        self.wall = WALL0
        self.alerts = FakeTopic("alerts", self.log)
        self.dlq = FakeTopic("dlq", self.log)
        self.ticks = FakeTopic("ticks", self.log)
        self.sink = FakeSink(self.log) if sink else None
        self.sensor = WorkerSensor()
        self.mine = {0, 1}

        async def read_lag() -> dict[int, int]:
            return dict(lag or {})

        self.worker = Worker(
            processor=Processor(CATALOG, CALENDAR, self.store),
            calendar=CALENDAR,
            clock=BusinessClock(origin=T0, wall_origin=WALL0),
            sensor=self.sensor,
            partitions=PARTITIONS,
            events_topic=EVENTS,
            ticks_topic=TICKS,
            alerts=self.alerts,
            dead_letters=self.dlq,
            ticks=self.ticks,
            assigned=lambda: set(self.mine),
            lag=read_lag if lag is not None else None,
            wall=lambda: self.wall,
        )
        self.worker.start(self.sink)
        self.offset = 0

    def at(self, business: int) -> None:
        self.wall = WALL0 + (business - T0)

    def ack(self, message: FakeMessage) -> None:
        self.log.append(("acked", message.label))

    def message(self, body: dict[str, Any] | bytes, partition: int = 0, headers: Any = None) -> FakeMessage:
        value = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.offset += 1
        return FakeMessage(EVENTS, partition, self.offset, b"key", value, headers, f"record-{self.offset}")

    async def batch(self, messages: list[FakeMessage], partition: int = 0) -> list[str]:
        """The records of one fetch of `partition`, handed over at once as Faust's drain does."""
        await self.worker.on_batch(EVENTS, partition, messages, self.ack)
        return [m.label for m in messages]

    async def event(self, body: dict[str, Any] | bytes, partition: int = 0, headers: Any = None) -> str:
        [record] = await self.batch([self.message(body, partition, headers)], partition)
        return record

    async def tick(self, partition: int = 0) -> str:
        self.offset += 1
        message = FakeMessage(TICKS, partition, self.offset, None, b"", None, f"tick-{self.offset}")
        await self.worker.on_batch(TICKS, partition, [message], self.ack)
        return message.label

    def metric(self, name: str, **labels: str) -> float | None:
        return self.sensor.metrics.registry.get_sample_value(name, labels)


def test_an_event_is_applied_written_then_saved_then_acknowledged() -> None:
    rig = Rig()

    async def run() -> str:
        record = await rig.event(received("D1", T0))
        assert rig.store == {} and ("acked", record) not in rig.log  # its line is not written yet
        assert rig.sink is not None and len(rig.sink.lines) == 1 and rig.sink.lines[0].startswith("events,")
        rig.sink.write_all()
        await rig.tick()  # the next iteration of the partition saves what the sink caught up with
        return record

    record = asyncio.run(run())
    assert rig.log.index(("saved", "D1")) < rig.log.index(("acked", record))
    assert rig.metric("ioc_events_total", type="received", agency="STP", result="applied") == 1.0


def test_a_batch_is_applied_in_order_and_saved_once_per_dossier_then_all_its_records_acknowledged() -> None:
    """The records of one fetch: each event reads the state the one before it staged (the second
    `received` of D1 is a duplicate, its `resolved` applies to the dossier D1's first event opened),
    the table gets one write per dossier (one changelog record), then every record is acknowledged,
    the refused one included, in offset order."""
    rig = Rig()
    first = received("D1", T0)
    bodies: list[dict[str, Any] | bytes] = [
        first,
        received("D2", T0),
        first,  # the same event again
        b"not json",
        {**first, "event_id": "e-resolved", "type": "resolved", "occurred_at": first["occurred_at"]},
    ]

    async def run() -> list[str]:
        records = await rig.batch([rig.message(body) for body in bodies])
        assert rig.store == {} and not any(entry[0] == "acked" for entry in rig.log)  # lines not written
        assert rig.sink is not None
        rig.sink.write_all()
        await rig.tick()
        return records

    records = asyncio.run(run())
    saved = [entry[1] for entry in rig.log if entry[0] == "saved"]
    assert sorted(saved) == ["D1", "D2"]  # one write each, though D1 had three events
    acked = [entry[1] for entry in rig.log if entry[0] == "acked" and entry[1].startswith("record-")]
    assert acked == records
    assert max(rig.log.index(("saved", key)) for key in ("D1", "D2")) < rig.log.index(("acked", records[0]))
    d1 = rig.worker.processor.load("D1")
    assert d1 is not None and DossierState.from_bytes(d1).status is Status.RESOLVED
    assert rig.metric("ioc_events_total", type="received", agency="STP", result="applied") == 2.0
    assert rig.metric("ioc_events_total", type="received", agency="STP", result="duplicate") == 1.0
    assert rig.metric("ioc_events_total", type="resolved", agency="STP", result="applied") == 1.0
    assert rig.metric("ioc_dead_letters_total", reason="json") == 1.0


def test_an_invalid_record_is_dead_lettered_with_the_original_bytes_and_the_reason() -> None:
    rig = Rig(sink=False)
    payload = b'{"not": "an event"'

    async def run() -> str:
        return await rig.event(payload)

    record = asyncio.run(run())
    [dead] = rig.dlq.sent
    headers = dict(dead["headers"])
    assert (dead["key"], dead["value"]) == (b"key", payload)
    assert headers[DLQ_CODE_HEADER] == b"json" and headers[DLQ_REASON_HEADER]
    assert (headers["ioc-source-topic"], headers["ioc-source-partition"], headers["ioc-source-offset"]) == (
        b"events",
        b"0",
        b"1",
    )
    assert ("acked", record) in rig.log  # nothing to save: acknowledged, the dead letter is its record
    assert rig.metric("ioc_dead_letters_total", reason="json") == 1.0


def test_a_record_is_acknowledged_only_once_kafka_has_its_dead_letter() -> None:
    """The dead letter is the record's only result: committed before Kafka has it, a crash would lose it
    (produced = processed + dead-lettered would no longer hold)."""
    rig = Rig(sink=False)
    rig.dlq.hold = True

    async def run() -> None:
        record = await rig.event(b"{broken")
        assert ("acked", record) not in rig.log and rig.worker.checkpoint.pending == 1
        [delivery] = rig.dlq.deliveries
        delivery.arrive()
        await rig.tick()  # the next batch of the partition saves what can be saved
        assert rig.log.index(("delivered", "dlq", b"key")) < rig.log.index(("acked", record))

    asyncio.run(run())


def test_the_agency_header_is_read_from_kafka_header_pairs() -> None:
    rig = Rig(sink=False)
    asyncio.run(rig.event(received("D1", T0), headers=[(AGENCY_HEADER, b"CNVPDKDD_TP")]))
    assert dict(rig.dlq.sent[0]["headers"])[DLQ_CODE_HEADER] == b"agency_mismatch"


def test_a_record_the_core_cannot_take_is_dead_lettered_and_the_worker_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = Rig(sink=False)

    class Broken:
        """The worker's processor with a bug in `handle` (a compiled processor cannot be patched)."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def handle(self, *args: Any) -> Any:
            raise ZeroDivisionError("a bug in the core")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    async def run() -> None:
        with monkeypatch.context() as patch:
            patch.setattr(rig.worker, "processor", Broken(rig.worker.processor))
            await rig.event(received("D1", T0))
        await rig.event(received("D2", T0))

    asyncio.run(run())
    assert dict(rig.dlq.sent[0]["headers"])[DLQ_CODE_HEADER] == b"internal_error"
    assert "D2" in rig.store


def test_a_tick_raises_the_alert_of_a_dossier_that_became_overdue_and_is_acknowledged_at_once() -> None:
    rig = Rig(sink=False)

    async def run() -> str:
        await rig.event(received("D1", T0))
        rig.at(T0 + 8)  # P.FAST: due at T0 + 7, overdue from T0 + 8
        return await rig.tick()

    tick = asyncio.run(run())
    [sent] = rig.alerts.sent
    alert = Alert.from_json(sent["value"])
    assert (alert.kind, alert.dossier, sent["key"]) == ("overdue", "D1", b"D1")
    # the tick's own record is acknowledged at once (the due heap, not the tick, is what a restart
    # replays: the dossier is still due in the table until its "alerted" state is saved, after delivery)
    assert ("acked", tick) in rig.log
    alerted = len(rig.log) - 1 - rig.log[::-1].index(("saved", "D1"))
    assert rig.log.index(("delivered", "alerts", b"D1")) < alerted
    assert rig.metric("ioc_alerts_total", kind="overdue") == 1.0
    assert rig.metric("ioc_tick_seconds_count") == 1.0


def test_the_first_record_after_a_rebalance_rebuilds_the_views_and_logs_the_ready_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig(sink=False)
    table = SavingProcessor(CATALOG, CALENDAR, {})  # what the table holds after a restart
    keys = [next(f"K{i}" for i in range(100) if partition_of(f"K{i}", PARTITIONS) == p) for p in range(4)]
    for key in keys:
        table.handle(partition_of(key, PARTITIONS), json.dumps(received(key, T0)).encode(), {}, T0)
    dict.update(rig.store, table.store)
    new = next(f"N{i}" for i in range(100) if partition_of(f"N{i}", PARTITIONS) == 0)
    caplog.set_level(logging.INFO, logger="streams.worker")
    asyncio.run(rig.event(received(new, T0), partition=0))
    assert sorted(rig.worker.processor.views) == [0, 1] and rig.worker.mine == {0, 1}
    ready = [r.getMessage() for r in caplog.records if r.getMessage().startswith(READY_LINE)]
    assert len(ready) == 1 and ready[0].startswith("rebuilt 2 partition view(s) in ")
    assert devstack_worker.READY_LINE is READY_LINE  # the launcher waits for this very line
    assert rig.metric("ioc_assigned_partitions") == 2.0
    assert [rig.worker.processor.views[p].dossiers for p in (0, 1)] == [2, 1]  # K on 0 and 1, and the new one


def test_nothing_is_saved_while_a_rebuild_is_pending_nor_for_a_partition_gone() -> None:
    rig = Rig(sink=False)
    rig.mine = {0, 1, 3}

    async def run() -> None:
        await rig.event(received("D1", T0), partition=0)
        assert "D1" in rig.store and rig.worker.may_save(0) is False  # saved: nothing left
        rig.worker.on_revoked()
        for partition, key in ((0, "D2"), (3, "D3")):
            outcome = rig.worker.processor.handle(partition, json.dumps(received(key, T0)).encode(), {}, T0)
            writes = dict(rig.worker.processor.stage(outcome))
            await rig.worker.checkpoint.write(partition, outcome.alerts, [], writes, [f"record-{key}"])
        assert rig.worker.checkpoint.saveable(0) and not rig.worker.may_save(0)  # views not rebuilt yet
        rig.worker.needs_rebuild = False
        rig.worker.mine = frozenset({0, 1})  # partition 3 was not there at the last rebuild
        assert rig.worker.may_save(0) and not rig.worker.may_save(3)

    asyncio.run(run())
    assert ("acked", "record-D2") not in rig.log and "D2" not in rig.store


def test_before_a_rebalance_the_sink_is_flushed_and_what_it_wrote_is_saved_then_acknowledged() -> None:
    rig = Rig()
    contexts: list[int] = []

    @contextlib.contextmanager
    def context(partition: int) -> Iterator[None]:
        contexts.append(partition)
        yield

    async def run() -> int:
        first = await rig.event(received("D1", T0), partition=0)
        second = await rig.event(received("D2", T0), partition=1)
        assert rig.worker.checkpoint.pending == 2 and rig.store == {}  # lines not written: nothing saved
        saved = await rig.worker.before_revoke(rig.ack, context)
        assert [entry for entry in rig.log if entry[0] in ("flush", "saved", "acked")] == [
            ("flush", REVOKE_FLUSH_SECONDS), ("saved", "D1"), ("acked", first), ("saved", "D2"),
            ("acked", second),
        ]
        await rig.event(received("D3", T0), partition=0)  # a batch still in flight during the rebalance
        assert rig.sink is not None
        rig.sink.write_all()
        await rig.tick(partition=0)  # the views are rebuilt first, then D3 is saved as usual
        return saved

    assert asyncio.run(run()) == 2
    assert contexts == [0, 1]  # each partition's writes in its own table context
    assert rig.worker.checkpoint.pending == 0 and set(rig.store) == {"D1", "D2", "D3"}
    assert rig.metric("ioc_unsaved_records") == 0.0


def test_before_a_rebalance_with_influxdb_away_nothing_is_saved_and_the_records_are_consumed_again() -> None:
    rig = Rig()
    assert rig.sink is not None
    rig.sink.reachable = False

    async def run() -> int:
        await rig.event(received("D1", T0), partition=0)
        return await rig.worker.before_revoke(rig.ack, lambda _: contextlib.nullcontext())

    assert asyncio.run(run()) == 0
    assert rig.store == {} and not [entry for entry in rig.log if entry[0] == "acked"]
    assert rig.worker.needs_rebuild and rig.worker.checkpoint.pending == 1  # dropped by the rebuild


def test_before_a_rebalance_with_nothing_unsaved_the_sink_is_not_even_flushed() -> None:
    rig = Rig()

    async def run() -> int:
        await rig.event(received("D1", T0), partition=0)
        assert rig.sink is not None
        rig.sink.write_all()
        await rig.tick(partition=0)
        return await rig.worker.before_revoke(rig.ack, lambda _: contextlib.nullcontext())

    assert asyncio.run(run()) == 0
    assert not [entry for entry in rig.log if entry[0] == "flush"]


def test_timers_send_a_tick_only_where_something_is_due_and_not_twice_in_flight() -> None:
    rig = Rig(sink=False)

    async def run() -> list[int | None]:
        await rig.event(received("D1", T0), partition=0)
        await rig.worker.fire_timers()  # nothing due yet
        rig.at(T0 + 6)  # due soon from T0 + 5, on partition 0 only
        await rig.worker.fire_timers()
        await rig.worker.fire_timers()  # in flight: not again
        rig.wall += TICK_RESEND_SECONDS  # lost in a rebalance? sent again
        await rig.worker.fire_timers()
        return [sent["partition"] for sent in rig.ticks.sent]

    assert asyncio.run(run()) == [0, 0]


def test_a_tick_is_sent_when_the_sink_has_caught_up_with_unsaved_states() -> None:
    rig = Rig()

    async def run() -> list[int | None]:
        await rig.event(received("D1", T0, procedure="P.DAY"), partition=1)  # far from due
        await rig.worker.fire_timers()
        assert rig.ticks.sent == []
        assert rig.sink is not None
        rig.sink.write_all()
        await rig.worker.fire_timers()
        return [sent["partition"] for sent in rig.ticks.sent]

    assert asyncio.run(run()) == [1]


def test_a_snapshot_writes_kpi_points_per_partition_and_sums_the_gauges_per_agency() -> None:
    rig = Rig(lag={0: 5, 1: 0})
    keys = [f"D{i}" for i in range(20)]

    async def run() -> None:
        for key in keys:
            await rig.event(received(key, T0), partition=partition_of(key, 2))
        await rig.worker.snapshot()

    asyncio.run(run())
    assert rig.sink is not None
    kpi = [line for line in rig.sink.lines if line.startswith("kpi,")]
    assert {line.split("partition=")[1].split(" ")[0] for line in kpi} == {"0", "1"}
    assert len([line for line in kpi if line.startswith("kpi,agency=STP,")]) == 2
    assert rig.metric("ioc_open_dossiers", agency="STP") == 20.0
    # the running form II.06a beside it: per partition, its dossiers received in the period (here, all)
    form = [line for line in rig.sink.lines if line.startswith("ii06a,agency=STP,")]
    assert sorted(line.split(",partition=")[1].split(" ")[0] for line in form) == ["0", "1"]
    assert all(",agency_name=Sở\\ Tư\\ pháp," in line for line in form)
    received_here = [int(line.split(",c3=")[1].split("i")[0]) for line in form]
    assert sum(received_here) == 20 and min(received_here) > 0
    assert rig.metric("ioc_consumer_lag", partition="0") == 5.0
    assert rig.metric("ioc_consumer_lag", partition="1") == 0.0
    # where they go: the snapshots into the `live` retention policy; a copy of each `i766` line, stamped at
    # the local day's midnight, into the default one (the 766 trend)
    placed = list(zip(rig.sink.rps, rig.sink.lines, strict=True))
    assert {rp for rp, line in placed if line.startswith(("kpi,", "ii06a,", "i766,"))} >= {LIVE_RP}
    live_766 = [line for rp, line in placed if rp == LIVE_RP and line.startswith("i766,")]
    trend = [line for rp, line in placed if rp == "" and line.startswith("i766,")]
    assert live_766 and len(trend) == len(live_766)
    assert {rp for rp, line in placed if not line.startswith("i766,")} == {LIVE_RP, ""}  # events: default
    assert all(rp == LIVE_RP for rp, line in placed if line.startswith(("kpi,", "ii06a,")))
    midnight = trend[0].rsplit(" ", 1)[1]
    assert {line.rsplit(" ", 1)[1] for line in trend} == {midnight}
    assert [line.rsplit(" ", 1)[0] for line in trend] == [line.rsplit(" ", 1)[0] for line in live_766]


def test_a_costly_snapshot_waits_until_it_is_a_tenth_of_the_time_and_never_more_than_30_s() -> None:
    """A province's snapshot costs ~0.4 s of CPU (docs/benchmarks.md): taken every 5 s while the worker
    catches up, it would be most of the worker's time; the next one waits 10 times the last one's cost."""
    rig = Rig()
    costs = itertools.chain([0.2, 2.0, 9.0], itertools.repeat(0.1))  # seconds each snapshot takes
    readings: list[float] = []

    def timer() -> float:  # called at a snapshot's start and end: the end reads start + its cost
        readings.append(readings[-1] + next(costs) if len(readings) % 2 else 0.0)
        return readings[-1]

    rig.worker.timer = timer

    async def run() -> list[int]:
        await rig.event(received("D1", T0))
        taken = []
        for second in range(0, 80, 5):  # the 5 s timer
            rig.wall = WALL0 + second
            before = len(rig.sink.lines) if rig.sink else 0
            await rig.worker.snapshot()
            if rig.sink is not None and len(rig.sink.lines) > before:
                taken.append(second)
        return taken

    # 0.2 s -> next at 2 s (the timer's 5 s rules); 2 s -> at +20 s; 9 s -> 90 s capped at +30 s
    assert asyncio.run(run()) == [0, 5, 25, 55, 60, 65, 70, 75]


def test_stop_closes_the_sink() -> None:
    rig = Rig()
    rig.worker.stop()
    assert rig.sink is not None and rig.sink.closed
