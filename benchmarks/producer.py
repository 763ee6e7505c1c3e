"""Producer throughput: raw kafka-python vs the EventProducer SDK, on a real broker.

    python -m benchmarks.producer                      # starts its own KafkaBroker
    python -m benchmarks.producer --bootstrap HOST:PORT --events 200000
    python -m benchmarks.producer --write-docs   # also refreshes its table in docs/benchmarks.md
    python -m benchmarks.producer --json out.json      # also writes the results as JSON

What it measures, in one run, each phase on its own fresh topic, each ending with flush() and a check
that the topic's end offsets add up to the number of events (nothing lost):

1. the 19-agency simulator generating events alone (goal 50,000 events/s), contract validation alone
   (pydantic, `validate_event` with the catalog) and `to_json()` alone;
2. raw `KafkaProducer.send` of pre-serialised key/value bytes, kafka-python defaults (the anchor of
   docs/architecture.md), and with the tuned batching but no compression;
3. raw `KafkaProducer.send` of pre-serialised bytes with the SDK's tuned settings (the baseline);
4. `EventProducer.send(dict)`: validation + catalog + serialisation + send (what an integrator calls);
5. `EventProducer.send_validated(event)`: the fast path for events that are already models;
6. when confluent-kafka is installed (`pip install -e '.[librdkafka]'`; `--no-librdkafka` skips them):
   4 and 5 again with `EventProducer(client="librdkafka")`, and raw confluent-kafka `produce()` of the
   pre-serialised bytes (that client's ceiling).

Not a pytest test: it takes a few minutes and its figures depend on the machine (and its load).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import itertools
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from benchmarks.harness import ROOT, console, kafka, machine_info, new_topic, progress
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog, load_catalog
from dossiers.events import SCHEMA_V1, Event
from dossiers.validation import validate_event
from producers.sdk import EventProducer, default_compression
from producers.simulator import Simulator

ICT = timezone(timedelta(hours=7))
REFERENCE_RAW = "raw confluent-kafka produce(), tuned (librdkafka ceiling)"
SDK_SEND = "EventProducer.send(dict)"
SDK_FAST = "EventProducer.send_validated(event)"
LIBRDKAFKA_SUFFIX = ", client=librdkafka"
DOCS = ROOT / "docs" / "benchmarks.md"
HEADERS = [("ioc-agency", b"bench"), ("ioc-schema", SCHEMA_V1.encode())]


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")


# -- workload -------------------------------------------------------------------------------------------
def make_events(n: int, catalog: Catalog, seed: int = 7) -> list[dict[str, Any]]:
    """A realistic mix: per dossier a `received` then a few lifecycle steps, agencies from the catalog."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, 7, 30, tzinfo=ICT)
    events: list[dict[str, Any]] = []
    serial = 0
    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("received", None),
        ("transferred", None),
        ("resolved", {"outcome": "approved"}),
        ("returned", None),
        ("rated", {"rating": "satisfied"}),
    ]
    while len(events) < n:
        agency = rng.choice(catalog.agencies)
        procedure = rng.choice(agency.procedures)
        serial += 1
        moment = start + timedelta(seconds=serial)
        for i, (kind, data) in enumerate(steps):
            event: dict[str, Any] = {
                "event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "schema": SCHEMA_V1,
                "type": kind,
                "occurred_at": (moment + timedelta(hours=i)).isoformat(),
                "dossier": f"000.00.12.H48-260302-{serial:06d}",
                "agency": agency.code,
            }
            if kind == "received":
                event["procedure"] = procedure.code
                event["channel"] = rng.choice(procedure.channels)
            if data:
                event["data"] = data
            events.append(event)
    return events[:n]


@dataclass
class Inputs:
    """The prepared events: as dicts, as validated models, and pre-serialised (key, value) bytes."""

    catalog: Catalog
    events: list[dict[str, Any]]
    parsed: list[Event] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)

    @classmethod
    def prepare(cls, n: int) -> Inputs:
        catalog = load_catalog()
        with console.status(f"generating {n:,} events"):
            inputs = cls(catalog, make_events(n, catalog))
            inputs.parsed = [validate_event(e, catalog) for e in inputs.events]
            inputs.keys = [e.dossier.encode() for e in inputs.parsed]
            inputs.values = [e.to_json().encode() for e in inputs.parsed]
        # The inputs held here (800,000 objects) are the benchmark's, not a producer's: a producer streams
        # its events. Left to the garbage collector they made every full collection walk them, which cost
        # the SDK's kafka-python phase a quarter of its rate; frozen, no phase pays for them.
        gc.collect()
        gc.freeze()
        return inputs

    @property
    def mean_size(self) -> float:
        return sum(map(len, self.values)) / len(self.values)


