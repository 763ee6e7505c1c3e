"""The board "Chỉ số 766" on the real stack: producer -> Kafka -> worker -> InfluxDB (`i766` tallies per
agency and partition) -> the board's InfluxQL (grafana/queries.py), equal to `ioc report 766` on the same
events at the worker's instant: the summed tallies, then every rate, every item's points and the totals,
which the board computes in InfluxQL from the sums (the worker cannot: an agency's dossiers are spread over
partitions).

Business time is pinned to a weekday evening (tests/support/pipeline.EVENING, 31 March 2026 18:00), as in
tests/integration/test_report_live.py, whose test this one mirrors: the running period is 15 March - 14
April, and nothing changes while the test reads. The crash-and-replay variant is not repeated here: the
`i766` points are written beside the `ii06a` ones, by the same snapshot, which that file kills and restarts.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from dossiers.index766 import (
    ITEMS,
    NO_LOSS,
    SYNC_WITHIN_HOURS,
    TALLY_FIELDS,
    Index766,
    Row,
    build_index,
    synced_within,
)
from dossiers.periods import month_of
from dossiers.report_ii06a import Window
from grafana import queries
from producers.simulator import Profile, Simulator, warmup_start
from tests.support.events import VN
from tests.support.pipeline import EVENING, PARTITIONS, Pipeline, replay_of, settle
from tests.support.pipeline import cli_report as pipeline_report
from tests.support.traffic import with_noise

pytestmark = pytest.mark.integration

FIELDS = queries.I766_FIELDS
AS_OF_QUERY = (
    'SELECT last("as_of") AS "as_of" FROM "live"."i766" WHERE time > now() - 1m GROUP BY "partition"'
)
TOLERANCE = 1e-6


def board_between(pipeline: Pipeline, agencies: list[str], timeout: float = 120.0
                  ) -> tuple[int, int, dict[str, Any]]:
    """What the board shows (summed tallies, scores per agency and for the centre, sync health, the trend)
    and the business instants it may describe: every partition's latest point has an `as_of` between the
    earliest read before the queries and the latest read after them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = [int(r["as_of"]) for r in pipeline.query(AS_OF_QUERY)]
        shown = {
            "tallies": queries.i766_rows(pipeline.query),
            "period": pipeline.query(queries.i766_tallies()),
            "agencies": queries.i766_score_rows(pipeline.query),
            "centre": queries.i766_score_rows(pipeline.query, by_agency=False),
            "sync": queries.sync_health_rows(pipeline.query),
            "trend": pipeline.query(queries.i766_trend(window="2d")),
            # the `$agency` panels: one agency's scores and trend
            "one": {code: queries.i766_score_rows(pipeline.query, by_agency=False, agency=code)
                    for code in agencies},
            "one_trend": {code: pipeline.query(queries.i766_trend(window="2d", agency=code))
                          for code in agencies},
        }
        after = [int(r["as_of"]) for r in pipeline.query(AS_OF_QUERY)]
        if len(before) == len(after) == PARTITIONS:
            return min(before), max(after), shown
        time.sleep(0.5)
    raise AssertionError(f"no i766 points of {PARTITIONS} partitions in {timeout} s\n{pipeline.logs()}")


def cli_report(events: list[dict[str, Any]], tmp: Path, as_of: int) -> dict[str, Any]:
    """`ioc report 766 FILE --period current --as-of AS_OF --json`, as a user runs it."""
    return pipeline_report("766", events, tmp, as_of)


def tallies_of(row: Row) -> dict[str, float]:
    """A `build_index` row as the `i766` fields: its tally, and the sync buckets of its delays."""
    within = synced_within(row.sync_delays)
    return {**{f: float(v) for f, v in row.tally.as_dict().items()},
            **{f"synced_{h}h": float(within[h]) for h in SYNC_WITHIN_HOURS}}


def tallies_in(document_row: dict[str, Any]) -> dict[str, float]:
    """The same fields read back from a row of the `ioc report 766 --json` document."""
    i = document_row["indicators"]
    tally = {
        "received": i["1.4"]["denominator"], "synced": i["1.4"]["numerator"],
        "online": i["3.3"]["numerator"], "in_form": i["2.1"]["denominator"], "on_time": i["2.1"]["numerator"],
        "second_supplement": i["2.1"]["second_supplement"],
        "awaiting_supplement": i["2.1"]["awaiting_supplement"],
        "finished": i["2.2"]["denominator"], "working_days": i["2.2"]["numerator"],
        "fee": i["3.6"]["denominator"], "paid_online": i["3.6"]["numerator"],
        "written": i["4.1"]["denominator"], "e_result": i["4.1"]["numerator"],
        "digitised": i["4.2"]["numerator"], "complaint_or_dislike": i["5.4"]["complaint_or_dislike"],
    }
    within = document_row["sync_health"]["synced_within_hours"]
    return {**{f: float(tally[f]) for f in TALLY_FIELDS},
            **{f"synced_{h}h": float(within[str(h)]) for h in SYNC_WITHIN_HOURS}}


