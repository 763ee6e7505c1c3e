"""A province on the real stack: a simulated month of the sample province (97 centres, 307 agencies
or desks, about 430,000 records with their noise) through producer -> Kafka -> worker (the province
catalog, IOC_CATALOG) -> InfluxDB -> the per-centre and province InfluxQL of grafana/queries.py
("centres and the province"), equal to `ioc replay --json`'s `centres` block and province total
(`centre`) at the worker's instant; and the number of InfluxDB series the province makes, against its
bound (docs/influxdb.md). The slowest test of the suite (several minutes): it is the scale issue 15 asks.

Business time is pinned to a weekday evening (tests/support/pipeline.EVENING): no SLA state changes
while the test reads, so every partition's latest snapshot describes the same picture.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog, load_catalog
from dossiers.events import EventType
from dossiers.kpi import CHANNELS, KPI_FIELDS, Block
from grafana import queries
from producers.simulator import Simulator, warmup_start
from tests.support.events import VN
from tests.support.pipeline import EVENING, PARTITIONS, Pipeline, replay_of, settle
from tests.support.traffic import with_noise

pytestmark = pytest.mark.integration

PROVINCE_FILE = Path(__file__).resolve().parents[2] / "dossiers" / "data" / "province.yaml"
FIELDS = [*KPI_FIELDS, *(f"channel_{c}" for c in CHANNELS)]
AS_OF_QUERY = (
    'SELECT last("as_of") AS "as_of" FROM "live"."kpi" WHERE time > now() - 1m GROUP BY "partition"'
)
RATE_NAMES = {
    "rate_today": "on_time_rate_today",
    "rate_month": "on_time_rate_month",
    "rate_year": "on_time_rate_year",
    "satisfaction": "satisfaction_rate",
    "online_payment": "online_payment_share",
}
"""grafana.queries.RATES keys -> the `ioc replay --json` block's names."""


def count_names(block: dict[str, Any]) -> dict[str, int]:
    """grafana.queries.COUNTS, read off an `ioc replay --json` block."""
    return {
        "received_today": block["received_today"],
        "resolved_today": block["resolved_today"],
        "open": block["open"]["total"],
        "overdue": block["open"]["overdue"],
        "due_soon": block["open"]["due_soon"],
    }


def as_block(sums: dict[str, int]) -> dict[str, Any]:
    """Summed `kpi` fields in the shape of an `ioc replay --json` block (no target: a sum has none)."""
    block = Block()
    for name in KPI_FIELDS:
        setattr(block, name, sums[name])
    block.channels = {c: sums[f"channel_{c}"] for c in CHANNELS}
    return block.as_dict()


def without(block: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k not in keys}