def tuned_config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "acks": "all",
        "linger_ms": args.linger_ms,
        "batch_size": args.batch_size,
        "compression_type": None
        if args.compression == "none"
        else (default_compression() if args.compression == "auto" else args.compression),
    }


def timed(
    name: str,
    items: list[Any],
    step: Callable[[Any], object],
    finish: Callable[[], object] | None = None,
    note: str = "",
) -> Result:
    """Run `step` over `items` under a progress bar (updated every 5,000 to keep its cost out)."""
    with progress() as bar:
        task = bar.add_task(name, total=len(items))
        started = time.perf_counter()
        chunk = 5000
        for offset in range(0, len(items), chunk):
            for item in items[offset : offset + chunk]:
                step(item)
            bar.update(task, advance=min(chunk, len(items) - offset))
        if finish is not None:
            finish()
        seconds = time.perf_counter() - started
    return Result(name, len(items), seconds, note)


def count_on_topic(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + 30
        parts = consumer.partitions_for_topic(topic)
        while not parts and time.monotonic() < deadline:
            time.sleep(0.2)
            parts = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in parts or ()]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def simulated(catalog: Catalog, n: int) -> Result:
    """The 19-agency simulator generating `n` events (what `ioc simulate` hands the SDK): its goal is
    50,000 events/s, so that the producer, not the generator, bounds a simulated load."""
    calendar = WorkingCalendar(catalog.calendar)
    start = datetime(2026, 3, 2, tzinfo=ICT)
    simulator = Simulator(catalog, calendar, 5, start, start + timedelta(days=3 * 365))
    with progress() as bar:
        task = bar.add_task("Simulator.events() (19 agencies)", total=n)
        started = time.perf_counter()
        count = 0
        for count, _ in enumerate(itertools.islice(simulator.events(), n), 1):
            if not count % 5000:
                bar.update(task, completed=count)
        seconds = time.perf_counter() - started
    return Result("Simulator.events() (19 agencies)", count, seconds)


def offline_phases(inputs: Inputs, repeat: int) -> list[Result]:
    """Generation, validation and serialisation alone, no Kafka: best of the rounds too, as the machine's
    load varies."""
    results: list[Result] = []
    for _ in range(max(1, repeat)):
        made = simulated(inputs.catalog, len(inputs.events))
        check = timed(
            "validate_event (contract+catalog)", inputs.events, lambda e: validate_event(e, inputs.catalog)
        )
        dump = timed("event.to_json()", inputs.parsed, lambda e: e.to_json())
        rounds = [made, check, dump]
        results[:] = rounds if not results else [
            max(best, new, key=lambda r: r.rate) for best, new in zip(results, rounds, strict=True)]
    for r in results:
        r.note = "no Kafka"
    results[0].note = "no Kafka; goal 50,000 events/s (the generator must not bound a simulated load)"
    return results


