"""Every InfluxQL query of the boards and alert rules, run on the real InfluxDB against known data.

The data is written with the worker's own point builders (streams/influx.py: kpi_point, event_point,
deadline_point, alert_point) through influxdb-client, for a few agencies and partitions. Expected values
are worked out by hand in the comments. Grafana's macros are replaced as Grafana does
(grafana.queries.render). `test_every_query_is_checked` collects the queries from the generated
dashboards and alerting file, so a new panel or rule fails here until its query has expectations.
"""

# influxdb-client is only partly typed:
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS

from dossiers import labels
from dossiers.alerts import Alert
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog, load_catalog
from dossiers.index766 import SYNC_WITHIN_HOURS, Index766, Tally
from dossiers.index766 import Row as Row766
from dossiers.kpi import Block
from dossiers.periods import Period
from dossiers.report_ii06a import Counts, Grouping, Report, Row, Window
from grafana import alert_rules as rules
from grafana import dashboards, queries
from ioc.devstack.influx import InfluxEndpoint, LocalInflux, RemoteInflux
from streams.influx import i766_points, ii06a_points, kpi_point
from streams.lines import alert_point, deadline_point, event_point, stamp
from streams.processor import DeadlineMark
from tests.support import stack as testing
from tests.support.scores import i766_tally, scores_of, total_of

pytestmark = pytest.mark.integration

VN = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = datetime(2025, 3, 4, tzinfo=VN)  # a Tuesday; the events live on this day
LAND = "CNVPDKDD_TP"
NOW = int(time.time())
OPEN = int(datetime(2025, 3, 4, 10, tzinfo=VN).timestamp())
"""The business instant of every snapshot below: a Tuesday 10:00, office open (`office_open` = 1)."""


def at(hour: int, minute: int, second: int = 0) -> int:
    return int(DAY.replace(hour=hour, minute=minute, second=second).timestamp())


RECENT = NOW - NOW % 3600 - 3 * 3600
"""The backlog history's hour: three hours ago, since snapshots live a day (the `live` retention policy)."""


def recent(minute: int, second: int = 0) -> int:
    return RECENT + 60 * minute + second


# -- the data ---------------------------------------------------------------------------------------------
def block(**values: Any) -> Block:
    channels = values.pop("channels", {})
    b = Block(**values)
    b.channels.update(channels)
    return b


# (agency, partition, seconds before now, block). Latest snapshot per partition wins; SKHDT's is stale.
SNAPSHOTS: list[tuple[str, int, int, Block]] = [
    (
        "STP",
        0,
        40,
        block(
            received_today=5,
            today_good=1,
            today_resolved=1,
            month_good=1,
            month_resolved=9,
            year_good=1,
            year_resolved=9,
            within=9,
            due_soon=9,
            overdue=7,
            paused=9,
        ),
    ),
    (
        "STP",
        0,
        5,
        block(
            received_today=6,
            today_good=3,
            today_resolved=4,
            month_good=18,
            month_resolved=20,
            year_good=30,
            year_resolved=32,
            within=8,
            due_soon=2,
            overdue=1,
            paused=1,
            satisfied=9,
            unsatisfied=1,
            paid_online=5,
            paid_offline=3,
            channels={"counter": 20, "online": 25, "postal": 5, "phone": 0},
        ),
    ),
    (
        "STP",
        1,
        3,
        block(
            received_today=4,
            today_good=2,
            today_resolved=2,
            month_good=10,
            month_resolved=10,
            year_good=20,
            year_resolved=20,
            within=5,
            due_soon=3,
            overdue=0,
            paused=0,
            satisfied=3,
            unsatisfied=1,
            paid_online=1,
            paid_offline=3,
            channels={"counter": 10, "online": 5, "postal": 0, "phone": 1},
        ),
    ),
    (
        LAND,
        0,
        4,
        block(
            received_today=10,
            today_good=3,
            today_resolved=5,
            month_good=30,
            month_resolved=40,
            year_good=70,
            year_resolved=100,
            within=20,
            due_soon=12,
            overdue=6,
            paused=2,
            satisfied=4,
            unsatisfied=4,
            paid_online=0,
            paid_offline=10,
            channels={"counter": 30, "online": 10, "postal": 5, "phone": 0},
        ),
    ),
    (LAND, 2, 2, block(year_good=10, year_resolved=10, overdue=2)),
    ("SYT", 3, 1, block()),  # a quiet agency: every count 0, every rate undefined
    ("SKHDT", 1, 300, block(received_today=99, overdue=50, month_good=1, month_resolved=1)),  # stale
]

# Backlog history of SXD on DAY (partition, time, within, due_soon, overdue, paused).
BACKLOG = [
    (0, recent(0, 10), 5, 1, 0, 0),
    (0, recent(0, 40), 6, 1, 1, 0),
    (0, recent(1, 10), 7, 2, 1, 1),
    (1, recent(0, 20), 1, 0, 0, 0),
    (1, recent(1, 30), 2, 1, 0, 0),
]
# :00 bucket: p0 last (6,1,1,0) + p1 (1,0,0,0) = (7,1,1,0); :01: p0 (7,2,1,1) + p1 (2,1,0,0) = (9,3,1,1)

