"""Producer throughput: raw kafka-python vs the EventProducer SDK, on a real broker.

    python benchmarks/producer_bench.py                      # starts its own KafkaBroker
    python benchmarks/producer_bench.py --bootstrap HOST:PORT --events 200000
    python benchmarks/producer_bench.py --write-docs   # also rewrites "## Producer" of docs/benchmarks.md

What it measures, in one run, each phase on its own fresh topic, each ending with flush() and a check
that the topic's end offsets add up to the number of events (nothing lost):

1. contract validation alone (pydantic, `validate_event` with the catalog) and `to_json()` alone;
2. raw `KafkaProducer.send` of pre-serialised key/value bytes, kafka-python defaults (DESIGN.md's anchor),
   and with the tuned batching but no compression;
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
import os
import platform
import random
import re
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dossiers.catalog import Catalog, load_catalog  # noqa: E402
from dossiers.events import SCHEMA_V1, Event  # noqa: E402
from dossiers.validation import validate_event  # noqa: E402
from producers.sdk import EventProducer, default_compression  # noqa: E402

ICT = timezone(timedelta(hours=7))
REFERENCE_RAW = "raw confluent-kafka produce(), tuned (librdkafka ceiling)"
SDK_SEND = "EventProducer.send(dict)"
SDK_FAST = "EventProducer.send_validated(event)"
LIBRDKAFKA_SUFFIX = ", client=librdkafka"
console = Console(stderr=True)
DOCS = ROOT / "docs" / "benchmarks.md"


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
    while len(events) < n:
        agency = rng.choice(catalog.agencies)
        procedure = rng.choice(agency.procedures)
        serial += 1
        dossier = f"000.00.12.H48-260302-{serial:06d}"
        moment = start + timedelta(seconds=serial)
        steps: list[tuple[str, dict[str, Any] | None]] = [
            ("received", None),
            ("transferred", None),
            ("resolved", {"outcome": "approved"}),
            ("returned", None),
            ("rated", {"rating": "satisfied"}),
        ]
        for i, (kind, data) in enumerate(steps):
            event: dict[str, Any] = {
                "event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "schema": SCHEMA_V1,
                "type": kind,
                "occurred_at": (moment + timedelta(hours=i)).isoformat(),
                "dossier": dossier,
                "agency": agency.code,
            }
            if kind == "received":
                event["procedure"] = procedure.code
                event["channel"] = rng.choice(procedure.channels)
            if data:
                event["data"] = data
            events.append(event)
    return events[:n]


def tuned_config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "acks": "all",
        "linger_ms": args.linger_ms,
        "batch_size": args.batch_size,
        "compression_type": None
        if args.compression == "none"
        else (default_compression() if args.compression == "auto" else args.compression),
    }


# -- phases ---------------------------------------------------------------------------------------------
def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


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


def new_topic(admin: KafkaAdminClient, partitions: int) -> str:
    name = f"bench-{uuid.uuid4().hex[:10]}"
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    return name


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


def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    return {
        "nproc": str(usable),
        "cpu": model,
        "python": platform.python_version(),
        "kafka-python": version("kafka-python"),
        "pydantic": version("pydantic"),
        "os": f"{platform.system()} {platform.release()}",
    }


# -- main -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", help="use this broker instead of starting a KafkaBroker")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--linger-ms", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=512 * 1024)
    parser.add_argument(
        "--compression",
        default="auto",
        help="auto (lz4/zstd if installed, else gzip), none, gzip, lz4, zstd, snappy",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each Kafka phase; the best is reported "
        "(the machine is shared: the broker, and other work, compete for the same cores)",
    )
    parser.add_argument("--skip-defaults", action="store_true", help="skip the kafka-python-defaults phase")
    parser.add_argument(
        "--no-librdkafka",
        dest="librdkafka",
        action="store_false",
        help="skip the confluent-kafka reference phases (run only when confluent-kafka is installed)",
    )
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite the Producer section of {DOCS}")
    args = parser.parse_args(argv)

    info = machine_info()
    load_before = os.getloadavg()
    console.print("[bold]machine[/bold]: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    catalog = load_catalog()
    with console.status(f"generating {args.events:,} events"):
        events = make_events(args.events, catalog)
        parsed: list[Event] = [validate_event(e, catalog) for e in events]
        keys = [e.dossier.encode() for e in parsed]
        values = [e.to_json().encode() for e in parsed]
    mean_size = sum(map(len, values)) / len(values)
    # The inputs held here (800,000 objects) are the benchmark's, not a producer's: a producer streams its
    # events. Left to the garbage collector they made every full collection walk them, which cost the
    # SDK's kafka-python phase a quarter of its rate; frozen, no phase pays for them.
    gc.collect()
    gc.freeze()
    config = tuned_config(args)
    console.print(f"events: {args.events:,}, mean value {mean_size:.0f} bytes; tuned settings: {config}")
    headers = [("ioc-agency", b"bench"), ("ioc-schema", SCHEMA_V1.encode())]

    with ExitStack() as stack:
        bootstrap = args.bootstrap
        if bootstrap is None:
            from ioc.devstack.kafka import KafkaBroker

            with console.status("starting a local Kafka broker"):
                broker = stack.enter_context(KafkaBroker(partitions=args.partitions))
            bootstrap = broker.bootstrap
            console.print(f"broker: {broker!r} (started in {broker.startup_seconds:.1f} s)")
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        stack.callback(admin.close)
        results: list[Result] = []
        topics: list[tuple[str, str]] = []  # (phase, topic) of every Kafka run, checked at the end

        # no Kafka: best of the rounds too, as the machine's load varies
        for _ in range(max(1, args.repeat)):
            check = timed("validate_event (contract+catalog)", events, lambda e: validate_event(e, catalog))
            dump = timed("event.to_json()", parsed, lambda e: e.to_json())
            if not results:
                results[:] = [check, dump]
            else:
                results[0] = max(results[0], check, key=lambda r: r.rate)
                results[1] = max(results[1], dump, key=lambda r: r.rate)
        for r in results:
            r.note = "no Kafka"

        def raw_phase(name: str, settings: dict[str, Any], count: int | None = None) -> Result:
            topic = new_topic(admin, args.partitions)
            if count is None:
                topics.append((name, topic))
            producer = KafkaProducer(bootstrap_servers=bootstrap, **settings)
            producer.send(topic, value=values[0], key=keys[0], headers=headers).get(30)  # warm up metadata
            try:
                pairs = list(zip(keys, values, strict=True))[1:count]
                return timed(
                    name,
                    pairs,
                    lambda kv: producer.send(topic, value=kv[1], key=kv[0], headers=headers),
                    producer.flush,
                    note=_describe(settings),
                )
            finally:
                producer.close()

        # the JVM compiles its hot paths during the first seconds: warm it up, unreported
        raw_phase("warm-up (not reported)", config, count=min(args.events, 50_000))

        def sdk_phase(name: str, items: list[Any], fast: bool, client: str = "kafka-python") -> Result:
            topic = new_topic(admin, args.partitions)
            topics.append((name, topic))
            spool_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="ioc-bench-spool-"))
            producer = EventProducer(
                bootstrap,
                topic,
                spool=Path(spool_dir) / "spool.sqlite",
                catalog=catalog,
                registry=None,
                linger_ms=args.linger_ms,
                batch_size=args.batch_size,
                compression_type=config["compression_type"],
                client=client,
            )
            first = items[0]
            if fast:
                producer.send_validated(first)
            else:
                producer.send(first)
            producer.flush(30)
            try:
                step: Callable[[Any], object] = producer.send_validated if fast else producer.send
                result = timed(name, items[1:], step, lambda: producer.flush(120))
                if producer.spool_depth:
                    result.note = f"{producer.spool_depth} left in the spool"
            finally:
                producer.close(60)
            return result

        def librdkafka_phase(name: str, pairs: list[tuple[bytes, bytes]]) -> Result:
            """Pre-serialised records through confluent-kafka directly: what the SDK's librdkafka client
            could reach without the SDK's work (its ceiling, as raw KafkaProducer is kafka-python's)."""
            from confluent_kafka import Producer

            topic = new_topic(admin, args.partitions)
            topics.append((name, topic))
            producer = Producer(
                {
                    "bootstrap.servers": bootstrap,
                    "acks": "all",
                    "linger.ms": args.linger_ms,
                    "batch.size": args.batch_size,
                    "compression.type": config["compression_type"] or "none",
                    "partitioner": "murmur2_random",
                    "queue.buffering.max.messages": 1_000_000,
                }
            )

            def produce(item: tuple[bytes, bytes]) -> None:
                key, value = item
                while True:
                    try:
                        producer.produce(topic, value=value, key=key, headers=headers)
                        return
                    except BufferError:  # local queue full: serve delivery reports, then retry
                        producer.poll(0.01)

            produce(pairs[0])
            producer.flush(30)

            def flush() -> None:
                if producer.flush(120):
                    raise RuntimeError(f"{name}: records still queued after 120 s")

            return timed(name, pairs[1:], produce, flush, note="librdkafka " + _librdkafka_version())

        phases: list[tuple[str, Callable[[], Result]]] = []
        if not args.skip_defaults:
            phases.append(
                ("raw KafkaProducer, defaults", lambda: raw_phase("raw KafkaProducer, defaults", {}))
            )
        if not args.skip_defaults and config["compression_type"] is not None:
            uncompressed = {**config, "compression_type": None}
            phases.append(
                (
                    "raw KafkaProducer, tuned, uncompressed",
                    lambda: raw_phase("raw KafkaProducer, tuned, uncompressed", uncompressed),
                )
            )
        phases += [
            (
                "raw KafkaProducer, tuned (baseline)",
                lambda: raw_phase("raw KafkaProducer, tuned (baseline)", config),
            ),
            (SDK_SEND, lambda: sdk_phase(SDK_SEND, events, fast=False)),
            (SDK_FAST, lambda: sdk_phase(SDK_FAST, parsed, fast=True)),
        ]
        if args.librdkafka and importlib.util.find_spec("confluent_kafka") is not None:
            pairs = list(zip(keys, values, strict=True))
            c_send, c_fast = SDK_SEND + LIBRDKAFKA_SUFFIX, SDK_FAST + LIBRDKAFKA_SUFFIX
            phases += [
                (c_send, lambda: sdk_phase(c_send, events, fast=False, client="librdkafka")),
                (c_fast, lambda: sdk_phase(c_fast, parsed, fast=True, client="librdkafka")),
                (REFERENCE_RAW, lambda: librdkafka_phase(REFERENCE_RAW, pairs)),
            ]
        elif args.librdkafka:
            console.print("confluent-kafka not installed: the librdkafka phases are skipped "
                          "(pip install -e '.[librdkafka]')")
        # rounds interleave the phases (rotated), so that load from elsewhere hits all of them alike
        runs: dict[str, list[Result]] = {name: [] for name, _ in phases}
        rounds = max(1, args.repeat)
        for round_number in range(rounds):
            shift = round_number % len(phases)
            for name, phase in phases[shift:] + phases[:shift]:
                runs[name].append(phase())
        for name, _ in phases:
            top = max(runs[name], key=lambda r: r.rate)
            if rounds > 1:
                listed = ", ".join(f"{r.rate:,.0f}" for r in runs[name])
                top.note = (top.note + "; " if top.note else "") + f"runs: {listed}"
            results.append(top)
        load_after = os.getloadavg()

        with console.status("checking end offsets"):
            for name, topic in topics:
                found = count_on_topic(bootstrap, topic)
                if found != args.events:
                    console.print(f"[red]{name}: {found} records on {topic}, expected {args.events}[/red]")
                    return 1

    baseline = next(r for r in results if "baseline" in r.name)
    table = Table(title=f"Producer throughput, {args.events:,} events")
    for column in ("phase", "events/s", "vs baseline", "note"):
        table.add_column(column, justify="right" if column in ("events/s", "vs baseline") else "left")
    for r in results:
        table.add_row(r.name, f"{r.rate:,.0f}", f"{r.rate / baseline.rate:.2f}×", r.note)
    Console().print(table)
    Console().print("all phases: every event found on its topic (end offsets = events sent)")
    Console().print(f"1-minute load average: {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    if args.write_docs:
        write_docs(results, baseline, info, args, mean_size, config, (load_before[0], load_after[0]))
        console.print(f"wrote the Producer section of {DOCS}")
    return 0


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


def write_docs(
    results: list[Result],
    baseline: Result,
    info: dict[str, str],
    args: argparse.Namespace,
    mean_size: float,
    config: dict[str, Any],
    load: tuple[float, float],
) -> None:
    """Replace (or add) the `## Producer` section of docs/benchmarks.md, leaving other sections alone."""
    command = "python benchmarks/producer_bench.py --write-docs"
    if args.events != 200_000:
        command += f" --events {args.events}"
    if args.repeat != 3:
        command += f" --repeat {args.repeat}"
    rows = "\n".join(
        f"| {r.name} | {r.rate:,.0f} | {r.rate / baseline.rate:.2f}× | {r.note} |" for r in results
    )
    by_name = {r.name: r for r in results}
    sdk, fast = by_name[SDK_SEND], by_name[SDK_FAST]
    c_sdk = by_name.get(SDK_SEND + LIBRDKAFKA_SUFFIX)
    c_fast = by_name.get(SDK_FAST + LIBRDKAFKA_SUFFIX)
    raw_c = by_name.get(REFERENCE_RAW)
    validation = next(r for r in results if r.name.startswith("validate_event"))
    serialise = next(r for r in results if r.name.startswith("event.to_json"))
    plain = next((r for r in results if r.name.endswith("uncompressed")), None)
    goal = 50_000

    def verdict(rate: float) -> str:
        return "meets" if rate >= goal else "does NOT meet"

    bullets = [
        f"With kafka-python (the default client) the SDK's `send(dict)` (validation + catalog + "
        f"serialisation + send) reaches {sdk.rate:,.0f} events/s, {sdk.rate / baseline.rate:.0%} of raw "
        f"kafka-python sending pre-serialised bytes with the same settings; `send_validated(event)`, the "
        f"fast path that skips re-validation, {fast.rate:,.0f}. It {verdict(sdk.rate)} the goal of "
        f"{goal:,} events/s per process: the raw client alone is below it.",
    ]
    if c_sdk is not None and c_fast is not None and raw_c is not None:
        bullets.append(
            f"With `client=\"librdkafka\"` (`--client librdkafka`; confluent-kafka, the `librdkafka` extra) "
            f"the same SDK, spool and checks included, reaches {c_sdk.rate:,.0f} events/s for `send(dict)` "
            f"({c_sdk.rate / baseline.rate:.1f}× the kafka-python baseline) and {c_fast.rate:,.0f} for "
            f"`send_validated`: it {verdict(c_sdk.rate)} the {goal:,} goal. Raw confluent-kafka with the "
            f"same records and settings runs at {raw_c.rate:,.0f}: the SDK keeps "
            f"{c_sdk.rate / raw_c.rate:.0%} of it, the rest being validation, serialisation and the "
            "per-event bookkeeping that lets the spool keep each dossier's order."
        )
    bullets += [
        f"Where kafka-python's time goes: validation alone runs at {validation.rate:,.0f} events/s "
        f"({1e6 / validation.rate:.1f} µs per event) and `to_json()` at {serialise.rate:,.0f} "
        f"({1e6 / serialise.rate:.1f} µs), against {1e6 / baseline.rate:.1f} µs per event for the raw "
        "client alone. kafka-python appends records to its batches, partitions and runs its sender thread "
        "in Python, under one GIL, on a machine whose other core runs the broker (py-spy: the accumulator "
        "append and the partitioner are about half of the main thread's time in `send`).",
        "The SDK pays for part of its checks with its own kafka-python partitioner (`DossierPartitioner`: "
        "murmur2, the Java client's mapping, memoised per dossier key, and the partition list sorted once "
        "per topic instead of per record). librdkafka is configured with `murmur2_random`, the same "
        "mapping: producers of either client put a dossier's events on the same partition (tested).",
    ]
    if plain is not None:
        bullets.append(
            f"Compression: with the same batching, {config['compression_type']} ran at "
            f"{baseline.rate / plain.rate:.2f}× the uncompressed rate ({baseline.rate:,.0f} against "
            f"{plain.rate:,.0f} events/s) on loopback. kafka-python checksums every batch with CRC-32C; "
            "without the `crc32c` package (now a dependency) it does so in pure Python and the uncompressed "
            "producer was the slower one (16,156 against 23,007 events/s on 2026-11-26)."
        )
    bullets.append(
        "A province produces well under 10 events/s; these rates matter for replays and bulk loads."
    )
    findings = "\n".join(
        textwrap.fill(b, width=104, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False)
        for b in bullets
    )
    busy = max(load) > float(info["nproc"] or 1)
    caveat = (
        "\nUnder this load the runs of one phase differ by up to 2× (see the notes): compare the rows of one"
        "\nrun with each other rather than with figures from another machine or moment."
        if busy
        else ""
    )
    reference_note = (
        "\n(the three librdkafka rows appear when confluent-kafka is installed, as the test command\n"
        "does: `pip install -e '.[librdkafka]'`; `--no-librdkafka` skips them)"
        if raw_c is not None
        else ""
    )
    section = f"""## Producer

Measured {time.strftime("%Y-%m-%d")} on {info["nproc"]} CPU(s) ({info["cpu"]}), Python {info["python"]},
kafka-python {info["kafka-python"]}, pydantic {info["pydantic"]}; a local single-node Kafka 3.9.1
(`ioc.devstack.kafka.KafkaBroker`) on the same machine, {args.partitions} partitions, one producer process.
The machine was shared with other work (1-minute load average {load[0]:.1f} before, {load[1]:.1f} after):
each Kafka phase ran {args.repeat} times, interleaved with the others, and the best run is shown.{caveat}

Command: `{command}`{reference_note}

{args.events:,} events (mean value {mean_size:.0f} bytes), settings {_describe(config)}, `acks=all`;
idempotence: kafka-python's default (on) for the raw rows, off for the SDK (its default). The prepared
inputs are moved out of the garbage collector's reach (`gc.freeze()`): a producer streams its events,
it does not hold 200,000 of them. Every run ends with `flush()` and checks that its topic's end offsets
add up to
{args.events:,} (nothing lost).

| phase | events/s | vs baseline | note |
|---|---:|---:|---|
{rows}

What the figures say:
{findings}
"""
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## Producer\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
