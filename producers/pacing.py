"""Pacing a simulation (cadence mô phỏng): hand the simulator's events to a sink on a business clock.

`producers.simulator.Simulator` generates the events (pure, seeded); `run_simulation` is the loop that
sends each when the business clock reaches its `occurred_at`, or as fast as the sink takes them. `ioc
simulate` and `ioc up` (in a thread with a stop event) both run it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Protocol, runtime_checkable

from dossiers.calendar import Timestamp
from dossiers.clock import BusinessClock
from producers.simulator import SimEvent, SimulationStats, Simulator

DEFAULT_SEED = 2026
DEFAULT_WARMUP_DAYS = 30
"""Working days generated before `start`: enough for 20-day land dossiers (with their pauses) to be in
their steady state, so the first emitted KPIs are not biased towards early resolutions."""


@runtime_checkable
class EventSink(Protocol):
    """Anything with `send(event)`: `producers.sdk.EventProducer`, or a test double."""

    def send(self, event: SimEvent, /) -> object: ...


@dataclass(slots=True)
class SimulationSummary:
    """What one run emitted, for the final report (and for `ioc up`'s log)."""

    events: int
    dossiers: int
    by_type: Counter[str]
    by_agency: Counter[str]
    first_ts: Timestamp | None
    last_ts: Timestamp | None
    elapsed_s: float
    stopped: bool
    """True when the stop event ended the run before the simulator was exhausted."""
    dossiers_by_agency: Counter[str] = field(default_factory=Counter)
    """Dossiers (`received` events) by agency: per centre and level with `Catalog.centre_of`."""

    @property
    def rate(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_simulation(
    simulator: Simulator,
    sink: EventSink | Callable[[SimEvent], object],
    *,
    speed: float | None = None,
    clock: BusinessClock | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[SimulationStats, float], None] | None = None,
    progress_every: float = 0.2,
    wall: Callable[[], float] = time.time,
) -> SimulationSummary:
    """Feed the simulator's events to `sink` (an object with `send`, or a callable), paced or not.

    Pacing: `clock` (e.g. shared with the stream workers), or `speed` business seconds per wall second
    (business origin = the simulator's `emit_from`, wall origin = now; `speed=1` without a clock is the
    real clock: business time = wall time). Each event is sent when the business clock reaches its
    `occurred_at`; earlier ones (the warm-up backfill, a start in the past) go at once. With neither,
    as fast as the sink takes them. `stop` ends the run between two events, also while waiting.
    `on_progress(sent, elapsed_s)` is called at most every `progress_every` seconds and at the end.
    Safe in a thread: no signal handling and no output of its own.
    """
    send = sink.send if isinstance(sink, EventSink) else sink
    stop = stop or threading.Event()
    if clock is None and speed is not None:
        now = wall()
        origin = now if speed == 1.0 else float(simulator.emit_from)
        clock = BusinessClock(origin=origin, wall_origin=now, speed=speed)
    sent = SimulationStats()
    first_ts: Timestamp | None = None
    started = last_report = time.monotonic()
    stopped = False
    for ts, event in simulator.timed_events():
        if clock is not None:
            delay = clock.wall_at(ts) - wall()
            while delay > 0 and not stop.wait(min(delay, progress_every)):
                if on_progress is not None:
                    on_progress(sent, time.monotonic() - started)
                delay = clock.wall_at(ts) - wall()
        if stop.is_set():
            stopped = True
            break
        send(event)
        sent.events += 1
        sent.by_type[event["type"]] += 1
        sent.by_agency[event["agency"]] += 1
        if event["type"] == "received":
            sent.dossiers += 1
            sent.dossiers_by_agency[event["agency"]] += 1
        sent.last_ts = ts
        if first_ts is None:
            first_ts = ts
        if on_progress is not None and sent.events % 256 == 0:
            moment = time.monotonic()
            if moment - last_report >= progress_every:
                last_report = moment
                on_progress(sent, moment - started)
    elapsed = time.monotonic() - started
    if on_progress is not None:
        on_progress(sent, elapsed)
    return SimulationSummary(events=sent.events, dossiers=sent.dossiers, by_type=sent.by_type,
                             by_agency=sent.by_agency, first_ts=first_ts, last_ts=sent.last_ts,
                             elapsed_s=elapsed, stopped=stopped, dossiers_by_agency=sent.dossiers_by_agency)


def pacing_clock(
    pace: float | None, first: Timestamp, clock_origin: float | None, clock_wall_origin: float | None,
    wall: float,
) -> BusinessClock | None:
    """The business clock of a paced run: shared with a worker when its origins are given, else one
    that starts at the first emitted instant now; None for the real clock (pace 1) or no pacing."""
    if pace is not None and (clock_origin is not None or clock_wall_origin is not None):
        return BusinessClock(origin=wall if clock_origin is None else clock_origin,
                             wall_origin=wall if clock_wall_origin is None else clock_wall_origin, speed=pace)
    if pace is not None and pace != 1.0:
        return BusinessClock(origin=float(first), wall_origin=wall, speed=pace)
    return None


class JsonLinesSink:
    """Canonical JSON lines (compact, UTF-8, key order kept): byte-identical for identical runs."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    def __call__(self, event: SimEvent) -> None:
        self.handle.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
