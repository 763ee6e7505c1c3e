"""Replay (chạy lại): the whole domain core over a sequence of raw events, in any order.

This is the reference the stream is checked against: same events, same `as_of`, same KPIs. The periodic
report (`dossiers.report_ii06a`) reads the states of a replay whose `as_of` is the end of its period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dossiers.calendar import Timestamp, WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.events import EventRecord, InvalidEvent
from dossiers.kpi import KpiCounters, Snapshot, contribution
from dossiers.lifecycle import Applied, DossierState, apply
from dossiers.validation import read_event, validate_event


@dataclass(slots=True)
class InvalidLine:
    line: int
    reason: str
    code: str


@dataclass(slots=True)
class Replay:
    """Feeds events into dossier states; `snapshot()` sums their contributions at `as_of`."""

    catalog: Catalog
    calendar: WorkingCalendar
    as_of: Timestamp
    states: dict[str, DossierState] = field(default_factory=dict)
    valid: int = 0
    duplicates: int = 0
    after_as_of: int = 0
    invalid: list[InvalidLine] = field(default_factory=list)
    problems: int = 0

    def feed_raw(self, raw: bytes | str | dict[str, Any], line: int = 0) -> EventRecord | None:
        """Validate and apply one event; an invalid one is recorded, never raised. Bytes (a Kafka
        record's value) are read as the stream reads them (`read_event`)."""
        try:
            if isinstance(raw, bytes):
                event = read_event(raw, self.catalog)
            else:
                event = validate_event(raw, self.catalog)
        except InvalidEvent as exc:
            self.invalid.append(InvalidLine(line, exc.reason, exc.code))
            return None
        self.feed(event)
        return event

    def reject(self, line: int, reason: str, code: str) -> None:
        """A line a reader could not turn into an event (bytes, size, CSV shape): counted as invalid."""
        self.invalid.append(InvalidLine(line, reason, code))

    def feed(self, event: EventRecord) -> Applied | None:
        if int(event.occurred_at.timestamp()) > self.as_of:  # by whole second, as the state keeps it
            self.after_as_of += 1  # not yet happened at as_of
            return None
        state = self.states.get(event.dossier)
        if state is None:
            state = self.states[event.dossier] = DossierState(event.dossier)
        result = apply(state, event)
        if result is Applied.DUPLICATE:
            self.duplicates += 1
        else:
            self.valid += 1
        return result

    def counters(self) -> KpiCounters:
        counters = KpiCounters()
        for state in self.states.values():
            counters.add(contribution(state, self.catalog, self.calendar, self.as_of).keys)
        return counters

    def snapshot(self) -> Snapshot:
        return self.counters().snapshot(self.catalog, self.calendar.local_date(self.as_of))

    def report(self) -> dict[str, Any]:
        """The `ioc replay --json` document: `centre` is the whole (the province total for a province
        catalog), `centres` each centre with its agencies, `agencies` every agency."""
        snapshot = self.snapshot()
        body = snapshot.as_dict()
        return {
            "as_of": self.calendar.local(self.as_of).isoformat(),
            "events": {"valid": self.valid, "invalid": len(self.invalid), "duplicates": self.duplicates,
                       "after_as_of": self.after_as_of},
            "dossiers": {"total": len(self.states),
                         "with_problems": sum(1 for s in self.states.values() if s.problems())},
            "centre": body["centre"],
            "centres": body["centres"],
            "agencies": body["agencies"],
        }


def replay_lines(lines: Iterable[str], catalog: Catalog, calendar: WorkingCalendar,
                 as_of: Timestamp) -> Replay:
    """Replay JSON lines (blank lines skipped); line numbers start at 1."""
    run = Replay(catalog, calendar, as_of)
    for number, text in enumerate(lines, start=1):
        if text.strip():
            run.feed_raw(text, number)
    return run
