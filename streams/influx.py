"""InfluxDB sink: the measurements the wall reads, and a buffered, retrying writer.

Measurements (documented for dashboards in docs/influxdb.md):
- `kpi`: one point per agency and partition every few seconds (tags agency, agency_name, centre,
  centre_name, partition); sum over partitions for an agency, over agencies for a centre (tag `centre`)
  or the whole catalog (the province total; the centre itself for a single-centre catalog).
  `office_open` (1/0) says whether the centre was open at the snapshot's business instant (catalog
  calendar, holidays package), so Grafana's silent-agency rule knows office hours and holidays at run time.
- `events`: one point per applied event at its event time (tags agency, centre, type, channel, field).
- `deadlines`: one point per dossier that is or was overdue / due soon, at its due time (tags agency,
  kind; no centre, see `streams.lines.deadline_point`); `open` = 1 while it is, overwritten with 0 when
  it stops being so.
- `alerts`: one point per SLA alert (tags agency, centre, kind).
- `ii06a`: with each KPI snapshot, the form II.06a of the reporting month running at its business
  instant, one point per agency and partition (tags agency, agency_name, centre, partition; fields c3..c13,
  refused_at_counter, tt, as_of, period_from, period_to), read like `kpi`: the sum over partitions of
  each partition's latest point. Series: agencies x partitions, whatever the history (docs/reports.md).
- `i766`: with each KPI snapshot, the tallies of the 766 index of the same running month, one point per
  agency and partition (tags agency, agency_name, centre, partition; fields: `dossiers.index766.Tally`'s
  counts, `working_days`, the sync buckets synced_1h..synced_72h, tt, as_of, period_from, period_to).
  Rates and points are computed from the sums over partitions (grafana/queries.py, docs/index766.md).
- `i766_sum`: with each `i766` snapshot, one point per partition (tag partition): its `i766` counts summed
  over its agencies, for the whole catalog's 766 trend.
The `centre` tag (on all but `deadlines`) is the code of the agency's centre in the catalog
(`Catalog.centre_of`), for a single-centre catalog too (its one centre's code); a code the catalog does
not know gets no `centre` tag (it counts in the total and in no centre, as in `ioc replay`). It is a
function of `agency`, so it adds no series (docs/influxdb.md, "Series").
Retention: `kpi`, `ii06a` and `i766` go to the retention policy `LIVE_RP` ("live": on InfluxDB 2.x the
bucket `<bucket>/live`), which keeps them a day (the boards read their last minute); everything else,
and one `i766` point per agency, partition and local day and one `i766_sum` point per partition and local
day (`trend_lines`, the 766 trend), to the main one. docs/influxdb.md, "Volume and retention".
Per-dossier points carry the dossier code as a *field* (never a tag) and a timestamp offset by a hash
of the dossier in the nanoseconds, so writing the same fact again overwrites instead of adding.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from datetime import datetime, tzinfo
from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.index766 import SYNC_WITHIN_HOURS, TALLY_FIELDS, Index766
from dossiers.index766 import Row as Row766
from dossiers.kpi import KPI_FIELDS, Block
from dossiers.report_ii06a import FORM_COLUMNS, Report
from streams.lines import NS, Centres, FieldValue, centre_tag, line
from streams.metrics import WorkerMetrics
from streams.processor import Processor
from streams.settings import StreamSettings

log = logging.getLogger(__name__)

LIVE_RP = "live"
"""The retention policy of the snapshot measurements (`kpi`, `ii06a`, `i766`): InfluxDB 1.x's retention
policy of that name in the database, 2.x's bucket `<bucket>/live` (its DBRP naming), created with a short
retention (a day: `ioc.devstack.influx.LIVE_RP_DDL`, deploy/influxdb/10-ioc-dbrp.sh). The boards name it in
their queries (`grafana.queries.LIVE_RP`). Why: a province's snapshots are about 95 million points a day,
which the boards read one minute of."""

LIVE_MEASUREMENTS = ("kpi", "ii06a", "i766", "i766_sum")
"""What goes to `LIVE_RP`: the snapshot measurements (`snapshot_lines`)."""

TREND_MEASUREMENTS = ("i766", "i766_sum")
"""What `trend_lines` copies, a point per series and local day, into the main retention policy."""


_CALENDARS: dict[int, tuple[Catalog, WorkingCalendar]] = {}


def office_open(catalog: Catalog, ts: int) -> int:
    """1 while the centre is open at business instant `ts` (office hours of a working day), else 0."""
    cached = _CALENDARS.get(id(catalog))
    if cached is None or cached[0] is not catalog:  # one calendar per catalog object, built once
        cached = _CALENDARS[id(catalog)] = (catalog, WorkingCalendar(catalog.calendar))
    return 1 if cached[1].next_opening(ts) == ts else 0


def centres_of(catalog: Catalog) -> dict[str, str]:
    """The `centre` tag of each agency code of the catalog (built once, read on the hot path)."""
    return {a.code: a.centre for a in catalog.agencies if a.centre}


def kpi_point(catalog: Catalog, agency: str, partition: int, block: Block, wall: int, as_of: int) -> str:
    """Stamped with the wall clock (when measured); `as_of` is the business instant it describes."""
    found = catalog.agency(agency)
    centre = catalog.centre_of(agency)
    tags: tuple[tuple[str, str], ...] = (
        ("agency", agency),
        ("agency_name", found.label if found else agency),
        ("partition", str(partition)),
    )
    fields: dict[str, FieldValue] = {"as_of": as_of}
    if centre is not None:
        tags += (("centre", centre.code), ("centre_name", centre.name))
        if centre.lat is not None and centre.lon is not None:  # the province board's map
            fields["centre_lat"], fields["centre_lon"] = float(centre.lat), float(centre.lon)
    for name in KPI_FIELDS:
        fields[name] = int(getattr(block, name))
    for channel, count in block.channels.items():
        fields[f"channel_{channel}"] = int(count)
    fields["target_on_time"] = float(found.target_on_time if found else 0.99)
    fields["office_open"] = office_open(catalog, as_of)
    return line("kpi", tags, fields, wall * NS)


II06A_FIELDS = (*FORM_COLUMNS, "refused_at_counter")
"""The `ii06a` count fields: the form's columns (3)..(13), then the refusals at the counter outside it."""