# -- Kafka phases ---------------------------------------------------------------------------------------
@dataclass
class KafkaPhases:
    """The phases that send to a broker, each on a fresh topic recorded for the end-offset check."""

    bootstrap: str
    args: argparse.Namespace
    config: dict[str, Any]
    inputs: Inputs
    stack: ExitStack
    topics: list[tuple[str, str]] = field(default_factory=list)

    def topic(self, name: str | None) -> str:
        topic = new_topic(self.bootstrap, "bench", self.args.partitions)
        if name is not None:
            self.topics.append((name, topic))
        return topic

    def raw(self, name: str, settings: dict[str, Any], count: int | None = None) -> Result:
        """Pre-serialised records through kafka-python's KafkaProducer (`count`: an unchecked warm-up)."""
        topic = self.topic(name if count is None else None)
        keys, values = self.inputs.keys, self.inputs.values
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, **settings)
        producer.send(topic, value=values[0], key=keys[0], headers=HEADERS).get(30)  # warm up metadata
        try:
            pairs = list(zip(keys, values, strict=True))[1:count]
            send = lambda kv: producer.send(topic, value=kv[1], key=kv[0], headers=HEADERS)  # noqa: E731
            return timed(name, pairs, send, producer.flush, note=_describe(settings))
        finally:
            producer.close()

    def sdk(self, name: str, fast: bool, client: str = "kafka-python") -> Result:
        """The SDK, `send(dict)` or `send_validated(event)`, with the tuned settings and a spool."""
        items: list[Any] = self.inputs.parsed if fast else self.inputs.events
        topic = self.topic(name)
        spool_dir = self.stack.enter_context(tempfile.TemporaryDirectory(prefix="ioc-bench-spool-"))
        producer = EventProducer(
            self.bootstrap,
            topic,
            spool=Path(spool_dir) / "spool.sqlite",
            catalog=self.inputs.catalog,
            registry=None,
            linger_ms=self.args.linger_ms,
            batch_size=self.args.batch_size,
            compression_type=self.config["compression_type"],
            client=client,
        )
        step: Callable[[Any], object] = producer.send_validated if fast else producer.send
        step(items[0])
        producer.flush(30)
        try:
            result = timed(name, items[1:], step, lambda: producer.flush(120))
            if producer.spool_depth:
                result.note = f"{producer.spool_depth} left in the spool"
        finally:
            producer.close(60)
        return result

    def librdkafka(self, name: str) -> Result:
        """Pre-serialised records through confluent-kafka directly: what the SDK's librdkafka client
        could reach without the SDK's work (its ceiling, as raw KafkaProducer is kafka-python's)."""
        from confluent_kafka import Producer

        topic = self.topic(name)
        headers: list[tuple[str, str | bytes | None]] = list(HEADERS)
        producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "acks": "all",
                "linger.ms": self.args.linger_ms,
                "batch.size": self.args.batch_size,
                "compression.type": self.config["compression_type"] or "none",
                "partitioner": "murmur2_random",
                "queue.buffering.max.messages": 1_000_000,
            }
        )

        def produce(item: tuple[bytes, bytes]) -> None:
            while True:
                try:
                    producer.produce(topic, value=item[1], key=item[0], headers=headers)
                    return
                except BufferError:  # local queue full: serve delivery reports, then retry
                    producer.poll(0.01)

        def flush() -> None:
            if producer.flush(120):
                raise RuntimeError(f"{name}: records still queued after 120 s")

        pairs = list(zip(self.inputs.keys, self.inputs.values, strict=True))
        produce(pairs[0])
        producer.flush(30)
        return timed(name, pairs[1:], produce, flush, note="librdkafka " + _librdkafka_version())

    def phases(self) -> list[tuple[str, Callable[[], Result]]]:
        config, skip_defaults = self.config, self.args.skip_defaults
        phases: list[tuple[str, Callable[[], Result]]] = []
        if not skip_defaults:
            name = "raw KafkaProducer, defaults"
            phases.append((name, lambda: self.raw("raw KafkaProducer, defaults", {})))
        if not skip_defaults and config["compression_type"] is not None:
            name = "raw KafkaProducer, tuned, uncompressed"
            uncompressed = {**config, "compression_type": None}
            phases.append((name, lambda: self.raw("raw KafkaProducer, tuned, uncompressed", uncompressed)))
        baseline = "raw KafkaProducer, tuned (baseline)"
        phases += [
            (baseline, lambda: self.raw(baseline, config)),
            (SDK_SEND, lambda: self.sdk(SDK_SEND, fast=False)),
            (SDK_FAST, lambda: self.sdk(SDK_FAST, fast=True)),
        ]
        if self.args.librdkafka and importlib.util.find_spec("confluent_kafka") is not None:
            c_send, c_fast = SDK_SEND + LIBRDKAFKA_SUFFIX, SDK_FAST + LIBRDKAFKA_SUFFIX
            phases += [
                (c_send, lambda: self.sdk(c_send, fast=False, client="librdkafka")),
                (c_fast, lambda: self.sdk(c_fast, fast=True, client="librdkafka")),
                (REFERENCE_RAW, lambda: self.librdkafka(REFERENCE_RAW)),
            ]
        elif self.args.librdkafka:
            console.print(
                "confluent-kafka not installed: the librdkafka phases are skipped (pip install -e "
                "'.[librdkafka]')"
            )
        return phases

    def run(self) -> list[Result]:
        """Every phase `--repeat` times; rounds interleave the phases (rotated), so that load from
        elsewhere hits all of them alike; the best run of each is kept, the others listed in its note."""
        self.raw("warm-up (not reported)", self.config, count=min(self.args.events, 50_000))  # the JVM's JIT
        phases = self.phases()
        runs: dict[str, list[Result]] = {name: [] for name, _ in phases}
        rounds = max(1, self.args.repeat)
        for round_number in range(rounds):
            shift = round_number % len(phases)
            for name, phase in phases[shift:] + phases[:shift]:
                runs[name].append(phase())
        results = []
        for name, _ in phases:
            top = max(runs[name], key=lambda r: r.rate)
            if rounds > 1:
                listed = ", ".join(f"{r.rate:,.0f}" for r in runs[name])
                top.note = (top.note + "; " if top.note else "") + f"runs: {listed}"
            results.append(top)
        return results

    def lost(self) -> list[str]:
        """Phases whose topic does not hold exactly --events records."""
        missing = []
        with console.status("checking end offsets"):
            for name, topic in self.topics:
                found = count_on_topic(self.bootstrap, topic)
                if found != self.args.events:
                    missing.append(f"{name}: {found} records on {topic}, expected {self.args.events}")
        return missing


