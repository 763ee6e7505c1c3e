"""The product: `ioc worker` (WorkerProcess, InfluxDB sink, Prometheus port), measured by the offsets its
consumer group commits until every record of the topic is committed (each record once; the workers'
counters, ioc_events_total + ioc_dead_letters_total, also count what a rebalance re-delivers). Variants:
the worker without its producer linger (IOC_PRODUCER_LINGER_SECONDS=0, the default before 2026-12-05), and
N workers in one consumer group."""

from __future__ import annotations

from benchmarks.harness import Committed, Context, Figure, consumed, follow, start_worker

NAME = "pipeline: ioc worker"
NO_LINGER = {"IOC_PRODUCER_LINGER_SECONDS": "0"}
"""Faust's producer linger off: each changelog, alert and tick record sent at once (the default is 20 ms)."""


def measure(ctx: Context, workers: int = 1, tuning: dict[str, str] | None = None) -> list[Figure]:
    """`workers` x `ioc worker` in one group on the events topic; `tuning`: extra environment (IOC_*
    settings)."""
    env = ctx.traffic_worker_env("pipeline", **(tuning or {}))
    started = [start_worker(env, ctx.work, f"worker-{i}-{env['IOC_APP_ID']}") for i in range(workers)]
    total = ctx.total
    # progress = records whose offsets the group committed (saved, their points and alerts out): the
    # workers' own counters also count what a rebalance made them consume twice (24 % more with two
    # workers starting together on 100,000 records, 2026-12-05), which inflated the two-worker rate
    committed = Committed(ctx.bootstrap, env["IOC_APP_ID"], ctx.topic)
    try:
        series = follow(
            committed,
            total,
            f"ioc worker × {workers} (committed)",
            timeout=1800,
            alive=lambda: all(w.running for w, _ in started),
            pids=[w.pid for w, _ in started if w.pid is not None],
        )
        if series.samples[-1][1] < total:
            raise RuntimeError(
                f"workers stopped at {series.samples[-1][1]:.0f} committed:\n"
                f"{started[0][0].log_text()[-3000:]}"
            )
        twice = sum(consumed(port) for _, port in started) - total
    finally:
        committed.close()
        for w, _ in started:
            w.stop()
    overall, steady = series.rates(total)
    name = NAME if workers == 1 else f"pipeline: {workers} ioc workers, one group"
    if tuning:
        name += ", " + ", ".join(f"{k}={v}" for k, v in tuning.items())
    return [
        Figure(
            name,
            overall,
            "events/s",
            f"steady (10-90%): {steady:,.0f}/s; committed offsets; consumed again after rebalances: "
            f"{twice:,.0f}; InfluxDB sink on",
            cpu_us=series.cpu_per_event(total),
            broker_us=series.cpu_per_event(total, "broker"),
        )
    ]


def run(ctx: Context) -> list[Figure]:
    """One `ioc worker` with its default settings."""
    return measure(ctx)


def run_no_linger(ctx: Context) -> list[Figure]:
    """One `ioc worker` with IOC_PRODUCER_LINGER_SECONDS=0: what the 20 ms linger gives."""
    return measure(ctx, tuning=NO_LINGER)


def run_scaled(ctx: Context) -> list[Figure]:
    """`--scale-workers` workers in one consumer group (skipped below 2)."""
    workers = int(ctx.options.scale_workers)
    return measure(ctx, workers) if workers > 1 else []