# Events on DAY: (agency, type, field, dossier, time)
EVENTS = [
    ("STP", "received", "Hộ tịch", "STP-1", at(8, 5)),
    ("STP", "received", "Lý lịch tư pháp", "STP-2", at(8, 20)),
    ("STP", "received", "Hộ tịch", "STP-3", at(8, 55)),
    ("STP", "received", "Lý lịch tư pháp", "STP-4", at(9, 10)),
    ("STP", "resolved", "Hộ tịch", "STP-1", at(8, 30)),
    ("STP", "resolved", "Lý lịch tư pháp", "STP-2", at(9, 40)),
    ("STP", "returned", "Hộ tịch", "STP-1", at(9, 50)),
    (LAND, "received", "Đất đai", "LAND-1", at(8, 10)),
    (LAND, "received", "Đất đai", "LAND-2", at(9, 15)),
    (LAND, "received", "Đất đai", "LAND-3", at(9, 20)),
    (LAND, "resolved", "Đất đai", "LAND-0", at(8, 45)),
    ("STP", "received", "Hộ tịch", "STP-LIVE", NOW - 600),  # STP is not silent; SKHDT and LAND are
    ("SKHDT", "received", "Kế hoạch", "SKHDT-OLD", NOW - 3 * 3600),  # ... after sending 3 hours ago
    (LAND, "received", "Đất đai", "LAND-OLD", NOW - 3 * 3600),
]
# Per hour 08:00-09:59: received 08h STP 3 + LAND 1 = 4, 09h STP 1 + LAND 2 = 3; resolved 2 then 1;
# returned 0 then 1. STP alone: received 3, 1; resolved 1, 1; returned 0, 1.

DAYS = 86400
DEADLINES = [
    DeadlineMark("overdue", "STP-D1", "STP", "2.000488", NOW - 3 * DAYS, True, 3600, NOW - 3 * DAYS),
    DeadlineMark("overdue", "STP-D2", "STP", "1.004884", NOW - 3600, True, 60, NOW - 3600),
    DeadlineMark("overdue", "STP-D3", "STP", "2.000505", NOW - 2 * DAYS, True, 10, NOW - 2 * DAYS),
    DeadlineMark("overdue", "STP-D3", "STP", "2.000505", NOW - 2 * DAYS, False, 90000, NOW - 600),  # resolved
    DeadlineMark(
        "overdue", "STP-D7", "STP", "2.000488", NOW - 500 * DAYS, True, 1, NOW - 500 * DAYS
    ),  # too old
    DeadlineMark("overdue", "LAND-D4", LAND, "1.004253", NOW - 5 * 3600, True, 0, NOW - 5 * 3600),
    DeadlineMark("due_soon", "STP-D5", "STP", "2.000942", NOW + 3 * 3600, True, 0, NOW - 60),
    DeadlineMark("due_soon", "STP-D6", "STP", "2.000942", NOW + 3600, True, 0, NOW - 900),
    DeadlineMark("due_soon", "STP-D6", "STP", "2.000942", NOW + 3600, False, 0, NOW - 30),  # paused
]