def ii06a_points(
    report: Report, partition: int, wall: int, as_of: int, centres: Centres | None = None
) -> list[str]:
    """One partition's running form, a point per agency row; stamped like `kpi_point` (the latest
    snapshot replaces the previous one, so a replay after a crash overwrites and never adds).
    `centres` (`centres_of(catalog)`) gives each row its `centre` tag."""
    period = {"period_from": report.period.first.isoformat(), "period_to": report.period.last.isoformat()}
    lines = []
    for number, row in enumerate(report.rows, 1):
        fields: dict[str, FieldValue] = {"as_of": as_of, "tt": number, **period}
        for name in II06A_FIELDS:
            fields[name] = int(getattr(row.counts, name))
        tags = (("agency", row.key), ("agency_name", row.label), ("partition", str(partition)),
                *centre_tag(centres, row.key))
        lines.append(line("ii06a", tags, fields, wall * NS))
    return lines


def i766_points(
    index: Index766, partition: int, wall: int, as_of: int, centres: Centres | None = None
) -> list[str]:
    """One partition's tallies of the running 766 index, a point per agency; stamped like `ii06a_points`.
    Tallies add up over partitions, rates do not: the board sums the tallies, then divides.
    Last, the partition's `i766_sum` point: the index's `total` (the same counts summed over its agencies),
    which is all the whole catalog's 766 trend reads (`grafana.queries.i766_trend`: one series per
    partition instead of one per agency and partition; a province's trend over a month took 11 s through
    the latter, docs/influxdb.md)."""
    period = {"period_from": index.period.first.isoformat(), "period_to": index.period.last.isoformat()}
    lines = []
    for number, row in enumerate(index.rows, 1):
        fields: dict[str, FieldValue] = {"as_of": as_of, "tt": number, **period, **_i766_counts(row)}
        tags = (("agency", row.key), ("agency_name", row.label), ("partition", str(partition)),
                *centre_tag(centres, row.key))
        lines.append(line("i766", tags, fields, wall * NS))
    lines.append(line("i766_sum", (("partition", str(partition)),), _i766_counts(index.total), wall * NS))
    return lines


