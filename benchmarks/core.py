"""The domain core alone (issue 19): CPU µs per event of `Processor.handle`, staged and saved as the worker
does (`stage` then `save` after each record), over the simulator's traffic, no Kafka, no Faust. Also a
digest of everything the processor produced, so that a change to the core can be checked to give the
same results on the same events.

    python -m benchmarks.core --events 60000 --rounds 3            # µs/event, fixed clock (as the pure phase)
    python -m benchmarks.core --events 60000 --clock event --digest  # moving clock + ticks, and a digest
    python -m benchmarks.core --events 50000 --cprofile 20           # the top of a cProfile
    python -m benchmarks.core --held-limit 0                         # no held contributions (all misses)
    python -m benchmarks.core --shortcut both --rounds 4             # with and without it, alternately
    python -m benchmarks.core --collector worker                     # the collector as `ioc worker` sets it
    python -m benchmarks.core --events 20000 --instructions          # instructions per event (valgrind)

It runs the core as the tree holds it: compiled by mypyc after `ioc native build`, from source after
`ioc native clean` (the output says which: "core compiled" or "core source").

Time on this machine drifts by up to a third between two runs of the same tree minutes apart, more than
most changes to the core are worth; `--instructions` counts instead (valgrind's callgrind, only inside the
processor's `handle`, `stage`, `save` and `tick`, the collections they trigger included): the same tree
gives the same count to within a few parts in ten thousand (its test allows 1 %), so two trees compare
in one run each. It needs the compiled core (the count is of its C functions) and valgrind (`apt-get
install valgrind`); it runs about 150 times slower, so 20,000 events take about four minutes.

Two clocks: `fixed` hands every record the instant after the last event (what `benchmarks.phases.pure`
measures); `event` hands each record its own instant plus a few seconds (a worker keeping up), and ticks
every partition once per business minute, so the timers, alerts and due-soon/overdue transitions run too.
The digest covers outcomes (status, alerts, deadline marks, the states written, decoded), the views
(KPI counters, running II.06a and 766 counters, the due heap) and a rebuild of the views from the saved
table, which must equal the incremental ones.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.harness import Traffic, core_build, simulated_traffic


def _timestamps(traffic: Traffic) -> list[int]:
    from dossiers.events import parse_event

    return [int(parse_event(value).occurred_at.timestamp()) for _, value in traffic.records]


def _state_repr(raw: bytes) -> str:
    from dossiers.lifecycle import DossierState

    return repr(DossierState.from_bytes(raw))


class Run:
    """One pass over the traffic with a fresh processor (and its dict store)."""

    def __init__(
        self, traffic: Traffic, partitions: int, clock: str, digest: bool, held_limit: int | None = None,
        shortcut: bool = True,
    ) -> None:
        from streams.processor import Processor
        from streams.worker import partition_of

        self.traffic = traffic
        self.partitions = partitions
        self.parts = [partition_of(key.decode(), partitions) for key, _ in traffic.records]
        self.clock = clock
        self.times = _timestamps(traffic) if clock == "event" else []
        self.store: dict[str, bytes] = {}
        self.processor = Processor(
            traffic.catalog, traffic.calendar, self.store, alert_backfill_seconds=2 * 86400
        )
        if held_limit is not None and hasattr(self.processor, "held_limit"):
            self.processor.held_limit = held_limit  # 0: every dossier's old contribution recomputed
        if hasattr(self.processor, "shortcut"):
            self.processor.shortcut = shortcut  # False: every event computes its figures again
        self.hash = hashlib.sha256() if digest else None
        self.ticks = 0

    def _feed(self, outcome: Any) -> None:
        if self.hash is None:
            return
        parts = [
            outcome.status,
            outcome.procedure_field,
            outcome.channel,
            outcome.error.reason if outcome.error else None,
            [a.to_json() for a in outcome.alerts],
            [repr(d) for d in outcome.deadlines],
            [(k, _state_repr(v)) for k, v in outcome.writes],
        ]
        self.hash.update(repr(parts).encode())

    def go(self) -> None:
        processor, records, parts = self.processor, self.traffic.records, self.parts
        feed = self._feed if self.hash is not None else None
        if self.clock == "fixed":
            now = self.traffic.now
            for i in range(len(records)):
                outcome = processor.handle(parts[i], records[i][1], {}, now)
                if feed:
                    feed(outcome)
                processor.save(processor.stage(outcome))
            return
        times, last_tick = self.times, 0
        now = 0
        for i in range(len(records)):
            now = max(now, times[i] + 5)
            if now - last_tick >= 60:
                last_tick = now
                for p in range(self.partitions):
                    tick = processor.tick(p, now)
                    self.ticks += 1
                    if feed:
                        feed(tick)
                    processor.save(processor.stage(tick))
            outcome = processor.handle(parts[i], records[i][1], {}, now)
            if feed:
                feed(outcome)
            processor.save(processor.stage(outcome))

    def views(self) -> str:
        """The views in a canonical text: counters, running figures, the due heap (as a sorted list)."""
        out = []
        for p, view in sorted(self.processor.views.items()):
            out.append(
                repr(
                    (
                        p,
                        sorted(view.counters.counts.items()),
                        sorted(view.report.items()),
                        sorted(view.index.items()),
                        sorted(set(view.due)),
                        view.dossiers,
                        view.report_floor,
                    )
                )
            )
        return "\n".join(out)

    def finish(self) -> str:
        """The digest, after checking a rebuild from the saved table gives the same views."""
        from streams.processor import Processor
        from streams.worker import partition_of

        assert self.hash is not None
        self.hash.update(self.views().encode())
        self.hash.update(repr(sorted((k, _state_repr(v)) for k, v in self.store.items())).encode())
        fresh = Processor(self.traffic.catalog, self.traffic.calendar, dict(self.store))
        fresh.rebuild(range(self.partitions), self.store.items(), lambda k: partition_of(k, self.partitions))
        for p, view in fresh.views.items():
            mine = self.processor.views.get(p)
            assert mine is not None
            # the floor only moves up when running figures are asked: compare as of the same floor
            view.bound_report(mine.report_floor)
            assert view.counters.counts == mine.counters.counts, f"partition {p}: KPI counters differ"
            assert view.report == mine.report, f"partition {p}: II.06a counters differ"
            assert view.index == mine.index, f"partition {p}: 766 counters differ"
            assert view.dossiers == mine.dossiers
        return self.hash.hexdigest()


def timed(make: Callable[[], Run]) -> tuple[float, Run]:
    run = make()
    gc.collect()
    cpu = time.process_time()
    run.go()
    used = time.process_time() - cpu
    return used / len(run.traffic.records) * 1e6, run


COUNTED = ("handle", "stage", "save", "tick")
"""The processor's methods whose instructions `--instructions` counts (with all they call)."""