# Deadline points sit at the due time plus a per-dossier hash of nanoseconds (idempotent writes): the
# epoch-ms time InfluxDB returns (and Grafana shows) is that stamp truncated to ms.
DEADLINE_MS = {m.dossier: stamp(m.due_at, m.dossier) // 1_000_000 for m in DEADLINES}


def alert(kind: str, dossier: str, agency: str, seconds_ago: int) -> Alert:
    return Alert(
        f"{dossier}:{kind}",
        kind,
        dossier,
        agency,
        "2.000488",
        None,
        None,
        NOW - seconds_ago,
        seconds_ago,
        None,
    )


ALERTS = [
    alert("overdue", "STP-D1", "STP", 120),
    alert("overdue", "STP-D2", "STP", 60),
    alert("overdue", "LAND-D4", LAND, 180),
    alert("overdue", "STP-D8", "STP", 600),  # 10 min: too old
    alert("due_soon", "STP-D5", "STP", 60),  # another kind
]


RUNNING = Period(datetime(2025, 2, 15).date(), datetime(2025, 3, 14).date(), "2025-03")
"""The reporting month running at OPEN (15 Feb - 14 Mar 2025)."""


def form(c4: int, c5: int, c8: int, c9: int, c10: int, c12: int, c13: int, refused: int = 0) -> Counts:
    """One partition's row as the worker derives it (c7, c11, c3 and c6 from the dated columns)."""
    c7, c11 = c8 + c9 + c10, c12 + c13
    return Counts(c3=c7 + c11, c4=c4, c5=c5, c6=c7 + c11 - c4 - c5, c7=c7, c8=c8, c9=c9, c10=c10, c11=c11,
                  c12=c12, c13=c13, refused_at_counter=refused)


# (partition, seconds before now, {agency: counts}): each partition's rows in catalog order (STP is row 1,
# LAND row 3 of the sample catalog); the latest point per partition wins, SKHDT's is stale (2 min old)
II06A: list[tuple[int, int, dict[str, Counts]]] = [
    (0, 40, {"STP": form(9, 9, 9, 9, 9, 9, 9, 9)}),
    (0, 5, {"STP": form(3, 4, 2, 1, 1, 2, 1, 1), LAND: form(0, 5, 1, 1, 0, 2, 2)}),
    (1, 3, {"STP": form(1, 1, 0, 1, 0, 1, 0)}),
    (2, 120, {"SKHDT": form(5, 5, 5, 5, 5, 5, 5)}),
]


def ii06a_lines(catalog: Catalog) -> list[str]:
    order = [a.code for a in catalog.agencies]
    lines = []
    for partition, ago, counts in II06A:
        rows = [Row(code, catalog.agency_by_code[code].name, counts.get(code, Counts())) for code in order]
        report = Report(RUNNING, Window(OPEN, OPEN), Grouping.AGENCY, rows, Counts())
        lines += ii06a_points(report, partition, NOW - ago, OPEN)
    return lines


# (partition, seconds before now, {agency: (received, synced)}): the running 766 tallies; the latest point
# per partition wins, SKHDT's is stale. STP: (12 + 8) received, (9 + 5) synced = 70 %; LAND 15 of 15.
I766: list[tuple[int, int, dict[str, tuple[int, int]]]] = [
    (0, 40, {"STP": (9, 9)}),
    (0, 5, {"STP": (12, 9), LAND: (15, 15)}),
    (1, 3, {"STP": (8, 5)}),
    (2, 300, {"SKHDT": (30, 0)}),
]


def i766_within(synced: int) -> dict[int, int]:
    return {1: synced // 3, 4: synced // 2, 24: synced, 72: synced}


def i766_lines(catalog: Catalog) -> list[str]:
    lines = []
    for partition, ago, tallies in I766:
        rows = []
        for agency in catalog.agencies:
            received, synced = tallies.get(agency.code, (0, 0))
            tally = i766_tally(received, synced)
            rows.append(Row766(agency.code, agency.name, tally, sync_within=i766_within(synced)))
        index = Index766(RUNNING, Window(OPEN, OPEN), rows, total_of("TT", "TT", rows))
        lines += i766_points(index, partition, NOW - ago, OPEN)
    return lines


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def db(influx: LocalInflux | RemoteInflux, catalog: Catalog) -> InfluxEndpoint:
    """A fresh database with the data above, written as the worker writes it."""
    endpoint = testing.fresh_endpoint(influx)
    points = [
        kpi_point(catalog, agency, partition, b, NOW - ago, OPEN) for agency, partition, ago, b in SNAPSHOTS
    ]
    points += [
        kpi_point(catalog, "SXD", p, block(within=w, due_soon=d, overdue=o, paused=pa), t, OPEN)
        for p, t, w, d, o, pa in BACKLOG
    ]
    points += [event_point(a, kind, "counter", fld, dossier, ts) for a, kind, fld, dossier, ts in EVENTS]
    points += ii06a_lines(catalog)
    points += i766_lines(catalog)
    testing.write_as_worker(endpoint, points)
    with InfluxDBClient(url=endpoint.url, token=endpoint.token, org=endpoint.org, timeout=10_000) as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        # deadlines: each mark in its own write, in order, so a later mark overwrites an earlier one
        for mark in DEADLINES:
            write.write(bucket=endpoint.bucket, record=deadline_point(mark))
        write.write(bucket=endpoint.bucket, record=[alert_point(a) for a in ALERTS])
    return endpoint


# -- running a query like a panel / an alert rule does ----------------------------------------------------
def clean(rows: list[dict[str, Any]], *, keep_time: bool = False) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item = {
            k: (round(v, 6) if isinstance(v, float) else v)
            for k, v in row.items()
            if k != "_measurement" and (keep_time or k != "time")
        }
        out.append(item)
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False))


@dataclass
class Case:
    """One query, how Grafana fills its macros, and the rows it must return."""

    query: str
    expected: list[dict[str, Any]]
    start: int | None = None  # epoch ms for $timeFilter
    end: int | None = None
    interval: str = "1h"
    variables: dict[str, str] = field(default_factory=dict)
    keep_time: bool = False

    def run(self, db: InfluxEndpoint) -> list[dict[str, Any]]:
        text = queries.render(
            self.query, start=self.start, end=self.end, interval=self.interval, variables=self.variables
        )
        return clean(db.query(text, epoch="ms"), keep_time=self.keep_time)


def r(x: float) -> float:
    return round(x, 6)


LIVE = (NOW - 120) * 1000, (NOW + 1) * 1000  # what an alert rule's relativeTimeRange of 120 s gives
DAY_RANGE = at(8, 0) * 1000, at(9, 59, 59) * 1000 + 999


def hour_ms(hour: int) -> int:
    return at(hour, 0) * 1000