def same_tallies(got: dict[str, float], want: dict[str, float], rounded: bool = False) -> bool:
    """Counts exactly; `working_days` (a float, summed in another order) to 1e-6 (or the JSON's rounding)."""
    tolerance = 6e-5 if rounded else TOLERANCE
    return got.keys() == want.keys() and all(
        abs(got[f] - want[f]) <= tolerance if f == "working_days" else got[f] == want[f] for f in got
    )


def score_mismatches(shown: dict[str, float | None], row: Row, document_row: dict[str, Any]) -> list[str]:
    """Where the board's scores differ from the report's (`build_index` to 1e-6, the JSON to its rounding)."""
    bad: list[str] = []

    def check(what: str, got: float | None, want: float | None, printed: float | None) -> None:
        if got is None or want is None or printed is None:
            wrong = not (got is None and want is None and printed is None)
        else:
            wrong = abs(got - want) > TOLERANCE or abs(got - printed) > 6e-5
        if wrong:
            bad.append(f"{what}: board {got}, report {want}, json {printed}")

    for code, indicator in row.indicators().items():
        alias = code.replace(".", "_")
        printed = document_row["indicators"][code]
        check(f"rate {code}", shown.get(f"rate_{alias}"), indicator.rate, printed["rate"])
        if indicator.max is not None:
            check(f"points {code}", shown.get(f"points_{alias}"), indicator.points, printed["points"])
            lost = None if indicator.points is None else indicator.max - indicator.points
            check(f"lost {code}", shown.get(f"lost_{alias}"), lost,
                  None if printed["points"] is None else printed["max"] - printed["points"])
    points, out_of = row.score()
    total = document_row["total"]
    assert (total["points"], total["max"]) == (round(points, 4), out_of)
    if out_of == 0:  # nothing to score yet: the board shows no value
        check("total", shown.get("points"), None, None)
    else:
        check("total", shown.get("points"), points, total["points"])
        check("max", shown.get("max"), out_of, total["max"])
        check("lost", shown.get("lost"), out_of - points, total["lost"])
        for group in queries.I766_GROUPS:
            lost = [i.max - i.points for c, i in row.indicators().items()
                    if i.max is not None and i.points is not None and ITEMS_BY_CODE[c].group == group]
            check(f"lost {group}", shown.get(f"lost_{group}"), sum(lost) if lost else None,
                  sum(lost) if lost else None)
    return bad


ITEMS_BY_CODE = {item.code: item for item in ITEMS}