def _i766_counts(row: Row766) -> dict[str, FieldValue]:
    """A row's counts as `i766` and `i766_sum` carry them: `Tally`'s fields (`working_days` a float) and the
    sync buckets (`grafana.queries.I766_FIELDS` reads them)."""
    fields: dict[str, FieldValue] = {}
    for name in TALLY_FIELDS:
        value = getattr(row.tally, name)
        fields[name] = float(value) if name == "working_days" else int(value)
    within = row.sync_within or {}
    for hours in SYNC_WITHIN_HOURS:
        fields[f"synced_{hours}h"] = int(within.get(hours, 0))
    return fields


def snapshot_lines(
    processor: Processor, calendar: WorkingCalendar, centres: Centres, now: int, stamped: int
) -> tuple[list[str], dict[str, Block]]:
    """One snapshot of every partition the processor holds, at business instant `now`, stamped `stamped`
    (wall clock): the `kpi`, `ii06a` and `i766` lines, and each agency's block summed over those partitions
    (the worker's gauges)."""
    catalog = processor.catalog
    day = calendar.local_date(now)
    lines: list[str] = []
    totals: dict[str, Block] = {}
    for partition, view in sorted(processor.views.items()):
        snap = view.counters.snapshot(catalog, day)
        for agency, block in snap.agencies.items():
            lines.append(kpi_point(catalog, agency, partition, block, stamped, now))
            totals.setdefault(agency, Block()).add(block)
        form = processor.running(partition, now)
        if form is not None:
            lines.extend(ii06a_points(form, partition, stamped, now, centres))
        index = processor.running_index(partition, now)
        if index is not None:
            lines.extend(i766_points(index, partition, stamped, now, centres))
    return lines, totals


def trend_lines(lines: list[str], stamped: int, tz: tzinfo) -> list[str]:
    """The `i766` and `i766_sum` lines of a snapshot again, stamped at the start of the local day (`tz`) of
    `stamped`, for
    the main retention policy: each snapshot of the day overwrites the day's point (same series, same
    time), so one point per agency, partition and day stays there, the day's last, which is what the 766
    trend reads over months while the snapshots themselves expire with `LIVE_RP`."""
    local = datetime.fromtimestamp(stamped, tz)
    day = int(datetime.combine(local.date(), datetime.min.time(), tzinfo=tz).timestamp()) * NS
    prefixes = tuple(f"{m}," for m in TREND_MEASUREMENTS)
    return [f"{text[:text.rindex(' ')]} {day}" for text in lines if text.startswith(prefixes)]


def expired(exc: Exception) -> bool:
    """InfluxDB refused points older than their retention policy's duration (1.x: HTTP 400 "partial write:
    points beyond retention policy dropped=N"; the batch's other points are written). Retrying cannot
    help, and those points would have expired anyway: a live snapshot buffered through an outage of more
    than a day. Any other refusal is retried (nothing is dropped)."""
    return (isinstance(exc, ApiException) and exc.status in (400, 422)
            and "beyond retention policy" in f"{exc.body} {exc.reason}")


