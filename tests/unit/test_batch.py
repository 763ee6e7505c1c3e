"""The worker's batch loop (`streams.batch`, compiled with the core): batching changes nothing but the number
of states written, and its benchmark (`benchmarks.batch`) runs every record through `Worker.on_records`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.batch import FakeRecord
from benchmarks.harness import simulated_traffic
from streams.batch import handle_records
from streams.influx import centres_of
from streams.processor import Processor
from streams.worker import partition_of

PARTITIONS = 3


def test_one_batch_gives_the_lines_alerts_and_last_states_of_one_record_at_a_time() -> None:
    """A partition's records handled in one batch and one by one give the same InfluxDB lines, alerts
    and counts, in the same order; the batch writes each dossier once, with the state the one-by-one run
    wrote last, and refuses the same records with the same reasons."""
    traffic = simulated_traffic(1_500, label="")
    records = [
        FakeRecord(partition_of(key.decode(), PARTITIONS), offset, key, value)
        for offset, (key, value) in enumerate(traffic.records)
    ]
    broken = FakeRecord(0, len(records), b"X", b'{"type": "received"}')
    records.append(broken)
    centres = centres_of(traffic.catalog)

    def processor() -> Processor:
        return Processor(traffic.catalog, traffic.calendar, {}, alert_backfill_seconds=None)

    batched, single = processor(), processor()
    for partition in range(PARTITIONS):
        mine = [r for r in records if r.partition == partition]
        whole = handle_records(batched, partition, mine, traffic.now, centres)
        lines, alerts, refused, last = [], [], [], {}
        seen: dict[tuple[str, str, str], int] = {}
        writes = 0
        for record in mine:
            one = handle_records(single, partition, [record], traffic.now, centres)
            lines += one.lines
            alerts += one.alerts
            refused += [(error.code, error.reason, r.offset) for error, r in one.refused]
            last.update(one.writes)
            writes += len(one.writes)
            for key, n in one.seen.items():
                seen[key] = seen.get(key, 0) + n
        assert whole.lines == lines and len(lines) >= len(mine) - len(refused)
        assert whole.alerts == alerts
        assert [(e.code, e.reason, r.offset) for e, r in whole.refused] == refused
        assert whole.writes == last and len(whole.writes) < writes  # fewer states written, the same last ones
        assert dict(whole.seen) == seen and sum(seen.values()) == len(mine) - len(refused)
        if partition == broken.partition:
            assert broken.offset in [r.offset for _, r in whole.refused]
    assert batched.views.keys() == single.views.keys()
    for partition, view in batched.views.items():
        assert view.counters.counts == single.views[partition].counters.counts


def test_the_batch_benchmark_acknowledges_every_record() -> None:
    """`python -m benchmarks.batch` times `Worker.on_records` over the simulator's traffic; it fails unless
    every record was acknowledged, and says which build of the core ran and how the collector was set."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.batch", "--events", "800", "--rounds", "1", "--batch-size", "50",
         "--collector", "worker", "--json"],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=300,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["events"] == 800 and result["batch_size"] == 50
    assert result["core"] in ("compiled", "source") and result["median"] > 0
    assert result["collector"].startswith("worker (") and result["collector"].endswith(" objects frozen)")
