"""CPU per changelog record of the dossier table: Faust's path (`table[key] = value`, one record at a time
through the producer buffer) against `streams.changelog.BatchedChangelog` (one aiokafka batch per
partition and save), on a real broker, in one process, the two alternately (issue 19).

    python -m benchmarks.changelog                          # starts its own Kafka broker
    python -m benchmarks.changelog --records 20000 --rounds 4 --bootstrap HOST:PORT

Each round writes `--records` states of 300 bytes over 6 partitions (in each partition's context, as the
worker's checkpoint does) and then runs the flush that precedes a commit of offsets
(`faust_compat.deliver_before_commit`); every 600 records (a worker's batch of 100 records per partition)
the batched way sends, and both let the event loop run (Faust's buffer sends in a task of its own): the
CPU time of this process from the first write to the last
acknowledgement, per record. Not a pytest test: its figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import faust

from benchmarks.harness import kafka, load_average, new_topic
from streams import faust_compat
from streams.changelog import BatchedChangelog

PARTITIONS = 6
SOURCE = "events"


async def rounds(bootstrap: str, records: int, count: int) -> dict[str, list[float]]:
    app: Any = faust.App(f"changelog-bench-{time.time_ns()}", broker=f"kafka://{bootstrap}", store="memory://",
                         web_enabled=False)
    schema: Any = faust.Schema(key_type=str, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = app.Table("dossiers", default=None, schema=schema, partitions=PARTITIONS)
    faust_compat.use_raw_changelog(table)
    topic = new_topic(bootstrap, "changelog-bench", PARTITIONS)
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    table.changelog_topic = app.topic(topic, partitions=PARTITIONS, **raw)
    table._verified_source_topics_for_partitions.add(SOURCE)  # no consumer here to ask the partition count
    keep = faust_compat.deliver_before_commit(app.producer)
    batched = BatchedChangelog(table, app.producer, keep)
    value = b"s" * 300
    found: dict[str, list[float]] = {"faust": [], "batched": []}
    await app.producer.start()
    try:
        for number in range(count * 2):
            way = "faust" if number % 2 == 0 else "batched"
            target: Any = table if way == "faust" else batched
            started = time.process_time()
            for i in range(records):
                partition = i % PARTITIONS
                with faust_compat.partition_context(faust_compat.Where(SOURCE, partition)):
                    target[f"D-{number}-{i}"] = value
                if i % 600 == 599:  # a save of a batch of 100 records per partition, then the loop runs
                    await batched.send()  # (nothing to send on Faust's way)
                    await asyncio.sleep(0)
            await batched.send()
            await app.producer.flush()
            found[way].append((time.process_time() - started) / records * 1e6)
    finally:
        await app.producer.stop()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4, help="rounds of each way, alternately")
    args = parser.parse_args()
    with kafka(args.bootstrap, PARTITIONS) as bootstrap:
        found = asyncio.run(rounds(bootstrap, args.records, args.rounds))
    result = {way: {"us_per_record": [round(x, 1) for x in xs], "median": round(statistics.median(xs), 1)}
              for way, xs in found.items()}
    result["load"] = load_average()  # type: ignore[assignment]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