def cases(catalog: Catalog) -> list[Case]:
    """The expectations, worked out by hand from the data above."""
    q = queries
    out = [
        # centre totals: STP p0 (latest) + STP p1 + LAND p0 + LAND p2 + SYT p3; SKHDT is stale
        Case(q.count_kpi("received_today"), [{"received_today": 6 + 4 + 10}]),
        Case(q.count_kpi("resolved_today"), [{"resolved_today": 4 + 2 + 5}]),
        Case(q.count_kpi("open"), [{"open": (8 + 2 + 1) + (5 + 3) + (20 + 12 + 6) + 2}]),
        Case(q.count_kpi("overdue"), [{"overdue": 1 + 0 + 6 + 2}]),
        Case(q.count_kpi("due_soon"), [{"due_soon": 2 + 3 + 12}]),
        Case(q.rate_kpi("rate_today"), [{"rate_today": r((3 + 2 + 3) / (4 + 2 + 5))}]),
        Case(q.rate_kpi("rate_month"), [{"rate_month": r((18 + 10 + 30) / (20 + 10 + 40))}]),
        Case(q.rate_kpi("rate_year"), [{"rate_year": r((30 + 20 + 70 + 10) / (32 + 20 + 100 + 10))}]),
        Case(q.rate_kpi("satisfaction"), [{"satisfaction": r((9 + 3 + 4) / (10 + 4 + 8))}]),
        Case(q.rate_kpi("online_payment"), [{"online_payment": r((5 + 1 + 0) / (8 + 4 + 10))}]),
        Case(q.channel_mix(), [{"Trực tiếp": 60, "Trực tuyến": 40, "Bưu chính": 10, "Điện thoại": 1}]),
        Case(q.open_by_state(), [{"Trong hạn": 8 + 5 + 20, "Sắp đến hạn": 17, "Quá hạn": 9, "Tạm dừng": 3}]),
        Case(q.resolved_today_split(), [{labels.ON_TIME: 8, labels.LATE: 3}]),
        Case(
            q.count_kpi("overdue", by_agency=True),
            [
                {"agency": "STP", "agency_name": "Tư pháp", "overdue": 1},
                {"agency": LAND, "agency_name": "ĐKĐĐ TP", "overdue": 8},
                {"agency": "SYT", "agency_name": "Y tế", "overdue": 0},
            ],
        ),
    ]
    # throughput per hour on DAY, whole centre
    for kind, series in (("received", [4, 3]), ("resolved", [2, 1]), ("returned", [0, 1])):
        name = q.EVENT_SERIES[kind]
        out.append(
            Case(
                q.events_per_hour(kind),
                [{"time": hour_ms(8 + i), name: n} for i, n in enumerate(series)],
                *DAY_RANGE,
                keep_time=True,
            )
        )

    # the wall's tile per agency: month rate and overdue (no row for agencies without a live snapshot)
    tile_rates = {"STP": r(28 / 30), LAND: r(30 / 40)}
    tile_overdue = {"STP": 1, LAND: 8, "SYT": 0}
    for agency in catalog.agencies:
        code = agency.code
        rate = [{"rate_month": tile_rates[code]}] if code in tile_rates else []
        overdue = [{"overdue": tile_overdue[code]}] if code in tile_overdue else []
        out.append(Case(q.rate_kpi("rate_month", agency=code), rate))
        out.append(Case(q.count_kpi("overdue", agency=code), overdue))

    # the drill-down board for $agency = STP (and LAND where the numbers say more)
    stp = {"agency": "STP"}
    out += [
        Case(q.count_kpi("received_today", agency=q.AGENCY_VAR), [{"received_today": 10}], variables=stp),
        Case(q.count_kpi("resolved_today", agency=q.AGENCY_VAR), [{"resolved_today": 6}], variables=stp),
        Case(q.count_kpi("open", agency=q.AGENCY_VAR), [{"open": 11 + 8}], variables=stp),
        Case(q.count_kpi("overdue", agency=q.AGENCY_VAR), [{"overdue": 8}], variables={"agency": LAND}),
        Case(q.count_kpi("due_soon", agency=q.AGENCY_VAR), [{"due_soon": 5}], variables=stp),
        Case(q.rate_kpi("rate_month", agency=q.AGENCY_VAR), [{"rate_month": r(28 / 30)}], variables=stp),
        Case(
            q.rate_vs_target(agency=q.AGENCY_VAR),
            [{"vs_target": r(30 / 40 - 0.80)}],
            variables={"agency": LAND},
        ),
        Case(q.rate_kpi("satisfaction", agency=q.AGENCY_VAR), [{"satisfaction": r(12 / 14)}], variables=stp),
        Case(q.rate_kpi("satisfaction", agency=q.AGENCY_VAR), [], variables={"agency": "SYT"}),  # no rating
        Case(q.rate_kpi("online_payment", agency=q.AGENCY_VAR), [{"online_payment": 0.5}], variables=stp),
        Case(
            q.channel_mix(agency=q.AGENCY_VAR),
            [{"Trực tiếp": 30, "Trực tuyến": 30, "Bưu chính": 5, "Điện thoại": 1}],
            variables=stp,
        ),
        Case(
            q.received_by_field(agency=q.AGENCY_VAR),
            [{"field": "Hộ tịch", "Tiếp nhận": 2}, {"field": "Lý lịch tư pháp", "Tiếp nhận": 2}],
            *DAY_RANGE,
            variables=stp,
        ),
        Case(
            q.backlog_over_time(agency=q.AGENCY_VAR),
            [
                {"time": recent(0) * 1000, "Trong hạn": 7, "Sắp đến hạn": 1, "Quá hạn": 1, "Tạm dừng": 0},
                {"time": recent(1) * 1000, "Trong hạn": 9, "Sắp đến hạn": 3, "Quá hạn": 1, "Tạm dừng": 1},
            ],
            recent(0) * 1000,
            recent(1, 59) * 1000,
            interval="1m",
            variables={"agency": "SXD"},
            keep_time=True,
        ),
        Case(
            q.deadline_list("overdue", agency=q.AGENCY_VAR),
            [
                {
                    "time": DEADLINE_MS["STP-D1"],
                    "dossier": "STP-D1",
                    "procedure": "2.000488",
                    "late_seconds": 3600,
                },
                {
                    "time": DEADLINE_MS["STP-D2"],
                    "dossier": "STP-D2",
                    "procedure": "1.004884",
                    "late_seconds": 60,
                },
            ],
            variables=stp,
            keep_time=True,
        ),
        Case(
            q.deadline_list("due_soon", agency=q.AGENCY_VAR),
            [
                {
                    "time": DEADLINE_MS["STP-D5"],
                    "dossier": "STP-D5",
                    "procedure": "2.000942",
                    "late_seconds": 0,
                }
            ],
            variables=stp,
            keep_time=True,
        ),
        Case(
            q.AGENCY_VALUES,
            [{"key": "agency", "value": v} for v in ("CNVPDKDD_TP", "SKHDT", "STP", "SXD", "SYT")],
        ),
        Case(q.AGENCY_NAME_VALUES, [{"key": "agency_name", "value": "ĐKĐĐ TP"}], variables={"agency": LAND}),
    ]
    for kind in q.EVENT_SERIES:
        series = {"received": [3, 1], "resolved": [1, 1], "returned": [0, 1]}[kind]
        name = q.EVENT_SERIES[kind]
        out.append(
            Case(
                q.events_per_hour(kind, agency=q.AGENCY_VAR),
                [{"time": hour_ms(8 + i), name: n} for i, n in enumerate(series)],
                *DAY_RANGE,
                variables=stp,
                keep_time=True,
            )
        )

    # alert rules, with the time range their relativeTimeRange gives
    out += [
        Case(
            q.new_overdue_by_agency(),
            [{"agency": "STP", "new_overdue": 2}, {"agency": LAND, "new_overdue": 1}],
            (NOW - 300) * 1000,
            (NOW + 1) * 1000,
        ),
        Case(
            q.due_soon_by_agency(),
            [
                {"agency": "STP", "agency_name": "Tư pháp", "due_soon": 5},
                {"agency": LAND, "agency_name": "ĐKĐĐ TP", "due_soon": 12},
                {"agency": "SYT", "agency_name": "Y tế", "due_soon": 0},
            ],
            *LIVE,
        ),
    ]
    month_rates = {"STP": [{"rate_month": r(28 / 30)}], LAND: [{"rate_month": 0.75}]}
    month_resolved = {"STP": 30, LAND: 40, "SYT": 0}
    for agency in catalog.agencies:
        code = agency.code
        out.append(Case(q.month_rate_for_alert(code), month_rates.get(code, []), *LIVE))
        resolved = [{"month_resolved": month_resolved[code]}] if code in month_resolved else []
        out.append(Case(q.month_resolved_for_alert(code), resolved, *LIVE))
        # in the last 2 hours: STP 1 event; SKHDT and LAND 0 (they sent 3 hours ago); the others never
        events = {"STP": [{"events": 1}], "SKHDT": [{"events": 0}], LAND: [{"events": 0}]}.get(code, [])
        history = (NOW - 30 * DAYS) * 1000, (NOW + 1) * 1000  # the rule's 30-day range
        out.append(Case(q.agency_recent_events(code, 120), events, *history))
        # sync health (the i766 tallies): every agency has a row (zeros), SKHDT's non-zero one is stale
        received, synced = {"STP": (20, 14), LAND: (15, 15)}.get(code, (0, 0))
        share = r(synced / received) if received else 0
        out.append(Case(q.sync_share_for_alert(code), [{"sync_share": share}], *LIVE))
        out.append(Case(q.sync_received_for_alert(code), [{"received": received}], *LIVE))
    # the running form II.06a: STP p0 (latest) + STP p1, LAND p0; the other agencies' rows are zeros
    # (written by partitions 0 and 1), SKHDT's non-zero point of partition 2 is stale
    zero = dict.fromkeys(queries.II06A_FIELDS, 0)
    stp = {"c3": 7 + 2, "c4": 3 + 1, "c5": 4 + 1, "c6": 0 + 0, "c7": 4 + 1, "c8": 2, "c9": 1 + 1, "c10": 1,
           "c11": 3 + 1, "c12": 2 + 1, "c13": 1, "refused_at_counter": 1}
    land = {**zero, "c3": 6, "c5": 5, "c6": 1, "c7": 2, "c8": 1, "c9": 1, "c11": 4, "c12": 2, "c13": 2}
    figures = {"STP": stp, LAND: land}
    form_rows = [
        {"agency": a.code, "agency_name": a.name, "tt": i, **figures.get(a.code, zero),
         "period_from": "2025-02-15", "period_to": "2025-03-14"}
        for i, a in enumerate(catalog.agencies, 1)
    ]
    out.append(Case(q.ii06a_form(), form_rows))
    out.append(Case(q.ii06a_as_of(), [{"as_of": OPEN * 1000}]))
    # every snapshot of the last 2 hours was taken at an open business instant
    out.append(Case(q.office_open_throughout(), [{"office_open": 1}], (NOW - 7200) * 1000, (NOW + 1) * 1000))
    return out + i766_cases(catalog)


