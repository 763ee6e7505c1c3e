"""The province board (`ioc-province`) and the centre board (`ioc-centre`) on the real InfluxDB: every
InfluxQL query they send, run on `kpi` points written by the worker's own `kpi_point` for a province of
three centres, equals what the domain core gives on the same blocks (`Block.add` per centre and for the
province, `dossiers.kpi.expected_on_time` for a centre's target, the catalog's coordinates for the map).

A stale snapshot (older than the 1-minute window) must be ignored, the latest point of a partition must
win, and a centre with nothing resolved this month has no target row. `test_every_province_query_is_checked`
collects the queries from the generated boards, so a new panel fails here until it has expectations.
"""

# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import json
import re
import time
from datetime import date
from typing import Any

import pytest

from dossiers import labels
from dossiers.catalog import Catalog
from dossiers.index766 import SYNC_WITHIN_HOURS, Index766, Tally
from dossiers.index766 import Row as Row766
from dossiers.kpi import Block, expected_on_time
from dossiers.periods import Period
from dossiers.report_ii06a import Window
from grafana import dashboards
from grafana import queries as q
from ioc.devstack.influx import InfluxEndpoint, LocalInflux, RemoteInflux
from streams.influx import centres_of, i766_points, kpi_point
from streams.lines import event_point
from tests.support import stack as testing
from tests.support.scores import i766_tally, scores_of, total_of

pytestmark = pytest.mark.integration

AS_OF = 1_772_420_400
"""The business instant the snapshots describe (2 March 2026 10:00 ICT); the wall-clock stamps are taken
when the data is written (`db`), since the boards read `now() - 1m` and this module may run long after
its collection."""
PROCEDURE = [{"code": "1.000001", "name": "Thủ tục", "field": "Lĩnh vực", "processing": 1}]


def _agency(code: str, target: float) -> dict[str, Any]:
    return {"code": code, "name": f"Bộ phận {code}", "target_on_time": target, "procedures": PROCEDURE}


PROVINCE = Catalog.model_validate({
    "province": {"code": "51", "name": "Tỉnh thử nghiệm"},
    "centres": [
        {"code": "TT", "name": "Trung tâm tỉnh", "lat": 15.12, "lon": 108.8,
         "agencies": [_agency("STP", 0.99), _agency("LAND", 0.8)]},
        {"code": "X1", "name": "Trung tâm xã Một", "level": "commune", "lat": 15.2, "lon": 108.7,
         "agencies": [_agency("X1_TP", 0.99), _agency("X1_DD", 0.9)]},
        {"code": "X2", "name": "Trung tâm xã Hai", "level": "commune",
         "agencies": [_agency("X2_TP", 0.99)]},
    ],
})


def block(**values: int) -> Block:
    return Block(**values)


# (agency, partition, seconds before now, block): the latest point of a partition wins; X2_TP's p1 is stale
SNAPSHOTS: list[tuple[str, int, int, Block]] = [
    ("STP", 0, 50, block(received_today=9, overdue=9, month_good=9, month_resolved=9)),  # replaced below
    ("STP", 0, 4, block(received_today=6, today_resolved=3, within=5, due_soon=1, overdue=2,
                        month_good=18, month_resolved=20, satisfied=4, unsatisfied=1)),
    ("STP", 1, 3, block(received_today=2, today_resolved=1, within=1, month_good=10, month_resolved=10)),
    ("LAND", 0, 4, block(received_today=3, within=4, overdue=5, month_good=20, month_resolved=30,
                         satisfied=1, unsatisfied=1)),
    ("X1_TP", 1, 5, block(received_today=12, today_resolved=10, within=3, due_soon=2, month_good=40,
                          month_resolved=40, satisfied=10)),
    ("X1_DD", 0, 6, block(received_today=4, within=2, overdue=7, month_good=5, month_resolved=10)),
    ("X2_TP", 0, 2, block(received_today=1, within=1)),
    ("X2_TP", 1, 300, block(received_today=50, overdue=50, month_good=1, month_resolved=50)),  # stale
]


