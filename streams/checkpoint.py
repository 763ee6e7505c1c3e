"""The write ordering of a worker, in one object: alerts, then InfluxDB points, then state, then offsets.

Whatever a crash interrupts, the record comes again and finds the state from before it, so it emits
again what may have been lost (alerts carry an id, points overwrite themselves). Saving the state
first would make the replayed record a duplicate that emits nothing (docs/faults.md, bug 1).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dossiers.alerts import Alert
from streams.processor import Processor

BACKPRESSURE_SECONDS = 0.1


class Sink(Protocol):
    """What the checkpoint needs of the InfluxDB sink (`streams.influx.InfluxSink`)."""

    @property
    def added(self) -> int:
        """Lines accepted so far: the sequence number of the last one."""

    @property
    def written(self) -> int:
        """Lines durably written so far, in the order they were added."""

    @property
    def full(self) -> bool: ...

    def add(self, lines: list[str], rp: str = "") -> int:
        """Queue lines for retention policy `rp` ("" = the default one); returns their sequence number."""

    def flush(self, timeout: float) -> bool:
        """Wait until every line added so far is written (True), or `timeout` seconds pass (False)."""

    def close(self, timeout: float) -> None:
        """Write what is buffered (up to `timeout`) and stop."""


class Delivery(Protocol):
    """A record's delivery (Faust's FutureMessage, an asyncio future): done once Kafka has it (or
    failed); awaiting it returns the record's metadata or raises the delivery's error."""

    def done(self) -> bool: ...

    def __await__(self) -> Generator[Any, None, Any]: ...


class Changelog(Protocol):
    """What the checkpoint needs of a table whose changelog records wait to be sent
    (`streams.changelog.BatchedChangelog`)."""

    async def send(self) -> None:
        """Send the records of the states saved so far; their deliveries are kept for the next commit."""


class Publisher(Protocol):
    """A topic to send to (a Faust topic): awaiting `send` queues the record and returns its delivery."""

    async def send(
        self,
        *,
        key: bytes | None = None,
        value: bytes | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Delivery: ...


Ack = Callable[[Any], object]
"""Acknowledges a record (Faust's `Consumer.ack(message)`): its offset may then be committed."""


@dataclass(slots=True)
class Unsaved:
    """The records of one batch (none for a tick) whose staged states wait until the sink has written
    `seq` lines and Kafka has their alerts and dead letters (`deliveries`); `writes` holds one state per
    dossier."""

    seq: int
    records: Sequence[Any]
    writes: list[tuple[str, bytes]]
    deliveries: list[Delivery] = field(default_factory=list)


class Checkpoint:
    """Takes each batch of a partition (the records of one fetch, or a tick) through the steps below,
    in this order.

    The worker first stages every outcome's states in the processor as it goes (the next records read
    them at once; nothing is saved), then calls `write` once for the batch:
      1. Send the batch's alerts to the alerts topic (their deliveries are kept, not waited for: a
         province's lagging communes raise an alert every 20 events, and waiting for each round trip
         to the broker stalled the stream, docs/benchmarks.md "A province").
      2. Hand its InfluxDB lines to the sink, waiting while the sink is full (back-pressure during an
         outage: nothing is dropped). The sink numbers lines; the batch's number is `sink.added`.
      3. Queue its staged states (the last one of each dossier), its records, that number and the
         alerts' deliveries in the partition's `unsaved` queue.
    `save` (in the partition's context: Faust takes a table write's changelog partition from the
    current event), for the oldest queued batches whose lines are written and whose alerts Kafka has
    (a failed delivery raises here, before anything is saved; the batch's dead letters are waited for
    the same way, so a record is never acknowledged before Kafka has its dead letter):
      4. Save the states to the table, so to its changelog: one changelog record per dossier per
         batch, however many of its events the batch held (sent in one Kafka batch per partition,
         `streams.changelog`, whose delivery the commit of the offsets waits for).
      5. Acknowledge the records, so Faust commits their offsets.
    A tick has nothing to replay: its own offset is acknowledged by the worker at once, and its states
    wait here like a record's.
    """

    def __init__(self, processor: Processor, alerts: Publisher, sink: Sink | None = None,
                 changelog: Changelog | None = None):
        self.processor = processor
        self.changelog = changelog
        """Sends the changelog records of the states saved (`streams.changelog`); None when the table
        sends them itself."""
        self.alerts = alerts
        self.sink = sink
        self.unsaved: dict[int, deque[Unsaved]] = {}
        """Partition -> staged states and records in arrival order, waiting for their InfluxDB lines."""
        self.pending = 0
        """Records in `unsaved`, all partitions together."""

    async def write(
        self,
        partition: int,
        alerts: Sequence[Alert],
        lines: list[str],
        writes: Mapping[str, bytes],
        records: Sequence[Any] = (),
        dead_letters: Sequence[Delivery] = (),
    ) -> None:
        """Steps 1-3 for one batch whose states are staged: `writes` (dossier -> its last staged state),
        `records` (what `save` acknowledges; none for a tick) and the deliveries of the batch's dead letters
        (sent by the worker; awaited like the alerts', before the records are acknowledged)."""
        # 1. alerts: sent now, their delivery awaited before the state that says "alerted" is saved
        deliveries = [
            await self.alerts.send(key=alert.dossier.encode(), value=alert.to_json()) for alert in alerts
        ]
        deliveries += dead_letters
        # 2. InfluxDB lines
        sink = self.sink
        if sink is not None and lines:
            while sink.full:
                await asyncio.sleep(BACKPRESSURE_SECONDS)
            sink.add(lines)
        # 3. staged states queued behind those lines
        if writes or records or deliveries:
            seq = sink.added if sink is not None else 0
            queue = self.unsaved.get(partition)
            if queue is None:
                queue = self.unsaved[partition] = deque()
            queue.append(Unsaved(seq, records, list(writes.items()), deliveries))
            self.pending += len(records)

    def written(self, unit: Unsaved) -> bool:
        """Whether every InfluxDB line up to this unit's is written and Kafka has answered for its alerts
        (so its states may be saved)."""
        return (self.sink is None or unit.seq <= self.sink.written) and all(d.done() for d in unit.deliveries)

    def saveable(self, partition: int) -> bool:
        """Whether the oldest unsaved states of a partition can be saved (a timer then sends a tick)."""
        queue = self.unsaved.get(partition)
        return bool(queue) and self.written(queue[0])  # type: ignore[index]

    async def save(self, partition: int, ack: Ack) -> None:
        """Steps 4-5, in order, for what the sink has caught up with; call in the partition's context,
        and only while this worker owns it with its views rebuilt."""
        queue = self.unsaved.get(partition)
        while queue and self.written(queue[0]):
            unit = queue[0]
            for delivery in unit.deliveries:
                await delivery  # done: returns at once, or raises the delivery's error (still queued)
            queue.popleft()
            self.pending -= len(unit.records)
            self.processor.save(unit.writes)  # 4. state
            if self.changelog is not None:
                await self.changelog.send()  # its delivery kept for the commit of these offsets
            for record in unit.records:
                ack(record)  # 5. offsets

    def keep(self, partitions: Iterable[int]) -> None:
        """Forget the queues of partitions gone to another worker: it consumes those records again."""
        kept = set(partitions)
        for partition in set(self.unsaved) - kept:
            del self.unsaved[partition]
        self.pending = sum(len(unit.records) for queue in self.unsaved.values() for unit in queue)