class InfluxSink:
    """A bounded buffer drained by one writer thread, with retries and exponential backoff.

    `written` counts lines durably written, in order: the stream acknowledges (commits) a record
    only once every line added before it is written, so a crash replays rather than loses.

    While it backs off, the writer pings InfluxDB every `probe_seconds`: when an InfluxDB that did not
    answer answers again, the buffered lines go at once instead of after the rest of a back-off that has
    grown to `max_backoff` (the wall caught up 31 s after a 3-minute outage, docs/faults.md). An
    InfluxDB that answers pings but refuses writes still gets the whole back-off.
    """

    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        metrics: WorkerMetrics,
        batch_size: int = 5000,
        flush_seconds: float = 1.0,
        max_buffer: int = 500_000,
        max_backoff: float = 30.0,
        probe_seconds: float = 1.0,
    ):
        self.bucket, self.org = bucket, org
        self.batch_size, self.flush_seconds, self.max_buffer = batch_size, flush_seconds, max_buffer
        self.max_backoff, self.probe_seconds = max_backoff, probe_seconds
        self.metrics = metrics
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=30_000, enable_gzip=False)
        self._probe = InfluxDBClient(url=url, token=token, org=org, timeout=2_000)
        self._write = self._client.write_api(write_options=SYNCHRONOUS)
        self._lines: deque[str] = deque()
        self._runs: deque[list[Any]] = deque()
        """[retention policy, count] of consecutive lines of `_lines` bound for the same place, in order."""
        self._cond = threading.Condition()
        self.added = 0
        self.written = 0
        self._stop = False
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="influx-sink", daemon=True)
        self._thread.start()

    @property
    def full(self) -> bool:
        return len(self._lines) >= self.max_buffer

    def add(self, lines: list[str], rp: str = "") -> int:
        """Queue lines for retention policy `rp` ("" = the bucket's default; `LIVE_RP`); returns the
        sequence number the caller waits for (see `written`)."""
        if lines:
            with self._cond:
                if self._runs and self._runs[-1][0] == rp:
                    self._runs[-1][1] += len(lines)
                else:
                    self._runs.append([rp, len(lines)])
                self._lines.extend(lines)
                self.added += len(lines)
                self.metrics.sink_buffer.set(len(self._lines))
                if len(self._lines) >= self.batch_size:
                    self._cond.notify()
        return self.added

    def _run(self) -> None:
        backoff = 0.5
        while True:
            with self._cond:
                if not self._lines and not self._stop:
                    self._cond.wait(self.flush_seconds)
                if self._stop and not self._lines:
                    return
                rp, run = self._runs[0] if self._runs else ("", 0)
                batch = [self._lines[i] for i in range(min(self.batch_size, run))]
            if not batch:
                continue
            started = time.perf_counter()
            try:
                self._write.write(
                    bucket=f"{self.bucket}/{rp}" if rp else self.bucket,
                    org=self.org,
                    record="\n".join(batch),
                    write_precision=WritePrecision.NS,  # type: ignore[arg-type]
                )
            except Exception as exc:  # any failure but expiry: keep the batch, back off, retry
                self.metrics.sink_errors.inc()
                if expired(exc):
                    log.warning("InfluxDB dropped points older than retention policy %r (%s); the "
                                "others of the batch are written", rp or "default", exc)
                    self._done(batch)
                    continue
                log.warning("InfluxDB write failed (%s); retrying in %.1f s", exc, backoff)
                # no HTTP answer at all (refused, reset, timed out): InfluxDB is away, not refusing
                away = not isinstance(exc, ApiException)
                if self._back_off(backoff * (1 + random.random() / 4), away):
                    return
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 0.5
            self.metrics.sink_latency.observe(time.perf_counter() - started)
            self.metrics.sink_points.inc(len(batch))
            self._done(batch)

    def _done(self, batch: list[str]) -> None:
        """The batch at the head of the buffer is settled: take it off and wake the waiters."""
        with self._cond:
            for _ in batch:
                self._lines.popleft()
            self._runs[0][1] -= len(batch)
            if not self._runs[0][1]:
                self._runs.popleft()
            self.written += len(batch)
            self.metrics.sink_buffer.set(len(self._lines))
            self._cond.notify_all()

    def _back_off(self, seconds: float, away: bool) -> bool:
        """Wait `seconds`, or less if InfluxDB was away (`away`, or a failed ping) and answers again;
        True when closing.

        Waits on the closing event, not on the condition every add() signals: new lines must not cut
        the back-off short and hammer a struggling InfluxDB.
        """
        deadline = time.monotonic() + seconds
        silent = away
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._closing.wait(min(left, self.probe_seconds)):
                return True
            if not self._probe.ping():
                silent = True
            elif silent:
                log.info("InfluxDB answers again; writing the buffered lines now")
                return False

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything added so far is written (True) or the timeout passes (False)."""
        target = self.added
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify()
            while self.written < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._stop = True
            self._closing.set()
            self._cond.notify_all()
        self._thread.join(timeout)
        self._client.close()  # type: ignore[no-untyped-call]
        self._probe.close()  # type: ignore[no-untyped-call]


def open_sink(settings: StreamSettings, metrics: WorkerMetrics) -> InfluxSink | None:
    """The worker's sink as configured, or None when no InfluxDB URL is set."""
    if not settings.influx_url:
        return None
    return InfluxSink(
        settings.influx_url,
        settings.influx_token,
        settings.influx_org,
        settings.influx_bucket,
        metrics,
        settings.sink_batch_size,
        settings.sink_flush_seconds,
        settings.sink_max_buffer,
    )