def live_blocks() -> dict[str, Block]:
    """Per agency: the sum over partitions of each partition's latest snapshot in the last minute."""
    latest: dict[tuple[str, int], tuple[int, Block]] = {}
    for agency, partition, ago, b in SNAPSHOTS:
        if ago <= 60 and ((agency, partition) not in latest or latest[(agency, partition)][0] > ago):
            latest[(agency, partition)] = (ago, b)
    out: dict[str, Block] = {}
    for (agency, _), (_, b) in latest.items():
        out.setdefault(agency, Block()).add(b)
    return out


def centre_blocks() -> dict[str, Block]:
    agencies = live_blocks()
    out = {}
    for centre in PROVINCE.centres:
        total = Block()
        for a in PROVINCE.agencies_of(centre.code):
            total.add(agencies.get(a.code, Block()))
        out[centre.code] = total
    return out


# (agency, partition, (received, synced)): the running 766 tallies, one `i766` point per agency and
# partition written 4 s ago (agencies not listed: zeros)
I766: list[tuple[str, int, tuple[int, int]]] = [
    ("STP", 0, (12, 9)), ("STP", 1, (8, 5)), ("LAND", 0, (15, 15)), ("X1_TP", 1, (30, 10)),
    ("X1_DD", 0, (6, 6)), ("X2_TP", 0, (3, 0)),
]


def i766_lines(now: int) -> list[str]:
    period = Period(date(2026, 2, 15), date(2026, 3, 14), "2026-03")
    lines = []
    for partition in (0, 1):
        mine = {agency: t for agency, p, t in I766 if p == partition}
        rows = [Row766(a.code, a.name, i766_tally(*mine.get(a.code, (0, 0))),
                       sync_within=dict.fromkeys(SYNC_WITHIN_HOURS, 0)) for a in PROVINCE.agencies]
        index = Index766(period, Window(AS_OF, AS_OF), rows, total_of("51", "51", rows))
        lines += i766_points(index, partition, now - 4, AS_OF, centres_of(PROVINCE))
    return lines


def i766_summed(codes: set[str]) -> Tally:
    total = Tally()
    for agency, _, (received, synced) in I766:
        if agency in codes:
            total.add(i766_tally(received, synced))
    return total


# (agency, type, seconds before now): `events` points, tagged with the centre like the worker's
EVENTS: list[tuple[str, str, int]] = [
    ("STP", "received", 20), ("STP", "received", 21), ("STP", "received", 22), ("LAND", "received", 30),
    ("X1_TP", "received", 20), ("X1_TP", "received", 25), ("STP", "resolved", 15)]


@pytest.fixture(scope="module")
def db(influx: LocalInflux | RemoteInflux) -> tuple[InfluxEndpoint, int]:
    """The data, stamped with the wall clock of now; returns the database and that instant."""
    endpoint = testing.fresh_endpoint(influx)
    now = int(time.time())
    points = [kpi_point(PROVINCE, agency, partition, b, now - ago, AS_OF)
              for agency, partition, ago, b in SNAPSHOTS]
    centres = centres_of(PROVINCE)
    points += [event_point(agency, kind, "counter", "Lĩnh vực", f"D-{i}", now - ago, centres)
               for i, (agency, kind, ago) in enumerate(EVENTS)]
    points += i766_lines(now)
    testing.write_as_worker(endpoint, points)
    return endpoint, now


def run(db: InfluxEndpoint, now: int, query: str, **variables: str) -> list[dict[str, Any]]:
    text = q.render(query, start=(now - 3600) * 1000, end=(now + 1) * 1000, variables=variables)
    rows = []
    for row in db.query(text, epoch="ms"):
        rows.append({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()
                     if k not in ("time", "_measurement")})
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False))


def rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()} for row in rows]
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False))


def counts(b: Block) -> dict[str, int]:
    return {"received_today": b.received_today, "resolved_today": b.today_resolved, "open": b.open,
            "overdue": b.overdue, "due_soon": b.due_soon}


NAMES = {c.code: c.name for c in PROVINCE.centres}


Key = tuple[str, tuple[tuple[str, str], ...]]
"""(query, its variables)."""