def read_between(pipeline: Pipeline, timeout: float = 240.0) -> tuple[int, int, dict[str, Any]]:
    """The per-centre and province figures, and the business instants they may describe: every
    partition's latest snapshot has an `as_of` between the earliest read before and the latest after."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = [int(r["as_of"]) for r in pipeline.query(AS_OF_QUERY)]
        read = {
            "fields": queries.per_centre_fields(pipeline.query, FIELDS),
            "province_fields": queries.per_centre_fields(pipeline.query, FIELDS, by_centre=False),
            "kpis": queries.per_centre_kpis(pipeline.query),
            "province": queries.province_kpis(pipeline.query),
        }
        after = [int(r["as_of"]) for r in pipeline.query(AS_OF_QUERY)]
        if len(before) == len(after) == PARTITIONS:
            return min(before), max(after), read
        time.sleep(0.5)
    raise AssertionError(f"no kpi points of {PARTITIONS} partitions in {timeout} s\n{pipeline.logs()}")


def series_bounds(catalog: Catalog, partitions: int) -> dict[str, int]:
    """The most series each measurement can have with this catalog, whatever the history: every tag
    but `partition` is a function of the agency or takes a fixed set of values (docs/influxdb.md)."""
    agencies = len(catalog.agencies)
    fields = {p.field for a in catalog.agencies for p in a.procedures}
    per_agency_fields = sum(len({p.field for p in a.procedures}) + 1 for a in catalog.agencies)  # + unknown
    return {
        "kpi": agencies * partitions,
        "ii06a": agencies * partitions,
        "i766": agencies * partitions,
        # type x channel (+ unknown) x the dossier's domain (its procedure's, + unknown); a transfer keeps
        # the dossier's domain, so the loose bound takes every domain of the catalog
        "events": agencies * len(EventType) * (len(CHANNELS) + 1) * (len(fields) + 1),
        "events_own_fields": per_agency_fields * len(EventType) * (len(CHANNELS) + 1),
        "deadlines": agencies * 2,
        "alerts": agencies * 4,
    }


@pytest.mark.timeout(1800)
def test_a_province_month_live_equals_ioc_replay_at_every_level_and_the_series_are_bounded(
    pipeline: Pipeline,
) -> None:
    catalog = load_catalog(PROVINCE_FILE)
    assert catalog.is_province and len(catalog.centres) == 97
    calendar = WorkingCalendar(catalog.calendar)
    since = datetime(2026, 3, 1, tzinfo=VN)  # the month of March 2026 (22 working days), a day of warm-up
    events = list(Simulator(catalog, calendar, seed=15, start=warmup_start(calendar, since, 1), end=EVENING,
                            emit_from=since).events())
    records, _, invalid = with_noise(events, seed=15)
    assert invalid > 0
    assert len({datetime.fromisoformat(e["occurred_at"]).astimezone(VN).date() for e in events}) >= 22
    # a snapshot every 5 s (the default), not every second: 307 agencies x 6 partitions x 3 measurements
    worker = pipeline.worker("w1", IOC_CATALOG=str(PROVINCE_FILE), IOC_SNAPSHOT_SECONDS="5")
    worker.wait_ready()
    started = time.monotonic()
    pipeline.produce(records)
    replay = replay_of(records, catalog, EVENING)  # every event is before the evening: fed once
    assert replay.after_as_of == 0
    settle(pipeline, expected_received=replay.snapshot().centre.received, timeout=1200)
    print(f"{len(records)} records of {len(catalog.centres)} centres streamed in "
          f"{time.monotonic() - started:.0f} s")
    first, last, shown = read_between(pipeline)
    report = replace(replay, as_of=first).report()
    assert without(replace(replay, as_of=last).report(), "as_of") == without(report, "as_of"), \
        "the evening must not move"

    # every centre, each the sum of its agencies' latest snapshots over every partition
    assert sorted(shown["fields"]) == sorted(report["centres"])
    for code, expected in report["centres"].items():
        block = without(expected, "agencies", "target_on_time")
        assert without(as_block(shown["fields"][code]), "target_on_time") == block, code
        assert {k: int(v or 0) for k, v in shown["kpis"][code].items() if k in queries.COUNTS} == \
            count_names(expected), code
        for name, key in RATE_NAMES.items():
            assert shown["kpis"][code][name] == pytest.approx(expected[key], abs=1e-6), (code, name)
    # the province: the sum over every centre
    total = report["centre"]
    assert without(as_block(shown["province_fields"][""]), "target_on_time") == \
        without(total, "target_on_time")
    assert {k: int(v or 0) for k, v in shown["province"].items() if k in queries.COUNTS} == count_names(total)
    for name, key in RATE_NAMES.items():
        assert shown["province"][name] == pytest.approx(total[key], abs=1e-6), name
    # a comparison of something: most centres received dossiers, some have overdue ones, rates exist
    busy = [c for c, b in report["centres"].items() if b["received"] > 0]
    assert len(busy) > 80 and total["open"]["overdue"] > 0 and total["resolved"]["total"] > 0
    assert sum(1 for b in report["centres"].values() if b["open"]["overdue"] > 0) > 1

    # the centre tag is the agency's centre, on every measurement but deadlines
    live = queries.live  # the snapshots are in the `live` retention policy, the rest in the default one
    for measurement, field in ((live("kpi"), "as_of"), (live("ii06a"), "as_of"), (live("i766"), "as_of"),
                               ('"events"', "n"), ('"alerts"', "late_seconds")):
        rows = pipeline.query(f'SELECT count("{field}") FROM {measurement} GROUP BY "agency", "centre"')
        assert rows, measurement
        tagged = {(r["agency"], r["centre"]) for r in rows}
        assert all(catalog.centre_of(a) is not None and catalog.centre_of(a).code == c  # type: ignore[union-attr]
                   for a, c in tagged), measurement

    # series: measured, and within the bound the catalog sets (docs/influxdb.md, "Series")
    bounds = series_bounds(catalog, PARTITIONS)
    counts = {m: len(pipeline.query(f'SHOW SERIES FROM "{m}"'))
              for m in ("kpi", "ii06a", "i766", "i766_sum", "events", "deadlines", "alerts")}
    everything = len(pipeline.query("SHOW SERIES"))
    print(f"series: {counts}, all {everything}; bounds: {bounds}")
    for measurement in ("kpi", "ii06a", "i766"):  # one per agency and partition, exactly
        assert counts[measurement] == len(catalog.agencies) * PARTITIONS, measurement
    assert counts["i766_sum"] == PARTITIONS  # the trend's sums over agencies: one per partition
    for measurement in ("events", "deadlines", "alerts"):
        assert counts[measurement] <= bounds[measurement], measurement
    assert counts["events"] <= bounds["events_own_fields"]
    assert everything == sum(counts.values())
