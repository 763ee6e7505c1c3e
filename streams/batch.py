"""What a worker does with one partition's fetched records before it awaits anything: each record handled
by the domain core, its state staged, its InfluxDB lines built. Pure (no I/O, nothing awaited) and compiled
with the core by `ioc native build`: interpreted, this loop and its lines cost 1.5-3 µs more per record
(docs/benchmarks.md, issue 19). `streams.worker.Worker.on_records` then sends the dead
letters and hands the rest to the checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from dossiers.alerts import Alert
from dossiers.events import InvalidEvent
from streams.lines import Centres, alert_point, deadline_point, event_point
from streams.processor import Outcome

log = logging.getLogger(__name__)


class Record(Protocol):
    """What the loop reads of a consumed Kafka record (a Faust `Message`)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any


class Handler(Protocol):
    """What the loop calls on the worker's `streams.processor.Processor` (a protocol, not the class: a test
    puts a processor with a bug in its place)."""

    def handle(self, partition: int, raw: bytes, headers: Mapping[str, bytes], now: int) -> Outcome: ...

    def stage(self, outcome: Outcome) -> list[tuple[str, bytes]]: ...


def record_headers(raw: Any) -> Mapping[str, bytes]:
    """A record's headers as a mapping, whether Kafka gave a list of pairs or a mapping."""
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): bytes(v) for k, v in raw.items() if v is not None}
    return {str(k): bytes(v) for k, v in raw if v is not None}


def add_lines(outcome: Outcome, lines: list[str], centres: Centres | None) -> None:
    """Append the InfluxDB lines of one outcome: its event's throughput point (when applied), its alerts'
    points and its deadline marks."""
    event = outcome.event
    if event is not None and outcome.status == "applied":
        # str(): a StrEnum's value without the interpreted `.value`
        lines.append(event_point(event.agency, str(event.type), outcome.channel, outcome.procedure_field,
                                 event.dossier, outcome.occurred, centres))
    for alert in outcome.alerts:
        lines.append(alert_point(alert, centres))
    for mark in outcome.deadlines:
        lines.append(deadline_point(mark))


class Handled:
    """What one batch of records produced, for the worker to send, write and save in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.alerts: list[Alert] = []
        self.writes: dict[str, bytes] = {}
        """Dossier -> its last staged state in the batch (one changelog record per dossier per batch)."""
        self.refused: list[tuple[InvalidEvent, Record]] = []
        self.seen: dict[tuple[str, str, str], int] = {}
        """Valid events by (type, agency, status): applied or duplicate."""


def handle_records(processor: Handler, partition: int, records: Sequence[Record], now: int,
                   centres: Centres | None) -> Handled:
    """Handle a partition's records in offset order, each one's state staged at once for the next ones."""
    out = Handled()
    lines, alerts, writes, refused, seen = out.lines, out.alerts, out.writes, out.refused, out.seen
    for record in records:
        try:
            outcome = processor.handle(partition, record.value or b"", record_headers(record.headers), now)
        except Exception as exc:  # a record the core cannot take must not kill the worker
            log.exception("record %s/%s/%s failed", record.topic, partition, record.offset)
            outcome = Outcome(
                "dead_letter", error=InvalidEvent(f"event: not processable ({exc!r})", "internal_error")
            )
        if outcome.error is not None:
            refused.append((outcome.error, record))
        event = outcome.event
        if event is not None:
            key = (str(event.type), event.agency, outcome.status)
            seen[key] = seen.get(key, 0) + 1
        add_lines(outcome, lines, centres)
        alerts.extend(outcome.alerts)
        for dossier, state in processor.stage(outcome):
            writes[dossier] = state
    return out
