"""The product: `ioc worker` (WorkerProcess, InfluxDB sink, Prometheus port), measured from the first record
it consumes to the last one its consumer group commits (each record once: the workers' counters,
ioc_events_total + ioc_dead_letters_total, also count what a rebalance re-delivers). Variants:
the worker without its producer linger (IOC_PRODUCER_LINGER_SECONDS=0, the default before 2026-12-05), the
worker without its domain core (`benchmarks.hollow_worker`: what the rest of the pipeline costs), and N
workers in one consumer group."""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections.abc import Sequence

from benchmarks.harness import (
    Committed,
    Context,
    Figure,
    Series,
    broker_cpu,
    consumed,
    cpu_seconds,
    follow,
    machine_cpu,
    module_command,
    process_tree,
    start_worker,
)

NAME = "pipeline: ioc worker"
NO_LINGER = {"IOC_PRODUCER_LINGER_SECONDS": "0"}
"""Faust's producer linger off: each changelog, alert and tick record sent at once (the default is 20 ms)."""


REVOCATION = re.compile(r"saved the states of (\d+) record\(s\) before the rebalance \((\d+) left to consume "
                        r"again; sink flushed in ([\d.]+) s, states saved in ([\d.]+) s\)")
"""The worker's log line at a revocation (`streams.worker.Worker.before_revoke`)."""
REBALANCE_MARKS = ("Revoking previously", "saved the states", "(Re-)joining group", "Successfully synced",
                   "Done reading from changelog", "Worker ready", "rebuilt ")
"""The workers' log lines that date the steps of a join (kept in the figure's details)."""


