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
        'SELECT sum("overdue") AS "overdue" FROM (SELECT mean("overdue") AS "overdue" FROM '
        '(SELECT last("overdue") AS "overdue" FROM "live"."kpi" WHERE "agency" = \'STP\' '
        'AND time > now() - 1m '
        'GROUP BY "agency", "partition") WHERE time > now() - 1m GROUP BY "agency", "partition") '
        "WHERE time > now() - 1m"
    )


def test_each_field_has_a_subquery_of_its_own() -> None:
    """One subquery per field (their cost grows with the square of the fields they hold on InfluxDB 1.x),
    each wrapped in an aggregate so that their rows share the epoch and merge (docs/influxdb.md)."""
    query = q.open_by_state()
    for field in ("within", "due_soon", "overdue", "paused"):
        inner = (f'SELECT last("{field}") AS "{field}" FROM "live"."kpi" WHERE time > now() - 1m '
                 'GROUP BY "agency", "partition"')
        assert (f'(SELECT mean("{field}") AS "{field}" FROM ({inner}) WHERE time > now() - 1m '
                'GROUP BY "agency", "partition")') in query
    assert query.count("last(") == 4
    form = q.ii06a_form()
    assert 'mode("period_from") AS "period_from" FROM (SELECT last("period_from")' in form


def test_by_agency_keeps_the_vietnamese_label() -> None:
    query = q.count_kpi("overdue", by_agency=True)
    assert query.endswith('GROUP BY "agency", "agency_name", "partition") WHERE time > now() - 1m '
                          'GROUP BY "agency", "agency_name"')


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
    used = set(re.findall(r"\b((?:ioc|python_gc|process)_[a-z_]+)\b", expr))
    assert used and used <= set(exported), (expr, used - set(exported))
    for labels in re.findall(r"by \(([^)]*)\)", expr):
        for label in (part.strip() for part in labels.split(",")):
            if label in ("instance", "job"):  # added by Prometheus when it scrapes
                continue
            assert any(label in exported[m] for m in used), (expr, label)
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        for label in re.findall(r"(\w+)=", matchers):
            if label != "job":  # set by Prometheus's scrape configuration (deploy/prometheus)
                assert any(label in exported[m] for m in used), (expr, label)


# -- the 766 index ----------------------------------------------------------------------------------------
def test_i766_fields_are_what_the_worker_writes() -> None:
    from dossiers.index766 import TALLY_FIELDS
    from dossiers.index766_live import SYNC_FIELDS

    assert (*TALLY_FIELDS, *SYNC_FIELDS) == q.I766_FIELDS
    query = q.i766_tallies()
    for name in (*q.I766_FIELDS, "tt"):
        assert f'last("{name}") AS "{name}"' in query
    assert 'GROUP BY "agency", "agency_name", "partition")' in query  # each partition's latest point...
    assert query.endswith('GROUP BY "agency", "agency_name"')  # ...summed per agency
    assert 'sum("working_days") AS "working_days"' in query and 'last("period_to") AS "period_to"' in query


def _item_source(query: str, code: str) -> str:
    """The subquery of one item in `i766_scores` (from its rate alias to the next item's)."""
    alias = code.replace(".", "_")
    start = query.index(f'"r" AS "rate_{alias}"')
    end = query.find('(SELECT "r" AS', start)
    return query[start:] if end < 0 else query[start:end]


@pytest.mark.parametrize("by_agency", [True, False])
def test_i766_scores_take_thresholds_and_maxima_from_items(by_agency: bool) -> None:
    from dossiers.index766 import ITEMS

    query = q.i766_scores(by_agency=by_agency)
    for item in ITEMS:
        alias = item.code.replace(".", "_")
        source = _item_source(query, item.code)
        assert f'max("rate_{alias}") AS "rate_{alias}"' in query
        if item.max is None:  # 2.2: reported (working days), not scored
            assert "points" not in source and '"max"' not in source
            continue
        threshold = item.threshold or 1.0
        assert f'{float(item.max)!r} * ("r" / {threshold!r} + 1 - abs("r" / {threshold!r} - 1)) / 2' in source
        assert f'"r" * 0 + {float(item.max)!r} AS "max"' in source
        assert f'AS "lost_{item.group}"' in source
    assert 'sum("points") AS "points", sum("max") AS "max"' in query
    assert ('sum("lost_online") AS "lost_online"' in query) and ('max("tt")' in query) == by_agency
    assert query.endswith('GROUP BY "agency", "agency_name"') == by_agency


def test_i766_rates_divide_sums_over_positive_denominators_as_floats() -> None:
    query = q.i766_scores()
    assert 'SELECT sum("synced") * 1.0 / sum("received") AS "r"' in query  # 1.4
    assert 'sum("online") * 1.0 / sum("received") * sum("synced") / sum("received") AS "r"' in query  # 3.3
    assert 'sum("paid_online") * 1.0 / sum("fee") AS "r", sum("fee") AS "d"' in query  # 3.6
    gap = 'sum("on_time") - sum("complaint_or_dislike")'
    assert f"({gap} + abs({gap}))" in query  # 5.4: max(on time - complaint, 0)
    for denominator in ("received", "in_form", "finished", "fee", "written"):
        assert f'{denominator}") AS "d"' in query
    assert query.count('WHERE "d" > 0 AND time > now() - 1m GROUP BY "agency", "agency_name"') == len(q.ITEMS)
    assert "time > now() - 1m" in query and "time > now() - 5m" in q.i766_scores(window="5m")


