"""The peer baseline: a minimal faust-streaming agent (stream.events(), json.loads, a memory-table
count) in a child process (docs/architecture.md puts it at ~4.5-5.6k/s). Variants: without the table
update, and with Faust's producer linger at 20 ms.

    python -m benchmarks.phases.naive --child --bootstrap ... --topic ...   # the agent (run by `run`)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Context, Figure, StatusChild, module_command

VARIANTS = {
    "table": "naive faust agent",
    "no-table": "naive faust agent, no table update",
    "linger": "naive faust agent, producer_linger 20 ms",
}


def naive_child(args: argparse.Namespace) -> None:
    """Runs in the child: a minimal Faust app; writes its progress and timings to --status."""
    import faust

    status = Path(args.status)
    tuning: dict[str, Any] = {"producer_linger": 0.02} if args.variant == "linger" else {}
    app: Any = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=args.data_dir,
        topic_partitions=args.partitions,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        table_standby_replicas=0,
        **tuning,
    )
    topic = app.topic(
        args.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    counts = app.Table("naive-counts", default=int, partitions=args.partitions)
    expect: int = args.expect
    table = args.variant != "no-table"
    marks = {int(expect * q): q for q in (0.1, 0.9)}
    seen: dict[str, float] = {"count": 0, "first": 0.0}

    def write(final: bool = False) -> None:
        tmp = status.with_suffix(".tmp")
        tmp.write_text(json.dumps({**seen, "final": final}))
        tmp.replace(status)

    async def count(stream: Any) -> None:
        n = 0
        async for event in stream.events():
            body = json.loads(event.value)
            if table:
                counts[body["agency"]] += 1
            n += 1
            if n == 1:
                seen["first"], seen["cpu_first"] = time.time(), time.process_time()
            if n in marks:
                seen[f"t{marks[n]}"] = time.time()
            if n % 5000 == 0 or n == expect:
                seen["count"] = n
                seen["last"], seen["cpu_last"] = time.time(), time.process_time()
                write(final=n == expect)

    app.agent(topic, name="naive-count")(count)  # faust's decorators are untyped: applied as a call
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def naive_agent(ctx: Context, variant: str = "table") -> StatusChild:
    """The naive agent's child process, reporting to its status file."""
    suffix = os.urandom(4).hex()
    child = StatusChild(ctx.work, f"naive-{suffix}")
    options = {
        "--bootstrap": ctx.bootstrap,
        "--topic": ctx.topic,
        "--partitions": str(ctx.partitions),
        "--expect": str(ctx.total),
        "--app-id": f"naive-{suffix}",
        "--status": str(child.status),
        "--data-dir": str(ctx.work / f"naive-{suffix}"),
        "--variant": variant,
    }
    return child.start(
        module_command("benchmarks.phases.naive", "--child", *(x for pair in options.items() for x in pair))
    )


def measure(ctx: Context, variant: str = "table") -> list[Figure]:
    return [naive_agent(ctx, variant).measure(ctx.total, VARIANTS[variant])]


def run(ctx: Context) -> list[Figure]:
    """The naive agent as it is (the peer the worker is compared with)."""
    return measure(ctx, "table")


def run_no_table(ctx: Context) -> list[Figure]:
    """Without the table update: what Faust's per-event path costs apart from the changelog."""
    return measure(ctx, "no-table")


def run_linger(ctx: Context) -> list[Figure]:
    """With `producer_linger=0.02`: the changelog records leave in batches."""
    return measure(ctx, "linger")


def main(argv: list[str] | None = None) -> int:
    child = argparse.ArgumentParser(prog="python -m benchmarks.phases.naive")
    child.add_argument("--child", action="store_true", required=True)
    for name in ("--bootstrap", "--topic", "--app-id", "--status", "--data-dir"):
        child.add_argument(name, required=True)
    child.add_argument("--partitions", type=int, required=True)
    child.add_argument("--expect", type=int, required=True)
    child.add_argument("--variant", choices=list(VARIANTS), default="table")
    naive_child(child.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