def _librdkafka_version() -> str:
    import confluent_kafka

    return str(confluent_kafka.libversion()[0])


def _describe(settings: dict[str, Any]) -> str:
    if not settings:
        return "linger 0, batch 16 KiB, no compression"
    return (
        f"linger {settings['linger_ms']} ms, batch {settings['batch_size'] // 1024} KiB, "
        f"{settings['compression_type'] or 'no compression'}"
    )


# -- the run --------------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.producer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bootstrap", help="use this broker instead of starting a KafkaBroker")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--linger-ms", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=512 * 1024)
    p.add_argument(
        "--compression",
        default="auto",
        help="auto (lz4/zstd if installed, else gzip), none, gzip, lz4, zstd, snappy",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each Kafka phase; the best is reported "
        "(the machine is shared: the broker, and other work, compete for the same cores)",
    )
    p.add_argument("--skip-defaults", action="store_true", help="skip the kafka-python-defaults phase")
    p.add_argument(
        "--no-librdkafka",
        dest="librdkafka",
        action="store_false",
        help="skip the confluent-kafka reference phases (run only when confluent-kafka is installed)",
    )
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--write-docs", action="store_true", help=f"refresh the producer table of {DOCS}")
    return p


def command(args: argparse.Namespace) -> str:
    """The command line the doc quotes for this run."""
    line = "python -m benchmarks.producer --write-docs"
    if args.events != 200_000:
        line += f" --events {args.events}"
    if args.repeat != 3:
        line += f" --repeat {args.repeat}"
    return line


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase; the results as a JSON-able dict (what the doc's producer table is made of)."""
    info = machine_info()
    load_before = os.getloadavg()[0]
    console.print("[bold]machine[/bold]: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    inputs = Inputs.prepare(args.events)
    config = tuned_config(args)
    console.print(
        f"events: {args.events:,}, mean value {inputs.mean_size:.0f} bytes; tuned settings: {config}"
    )
    results = offline_phases(inputs, args.repeat)
    with ExitStack() as stack:
        bootstrap = stack.enter_context(kafka(args.bootstrap, args.partitions))
        phases = KafkaPhases(bootstrap, args, config, inputs, stack)
        results += phases.run()
        load_after = os.getloadavg()[0]
        lost = phases.lost()
    baseline = next(r for r in results if "baseline" in r.name)
    return {
        "command": command(args),
        "date": time.strftime("%Y-%m-%d"),
        "machine": info,
        "events": args.events,
        "partitions": args.partitions,
        "repeat": args.repeat,
        "mean_size": inputs.mean_size,
        "settings": _describe(config),
        "compression": config["compression_type"],
        "load": [load_before, load_after],
        "lost": lost,
        "results": [
            {"name": r.name, "rate": r.rate, "vs_baseline": r.rate / baseline.rate, "note": r.note}
            for r in results
        ],
    }


def show(result: dict[str, Any]) -> None:
    table = Table(title=f"Producer throughput, {result['events']:,} events")
    for column in ("phase", "events/s", "vs baseline", "note"):
        table.add_column(column, justify="right" if column in ("events/s", "vs baseline") else "left")
    for r in result["results"]:
        table.add_row(r["name"], f"{r['rate']:,.0f}", f"{r['vs_baseline']:.2f}×", r["note"])
    out = Console()
    out.print(table)
    out.print("all phases: every event found on its topic (end offsets = events sent)")
    out.print(f"1-minute load average: {result['load'][0]:.2f} before, {result['load'][1]:.2f} after")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result = measure(args)
    for line in result["lost"]:
        console.print(f"[red]{line}[/red]")
    if result["lost"]:
        return 1
    show(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
        console.print(f"wrote {args.json}")
    if args.write_docs:
        from benchmarks.report import refresh_doc
        from benchmarks.tables import producer_block

        refresh_doc(DOCS, {"producer": producer_block(result)})
        console.print(f"refreshed the producer table of {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