def measure(ctx: Context, workers: int = 1, tuning: dict[str, str] | None = None, stagger: int = 0,
            hollow: bool = False) -> list[Figure]:
    """`workers` x `ioc worker` in one group on the events topic; `tuning`: extra environment (IOC_*
    settings); `stagger`: start one worker, and the others once the group has consumed that many records
    (a worker joining a running group: what the join costs), instead of all at once; `hollow`: the
    worker without its domain core (`benchmarks.hollow_worker`, a named fake)."""
    command = module_command("benchmarks.hollow_worker") if hollow else None
    env = ctx.traffic_worker_env("pipeline", **(tuning or {}))
    names = [f"worker-{i}-{env['IOC_APP_ID']}" for i in range(workers)]
    waiting = names[1:] if stagger else []
    started = [start_worker(env, ctx.work, name, command) for name in names if name not in waiting]
    total = ctx.total
    # The figure: from the first record consumed to the last one committed (saved, its points and alerts
    # out), counting each record once. The workers' own counters also count what a rebalance made them
    # consume again (24,204 more for 100,000 records when the second of two workers joined seconds after the
    # first, 2026-12-05), which inflated the two-worker rate; they give the steady rate of one worker.
    committed = Committed(ctx.bootstrap, env["IOC_APP_ID"], ctx.topic)
    counted = Series()
    last = {port: 0.0 for _, port in started}
    # Where the machine's CPU goes (the question "why not 2 x with two workers on two cores"): the
    # workers, the broker, InfluxDB (influxd and the dev-only write shim), and the machine as a whole,
    # read at every sample so that they cover the same window as the figure.
    influx_root = ctx.influx.process.pid if ctx.influx.process is not None else None

    def worker_pids() -> list[int]:
        # read at each sample: a worker's own pid is known once its watchdog has started it
        return [pid for pid in (w.pid for w, _ in started) if pid is not None]

    used: dict[str, list[float]] = {
        "workers": [], "broker": [], "influxd": [], "shim": [], "machine": [], "capacity": []}

    def progress() -> float:
        if waiting and sum(last.values()) >= stagger:
            joining = start_worker(env, ctx.work, waiting.pop(0), command)
            started.append(joining)
            last[joining[1]] = 0.0
        # each worker's last known count: one whose metrics port is not up yet has consumed nothing. Until
        # 2026-12-05 evening a sample was taken only when every port answered, so when the second worker
        # started seconds after the first, the first one's solo start was left out of the figure's time
        for _, port in started:
            with contextlib.suppress(OSError):
                last[port] = consumed(port)
        counted.add(time.monotonic(), sum(last.values()))
        busy, capacity = machine_cpu()
        used["workers"].append(sum(map(cpu_seconds, worker_pids())))
        used["broker"].append(broker_cpu() or 0.0)
        # `ioc dev influx` is the dev-only v2 write shim (Python); influxd is its child
        used["shim"].append(cpu_seconds(influx_root) if influx_root else 0.0)
        used["influxd"].append(sum(map(cpu_seconds, process_tree(influx_root)[1:])) if influx_root else 0.0)
        used["machine"].append(busy)
        used["capacity"].append(capacity)
        return committed()

    try:
        series = follow(
            progress,
            total,
            f"ioc worker × {workers} (committed)",
            timeout=1800,
            alive=lambda: all(w.running for w, _ in started),
        )
        if series.samples[-1][1] < total:
            raise RuntimeError(
                f"workers stopped at {series.samples[-1][1]:.0f} committed:\n"
                f"{started[0][0].log_text()[-3000:]}"
            )
        twice = sum(consumed(port) for _, port in started) - total
        logs = [(name, w.log_text()) for name, (w, _) in zip(names, started, strict=False)]
        revocations = [[float(x) for x in found] for _, text in logs for found in REVOCATION.findall(text)]
        steps = sorted(f"{line[1:24]} worker {name.split('-')[1]}: {line.split('] ', 3)[-1][:90]}"
                       for name, text in logs for line in text.splitlines()
                       if line.startswith("[") and any(mark in line for mark in REBALANCE_MARKS))
    finally:
        committed.close()
        for w, _ in started:
            w.stop()
    began, ended = counted.first_moving(), series.time_to_reach(total)
    durable = total / (ended - began) if began is not None and ended is not None and ended > began else 0.0
    _, steady = counted.rates(total)
    cpu = {k: series.per_event(v, total) for k, v in used.items()}
    span = series.window(total)
    still = paused(counted.samples, *(series.samples[i][0] for i in span)) if span else None
    name = NAME if workers == 1 else f"pipeline: {workers} ioc workers, one group"
    if stagger and workers > 1:
        name += f", joining after {stagger:,} records"
    if tuning:
        name += ", " + ", ".join(f"{k}={v}" for k, v in tuning.items())
    if hollow:
        name += " without its domain core (benchmarks.hollow_worker, a fake)"
    return [
        Figure(
            name,
            durable,
            "events/s",
            f"first consumed to last committed; consumed (workers' counters) steady (10-90%): "
            f"{steady:,.0f}/s, of which consumed again after rebalances: {twice:,.0f}; InfluxDB sink on",
            cpu_us=cpu["workers"],
            broker_us=cpu["broker"],
            details={"cpu_us_per_event": cpu, "paused_seconds": still, "seconds": ended - began if began
                     and ended else None, "cpu_split": cpu_split(cpu, still),
                     # per revocation: records saved, left to consume again, sink flush s, saves s
                     "revocations": revocations,
                     "rebalance_log": steps,  # when each worker started, was revoked, joined, was ready
                     # from the last record consumed to the last one committed: the run's end, which the
                     # sink's writes, the saves and the commit interval (IOC_COMMIT_SECONDS) add
                     "tail_seconds": tail(counted, series, total),
                     "timeline": timeline(counted, series, used)},
        )
    ]


def tail(consumed_: Series, committed: Series, total: int) -> float | None:
    """Seconds from the moment the workers had consumed `total` records (their counters, which also
    count records consumed twice) to the moment all of them were committed."""
    consumed_at, committed_at = consumed_.time_to_reach(total), committed.time_to_reach(total)
    return None if consumed_at is None or committed_at is None else committed_at - consumed_at


