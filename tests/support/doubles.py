"""Test doubles for the worker's adapters: a Kafka topic and an InfluxDB sink that only record.

They stand in for Faust topics and `streams.influx.InfluxSink` so that `streams.worker.Worker` and
`streams.checkpoint.Checkpoint` run without a broker, a database or Faust.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Delivery:
    """A send's delivery (like the asyncio future a Faust send returns): `done` once the fake broker has
    it (at once, unless the test holds it with `pending=True` until `arrive()`); awaiting it is noted in
    `log` as ("delivered", topic, key); never awaiting it is fine."""

    log: list[tuple[Any, ...]]
    topic: str
    key: bytes | None
    pending: bool = False

    def done(self) -> bool:
        return not self.pending

    def arrive(self) -> None:
        self.pending = False

    def __await__(self) -> Generator[Any, None, None]:
        if self.pending:
            raise AssertionError("awaited before Kafka has it: the checkpoint must wait for done()")
        self.log.append(("delivered", self.topic, self.key))
        yield from ()


@dataclass
class FakeTopic:
    """Records every send; awaiting a send's result is its delivery, noted in `log` as ("delivered", key).
    With `hold`, deliveries stay pending (`deliveries`) until the test calls their `arrive()`."""

    name: str
    log: list[tuple[Any, ...]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    hold: bool = False
    deliveries: list[Delivery] = field(default_factory=list)

    async def send(
        self,
        *,
        key: bytes | None = None,
        value: bytes | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Delivery:
        record = {"key": key, "value": value, "partition": partition, "headers": headers}
        self.sent.append(record)
        self.log.append(("sent", self.name, key))
        delivery = Delivery(self.log, self.name, key, pending=self.hold)
        self.deliveries.append(delivery)
        return delivery


@dataclass
class FakeSink:
    """Numbers lines like InfluxSink; nothing is "written" until the test says so (`write_all`)."""

    log: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    rps: list[str] = field(default_factory=list)
    """The retention policy of each line of `lines`."""
    added: int = 0
    written: int = 0
    full: bool = False
    closed: bool = False
    reachable: bool = True
    """Whether `flush` writes (InfluxDB answers) or times out."""

    def add(self, lines: list[str], rp: str = "") -> int:
        self.lines.extend(lines)
        self.rps.extend([rp] * len(lines))
        self.added += len(lines)
        self.log.append(("lines", len(lines)))
        return self.added

    def write_all(self) -> None:
        self.written = self.added

    def flush(self, timeout: float) -> bool:
        self.log.append(("flush", timeout))
        if self.reachable:
            self.write_all()
        return self.reachable

    def close(self, timeout: float) -> None:
        self.closed = True


class LoggingStore(dict[str, bytes]):
    """A dict table that notes each write in a shared log, to check what comes before what."""

    def __init__(self, log: list[tuple[Any, ...]]):
        super().__init__()
        self.log = log

    def __setitem__(self, key: str, value: bytes) -> None:
        self.log.append(("saved", key))
        super().__setitem__(key, value)
