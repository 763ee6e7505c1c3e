"""The board "Báo cáo kỳ này (Biểu II.06a)" on the real stack: producer -> Kafka -> worker -> InfluxDB ->
the board's InfluxQL, equal row by row to `ioc report ii06a` on the same events at the worker's instant.

Business time is pinned to a weekday evening (tests/support/pipeline.EVENING, 31 March 2026 18:00): the
running reporting month is 15 March - 14 April, so the weeks simulated from 9 March give every column,
carry-over (6) included, and no SLA state changes while the test reads.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from dossiers.periods import month_of
from dossiers.report_ii06a import Window, build_report
from grafana import queries
from producers.simulator import Simulator, warmup_start
from tests.support.events import VN
from tests.support.pipeline import EVENING, PARTITIONS, Pipeline, metric, replay_of, settle
from tests.support.pipeline import cli_report as pipeline_report
from tests.support.traffic import with_noise

pytestmark = pytest.mark.integration

FIELDS = queries.II06A_FIELDS
AS_OF_QUERY = (
    'SELECT last("as_of") AS "as_of" FROM "live"."ii06a" WHERE time > now() - 1m GROUP BY "partition"'
)


def board_between(pipeline: Pipeline, timeout: float = 120.0) -> tuple[int, int, dict[str, dict[str, int]]]:
    """The board's rows and the business instants they may describe: every partition's latest point has
    an `as_of` between the earliest read before the rows and the latest read after them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = [int(r["as_of"]) for r in pipeline.query(AS_OF_QUERY)]
        rows = queries.ii06a_rows(pipeline.query)
        after = [int(r["as_of"]) for r in pipeline.query(AS_OF_QUERY)]
        if len(before) == len(after) == PARTITIONS:
            return min(before), max(after), rows
        time.sleep(0.5)
    raise AssertionError(f"no ii06a points of {PARTITIONS} partitions in {timeout} s\n{pipeline.logs()}")


def cli_report(events: list[dict[str, Any]], tmp: Path, as_of: int) -> dict[str, Any]:
    """`ioc report ii06a FILE --period current --as-of AS_OF --json`, as a user runs it."""
    return pipeline_report("ii06a", events, tmp, as_of)


def test_the_running_form_on_the_board_equals_ioc_report_at_the_workers_instant(pipeline: Pipeline) -> None:
    catalog = load_catalog()
    calendar = WorkingCalendar(catalog.calendar)
    since = datetime(2026, 3, 9, tzinfo=VN)  # a week before the period: dossiers carried over into it
    events = list(Simulator(catalog, calendar, seed=16, start=warmup_start(calendar, since, 5), end=EVENING,
                            emit_from=since).events())
    records, _, invalid = with_noise(events, seed=16)
    assert invalid > 0
    worker = pipeline.worker("w1")
    worker.wait_ready()
    pipeline.produce(records)
    settle(pipeline, expected_received=replay_of(records, catalog, EVENING).snapshot().centre.received)
    first, last, shown = board_between(pipeline)
    print(f"board read between business instants {first} and {last}")

    def form_at(as_of: int) -> dict[str, dict[str, int]]:
        """`build_report` on the very records the worker consumed, for the period running at `as_of`."""
        period = month_of(calendar.local_date(as_of))
        replay = replay_of(records, catalog, as_of)
        window = Window.of(period, calendar, as_of)
        built = build_report(replay.states.values(), catalog, calendar, period, window)
        return {row.key: {f: getattr(row.counts, f) for f in FIELDS} for row in built.rows}

    period = month_of(calendar.local_date(first))
    assert (period.first.isoformat(), period.last.isoformat()) == ("2026-03-15", "2026-04-14")
    # an evening: nothing changes between the instants the board's points may describe, so the board
    # must show exactly this form; `ioc report` (on the clean events) prints it too
    expected = form_at(first)
    assert form_at(last) == expected
    document = cli_report(events, pipeline.tmp, first)
    assert document["period"] == {"from": "2026-03-15", "to": "2026-04-14"}
    assert {row["key"]: {f: row[f] for f in FIELDS} for row in document["rows"]} == expected

    assert sorted(shown) == sorted(expected), "one board row per agency of the catalog"
    for code, figures in expected.items():
        assert shown[code] == figures, f"{code}: board {shown[code]}, ioc report {figures}"
    footer = {f: sum(row[f] for row in shown.values()) for f in FIELDS}  # the table's footer
    assert footer == {f: document["total"][f] for f in FIELDS}
    # the comparison covers every kind of column, not a form of zeros
    for column in ("c4", "c5", "c6", "c8", "c9", "c12", "c13", "refused_at_counter"):
        assert footer[column] > 0, column

    # bounded: one series per agency and partition, whatever the history
    series = pipeline.query('SHOW SERIES FROM "live"."ii06a"')
    assert len(series) == len(catalog.agencies) * PARTITIONS


def test_a_worker_killed_mid_stream_and_restarted_shows_the_same_form(pipeline: Pipeline) -> None:
    """Crash and replay: the records after the last commit are consumed again and the counters rebuilt
    from the table; the board must neither lose nor double a dossier (snapshots replace, never add)."""
    catalog = load_catalog()
    calendar = WorkingCalendar(catalog.calendar)
    since = datetime(2026, 3, 9, tzinfo=VN)
    events = list(Simulator(catalog, calendar, seed=17, start=warmup_start(calendar, since, 5), end=EVENING,
                            emit_from=since).events())
    records, _, _ = with_noise(events, seed=17)
    worker = pipeline.worker("w1")
    worker.wait_ready()
    pipeline.produce(records)
    deadline = time.monotonic() + 60
    while metric(worker, "ioc_events_total") < len(records) / 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    seen = metric(worker, "ioc_events_total")
    worker.kill()
    assert 0 < seen < len(records), "the kill must land mid-stream"
    pipeline.worker("w1-again", IOC_DATA_DIR=worker.env["IOC_DATA_DIR"]).wait_ready()
    settle(pipeline, expected_received=replay_of(records, catalog, EVENING).snapshot().centre.received)
    first, last, shown = board_between(pipeline)
    period = month_of(calendar.local_date(first))
    expected = []
    for as_of in (first, last):
        replay = replay_of(records, catalog, as_of)
        window = Window.of(period, calendar, as_of)
        built = build_report(replay.states.values(), catalog, calendar, period, window)
        expected.append({row.key: {f: getattr(row.counts, f) for f in FIELDS} for row in built.rows})
    assert expected[0] == expected[1]
    assert shown == expected[0]