def instructions(argv: list[str], events: int) -> dict[str, Any]:
    """Run this benchmark once more under callgrind, counting only inside the compiled `COUNTED` methods
    (`--toggle-collect`), and return the count per event. Deterministic where time is not."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind: apt-get install valgrind")
    if core_build() != "compiled":
        raise SystemExit("--instructions counts the compiled core's functions: run `ioc native build` first")
    rest = [a for a in argv if a not in ("--instructions", "--digest")]  # one timed pass is counted
    with tempfile.TemporaryDirectory() as directory:
        command = [
            valgrind, "--tool=callgrind", f"--callgrind-out-file={directory}/callgrind.out",
            *(f"--toggle-collect=CPyDef_processor___Processor___{name}" for name in COUNTED),
            sys.executable, "-m", "benchmarks.core", *rest, "--rounds", "1", "--json",
        ]
        # string hashes seeded alike in every run: the dicts' probing is then the same too
        env = {**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind failed ({done.returncode}):\n{done.stderr[-2000:]}")
    counted = int(found.group(1))
    return {"instructions": counted, "instructions_per_event": round(counted / events)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.core", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed passes (fresh processor each); best and median"
    )
    parser.add_argument("--clock", choices=("fixed", "event"), default="fixed")
    parser.add_argument("--digest", action="store_true", help="also print a digest of every result")
    parser.add_argument(
        "--cprofile", type=int, default=0, metavar="TOP", help="print the top TOP rows of a cProfile"
    )
    parser.add_argument(
        "--held-limit", type=int, default=None, help="Processor.held_limit (0: no held contributions)"
    )
    parser.add_argument(
        "--shortcut", choices=("on", "off", "both"), default="on",
        help="Processor.shortcut; both: alternate rounds with and without it (the machine's drift cancels)",
    )
    parser.add_argument(
        "--collector", choices=("default", "worker"), default="default",
        help="worker: after the traffic is built, settle the garbage collector as `ioc worker` does at "
        "start-up (`streams.collector.settle_collector`: freeze, rare full collections)",
    )
    parser.add_argument(
        "--instructions", action="store_true",
        help="instead of timing: instructions per event inside the processor, counted by valgrind's "
        "callgrind in one more run of this command (deterministic; see above)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line instead of text")
    args = parser.parse_args(argv)
    if args.instructions:
        if args.cprofile or args.shortcut == "both":
            parser.error("--instructions counts one pass: not with --cprofile or --shortcut both")
        counted = instructions(sys.argv[1:] if argv is None else argv, args.events)
        counted.update(events=args.events, clock=args.clock, collector=args.collector)
        if args.json:
            print(json.dumps(counted))
        else:
            print(f"{counted['instructions_per_event']:,} instructions per event inside the processor "
                  f"({counted['instructions']:,} over {args.events:,} events, clock {args.clock}, collector "
                  f"{args.collector}; callgrind)")
        return

    traffic = simulated_traffic(args.events, label="simulating events (core)")
    collector = "default"
    if args.collector == "worker":
        from streams.collector import settle_collector

        collector = f"worker ({settle_collector():,} objects frozen)"

    def make(digest: bool = False, shortcut: bool = args.shortcut != "off") -> Run:
        return Run(traffic, args.partitions, args.clock, digest, args.held_limit, shortcut)

    if args.shortcut == "both":
        rounds: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for flag in (False, True):
                rounds[flag].append(timed(partial(make, shortcut=flag))[0])
        for flag, found in rounds.items():
            found.sort()
            print(f"shortcut {'on' if flag else 'off'}: {found[0]:.1f} µs/event best, "
                  f"{found[len(found) // 2]:.1f} median of {args.rounds}")
        print(f"on / off (best): {rounds[True][0] / rounds[False][0]:.3f}")
        return
    figures = sorted(timed(make)[0] for _ in range(args.rounds))
    result: dict[str, Any] = {
        "events": len(traffic.records),
        "clock": args.clock,
        "partitions": args.partitions,
        "held_limit": args.held_limit,
        "rounds": args.rounds,
        "best_us": round(figures[0], 1),
        "median_us": round(figures[len(figures) // 2], 1),
        "core": core_build(),
        "collector": collector,
    }
    if args.digest:
        run = make(digest=True)
        run.go()
        result["ticks"] = run.ticks
        result["digest"] = run.finish()
    if args.cprofile:
        run = make()
        profiler = cProfile.Profile()
        profiler.enable()
        run.go()
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.cprofile)
        result["cprofile"] = text.getvalue()
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"Processor.handle + stage/save: {result['best_us']} µs/event best, {result['median_us']} median "
        f"of {args.rounds} ({result['events']:,} events, clock {args.clock}, {args.partitions} partitions, "
        f"core {result['core']}, collector {collector})"
    )
    if "digest" in result:
        print(f"digest {result['digest']} (ticks {result['ticks']})")
    if "cprofile" in result:
        print(result["cprofile"])


if __name__ == "__main__":
    main()