# -- what the 766 board must show, from the domain core on the summed tallies (dossiers.index766) ----------


def i766_latest(catalog: Catalog, since: int, agency: str | None = None, *, by_day: bool = True
                ) -> dict[int, dict[str, tuple[Tally, dict[int, int]]]]:
    """{local day (epoch ms of its midnight; 0 for all of them unless `by_day`): {agency: (summed tally,
    summed sync buckets)}}: per day, each partition's latest point of every agency at or after `since`
    (the board's window), summed."""
    latest: dict[tuple[int, int, str], tuple[int, tuple[int, int]]] = {}
    for partition, ago, tallies in I766:
        moment = NOW - ago
        if moment < since:
            continue
        midnight = datetime.fromtimestamp(moment, VN).replace(hour=0, minute=0, second=0)
        day = int(midnight.timestamp()) * 1000 if by_day else 0
        for a in catalog.agencies:
            if agency is not None and a.code != agency:
                continue
            key = (day, partition, a.code)
            if key not in latest or latest[key][0] < moment:
                latest[key] = (moment, tallies.get(a.code, (0, 0)))
    out: dict[int, dict[str, tuple[Tally, dict[int, int]]]] = {}
    for (day, _, code), (_, (received, synced)) in latest.items():
        empty = (Tally(), dict.fromkeys(SYNC_WITHIN_HOURS, 0))
        tally, within = out.setdefault(day, {}).setdefault(code, empty)
        tally.add(i766_tally(received, synced))
        for hours, n in i766_within(synced).items():
            within[hours] += n
    return out


