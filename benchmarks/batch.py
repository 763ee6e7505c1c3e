"""The worker's batch path without Kafka (issue 19): CPU µs per record of `Worker.on_records`, the core with
everything the worker does around it in its own process before Faust's part (the lines, the staging, the
sensor's counts, the checkpoint's queue and saves), over the simulator's traffic in batches per partition.

    python -m benchmarks.batch --events 100000 --rounds 3
    python -m benchmarks.batch --batch-size 100 --json

What it leaves out is Faust's and aiokafka's part (fetching, the changelog, commits): the difference
between this figure and `benchmarks.core`'s is the worker's own glue, and between this one and the
stream benchmark's (`benchmarks.streams`) is the framework's. Kafka is replaced here by named fakes,
`FakePublisher` (a delivery done at once) and `FakeSink` (every line written at once): a benchmark of
CPU in one process, never a test of delivery. Not the test doubles of tests/support/doubles.py: those
keep every send and line for the tests to read, and write nothing until told, which a benchmark would
time and hold in memory. It uses only `Worker`'s public methods, so the same file
times an older tree too (copied into its worktree).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections import defaultdict
from typing import Any

from benchmarks.harness import Traffic, core_build, load_average, simulated_traffic


class FakeRecord:
    """A consumed record as the worker reads it (a Faust `Message`'s fields)."""

    __slots__ = ("headers", "key", "offset", "partition", "topic", "value")

    def __init__(self, partition: int, offset: int, key: bytes, value: bytes) -> None:
        self.topic: str = "events"
        self.partition: int = partition
        self.offset: int = offset
        self.key: bytes | None = key
        self.value: bytes | None = value
        self.headers: Any = []


class FakePublisher:
    """Stands for a Kafka topic: every send is delivered at once (no broker in this benchmark)."""

    async def send(self, **_: Any) -> asyncio.Future[None]:
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class FakeSink:
    """Stands for the InfluxDB sink: every line is written at once (no InfluxDB in this benchmark)."""

    def __init__(self) -> None:
        self.batches = 0

    @property
    def added(self) -> int:
        return self.batches

    @property
    def written(self) -> int:
        return self.batches

    @property
    def full(self) -> bool:
        return False

    def add(self, lines: list[str], rp: str = "") -> int:
        self.batches += 1
        return self.batches

    def flush(self, timeout: float) -> bool:
        return True

    def close(self, timeout: float) -> None:
        return None


def batches(traffic: Traffic, partitions: int, size: int) -> list[list[FakeRecord]]:
    """The records in per-partition batches of up to `size`, in the order a fetch would give them."""
    from streams.worker import partition_of

    open_: dict[int, list[FakeRecord]] = defaultdict(list)
    out: list[list[FakeRecord]] = []
    for offset, (key, value) in enumerate(traffic.records):
        partition = partition_of(key.decode(), partitions)
        batch = open_[partition]
        batch.append(FakeRecord(partition, offset, key, value))
        if len(batch) == size:
            out.append(open_.pop(partition))
    out.extend(open_.values())
    return out


async def one_pass(traffic: Traffic, work: list[list[FakeRecord]], partitions: int) -> tuple[float, int]:
    """CPU seconds of `Worker.on_records` over every batch with a fresh worker; the records acknowledged."""
    from dossiers.clock import BusinessClock
    from streams.processor import Processor
    from streams.sensor import WorkerSensor
    from streams.worker import Worker

    processor = Processor(traffic.catalog, traffic.calendar, {}, alert_backfill_seconds=2 * 86400)
    worker = Worker(
        processor=processor, calendar=traffic.calendar, clock=BusinessClock(traffic.now, time.time(), 1.0),
        sensor=WorkerSensor(), partitions=partitions, events_topic="events", ticks_topic="ticks",
        alerts=FakePublisher(), dead_letters=FakePublisher(), ticks=FakePublisher(),
        assigned=lambda: set(range(partitions)),
    )
    worker.start(FakeSink())
    worker.on_assigned()
    acked = 0

    def ack(_: Any) -> None:
        nonlocal acked
        acked += 1

    gc.collect()
    started = time.process_time()
    for batch in work:
        await worker.on_records(batch[0].partition, batch, ack)
    return time.process_time() - started, acked


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=500, help="records per partition per batch")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes, a fresh worker each")
    parser.add_argument(
        "--collector", choices=("default", "worker"), default="default",
        help="worker: after the traffic is built, settle the garbage collector as `ioc worker` does at "
        "start-up (`streams.collector.settle_collector`: freeze, rare full collections), as "
        "`benchmarks.core --collector worker`",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line instead of text")
    args = parser.parse_args(argv)

    traffic = simulated_traffic(args.events, label="simulating events (batch)")
    collector = "default"
    if args.collector == "worker":
        from streams.collector import settle_collector

        collector = f"worker ({settle_collector():,} objects frozen)"
    work = batches(traffic, args.partitions, args.batch_size)
    per_record = []
    for _ in range(args.rounds):
        used, acked = asyncio.run(one_pass(traffic, work, args.partitions))
        if acked != len(traffic.records):
            raise SystemExit(f"{acked} of {len(traffic.records)} records acknowledged: an incomplete pass")
        per_record.append(used / len(traffic.records) * 1e6)
    result = {
        "events": len(traffic.records), "batch_size": args.batch_size, "core": core_build(),
        "us_per_event": [round(x, 2) for x in per_record], "median": round(statistics.median(per_record), 2),
        "best": round(min(per_record), 2), "collector": collector, "load": load_average(),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"Worker.on_records, {result['events']:,} events in batches of {args.batch_size} per partition, "
          f"core {result['core']}: median {result['median']} µs per event (best {result['best']}; rounds "
          f"{', '.join(f'{x:.1f}' for x in per_record)}); collector {collector}; load {result['load']}")


if __name__ == "__main__":
    main()
