"""Benchmarks of ioc-monitor (docs/benchmarks.md). Run from the repository root:

    python -m benchmarks.producer      # the producer SDK against raw clients
    python -m benchmarks.gateway       # the HTTP gateway against `ioc produce` (needs wrk)
    python -m benchmarks.streams       # the stream worker, its peers, memory, overdue detection, profiles
    python -m benchmarks.report        # all + latency, recovery, replay; refreshes the doc's tables

`harness` holds what the phases share; `phases/` one module per measurement, each with `run(ctx)`
returning its `Figure`s. Not pytest tests: they take minutes and their figures depend on the machine.
"""

from ioc import native as _native

_native.refuse_stale("benchmarks")  # a compiled core built from other sources would measure old code
