"""The scale of a province (issue 15): what the simulated Quảng Ngãi province asks of one worker and of
InfluxDB, measured in one run on this machine.

    python -m benchmarks.province [--days 5] [--partitions 6] [--seed 2026] [--json out.json]

1. traffic  - the province simulator (`dossiers/data/province.yaml`, 97 centres, 307 agencies or desks)
              over `--days` working days after 10 days of warm-up: events per business day and in the
              peak business hour, per level (provincial centre, commune centres), and the peak hour as
              events per second of real time (what the stream must sustain during office hours);
2. worker   - every event through `Processor.handle` + `stage` + `save` (the worker's domain path, no
              Kafka): µs per event, open dossiers at the end, and memory per open dossier (tracemalloc of
              the store and the partition views, in a second pass, divided by the dossiers held);
3. history  - with `--history` (the month of docs/benchmarks.md: `--days 22 --history`): the simulated
              days as the worker would have written them, moved by whole days so that the last one is
              today: every applied event's `events` point, every alert and deadline mark, and a snapshot
              (`kpi`, `ii06a`, `i766` of every agency and partition) every `--snapshot-every` business
              seconds, the clock moving with the events and every partition ticked every 5 minutes;
              written where the worker writes them (the snapshots of the last day into the `live`
              retention policy, a daily `i766` copy and the rest into the default one), before the
              figures below, so the queries run over a month of shards, as on a wall that has run a month;
              then `--dense-minutes` (60) of snapshots every 5 s, the worker's rate, before the last
              minute: the end state stamped again, what the live policy's current shard holds;
4. influx   - the points the worker's snapshot writes for the end state (`kpi`, `ii06a`, `i766` per
              agency and partition, tagged with the centre), 12 snapshots 5 s apart (the minute the boards
              read; stamped `AHEAD` in the future so they stay in that minute while the queries run),
              into a fresh database of the local InfluxDB 1.6.7: `SHOW SERIES` per measurement, and the
              time of every InfluxQL query of every board (province, centre, wall, agency, 766, II.06a;
              median of 3) over the board's own default time range, with the rows it returned (a query
              returning none would be timing nothing: check the rows column).

Most panels read the last minute only (`time > now() - 1m`): InfluxDB skips older shards, and the series
count, which is what they scan, is bounded by the catalog (docs/influxdb.md, "Series"); the hourly flow
(today), the 766 trend (6 months) and the lists read the history. Not a pytest test: its figures depend
on the machine and its load.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from rich.table import Table

from benchmarks.harness import ROOT, InfluxProcess, console, load_average, machine_info
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from grafana import dashboards
from grafana import queries as q
from ioc.devstack.influx import InfluxQL, InfluxQLError
from producers.simulator import Simulator, warmup_start
from streams.influx import LIVE_RP, centres_of, snapshot_lines, trend_lines
from streams.lines import NS, alert_point, deadline_point, event_point
from streams.processor import Processor
from streams.worker import partition_of

PROVINCE = ROOT / "dossiers" / "data" / "province.yaml"
AHEAD = 1800
"""The snapshots are stamped this many seconds ahead of the wall clock, so that the boards' `time > now()
- 1m` still finds all twelve while the queries are timed (writing and timing take minutes)."""
START = datetime(2026, 3, 2)
"""A Monday: the simulated working days start here (the province simulator's calibration week)."""


def simulate(days: int, seed: int) -> tuple[list[dict[str, Any]], Any, WorkingCalendar]:
    catalog = load_catalog(PROVINCE)
    calendar = WorkingCalendar(catalog.calendar)
    start = datetime.combine(START.date(), datetime.min.time(), tzinfo=calendar.tz)
    end = int(start.timestamp())
    worked = 0
    while worked < days:  # the end of the `days`-th working day
        if calendar.is_working_day(calendar.local_date(end)):
            worked += 1
        end += 86400
    events = list(Simulator(catalog, calendar, seed=seed, start=warmup_start(calendar, start, 10), end=end,
                            emit_from=start).events())
    return events, catalog, calendar


def traffic(events: list[dict[str, Any]], catalog: Any, calendar: WorkingCalendar) -> dict[str, Any]:
    """Events per business day and per local hour, per level, over the simulated days (from START);
    the peak hour."""
    provincial = {a.code for a in catalog.agencies_of(catalog.centre.code)}
    per_hour: Counter[tuple[str, int]] = Counter()
    per_day: Counter[str] = Counter()
    per_level_day: Counter[tuple[str, str]] = Counter()
    for event in events:
        local = datetime.fromisoformat(event["occurred_at"]).astimezone(calendar.tz)
        if local.date() < START.date():
            continue  # the warm-up's events (the simulator emits them too): not a day of the province
        level = "province" if event["agency"] in provincial else "commune"
        per_hour[(local.date().isoformat(), local.hour)] += 1
        per_day[local.date().isoformat()] += 1
        per_level_day[(local.date().isoformat(), level)] += 1
    working = [d for d in per_day if calendar.is_working_day(datetime.fromisoformat(d).date())]
    (peak_day, peak_hour), peak = per_hour.most_common(1)[0]
    return {
        "events": len(events),
        "working_days": len(working),
        "per_working_day": statistics.fmean(per_day[d] for d in working),
        "province_per_day": statistics.fmean(per_level_day[(d, "province")] for d in working),
        "communes_per_day": statistics.fmean(per_level_day[(d, "commune")] for d in working),
        "peak_hour": f"{peak_day} {peak_hour:02d}:00",
        "peak_hour_events": peak,
        "peak_per_second": peak / 3600,
    }


def through_the_worker(events: list[dict[str, Any]], catalog: Any, calendar: WorkingCalendar,
                       partitions: int) -> tuple[Processor, dict[str, Any]]:
    """Every event through the worker's domain path; memory per open dossier by tracemalloc."""
    records = [(partition_of(e["dossier"], partitions), json.dumps(e, ensure_ascii=False).encode())
               for e in events]
    now = max(int(datetime.fromisoformat(e["occurred_at"]).timestamp()) for e in events) + 60
    timing = Processor(catalog, calendar, {}, alert_backfill_seconds=2 * 86400)
    cpu = time.process_time()
    for partition, raw in records:  # a first pass for the time, without tracemalloc
        timing.save(timing.stage(timing.handle(partition, raw, {}, now)))
    cpu = time.process_time() - cpu
    del timing
    gc.collect()
    tracemalloc.start()
    store: dict[str, bytes] = {}
    processor = Processor(catalog, calendar, store, alert_backfill_seconds=2 * 86400)
    for partition, raw in records:
        processor.save(processor.stage(processor.handle(partition, raw, {}, now)))
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    open_dossiers = sum(v.counters.snapshot(catalog, calendar.local_date(now)).centre.open
                        for v in processor.views.values())
    return processor, {
        "us_per_event": cpu / len(records) * 1e6,
        "dossiers": len(store),
        "open": open_dossiers,
        "traced_bytes": traced,
        "bytes_per_dossier": traced / max(len(store), 1),
        "bytes_per_open_dossier": traced / max(open_dossiers, 1),
        "state_bytes_mean": statistics.fmean(len(v) for v in store.values()) if store else 0.0,
        "now": now,
    }


def days_to_today(calendar: WorkingCalendar, business_end: int, before: int) -> int:
    """Seconds (whole days) that move the simulated last day onto today's date (local), or onto an
    earlier day when its last instant would come after `before` (epoch s): the hours of the history stay
    the hours of the business clock, and none of it lies in the future. (A run at 6:00 in Vietnam once
    stamped the last day's office hours ahead of the wall's clock: `last()` over `time > now() - 1m`
    then read those future points, in a dozen hourly shards of the live policy.)"""
    today = datetime.now(calendar.tz).date()
    shift = (today - calendar.local_date(business_end)).days * 86400
    while business_end + shift > before:
        shift -= 86400
    return shift


def history(events: list[dict[str, Any]], catalog: Any, calendar: WorkingCalendar, partitions: int,
            every: int, shift: int) -> Iterator[tuple[str, list[str]]]:
    """The simulated days as the worker would have written them, in chunks of lines, moved by `shift`
    seconds: the clock follows the events (each at its own instant + 5 s, as `benchmarks.core --clock
    event`), every partition ticked every 5 business minutes (alerts and deadline marks), a snapshot
    every `every` business seconds. Moving the stamps (not the events) keeps the business days, their
    holidays and so the figures, of the run documented. Each chunk says its retention policy, as the
    worker's sink does: the snapshots of the last day into `LIVE_RP` (older ones would have expired), a
    copy of every `i766` line at its local midnight (`trend_lines`) and everything else into the default
    one."""
    centres = centres_of(catalog)
    live: list[str] = []
    expiry = time.time() - 86400 + 3600  # what the live policy still holds when the queries run
    processor = Processor(catalog, calendar, {}, alert_backfill_seconds=2 * 86400)
    now = last_tick = 0
    next_snapshot: int | None = None
    lines: list[str] = []

    def outcome_lines(outcome: Any) -> None:
        event = outcome.event
        if event is not None and outcome.status == "applied":
            lines.append(event_point(event.agency, event.type.value, outcome.channel, outcome.procedure_field,
                                     event.dossier, int(event.occurred_at.timestamp()) + shift, centres))
        lines.extend(alert_point(replace(a, at=a.at + shift), centres) for a in outcome.alerts)
        lines.extend(deadline_point(m._replace(due_at=m.due_at + shift)) for m in outcome.deadlines)
        processor.save(processor.stage(outcome))

    for event in events:
        at = int(datetime.fromisoformat(event["occurred_at"]).timestamp())
        now = max(now, at + 5)
        if next_snapshot is None:
            next_snapshot = now - now % every + every
        while now >= next_snapshot:  # the snapshots of the hours that went by
            stamped = next_snapshot + shift
            snap = snapshot_lines(processor, calendar, centres, next_snapshot, stamped)[0]
            lines += trend_lines(snap, stamped, calendar.tz)
            if stamped > expiry:
                live += snap
            next_snapshot += every
        if now - last_tick >= 300:
            last_tick = now
            for partition in range(partitions):
                outcome_lines(processor.tick(partition, now))
        outcome_lines(processor.handle(partition_of(event["dossier"], partitions),
                                       json.dumps(event, ensure_ascii=False).encode(), {}, now))
        if len(lines) >= 50_000:
            yield "", lines
            lines = []
        if len(live) >= 50_000:
            yield LIVE_RP, live
            live = []
    yield "", lines
    yield LIVE_RP, live


def board_range(board: dict[str, Any], wall: int, tz: Any) -> tuple[int, int]:
    """The board's default time range (Grafana's `now/d`, `now-6M`, `now-5m`, `now-1h`...) in epoch ms."""
    start = board.get("time", {}).get("from", "now-1h")
    if start == "now/d":
        local = datetime.fromtimestamp(wall, tz).date()
        begin = int(datetime.combine(local, datetime.min.time(), tzinfo=tz).timestamp())
    else:
        amount, unit = int(start[4:-1]), start[-1]
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "M": 31 * 86400}[unit]
        begin = wall - amount * seconds
    return begin * 1000, (wall + 1) * 1000


QUERY_TIMEOUT = 30.0
"""Grafana's default data source timeout (`dataproxy.timeout`): a slower query shows an error on the wall."""


def time_query(ql: InfluxQL, text: str) -> dict[str, Any]:
    """Median of 3 runs (1 if the first takes over 5 s), its rows; a timeout is recorded, not raised."""
    seconds: list[float] = []
    rows = 0
    for _ in range(3):
        started = time.perf_counter()
        try:
            rows = len(ql.query(text))
        except InfluxQLError as exc:
            return {"rows": None, "seconds": None, "error": str(exc)[:120]}
        seconds.append(time.perf_counter() - started)
        if seconds[0] > 5:
            break
    return {"rows": rows, "seconds": statistics.median(seconds)}


def influx_figures(processor: Processor, catalog: Any, calendar: WorkingCalendar, now: int,
                   work: Path, past: Iterator[tuple[str, list[str]]] | None = None,
                   dense_seconds: int = 0) -> dict[str, Any]:
    centres = centres_of(catalog)
    with InfluxProcess(work / "influx.log") as influx:
        name, ql = influx.database("province")
        ql.timeout = QUERY_TIMEOUT
        history_points = dense_points = 0
        with InfluxDBClient(url=influx.url, token="bench", org="bench", timeout=300_000) as client:
            writer = client.write_api(write_options=SYNCHRONOUS)

            def write(rp: str, chunk: list[str]) -> None:
                for start in range(0, len(chunk), 20_000):
                    writer.write(bucket=f"{name}/{rp}" if rp else name, record=chunk[start:start + 20_000])

            written = time.perf_counter()
            for rp, chunk in past or ():
                write(rp, chunk)
                history_points += len(chunk)
            written = time.perf_counter() - written
            wall = int(time.time()) + AHEAD
            end_state = snapshot_lines(processor, calendar, centres, now, wall)[0]
            body = [text[:text.rindex(" ")] for text in end_state]
            # the worker's density before the minute the boards read: a snapshot every 5 s over
            # `dense_seconds` up to a minute ago in real time, out of the queries' `time > now() - 1m`
            # (the end state's lines stamped again: what a shard of the live policy holds)
            real = int(time.time()) - 60
            for start in range(real - dense_seconds, real, 5 * 60):
                chunk = [f"{b} {t * NS}" for t in range(start, min(start + 300, real), 5) for b in body]
                write(LIVE_RP, chunk)
                dense_points += len(chunk)
            lines = []
            for step in range(12):  # a minute of snapshots, 5 s apart, the latest one now
                lines += snapshot_lines(processor, calendar, centres, now, wall - 55 + 5 * step)[0]
            write(LIVE_RP, lines)
            write("", trend_lines(lines, wall, calendar.tz))
        series = Counter(str(row["key"]).split(",", 1)[0] for row in ql.query("SHOW SERIES"))
        boards = dashboards.dashboards(catalog)
        commune = next(c.code for c in catalog.centres if c.code != catalog.centre.code)
        agency = catalog.agencies[0]
        variables = {"centre": commune, "centre_name": catalog.centre_by_code[commune].name,
                     "agency": agency.code, "agency_name": agency.name}
        timings: list[dict[str, Any]] = []
        for uid, board in boards.items():
            start_ms, end_ms = board_range(board, wall, calendar.tz)
            for panel in board["panels"]:
                for target in panel.get("targets", []):
                    if target.get("datasource", {}).get("type") != "influxdb":
                        continue
                    text = q.render(target["query"], start=start_ms, end=end_ms, variables=variables)
                    timing = time_query(ql, text)
                    timings.append({"board": uid, "panel": panel.get("title", ""), **timing})
                    console.print(f"  {uid} · {panel.get('title', '')[:50]}: {timing}")
    return {"points": len(lines), "history_points": history_points, "history_write_seconds": written,
            "dense_points": dense_points,
            "series": dict(series), "series_total": sum(series.values()), "queries": timings}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=5, help="working days simulated (after 10 of warm-up)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--history", action="store_true",
                        help="first write the simulated days into InfluxDB as the worker would have "
                             "(a month: --days 22)")
    parser.add_argument("--snapshot-every", type=int, default=3600,
                        help="business seconds between two snapshots of the history (the worker: 5)")
    parser.add_argument("--dense-minutes", type=int, default=60,
                        help="with --history: minutes of snapshots every 5 s (the worker's rate) before the "
                             "minute the boards read, as a shard of the live retention policy holds them")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    console.print(f"machine: {machine_info()} · load {load_average()}")
    with console.status("simulating the province"):
        events, catalog, calendar = simulate(args.days, args.seed)
    flow = traffic(events, catalog, calendar)
    with console.status(f"{len(events):,} events through Processor.handle"):
        processor, worker = through_the_worker(events, catalog, calendar, args.partitions)
    past, dense = None, 0
    if args.history:
        dense = args.dense_minutes * 60
        shift = days_to_today(calendar, int(worker["now"]), int(time.time()) - dense - 120)
        past = history(events, catalog, calendar, args.partitions, args.snapshot_every, shift)
    with TemporaryDirectory() as tmp, console.status("writing history and snapshots, timing the queries"):
        influx = influx_figures(processor, catalog, calendar, int(worker["now"]), Path(tmp), past,
                                dense)

    table = Table(title=f"A province: {len(catalog.centres)} centres, {len(catalog.agencies)} agencies or "
                        f"desks, {args.partitions} partitions, seed {args.seed}, load {load_average()}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in (
        ("events simulated, warm-up included (working days measured)",
         f"{flow['events']:,} ({flow['working_days']})"),
        ("events per working day: all / provincial centre / communes",
         " / ".join(f"{flow[k]:,.0f}" for k in ("per_working_day", "province_per_day", "communes_per_day"))),
        ("peak business hour", f"{flow['peak_hour']}: {flow['peak_hour_events']:,} events"),
        ("peak hour in real time", f"{flow['peak_per_second']:.2f} events/s"),
        ("Processor.handle+stage+save, CPU", f"{worker['us_per_event']:.0f} µs/event"),
        ("dossiers held / open at the end", f"{worker['dossiers']:,} / {worker['open']:,}"),
        ("memory per dossier held (store + views, tracemalloc)", f"{worker['bytes_per_dossier']:,.0f} B"),
        ("stored state per dossier (mean)", f"{worker['state_bytes_mean']:,.0f} B"),
        ("history written first (points, s)",
         f"{influx['history_points']:,} in {influx['history_write_seconds']:.0f} s"
         if args.history else "none"),
        ("snapshots every 5 s before the last minute (points)", f"{influx['dense_points']:,}"),
        ("InfluxDB series after a minute of snapshots", f"{influx['series_total']:,} {influx['series']}"),
    ):
        table.add_row(label, value)
    console.print(table)
    queries = Table(title="Board queries, local InfluxDB 1.6.7 (median of 3, the board's default range)")
    for column in ("board", "panel", "rows", "s"):
        queries.add_column(column, justify="right" if column in ("rows", "s") else "left")
    for row in sorted(influx["queries"], key=lambda r: -(r["seconds"] if r["seconds"] is not None else 1e9)):
        shown = f"{row['seconds']:.3f}" if row["seconds"] is not None else f"> {QUERY_TIMEOUT:.0f} (timeout)"
        queries.add_row(row["board"], row["panel"][:60], str(row["rows"]), shown)
    console.print(queries)
    if args.json:
        args.json.write_text(json.dumps({"traffic": flow, "worker": worker, "influx": influx,
                                         "load": load_average()}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
