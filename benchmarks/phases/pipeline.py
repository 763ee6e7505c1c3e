"""The product: `ioc worker` (WorkerProcess, InfluxDB sink, Prometheus port), measured from the first record
it consumes to the last one its consumer group commits (each record once: the workers' counters,
ioc_events_total + ioc_dead_letters_total, also count what a rebalance re-delivers). Variants:
the worker without its producer linger (IOC_PRODUCER_LINGER_SECONDS=0, the default before 2026-12-05), and
N workers in one consumer group."""

from __future__ import annotations

import contextlib
import time

from benchmarks.harness import Committed, Context, Figure, Series, consumed, follow, start_worker

NAME = "pipeline: ioc worker"
NO_LINGER = {"IOC_PRODUCER_LINGER_SECONDS": "0"}
"""Faust's producer linger off: each changelog, alert and tick record sent at once (the default is 20 ms)."""


def measure(ctx: Context, workers: int = 1, tuning: dict[str, str] | None = None) -> list[Figure]:
    """`workers` x `ioc worker` in one group on the events topic; `tuning`: extra environment (IOC_*
    settings)."""
    env = ctx.traffic_worker_env("pipeline", **(tuning or {}))
    started = [start_worker(env, ctx.work, f"worker-{i}-{env['IOC_APP_ID']}") for i in range(workers)]
    total = ctx.total
    # The figure: from the first record consumed to the last one committed (saved, its points and alerts
    # out), counting each record once. The workers' own counters also count what a rebalance made them
    # consume again (24,204 more for 100,000 records when the second of two workers joined seconds after the
    # first, 2026-12-05), which inflated the two-worker rate; they give the steady rate of one worker.
    committed = Committed(ctx.bootstrap, env["IOC_APP_ID"], ctx.topic)
    counted = Series()
    last = {port: 0.0 for _, port in started}

    def progress() -> float:
        # each worker's last known count: one whose metrics port is not up yet has consumed nothing. Until
        # 2026-12-05 evening a sample was taken only when every port answered, so when the second worker
        # started seconds after the first, the first one's solo start was left out of the figure's time
        for _, port in started:
            with contextlib.suppress(OSError):
                last[port] = consumed(port)
        counted.add(time.monotonic(), sum(last.values()))
        return committed()

    try:
        series = follow(
            progress,
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
    began, ended = counted.first_moving(), series.time_to_reach(total)
    durable = total / (ended - began) if began is not None and ended is not None and ended > began else 0.0
    _, steady = counted.rates(total)
    name = NAME if workers == 1 else f"pipeline: {workers} ioc workers, one group"
    if tuning:
        name += ", " + ", ".join(f"{k}={v}" for k, v in tuning.items())
    return [
        Figure(
            name,
            durable,
            "events/s",
            f"first consumed to last committed; consumed (workers' counters) steady (10-90%): "
            f"{steady:,.0f}/s, of which consumed again after rebalances: {twice:,.0f}; InfluxDB sink on",
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
