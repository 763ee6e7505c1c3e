"""grafana/queries.py without a database: the query text, Grafana's macros, and the Prometheus names.

The values the InfluxQL queries return are checked on the real InfluxDB in
tests/integration/test_dashboard_queries.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from grafana import queries as q
from streams.metrics import WorkerMetrics


def test_snapshot_sums_each_partitions_last_value() -> None:
    assert q.count_kpi("overdue", agency="STP") == (
        'SELECT sum("overdue") AS "overdue" FROM (SELECT last("overdue") AS "overdue" FROM "kpi" '
        'WHERE "agency" = \'STP\' AND time > now() - 1m GROUP BY "agency", "partition")'
    )


def test_by_agency_keeps_the_vietnamese_label() -> None:
    query = q.count_kpi("overdue", by_agency=True)
    assert query.endswith('GROUP BY "agency", "agency_name", "partition") GROUP BY "agency", "agency_name"')


def test_rates_divide_sums_and_skip_empty_denominators() -> None:
    query = q.rate_kpi("satisfaction")
    assert query.startswith(
        'SELECT sum("satisfied") / (sum("satisfied") + sum("unsatisfied")) AS "satisfaction"'
    )
    assert 'WHERE "satisfied" + "unsatisfied" > 0 AND time > now() - 1m' in query


def test_alert_queries_use_the_rule_time_range() -> None:
    for query in (
        q.due_soon_by_agency(),
        q.month_rate_for_alert("STP"),
        q.month_resolved_for_alert("STP"),
        q.office_open_throughout(),
        q.new_overdue_by_agency(),
    ):
        assert "$timeFilter" in query and "now()" not in query
    silent = q.agency_recent_events("STP", 120)  # per-minute history over the rule's range, last 120
    assert "AND $timeFilter GROUP BY time(1m) fill(0)" in silent and "now()" not in silent
    assert silent.startswith('SELECT last("recent") * 120') and "moving_average(count(\"n\"), 120)" in silent


def test_literal_escapes_quotes() -> None:
    assert q.literal("O'Brien") == "'O\\'Brien'"
    assert q.ident('a"b') == '"a\\"b"'


def test_snapshot_needs_a_sum() -> None:
    with pytest.raises(ValueError, match="sum"):
        q.snapshot({"x": 'last("overdue")'})


def test_render_replaces_macros_like_grafana() -> None:
    start = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)
    end = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)
    text = q.render(
        q.backlog_over_time(agency=q.AGENCY_VAR),
        start=start,
        end=end,
        interval="10s",
        variables={"agency": "STP"},
    )
    assert "time >= 1741050000000ms and time <= 1741053600000ms" in text
    assert "GROUP BY time(10s)" in text and "'STP'" in text and "$" not in text
    assert q.render(
        "SELECT ${agency}, $agency_name, $agency", variables={"agency": "A", "agency_name": "N"}
    ) == ("SELECT A, N, A")


def test_render_refuses_to_leave_a_macro() -> None:
    with pytest.raises(ValueError, match="start and end"):
        q.render(q.agency_recent_events("STP", 120))
    with pytest.raises(ValueError, match="unreplaced"):
        q.render(q.deadline_list("overdue", agency=q.AGENCY_VAR))


def test_deadline_lists_have_no_upper_time_bound() -> None:
    """Due-soon points sit at their due time, in the future: a `$timeFilter` would hide them."""
    query = q.deadline_list("due_soon", agency="STP")
    assert "$timeFilter" not in query and "time > now() - 400d" in query and '"open" = 1' in query


# -- Prometheus -------------------------------------------------------------------------------------------
def exported_metrics() -> dict[str, set[str]]:
    """{sample name: label names} as the worker exports them (counters get _total, histograms _bucket)."""
    metrics = WorkerMetrics.create(CollectorRegistry())
    metrics.events.labels(type="received", agency="STP", result="applied").inc()
    metrics.dead_letters.labels(reason="schema").inc()
    metrics.alerts.labels(kind="overdue").inc()
    metrics.consumer_lag.labels(partition="0").set(1)
    metrics.sink_latency.observe(0.1)
    metrics.tick_seconds.observe(0.001)
    names: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


@pytest.mark.parametrize("name", sorted(q.PROMQL))
def test_promql_uses_metrics_the_worker_exports(name: str) -> None:
    exported = exported_metrics()
    expr = q.PROMQL[name]
    used = set(re.findall(r"\b(ioc_[a-z_]+)\b", expr))
    assert used and used <= set(exported), (expr, used - set(exported))
    for labels in re.findall(r"by \(([^)]*)\)", expr):
        for label in (part.strip() for part in labels.split(",")):
            if label in ("instance", "job"):  # added by Prometheus when it scrapes
                continue
            assert any(label in exported[m] for m in used), (expr, label)
    for label in re.findall(r"\{(\w+)=", expr):
        assert any(label in exported[m] for m in used), (expr, label)