def summed(rows: dict[str, tuple[Tally, dict[int, int]]]) -> tuple[Tally, dict[int, int]]:
    tally, within = Tally(), dict.fromkeys(SYNC_WITHIN_HOURS, 0)
    for one, buckets in rows.values():
        tally.add(one)
        for hours, n in buckets.items():
            within[hours] += n
    return tally, within


def sync_of(tally: Tally, within: dict[int, int]) -> dict[str, float]:
    received = tally.received
    return {"received": received, "synced": tally.synced, "synced_share": tally.synced / received,
            **{f"within_{h}h": within[h] / received for h in SYNC_WITHIN_HOURS}}


def i766_cases(catalog: Catalog) -> list[Case]:
    """The board "Chỉ số 766" and the wall's tile: every query, per agency, for the centre, for `$agency`."""
    out: list[Case] = []
    # the live window (KPI_WINDOW, 1 min): SKHDT's point (5 min old) is out, and each partition's latest wins
    (live,) = i766_latest(catalog, NOW - 60, by_day=False).values()
    names = {a.code: a.name for a in catalog.agencies}
    number = {a.code: n for n, a in enumerate(catalog.agencies, 1)}
    out.append(Case(queries.i766_scores(), [
        {"agency": code, "agency_name": names[code], "tt": number[code], **scores_of(tally)}
        for code, (tally, _) in live.items()]))
    centre_tally, centre_within = summed(live)
    assert centre_tally.received == 12 + 8 + 15 and centre_within[24] == 9 + 5 + 15
    out.append(Case(queries.i766_scores(by_agency=False), [scores_of(centre_tally)]))
    for code in ("STP", LAND):
        out.append(Case(queries.i766_scores(by_agency=False, agency=queries.AGENCY_VAR),
                        [scores_of(live[code][0])], variables={"agency": code}))
    # an agency with nothing to score yet: no row, the panels show "—" (SKHDT's non-zero point is stale)
    for code in ("SYT", "SKHDT"):
        out.append(Case(queries.i766_scores(by_agency=False, agency=queries.AGENCY_VAR), [],
                        variables={"agency": code}))
    period = {"period_from": "2025-02-15", "period_to": "2025-03-14"}
    tallies = [{"agency": code, "agency_name": names[code], "tt": number[code], **tally.as_dict(),
                **{f"synced_{h}h": n for h, n in within.items()}, **period}
               for code, (tally, within) in live.items()]
    out.append(Case(queries.i766_tallies(), tallies))
    out.append(Case(queries.sync_health(), [
        {"agency": code, "agency_name": names[code], **sync_of(tally, within)}
        for code, (tally, within) in live.items() if tally.received]))
    out.append(Case(queries.sync_health(by_agency=False), [sync_of(centre_tally, centre_within)]))
    # the trend: per local day, each partition's last point of the day (SKHDT's stale one included), which
    # the worker keeps in the default retention policy stamped at the day's midnight (`trend_lines`): the
    # range starts there, as the board's 6 months do
    days = i766_latest(catalog, NOW - 7200)
    span = min(days), (NOW + 1) * 1000
    trend = []
    for day, rows in sorted(days.items()):
        scores = scores_of(summed(rows)[0])
        trend.append({"time": day, "points": scores["points"], "max": scores["max"]})
    assert trend and all(row["points"] is not None for row in trend)
    out.append(Case(queries.i766_trend(), trend, *span, keep_time=True))
    for code in ("STP", "SKHDT"):
        mine = i766_latest(catalog, NOW - 7200, agency=code)
        expected = [{"time": day, **{k: scores_of(summed(r)[0])[k] for k in ("points", "max")}}
                    for day, r in sorted(mine.items())]
        out.append(Case(queries.i766_trend(agency=queries.AGENCY_VAR), expected, *span, keep_time=True,
                        variables={"agency": code}))
    return out


def _case_id(case: Case) -> str:
    return re.sub(r"\s+", " ", case.query)[:100] + (f" {case.variables}" if case.variables else "")


@pytest.mark.parametrize("case", cases(load_catalog()), ids=_case_id)
def test_query_returns_expected_rows(db: InfluxEndpoint, case: Case) -> None:
    assert case.run(db) == clean(case.expected, keep_time=case.keep_time)