def test_the_766_board_equals_ioc_report_766_at_the_workers_instant(pipeline: Pipeline) -> None:
    catalog = load_catalog()
    calendar = WorkingCalendar(catalog.calendar)
    since = datetime(2026, 3, 9, tzinfo=VN)  # a week before the period: dossiers carried over into it
    events = list(Simulator(catalog, calendar, seed=766, start=warmup_start(calendar, since, 5), end=EVENING,
                            emit_from=since, profile=Profile(index766=True)).events())
    records, _, invalid = with_noise(events, seed=766)
    assert invalid > 0
    worker = pipeline.worker("w1")
    worker.wait_ready()
    pipeline.produce(records)
    settle(pipeline, expected_received=replay_of(records, catalog, EVENING).snapshot().centre.received)
    first, last, shown = board_between(pipeline, [a.code for a in catalog.agencies])
    print(f"board read between business instants {first} and {last}")

    def index_at(as_of: int) -> Index766:
        """`build_index` on the very records the worker consumed, for the period running at `as_of`."""
        period = month_of(calendar.local_date(as_of))
        replay = replay_of(records, catalog, as_of)
        window = Window.of(period, calendar, as_of)
        return build_index(replay.states.values(), catalog, calendar, period, window)

    period = month_of(calendar.local_date(first))
    assert (period.first.isoformat(), period.last.isoformat()) == ("2026-03-15", "2026-04-14")
    built = index_at(first)
    expected = {row.key: tallies_of(row) for row in built.rows}
    assert {row.key: tallies_of(row) for row in index_at(last).rows} == expected  # an evening: no change
    document = cli_report(events, pipeline.tmp, first)
    assert document["period"] == {"from": "2026-03-15", "to": "2026-04-14"}
    printed = {row["key"]: row for row in document["agencies"]}
    assert sorted(printed) == sorted(expected)
    for code, row in printed.items():
        assert same_tallies(tallies_in(row), expected[code], rounded=True), code

    # (a) the summed tallies, per agency, equal the report's
    tallies = shown["tallies"]
    assert sorted(tallies) == sorted(expected), "one board row per agency of the catalog"
    for code, figures in expected.items():
        assert same_tallies(tallies[code], figures), f"{code}: board {tallies[code]}, ioc report {figures}"
    assert {(r["period_from"], r["period_to"]) for r in shown["period"]} == {("2026-03-15", "2026-04-14")}
    # the comparison covers every field, not an index of zeros (the simulator asks for one supplement at
    # most, so no dossier is late for a second one: tests/unit/test_index766*.py cover that count)
    centre = tallies_of(built.total)
    for name in FIELDS:
        assert centre[name] > 0 or name == "second_supplement", name

    # (b) rates, points and totals computed in InfluxQL from the sums equal the report's
    rows = {row.key: row for row in built.rows}
    assert sorted(shown["agencies"]) == sorted(expected), "a scores row per agency, tt included"
    mismatches = {code: bad for code in expected
                  if (bad := score_mismatches(shown["agencies"][code], rows[code], printed[code]))}
    assert not mismatches, mismatches
    assert {code: shown["agencies"][code]["tt"] for code in expected} == {
        row.key: float(n) for n, row in enumerate(built.rows, 1)}
    assert list(shown["centre"]) == [""]
    assert not score_mismatches(shown["centre"][""], built.total, document["centre"])
    # both sides of min(rate / threshold, 1), and N/A items left out of an agency's total
    scored = [i for row in built.rows for i in row.indicators().values() if i.max is not None]
    assert any(i.points == i.max and i.rate is not None and i.rate < 1 for i in scored)
    assert any(i.points is not None and i.max is not None and i.points < i.max for i in scored)
    assert any(i.rate is None for i in scored) and any(0 < row.score()[1] < 64 for row in built.rows)

    # the `$agency` panels: the agency's row alone, its trend's last day, and the three items losing most as
    # the panel's transformations pick them (losses above NO_LOSS, largest first) = `Row.losing_most()`
    for code, row in rows.items():
        alone = shown["one"][code]
        points, out_of = row.score()
        if out_of == 0:
            assert alone == {} and shown["one_trend"][code] == [], code
            continue
        assert list(alone) == [""] and not score_mismatches(alone[""], row, printed[code]), code
        today = shown["one_trend"][code][-1]
        assert abs(today["points"] - points) <= TOLERANCE and today["max"] == out_of, code
        columns = zip(queries.I766_SCORED_LOSSES, queries.SCORED, strict=True)
        losses = [(lost, n, item.code) for n, (column, item) in enumerate(columns)
                  if (lost := alone[""][column]) is not None and lost > NO_LOSS]
        assert [c for _, _, c in sorted(losses, key=lambda x: (-x[0], x[1]))[:3]] == row.losing_most(), code
    assert sum(1 for row in rows.values() if len(row.losing_most()) == 3) >= 3, "top three exercised"

    # the trend's last day is the centre's total now; sync health from the buckets
    points, out_of = built.total.score()
    assert shown["trend"], "a trend point for today"
    assert abs(shown["trend"][-1]["points"] - points) <= TOLERANCE and shown["trend"][-1]["max"] == out_of
    for code, row in printed.items():
        health = row["sync_health"]
        if not health["received"]:
            assert code not in shown["sync"]
            continue
        sync = shown["sync"][code]
        assert sync["received"] == health["received"] and sync["synced"] == health["synced"]
        assert abs(sync["synced_share"] - health["synced"] / health["received"]) <= TOLERANCE
        for hours in SYNC_WITHIN_HOURS:
            share = health["synced_within_hours"][str(hours)] / health["received"]
            assert abs(sync[f"within_{hours}h"] - share) <= TOLERANCE, (code, hours)

    # bounded: one series per agency and partition, whatever the history
    series = pipeline.query('SHOW SERIES FROM "live"."i766"')
    assert len(series) == len(catalog.agencies) * PARTITIONS