def test_i766_trend_is_per_vietnamese_day_over_the_board_range() -> None:
    query = q.i766_trend()
    assert query.startswith('SELECT sum("points") AS "points", sum("max") AS "max" FROM (')
    assert query.endswith("WHERE $timeFilter GROUP BY time(1d) fill(none) tz('Asia/Ho_Chi_Minh')")
    assert "now()" not in query
    # the daily copies hold one point per series and day (its last): summed directly, for the whole catalog
    # from the partitions' sums over their agencies, for one agency from its own points
    assert 'sum("received") AS "d" FROM "i766_sum" WHERE $timeFilter GROUP BY time(1d)' in query
    assert "last(" not in query and 'FROM "i766" ' not in query
    one = q.i766_trend(agency="STP")
    assert ('sum("received") AS "d" FROM "i766" WHERE "agency" = \'STP\' AND $timeFilter '
            "GROUP BY time(1d)") in one
    ninety = q.i766_trend(window="90d")
    assert "time > now() - 90d" in ninety and "$timeFilter" not in ninety
    rendered = q.render(query, start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC))
    assert "$" not in rendered


def test_sync_health_shares_come_from_the_buckets() -> None:
    query = q.sync_health()
    assert '"synced" * 1.0 / "received" AS "synced_share"' in query
    assert '"synced_24h" * 1.0 / "received" AS "within_24h"' in query
    assert 'SELECT sum("received") AS "received", sum("synced") AS "synced"' in query
    assert 'WHERE "received" > 0 AND time > now() - 1m GROUP BY "agency", "agency_name"' in query
    assert not q.sync_health(by_agency=False).endswith('"agency_name"')


def test_live_measurements_are_read_from_the_retention_policy_the_worker_writes() -> None:
    """`kpi`, `ii06a` and `i766` come from the `live` retention policy (a day), except the 766 trend, which
    reads the daily `i766` points of the default one (streams.influx.trend_lines)."""
    from streams.influx import LIVE_RP

    assert q.LIVE_RP == LIVE_RP
    for query in (q.open_by_state(), q.ii06a_form(), q.i766_scores(), q.centre_map(), q.AGENCY_VALUES,
                  q.office_open_throughout(), q.sync_health()):
        assert re.search(r'FROM "(kpi|ii06a|i766)"', query) is None, query
        assert f'FROM "{LIVE_RP}".' in query
    trend = q.i766_trend()
    assert 'FROM "i766_sum"' in trend and f'"{LIVE_RP}"' not in trend


def _selects(query: str) -> list[tuple[str, bool]]:
    """Every SELECT statement of `query` (nested ones included) as (its own text with its subqueries cut
    out, whether it reads a subquery)."""
    out: list[tuple[str, bool]] = []

    def walk(text: str) -> None:
        own, depth, start, nested = [], 0, 0, False
        for i, char in enumerate(text):
            if char == "(":
                if depth == 0:
                    own.append(text[start:i])
                    start = i + 1
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    inner = text[start:i]
                    if inner.lstrip().startswith("SELECT"):
                        nested = True
                        walk(inner)
                    else:
                        own.append(f"({inner})")
                    start = i + 1
        own.append(text[start:])
        out.append(("".join(own), nested))

    walk(query)
    return out


def _board_and_rule_queries() -> list[str]:
    from dossiers.catalog import load_catalog
    from grafana import dashboards

    texts: list[str] = []
    for path in ("dossiers/data/province.yaml",):
        for board in dashboards.dashboards(load_catalog(path)).values():
            for panel in board["panels"]:
                for target in panel.get("targets", []):
                    if target.get("datasource", {}).get("type") == "influxdb":
                        texts.append(target["query"])
    texts += [q.sync_share_for_alert("STP"), q.sync_received_for_alert("STP"), q.month_rate_for_alert("STP"),
              q.due_soon_by_agency(), q.i766_trend(window="90d")]
    return texts


def test_every_query_above_a_subquery_repeats_the_time_condition() -> None:
    """InfluxDB 1.x opens every shard for a parent query without a time condition, whatever its
    subquery's (influxdata/influxdb#10380): with the live policy's hourly shards a one-minute board query
    read the whole day (docs/influxdb.md "Query cost"). The one exception: the silent-agency rule, whose
    outer time filter would empty InfluxDB's fill (`agency_recent_events`)."""
    checked = 0
    for query in _board_and_rule_queries():
        for own, nested in _selects(query):
            if nested:
                checked += 1
                assert re.search(r"\btime\s*[<>]|\$timeFilter", own), own
    assert checked > 100
    silent = _selects(q.agency_recent_events("STP", 5))
    assert any(not re.search(r"\btime\s*[<>]", own) for own, nested in silent if nested)