# -- coverage: every query the generated boards and rules use has expectations above ------------------------
def used_influx_queries(catalog: Catalog) -> set[str]:
    found: set[str] = set()
    for board in dashboards.dashboards(catalog).values():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("type") == "influxdb":
                    found.add(target["query"])
        for variable in board.get("templating", {}).get("list", []):
            found.add(variable["query"])
    for group in rules.provisioning(catalog)["groups"]:
        for rule in group["rules"]:
            for query in rule["data"]:
                if query["datasourceUid"] == "ioc-influxdb":
                    found.add(query["model"]["query"])
    return found


def test_every_query_is_checked(catalog: Catalog) -> None:
    checked = {case.query for case in cases(catalog)}
    used = used_influx_queries(catalog)
    assert used, "no InfluxQL query found in the generated boards and rules"
    assert used - checked == set()


# -- the alert rules as Grafana would evaluate them on this data ---------------------------------------------
def _series(rows: list[dict[str, Any]]) -> dict[frozenset[tuple[str, str]], float]:
    """InfluxQL rows -> {labels: last value}, as Grafana's reduce(last) sees frames."""
    out: dict[frozenset[tuple[str, str]], float] = {}
    for row in rows:
        labels = frozenset((k, str(v)) for k, v in row.items() if k in ("agency", "agency_name"))
        values = [v for k, v in row.items() if k not in ("time", "_measurement", "agency", "agency_name")]
        if values and values[-1] is not None:
            out[labels] = float(values[-1])
    return out


def evaluate(rule: dict[str, Any], db: InfluxEndpoint) -> dict[frozenset[tuple[str, str]], str]:
    """A small evaluator of the expressions our rules use (reduce last, threshold, math with && and
    comparisons), over the real query results. Returns {labels: "Alerting" | "Normal"}, applying
    noDataState when a data source query returns nothing."""
    now_ms = (NOW + 1) * 1000
    results: dict[str, dict[frozenset[tuple[str, str]], float]] = {}
    for query in rule["data"]:
        model, ref = query["model"], query["refId"]
        if query["datasourceUid"] == "ioc-influxdb":
            span = query["relativeTimeRange"]["from"] * 1000
            text = queries.render(model["query"], start=now_ms - span - 1000, end=now_ms)
            results[ref] = _series(db.query(text, epoch="ms"))
            if not results[ref]:
                state = {"Alerting": "Alerting", "OK": "Normal", "NoData": "NoData"}[rule["noDataState"]]
                return {frozenset(): state}
        elif model["type"] == "reduce":
            results[ref] = dict(results[model["expression"]])
        elif model["type"] == "threshold":
            evaluator = model["conditions"][0]["evaluator"]
            ops: dict[str, Callable[[float, float], bool]] = {
                "gt": lambda a, b: a > b,
                "lt": lambda a, b: a < b,
            }
            results[ref] = {
                k: float(ops[evaluator["type"]](v, evaluator["params"][0]))
                for k, v in results[model["expression"]].items()
            }
        elif model["type"] == "math":
            refs = re.findall(r"\$([A-Z])", model["expression"])
            keys = set.intersection(*(set(results[x]) for x in refs))
            out = {}
            for key in keys:
                expression = model["expression"].replace("&&", " and ").replace("||", " or ")
                for x in refs:
                    expression = expression.replace(f"${x}", repr(results[x][key]))
                assert re.fullmatch(r"[0-9.e+\- <>=andor()]+", expression), expression
                out[key] = float(eval(expression))
            results[ref] = out
    return {
        k: ("Alerting" if v and not math.isnan(v) else "Normal")
        for k, v in results[rule["condition"]].items()
    }


def rule_by_uid(catalog: Catalog) -> dict[str, dict[str, Any]]:
    return {rule["uid"]: rule for group in rules.provisioning(catalog)["groups"] for rule in group["rules"]}


def firing(states: dict[frozenset[tuple[str, str]], str]) -> set[str]:
    return {dict(k).get("agency", "") for k, v in states.items() if v == "Alerting"}


def test_rule_new_overdue_fires_per_agency(db: InfluxEndpoint, catalog: Catalog) -> None:
    assert firing(evaluate(rule_by_uid(catalog)["ioc-overdue-new"], db)) == {"STP", LAND}


def test_rule_due_soon_backlog(db: InfluxEndpoint, catalog: Catalog) -> None:
    # threshold 10: LAND has 12 due soon, STP 5, SYT 0
    assert firing(evaluate(rule_by_uid(catalog)["ioc-due-soon"], db)) == {LAND}


@pytest.mark.parametrize(
    ("agency", "state"),
    [
        ("STP", "Alerting"),  # 28/30 = 93 % < 99 %, 30 resolved >= 20
        (LAND, "Alerting"),  # 30/40 = 75 % < 80 %, 40 resolved
        ("SYT", "Normal"),  # nothing resolved this month: no rate, noDataState OK
        ("SKHDT", "Normal"),  # no live snapshot
    ],
)
def test_rule_on_time_against_own_target(
    db: InfluxEndpoint, catalog: Catalog, agency: str, state: str
) -> None:
    states = evaluate(rule_by_uid(catalog)[f"ioc-ontime-{agency}"], db)
    assert set(states.values()) == {state}


