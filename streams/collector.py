"""The garbage collector set for a worker's heap: full collections rare, and not over start-up's objects.

A worker keeps tens of thousands of records in flight (fetched, or waiting for their InfluxDB lines before
they are acknowledged: Faust's `Message`s, aiokafka's records, the changelog's pending futures). They live
about a second, long enough to reach the oldest generation, so CPython's default thresholds ran a full
collection every one to three seconds, each traversing them and the ~100,000 objects of the imported code
(functions, types, Faust's app): 120-260 ms each, a stall of the event loop every time, 2.1-3.2 s of a
200,000-event benchmark run (docs/benchmarks.md, issue 19). Young collections still reclaim young cycles;
a full collection still runs, about every ten seconds at 9,000 events/s.
"""

from __future__ import annotations

import gc

FULL_COLLECTION_THRESHOLD = 100
"""Collections of the middle generation between two full ones (CPython's default: 10)."""

YOUNG_COLLECTION_THRESHOLD = 700
"""Allocations (less deallocations) of tracked objects between two young collections (CPython's default)."""


def settle_collector(full_threshold: int = FULL_COLLECTION_THRESHOLD,
                     young_threshold: int = YOUNG_COLLECTION_THRESHOLD) -> int:
    """Once start-up is done: collect, move what survives out of the collector's reach (`gc.freeze`: the
    modules, the app, the catalog and calendar live as long as the process), make full collections
    `full_threshold / 10` times rarer than CPython's default and young ones start after `young_threshold`
    allocations, keeping the middle threshold. Returns how many objects are frozen (the worker's
    `ioc_gc_frozen_objects`)."""
    gc.collect()
    gc.freeze()
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, full_threshold)
    return gc.get_freeze_count()
