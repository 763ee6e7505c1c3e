"""Recovery: a worker with the dossiers of N simulated events in its table is stopped (SIGTERM) and a
new one started in the same group: seconds to its "rebuilt" (ready) line and to its first KPI snapshot."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.harness import (
    Context,
    Figure,
    consumed,
    follow,
    load_average,
    produce,
    simulated_traffic,
    start_worker,
    worker_env,
)


def _first_worker(
    ctx: Context, env: dict[str, str], records: list[tuple[bytes, bytes]], ql: Any
) -> dict[str, Any]:
    """Consume every record, then stop with SIGTERM: consume rate, received before, stop seconds."""
    from ioc.readback import read_live_kpis

    first, port = start_worker(env, ctx.work, f"recovery-a-{env['IOC_APP_ID']}")
    try:
        first.wait_ready(120)
        produce(ctx.bootstrap, env["IOC_EVENTS_TOPIC"], records, "recovery: producing")
        series = follow(
            lambda: consumed(port),
            len(records),
            "recovery: first worker consuming",
            1800,
            lambda: first.running,
        )
        time.sleep(3)  # a snapshot after the last event
        before = read_live_kpis(ql.query, window="10s").centre.received
        stop_started = time.monotonic()
        first.stop()
        stop_seconds = time.monotonic() - stop_started
    finally:
        first.kill()
    return {
        "consume_rate": series.rates(len(records))[0],
        "stop_seconds": stop_seconds,
        "received_before": before,
    }


def _second_worker(ctx: Context, env: dict[str, str], ql: Any) -> dict[str, Any]:
    """A new worker: seconds to its ready line and to its first `kpi` point, received after."""
    from ioc.readback import read_live_kpis

    restart_wall = time.time()
    second, _ = start_worker(env, ctx.work, f"recovery-b-{env['IOC_APP_ID']}")
    try:
        started = time.monotonic()
        ready = second.wait_ready(600)
        snapshot = None
        while time.monotonic() - started < 600:
            restart_ns = int(restart_wall * 1e9)
            rows = ql.query(f'SELECT count("received") FROM "live"."kpi" WHERE time > {restart_ns}')
            if rows and int(rows[0].get("count") or 0) > 0:
                snapshot = time.monotonic() - started
                break
            time.sleep(0.1)
        time.sleep(1.5)
        since = f"{max(1, int(time.time() - restart_wall))}s"  # only the new worker's snapshots
        after = read_live_kpis(ql.query, window=since).centre.received
    finally:
        second.stop()
    return {"ready_seconds": ready, "snapshot_seconds": snapshot, "received_after": after}


def measure(ctx: Context, events: int) -> dict[str, Any]:
    traffic = simulated_traffic(events, seed=5, label="recovery: simulating events")
    database, ql = ctx.influx.database("recovery")
    env = worker_env(
        ctx.bootstrap,
        ctx.partitions,
        ctx.influx,
        database,
        IOC_CLOCK_ORIGIN=str(traffic.now),
        IOC_SNAPSHOT_SECONDS="1",
    )
    before = _first_worker(ctx, env, traffic.records, ql)
    after = _second_worker(ctx, env, ql)
    return {
        "events": len(traffic.records),
        "dossiers": len({key for key, _ in traffic.records}),
        **before,
        **after,
        "load": load_average(),
    }


def run(ctx: Context) -> list[Figure]:
    data = measure(ctx, 20_000 if ctx.options.quick else 100_000)
    note = f"{data['dossiers']:,} dossiers from {data['events']:,} events; stop {data['stop_seconds']:.1f} s"
    return [
        Figure(
            "recovery: new worker to its ready line",
            data["ready_seconds"],
            "s",
            note,
            load=data["load"],
            details=data,
        )
    ]