def expected(catalog: Catalog, now: int) -> dict[Key, list[dict[str, Any]]]:
    """{(query, variables): rows} for every query of the boards, from the domain core, for data written
    at `now` (the events' hours depend on it)."""
    centres, agencies = centre_blocks(), live_blocks()
    province = Block()
    for b in centres.values():
        province.add(b)
    out: dict[Key, list[dict[str, Any]]] = {}

    def put(query: str, rows: list[dict[str, Any]], **variables: str) -> None:
        out[(query, tuple(sorted(variables.items())))] = rows

    put(q.centre_counts(), [{"centre": c, "centre_name": NAMES[c], **counts(b)} for c, b in centres.items()])
    put(q.centre_counts(by_centre=False), [counts(province)])
    month = province.as_dict()["on_time_rate_month"]
    put(q.province_rate("rate_month"), [{"rate_month": month}])
    put(q.province_rate("satisfaction"), [{"satisfaction": province.as_dict()["satisfaction_rate"]}])
    targets = []
    for code, b in centres.items():
        members = [(agencies.get(a.code, Block()), a.target_on_time) for a in PROVINCE.agencies_of(code)]
        if not b.month_resolved:
            continue  # X2: nothing resolved this month (its stale point is out of the window)
        target, rate = expected_on_time(members), b.as_dict()["on_time_rate_month"]
        assert target is not None and rate is not None
        targets.append({"centre": code, "centre_name": NAMES[code], "rate_month": rate, "target": target,
                        "gap": target - rate})
    assert {t["centre"] for t in targets} == {"TT", "X1"}
    put(q.centre_targets(), targets)
    put(q.centre_map(), [{"centre": c.code, "centre_name": c.name, "latitude": c.lat, "longitude": c.lon,
                          "overdue": centres[c.code].overdue, "open": centres[c.code].open}
                         for c in PROVINCE.centres if c.lat is not None])
    for code in ("X1", "X2"):
        b = centres[code]
        put(q.centre_counts(centre=q.CENTRE_VAR), [counts(b)], centre=code)
        for name, rate in (("rate_month", "on_time_rate_month"), ("satisfaction", "satisfaction_rate")):
            value = b.as_dict()[rate]
            rows = [] if value is None else [{name: value}]
            put(q.centre_rates(name, centre=q.CENTRE_VAR), rows, centre=code)
        members = PROVINCE.agencies_of(code)
        for column in ("open", "overdue", "due_soon"):
            put(q.centre_agencies(column), [
                {"agency": a.code, "agency_name": a.label, column: counts(agencies[a.code])[column]}
                for a in members if a.code in agencies], centre=code)
        put(q.centre_agencies("rate_month"), [
            {"agency": a.code, "agency_name": a.label,
             "rate_month": agencies[a.code].as_dict()["on_time_rate_month"]}
            for a in members if a.code in agencies and agencies[a.code].month_resolved], centre=code)
    put(q.CENTRE_VALUES, [{"key": "centre", "value": c} for c in sorted(NAMES)])
    put(q.CENTRE_NAME_VALUES, [{"key": "centre_name", "value": NAMES["X1"]}], centre="X1")
    # the 766 index: the province (its board's tile), per centre (the 766 board of a province), the
    # provincial centre alone (its wall's tile): each on its own summed tallies, never averaged
    everyone = {a.code for a in PROVINCE.agencies}
    put(q.i766_scores(by_agency=False), [scores_of(i766_summed(everyone))])
    put(q.i766_scores(by_centre=True), [
        {"centre": c.code, **scores_of(i766_summed({a.code for a in PROVINCE.agencies_of(c.code)}))}
        for c in PROVINCE.centres])
    # the wall (`ioc-wall`) of a province catalog: the provincial centre's agencies and figures only
    tt = centres["TT"]
    figures = tt.as_dict()
    for name, value in counts(tt).items():
        put(q.count_kpi(name, centre="TT"), [{name: value}])
    for name, key in (("rate_today", "on_time_rate_today"), ("rate_month", "on_time_rate_month"),
                      ("rate_year", "on_time_rate_year"), ("satisfaction", "satisfaction_rate"),
                      ("online_payment", "online_payment_share")):
        put(q.rate_kpi(name, centre="TT"), [] if figures[key] is None else [{name: figures[key]}])
    assert figures["on_time_rate_year"] is None and figures["on_time_rate_today"] == 0.0
    for a in PROVINCE.agencies_of("TT"):
        mine = agencies[a.code].as_dict()
        put(q.rate_kpi("rate_month", agency=a.code), [{"rate_month": mine["on_time_rate_month"]}])
        put(q.count_kpi("overdue", agency=a.code), [{"overdue": agencies[a.code].overdue}])
    put(q.count_kpi("overdue", by_agency=True, centre="TT"),
        [{"agency": a.code, "agency_name": a.label, "overdue": agencies[a.code].overdue}
         for a in PROVINCE.agencies_of("TT")])
    put(q.channel_mix(centre="TT"),
        [{label: tt.channels.get(ch, 0) for ch, label in q.CHANNEL_LABELS.items()}])
    put(q.open_by_state(centre="TT"), [{label: getattr(tt, f) for f, label in q.OPEN_STATES.items()}])
    put(q.resolved_today_split(centre="TT"), [{labels.ON_TIME: tt.today_good,
                                               labels.LATE: tt.today_resolved - tt.today_good}])
    first, last = (now - 3600) // 3600, (now + 1) // 3600  # the hours the rendered range covers
    for kind, series in q.EVENT_SERIES.items():
        per_hour = {h: 0 for h in range(first, last + 1)}
        for agency, k, ago in EVENTS:
            if k == kind and agency in {a.code for a in PROVINCE.agencies_of("TT")}:
                per_hour[(now - ago) // 3600] += 1
        rows = [{series: n} for n in per_hour.values()] if any(per_hour.values()) else []  # no series at all
        put(q.events_per_hour(kind, centre="TT"), rows)
    put(q.i766_scores(by_agency=False, centre="TT"), [scores_of(i766_summed({"STP", "LAND"}))])
    return out


KEYS = list(expected(PROVINCE, now=0))
"""The queries (and variables) checked; their expected rows are computed when the data is written."""


@pytest.mark.parametrize("key", KEYS, ids=lambda k: re.sub(r"\s+", " ", k[0])[:90] + str(dict(k[1])))
def test_province_query_returns_the_domain_figures(db: tuple[InfluxEndpoint, int], key: Key) -> None:
    endpoint, now = db
    query, variables = key
    assert run(endpoint, now, query, **dict(variables)) == rounded(expected(PROVINCE, now)[key])


def test_every_province_query_is_checked() -> None:
    boards = dashboards.dashboards(PROVINCE)
    used: set[str] = set()
    centre_rows = [p for p in boards[dashboards.INDEX766_UID]["panels"]
                   if p["title"].endswith("theo Trung tâm và nhóm chỉ số")]
    assert [t["query"] for p in centre_rows for t in p["targets"]] == [q.i766_scores(by_centre=True)]
    for uid in (dashboards.PROVINCE_UID, dashboards.CENTRE_UID, dashboards.WALL_UID):
        board = boards[uid]
        used |= {t["query"] for p in board["panels"] for t in p.get("targets", [])}
        used |= {v["query"] for v in board.get("templating", {}).get("list", [])}
    assert used and used - {query for query, _ in KEYS} == set()


def test_the_worst_communes_table_leaves_the_provincial_centre_out_and_keeps_ten() -> None:
    board = dashboards.dashboards(PROVINCE)[dashboards.PROVINCE_UID]
    worst = next(p for p in board["panels"] if p["title"].startswith("10 Trung tâm cấp xã"))
    steps = {t["id"]: t["options"] for t in worst["transformations"]}
    assert steps["filterByValue"]["type"] == "exclude"
    assert steps["filterByValue"]["filters"][0]["config"]["options"]["value"] == PROVINCE.centre.code
    assert steps["sortBy"]["sort"] == [{"field": "overdue", "desc": True}]
    assert steps["limit"]["limitField"] == 10


def test_the_wall_of_a_province_is_the_provincial_centres() -> None:
    wall = dashboards.dashboards(PROVINCE)[dashboards.WALL_UID]
    tiles = {p["title"] for p in wall["panels"]
             if any("var-agency=" in link["url"] for link in p.get("links", []))}
    assert tiles == {a.label for a in PROVINCE.agencies_of(PROVINCE.centre.code)}
    assert {link["url"] for link in wall["links"]} >= {"/d/ioc-province", "/d/ioc-centre"}
