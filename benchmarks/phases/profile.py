"""Where the per-event time goes: py-spy (if installed: `pip install py-spy`) attached for
`--profile-seconds` to `Processor.handle` looping in a child process, to the naive agent and to
`ioc worker` while they consume the run's topic. One figure per profile: its sample count, the
summary (self time by library, top functions) in its details.

    python -m benchmarks.phases.profile --child --events N --partitions P   # the Processor.handle loop
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchmarks.harness import (
    ROOT,
    Context,
    Figure,
    console,
    consumed,
    follow,
    module_command,
    simulated_traffic,
    start_worker,
)
from benchmarks.phases.naive import naive_agent
from benchmarks.pyspy import Profile, py_spy, record_py_spy


def pure_child(args: argparse.Namespace) -> None:
    """Runs in the child: `Processor.handle` over simulated traffic in a loop, for py-spy to sample."""
    from streams.processor import Processor
    from streams.worker import partition_of

    traffic = simulated_traffic(args.events, label="pure processor (profile run)")
    records = [(partition_of(k.decode(), args.partitions), v) for k, v in traffic.records]
    print("ready", flush=True)
    while True:  # until the parent stops it; fresh state each round, as a new worker would have
        processor = Processor(traffic.catalog, traffic.calendar, {}, alert_backfill_seconds=2 * 86400)
        for partition, value in records:
            processor.save(processor.stage(processor.handle(partition, value, {}, traffic.now)))


def profile_pure(ctx: Context, out: Path) -> Profile | None:
    events = str(min(ctx.total, 100_000))
    cmd = module_command(
        "benchmarks.phases.profile", "--child", "--events", events, "--partitions", str(ctx.partitions)
    )
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            return None
        return record_py_spy(child.pid, ctx.options.profile_seconds, out)
    finally:
        child.kill()
        child.wait(10)


def profile_naive(ctx: Context, out: Path) -> Profile | None:
    agent = naive_agent(ctx)
    try:
        follow(
            agent.count, min(ctx.total, 10_000), "naive agent (profile run): warm-up", 120, agent.alive, 0.2
        )
        assert agent.process is not None
        return record_py_spy(agent.process.pid, ctx.options.profile_seconds, out)
    finally:
        agent.stop()


def profile_worker(ctx: Context, out: Path) -> Profile | None:
    env = ctx.traffic_worker_env("profile")
    worker, port = start_worker(env, ctx.work, f"profile-{env['IOC_APP_ID']}")
    try:
        warm = min(ctx.total, 10_000)
        follow(
            lambda: consumed(port), warm, "worker (profile run): warm-up", 120, lambda: worker.running, 0.2
        )
        assert worker.pid is not None
        return record_py_spy(worker.pid, ctx.options.profile_seconds, out)
    finally:
        worker.stop()


PROFILES: dict[str, Callable[[Context, Path], Profile | None]] = {
    "pure": profile_pure,
    "naive": profile_naive,
    "worker": profile_worker,
}


def run(ctx: Context, names: tuple[str, ...] = ("pure", "naive", "worker")) -> list[Figure]:
    if py_spy() is None:
        console.print("[yellow]py-spy is not installed (pip install py-spy): no profiles[/yellow]")
        return []
    directory: Path = ctx.options.profile_dir
    directory.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    for name in names:
        figures += ctx.attempt(f"{name} profile", partial(_profiled, ctx, name, PROFILES[name], directory))
    return figures


def run_offline(ctx: Context) -> list[Figure]:
    """`Processor.handle` alone: no broker needed (run before it starts)."""
    return run(ctx, ("pure",))


def run_on_kafka(ctx: Context) -> list[Figure]:
    """The naive agent and `ioc worker` while they consume the run's topic."""
    return run(ctx, ("naive", "worker"))


def _profiled(
    ctx: Context, name: str, how: Callable[[Context, Path], Profile | None], directory: Path
) -> list[Figure]:
    if name == "pure":
        with console.status("py-spy on Processor.handle (child process)"):
            found = how(ctx, directory / f"{name}.pyspy.txt")
    else:
        found = how(ctx, directory / f"{name}.pyspy.txt")
    return (
        []
        if found is None
        else [Figure(f"py-spy: {name}", found.samples, "samples", details=found.as_dict())]
    )


def main(argv: list[str] | None = None) -> int:
    child = argparse.ArgumentParser(prog="python -m benchmarks.phases.profile")
    child.add_argument("--child", action="store_true", required=True)
    child.add_argument("--events", type=int, required=True)
    child.add_argument("--partitions", type=int, required=True)
    pure_child(child.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