def test_rule_on_time_waits_for_enough_dossiers(db: InfluxEndpoint, catalog: Catalog) -> None:
    rule = json.loads(json.dumps(rule_by_uid(catalog)["ioc-ontime-STP"]))
    math_model = next(d["model"] for d in rule["data"] if d["model"].get("type") == "math")
    math_model["expression"] = math_model["expression"].replace(">= 20", ">= 31")  # STP resolved 30
    assert set(evaluate(rule, db).values()) == {"Normal"}


@pytest.mark.parametrize(
    ("agency", "state"),
    [("STP", "Normal"), ("SKHDT", "Alerting"), (LAND, "Alerting"), ("SYT", "Normal")],
)
def test_rule_silent_agency(db: InfluxEndpoint, catalog: Catalog, agency: str, state: str) -> None:
    # office open for the last 2 hours; STP sent an event 10 minutes ago; SKHDT and LAND sent nothing in
    # the last 2 hours; SYT never sent anything (no data: not judged silent, noDataState OK)
    assert set(evaluate(rule_by_uid(catalog)[f"ioc-silent-{agency}"], db).values()) == {state}


@pytest.mark.parametrize(
    ("agency", "state"),
    [("STP", "Alerting"), (LAND, "Normal"), ("SYT", "Normal"), ("SKHDT", "Normal")],
)
def test_rule_sync_falling_behind(db: InfluxEndpoint, catalog: Catalog, agency: str, state: str) -> None:
    # STP synced 14 of 20 received (70 % < 90 %, 20 >= 10, open); LAND 15 of 15; SYT received nothing;
    # SKHDT's only non-zero point is stale
    assert set(evaluate(rule_by_uid(catalog)[f"ioc-sync-{agency}"], db).values()) == {state}


def test_rule_sync_waits_for_enough_dossiers(db: InfluxEndpoint, catalog: Catalog) -> None:
    rule = json.loads(json.dumps(rule_by_uid(catalog)["ioc-sync-STP"]))
    math_model = next(d["model"] for d in rule["data"] if d["model"].get("type") == "math")
    math_model["expression"] = math_model["expression"].replace(">= 10", ">= 21")  # STP received 20
    assert set(evaluate(rule, db).values()) == {"Normal"}


def _ict(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=VN).timestamp())  # type: ignore[misc]


@pytest.mark.parametrize(
    ("why", "business_times", "state"),
    [
        ("a working Tuesday, open for 2 hours", [_ict(2028, 3, 7, 8, 0) + 60 * m for m in range(121)],
         "Alerting"),
        ("Tết 2028 (holidays package, a year no file lists)", [_ict(2028, 1, 27, 10, 0) + 60 * m
                                                                for m in range(121)], "Normal"),
        ("Quốc khánh 2030, a Monday", [_ict(2030, 9, 2, 8, 0) + 60 * m for m in range(121)], "Normal"),
        ("just after opening: the look-back still sees the night", [_ict(2028, 3, 7, 6, 0) + 60 * m
                                                                    for m in range(121)], "Normal"),
        ("across the lunch break", [_ict(2028, 3, 7, 11, 0) + 60 * m for m in range(121)], "Normal"),
        ("a Saturday", [_ict(2028, 3, 11, 8, 0) + 60 * m for m in range(121)], "Normal"),
    ],
)
def test_silent_rule_knows_office_hours_and_holidays_at_run_time(
    influx: LocalInflux | RemoteInflux, catalog: Catalog, why: str, business_times: list[int], state: str
) -> None:
    """The workers write `office_open` from the catalog calendar at each snapshot's business instant; the
    rule fires for a silent agency only when every snapshot of its look-back says open. One snapshot a
    minute over the last 2 hours (wall time), taken at the given business instants."""
    calendar = WorkingCalendar(catalog.calendar)
    working_day = calendar.is_working_day(calendar.local_date(business_times[-1]))
    assert working_day == ("Tết" not in why and "Quốc khánh" not in why and "Saturday" not in why), why
    endpoint = testing.fresh_endpoint(influx)
    wall = [NOW - 7140 + 60 * m for m in range(len(business_times))]  # 119 min ago .. now
    points = [kpi_point(catalog, "STP", 0, block(), w, b) for w, b in zip(wall, business_times, strict=True)]
    points.append(event_point("SKHDT", "received", "counter", "Kế hoạch", "SKHDT-X", NOW - 3 * 3600))
    testing.write_as_worker(endpoint, points)
    assert set(evaluate(rule_by_uid(catalog)["ioc-silent-SKHDT"], endpoint).values()) == {state}, why


def test_centre_and_agency_helpers(db: InfluxEndpoint) -> None:
    """The helpers an end-to-end test or `ioc replay` comparison calls."""
    centre = queries.centre_kpis(db.query)
    assert centre["received_today"] == 20 and centre["overdue"] == 9
    assert centre["rate_month"] == pytest.approx(58 / 70)
    stp = queries.agency_kpis(db.query, "STP")
    assert stp["open"] == 19 and stp["rate_today"] == pytest.approx(5 / 6)
    syt = queries.agency_kpis(db.query, "SYT")
    assert syt["received_today"] == 0 and syt["rate_month"] is None
    assert queries.per_agency(db.query, "overdue") == {"STP": 1, LAND: 8, "SYT": 0}
    assert queries.per_agency(db.query, "rate_month") == pytest.approx({"STP": 28 / 30, LAND: 0.75})