def timeline(consumed_: Series, committed: Series, used: dict[str, list[float]], step: int = 5,
             ) -> list[dict[str, float]]:
    """Every `step`-th sample (about 1 s): seconds since the first, records consumed and committed, and
    the cores the workers and the whole machine used since the previous row (for the JSON output)."""
    rows: list[dict[str, float]] = []
    samples = list(zip(consumed_.samples, committed.samples, used["workers"], used["machine"], strict=False))
    if not samples:
        return rows
    first, previous = samples[0][0][0], samples[0]
    for row in samples[step::step]:
        elapsed = row[0][0] - previous[0][0]
        rows.append({"t": round(row[0][0] - first, 1), "consumed": row[0][1], "committed": row[1][1],
                     "worker_cores": round((row[2] - previous[2]) / elapsed, 2) if elapsed else 0.0,
                     "machine_cores": round((row[3] - previous[3]) / elapsed, 2) if elapsed else 0.0})
        previous = row
    return rows


def paused(samples: Sequence[tuple[float, float]], begin: float, end: float, least: float = 1.5) -> float:
    """Seconds within [begin, end] in which no worker consumed a record for at least `least` seconds in a
    row (a rebalance, a stall; a worker's counter moves once per batch, so shorter stills are batches)."""
    total, since = 0.0, None
    for (at, count), (_, after) in itertools.pairwise(samples):
        if not begin <= at <= end:
            continue
        if after == count:
            since = at if since is None else since
        elif since is not None:
            total += at - since if at - since >= least else 0.0  # still from `since` to `at` at least
            since = None
    return total


def cpu_split(cpu: dict[str, float | None], still: float | None) -> str:
    """One line: CPU µs per event of each part and of the machine, how busy the machine was, and how
    long nothing was consumed."""
    pause = "" if still is None else f"; {still:.1f} s without a record consumed"
    if any(value is None for value in cpu.values()) or not cpu["capacity"]:
        return "CPU split unavailable" + pause
    machine, capacity = cpu["machine"] or 0.0, cpu["capacity"] or 1.0
    rest = machine - sum(cpu[k] or 0.0 for k in ("workers", "broker", "influxd", "shim"))
    return (
        f"CPU µs per event: workers {cpu['workers']:.0f}, broker {cpu['broker']:.0f}, influxd "
        f"{cpu['influxd']:.0f}, the dev-only InfluxDB v2 write shim {cpu['shim']:.0f}, the rest (this "
        f"benchmark, kernel, other processes) {rest:.0f}; machine "
        f"{machine:.0f} of {capacity:.0f} available ({machine / capacity:.0%} busy){pause}"
    )


def run(ctx: Context) -> list[Figure]:
    """One `ioc worker` with its default settings."""
    return measure(ctx)


def run_no_linger(ctx: Context) -> list[Figure]:
    """One `ioc worker` with IOC_PRODUCER_LINGER_SECONDS=0: what the 20 ms linger gives."""
    return measure(ctx, tuning=NO_LINGER)


def run_tuned(ctx: Context, tuning: dict[str, str]) -> list[Figure]:
    """One `ioc worker` with `tuning` (IOC_* settings, `--tune`): a setting measured against the defaults."""
    return measure(ctx, tuning=tuning)


def run_hollow(ctx: Context) -> list[Figure]:
    """One worker with its domain core taken out (`benchmarks.hollow_worker`): the ceiling of the real
    worker on this machine, and the CPU per event that a faster core cannot remove."""
    return measure(ctx, hollow=True)


def run_scaled(ctx: Context) -> list[Figure]:
    """`--scale-workers` workers in one consumer group (skipped below 2)."""
    workers = int(ctx.options.scale_workers)
    return measure(ctx, workers, stagger=int(getattr(ctx.options, "stagger", 0))) if workers > 1 else []
