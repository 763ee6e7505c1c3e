"""The worker's garbage-collector settings (`streams.collector`): rarer full collections, start-up frozen."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.collector import FULL_COLLECTION_THRESHOLD, YOUNG_COLLECTION_THRESHOLD, settle_collector
from streams.metrics import WorkerMetrics
from streams.settings import StreamSettings


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    """The test process's collector as it was, whatever the test did to it."""
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_full_collections_become_rarer_and_the_young_thresholds_stay() -> None:
    gc.set_threshold(700, 10, 10)
    settle_collector()
    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, FULL_COLLECTION_THRESHOLD)
    settle_collector(250)
    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 250)


def test_the_young_threshold_is_the_one_asked_and_the_middle_one_stays() -> None:
    gc.set_threshold(700, 12, 10)
    settle_collector(250, 5000)
    assert gc.get_threshold() == (5000, 12, 250)


def test_the_worker_reads_both_thresholds_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_GC_YOUNG_THRESHOLD", "5000")
    monkeypatch.setenv("IOC_GC_FULL_THRESHOLD", "250")
    settings = StreamSettings()
    assert (settings.gc_young_threshold, settings.gc_full_threshold) == (5000, 250)
    monkeypatch.setenv("IOC_GC_YOUNG_THRESHOLD", "0")
    with pytest.raises(ValidationError, match="gc_young_threshold"):
        StreamSettings()


def test_what_lives_is_frozen_and_counted() -> None:
    kept = [Node() for _ in range(1000)]
    frozen = settle_collector()
    # what was frozen can only shrink after (a frozen object freed, e.g. by a thread an earlier test left)
    assert frozen >= gc.get_freeze_count() >= 1000
    ids = {id(node) for node in kept}
    assert not any(id(o) in ids for o in gc.get_objects())  # in no generation the collector traverses
    gc.unfreeze()
    assert any(o is kept[0] for o in gc.get_objects())


def test_garbage_is_collected_before_the_freeze_not_frozen_for_ever() -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    gone = weakref.ref(a)
    del a, b
    settle_collector()
    assert gone() is None


def test_the_worker_reports_its_collector() -> None:
    metrics = WorkerMetrics.create()
    metrics.gc_frozen.set(settle_collector())
    registry = metrics.registry
    reported = registry.get_sample_value("ioc_gc_frozen_objects")
    assert reported is not None and reported >= gc.get_freeze_count() > 0  # shrinks only (see above)
    assert registry.get_sample_value("python_gc_collections_total", {"generation": "2"}) is not None
    assert registry.get_sample_value("process_resident_memory_bytes") > 0  # type: ignore[operator]


def test_the_core_benchmark_can_run_with_the_worker_s_collector() -> None:
    """`benchmarks.core --collector worker` measures the core under the settings `ioc worker` runs with;
    the default run leaves CPython's collector alone. Each says which it ran with."""
    root = Path(__file__).resolve().parents[2]
    found = {}
    for choice in ("worker", "default"):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.core", "--events", "600", "--rounds", "1",
             "--collector", choice, "--json"],
            cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
            timeout=300, check=True,
        )
        found[choice] = json.loads(done.stdout.strip().splitlines()[-1])["collector"]
    assert found["default"] == "default"
    frozen = re.fullmatch(r"worker \(([\d,]+) objects frozen\)", found["worker"])
    assert frozen and int(frozen.group(1).replace(",", "")) > 10_000
