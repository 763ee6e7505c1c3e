"""The write ordering: alerts, then InfluxDB points, then state, then offsets (streams/checkpoint.py).

A crash between any two steps must leave the record unacknowledged with its state unsaved, so that it
comes again and emits again; these tests check the order on one shared log of what happened.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from dossiers.alerts import Alert
from dossiers.calendar import WorkingCalendar
from streams.checkpoint import Checkpoint
from streams.processor import Outcome, Processor
from tests.support.catalogs import fast_catalog
from tests.support.doubles import FakeSink, FakeTopic, LoggingStore
from tests.support.events import VN, received

T0 = int(datetime(2026, 3, 3, 9, 0, tzinfo=VN).timestamp())
CATALOG = fast_catalog()
CALENDAR = WorkingCalendar(CATALOG.calendar)


def raw(body: dict[str, object]) -> bytes:
    return json.dumps(body).encode()


class Setup:
    def __init__(self, sink: bool = True):
        self.log: list[tuple[Any, ...]] = []
        self.store = LoggingStore(self.log)
        self.processor = Processor(CATALOG, CALENDAR, self.store)
        self.alerts = FakeTopic("alerts", self.log)
        self.sink = FakeSink(self.log) if sink else None
        self.checkpoint = Checkpoint(self.processor, self.alerts, self.sink)

    def ack(self, record: Any) -> None:
        self.log.append(("acked", record))

    async def write(self, partition: int, outcome: Outcome, lines: list[str], record: str | None) -> None:
        """One outcome as a batch of one record (`record`; None for a tick), staged as the worker does."""
        writes = dict(self.processor.stage(outcome))
        records = [] if record is None else [record]
        await self.checkpoint.write(partition, outcome.alerts, lines, writes, records)


def test_alerts_and_points_are_out_before_the_state_before_the_offset() -> None:
    s = Setup()
    outcome = s.processor.handle(0, raw(received("D1", T0 - 60)), {}, T0)  # overdue on arrival
    assert [a.kind for a in outcome.alerts] == ["overdue"]

    async def run() -> None:
        await s.write(0, outcome, ["line-1", "line-2"], "record-1")
        await s.checkpoint.save(0, s.ack)  # the sink has written nothing yet
        assert s.store == {} and s.processor.load("D1") is not None  # staged, read by the next records
        assert s.checkpoint.saveable(0) is False
        s.sink.write_all()  # type: ignore[union-attr]
        assert s.checkpoint.saveable(0) is True
        await s.checkpoint.save(0, s.ack)

    asyncio.run(run())
    assert s.log == [
        ("sent", "alerts", b"D1"),
        ("lines", 2),
        ("delivered", "alerts", b"D1"),  # awaited when the state is saved, not when sent
        ("saved", "D1"),
        ("acked", "record-1"),
    ]
    assert Alert.from_json(s.alerts.sent[0]["value"]) == outcome.alerts[0]
    assert s.processor.staged == {} and len(s.checkpoint.unsaved[0]) == 0


def test_a_state_waits_for_its_alerts_delivery_even_when_its_points_are_written() -> None:
    """Alerts are sent without waiting for the broker (the stream goes on), but the state that says
    "alerted", and every later record of the partition, wait until Kafka has them."""
    s = Setup()
    s.alerts.hold = True
    sink = s.sink
    assert sink is not None
    first = s.processor.handle(0, raw(received("D1", T0 - 60)), {}, T0)  # overdue on arrival: an alert
    assert first.alerts

    async def run() -> None:
        await s.write(0, first, ["line-1"], "record-1")
        second = s.processor.handle(0, raw(received("D2", T0)), {}, T0)  # no alert
        assert not second.alerts
        await s.write(0, second, ["line-2"], "record-2")
        sink.write_all()
        assert s.checkpoint.saveable(0) is False
        await s.checkpoint.save(0, s.ack)
        assert s.store == {} and ("acked", "record-1") not in s.log and ("acked", "record-2") not in s.log
        s.alerts.deliveries[0].arrive()
        assert s.checkpoint.saveable(0) is True
        await s.checkpoint.save(0, s.ack)

    asyncio.run(run())
    assert s.log[-5:] == [
        ("delivered", "alerts", b"D1"),
        ("saved", "D1"),
        ("acked", "record-1"),
        ("saved", "D2"),
        ("acked", "record-2"),
    ]


def test_records_are_saved_and_acknowledged_in_order_only_as_far_as_the_sink_has_written() -> None:
    s = Setup()
    sink = s.sink
    assert sink is not None

    async def run() -> None:
        for i in range(3):
            outcome = s.processor.handle(0, raw(received(f"D{i}", T0)), {}, T0)
            await s.write(0, outcome, [f"line-{i}"], f"record-{i}")
            if i == 1:
                written_after_second = sink.added
        sink.written = written_after_second  # the first two records' lines are in InfluxDB
        await s.checkpoint.save(0, s.ack)

    asyncio.run(run())
    assert [entry for entry in s.log if entry[0] in ("saved", "acked")] == [
        ("saved", "D0"),
        ("acked", "record-0"),
        ("saved", "D1"),
        ("acked", "record-1"),
    ]
    assert set(s.store) == {"D0", "D1"} and set(s.processor.staged) == {"D2"}


def test_a_tick_is_queued_only_for_its_states_and_never_acknowledged_here() -> None:
    s = Setup(sink=False)

    async def run() -> None:
        await s.write(0, s.processor.tick(0, T0), [], None)  # nothing fired: nothing to keep
        assert s.checkpoint.unsaved == {}
        first = s.processor.handle(0, raw(received("D1", T0)), {}, T0)
        await s.write(0, first, [], "record-1")
        await s.checkpoint.save(0, s.ack)
        fired = s.processor.tick(0, T0 + 8)  # P.FAST is overdue from T0 + 8
        assert fired.writes and [a.kind for a in fired.alerts] == ["overdue"]
        await s.write(0, fired, [], None)
        await s.checkpoint.save(0, s.ack)

    asyncio.run(run())
    assert [entry[0] for entry in s.log] == ["saved", "acked", "sent", "delivered", "saved"]


def test_a_full_sink_holds_the_record_back_until_it_has_room() -> None:
    """Its state is staged (the worker stages as it goes), but neither queued for saving nor saved."""
    s = Setup()
    sink = s.sink
    assert sink is not None
    sink.full = True
    outcome = s.processor.handle(0, raw(received("D1", T0)), {}, T0)

    async def run() -> None:
        task = asyncio.create_task(s.write(0, outcome, ["line"], "record"))
        await asyncio.sleep(0.25)
        assert not task.done() and sink.added == 0 and s.checkpoint.unsaved == {}
        sink.full = False
        await asyncio.wait_for(task, 2)

    asyncio.run(run())
    assert sink.added == 1 and "D1" in s.processor.staged and len(s.checkpoint.unsaved[0]) == 1
    assert s.store == {}


def test_keep_forgets_the_queues_of_partitions_gone_elsewhere() -> None:
    s = Setup()

    async def run() -> None:
        for partition in (0, 1, 2):
            outcome = s.processor.handle(partition, raw(received(f"D{partition}", T0)), {}, T0)
            await s.write(partition, outcome, ["line"], f"record-{partition}")

    asyncio.run(run())
    s.checkpoint.keep([1])
    assert set(s.checkpoint.unsaved) == {1}
