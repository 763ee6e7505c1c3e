"""Every query of the IOC boards and alert rules, as named functions, so tests can run them.

InfluxQL (the `kpi`, `events`, `deadlines`, `alerts` measurements of docs/influxdb.md) is the one query
language served by InfluxDB 1.8+, 2.x (DBRP) and 3.x, so a panel query tested here on the local
InfluxDB 1.6.7 is the one Grafana sends in production. Dashboards, alert rules and tests import these
functions; none of them writes a query string by hand.

`kpi` holds one snapshot per agency *and Kafka partition* every few seconds: a per-agency figure is
the sum over partitions of each partition's latest snapshot, the centre's the sum over agencies. That is
the subquery in `snapshot()`. Ratios divide sums (never average per-partition ratios) and only read
snapshots whose denominator is positive: InfluxQL returns 0 for 0/0, which would paint a "0 %" wall
for an agency that simply resolved nothing yet; with the filter the panel shows "no value" instead.

Grafana macros stay in the text (`$timeFilter`, `$__interval`, `$agency`); `render()` replaces them
the way Grafana does, for tests and for `ioc replay` comparisons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from dossiers import labels
from dossiers.index766 import GROUPS, ITEMS, SYNC_WITHIN_HOURS, TALLY_FIELDS, Item
from dossiers.report_ii06a import FORM_COLUMNS, OUTSIDE

LIVE_RP = "live"
"""The retention policy the workers write `kpi`, `ii06a` and `i766` into (`streams.influx.LIVE_RP`, kept a
day); the 766 trend reads the daily `i766` points of the default one (docs/influxdb.md, "Volume and
retention")."""


def live(measurement: str) -> str:
    """A snapshot measurement as a query names it: `"live"."kpi"`."""
    return f"{ident(LIVE_RP)}.{ident(measurement)}"


KPI_WINDOW = "1m"
"""Snapshots come every 5 s: the latest one of every live partition falls in the last minute."""

AGENCY_VAR = "$agency"
"""The drill-down board's template variable (an agency code)."""

TIME_FILTER = "$timeFilter"

RunQuery = Callable[[str], list[dict[str, Any]]]
"""Runs one InfluxQL statement and returns rows as dicts (tags merged with columns), like
`ioc.devstack.influx.InfluxQL.query` or the `influx` test fixture's `.query`."""


# -- literals -------------------------------------------------------------------------------------------
def ident(name: str) -> str:
    """Double-quoted InfluxQL identifier (field, tag, alias)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    """Single-quoted InfluxQL string literal; a Grafana variable (`$agency`) passes through quoted."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _window(window: str | None, time_filter: str | None) -> str:
    if time_filter is not None:
        return time_filter
    return f"time > now() - {window or KPI_WINDOW}"


def latest_sources(
    source: str,
    columns: Mapping[str, str],
    where: str,
    group: str,
    *,
    span: str,
    text: Sequence[str] = (),
) -> str:
    """The FROM clause of "each series' latest value" of `source` (a measurement as the query names it,
    `live("kpi")`): one subquery per column, all grouped by `group`.

    `columns` maps an alias to the expression the inner query selects (`last("<field>")`, or a product of
    `last()`s of one partition). Why not one subquery with every column: InfluxDB 1.x runs the subquery
    again for every aggregate of the outer query, each time with all its columns, so the cost grows with
    the square of the columns (the sample province, 1,842 series, a minute of snapshots: the II.06a form's
    13 columns took 9.5 s in one subquery; docs/influxdb.md "Query cost"). An outer aggregate over a
    column reads the rows of its own subquery only (the others have no such column).
    Each subquery is wrapped in an aggregate over its one row per group (`mean`, or `mode` for the `text`
    columns): `last()` is a selector and keeps its point's time, and InfluxDB 1.6 merges the rows of
    several subqueries only when they share a time (an aggregate's: the start of the time range, the same
    for all of them), else every column but one comes out null.
    `where` holds the conditions on tags and fields (or ""), `span` the time condition: the inner query
    and the wrapper both have it, and so must every query above (the callers repeat `span`). InfluxDB 1.x
    opens every shard of the measurement for a parent query without a time condition, whatever its subquery's
    (influxdata/influxdb#10380, #10245): with the `live` policy's hourly shards and the history's daily
    ones, that is every shard of the retention period, for a query that reads one minute.
    """
    sources = []
    for alias, expr in columns.items():
        name = ident(alias)
        inner = f"SELECT {expr} AS {name} FROM {source} WHERE {_and(where, span)} GROUP BY {group}"
        keep = "mode" if alias in text else "mean"  # mean, not sum: sum of one row keeps its time too
        wrapper = f"SELECT {keep}({name}) AS {name} FROM ({inner}) WHERE {span} GROUP BY {group}"
        sources.append(f"({wrapper})")
    return ", ".join(sources)


def _and(*conditions: str) -> str:
    return " AND ".join(c for c in conditions if c)


def lasts(fields: Sequence[str]) -> dict[str, str]:
    """{field: `last("<field>")`}: the usual `columns` of `latest_sources`."""
    return {f: f"last({ident(f)})" for f in fields}


# -- kpi snapshots --------------------------------------------------------------------------------------
def snapshot(
    outputs: Mapping[str, str],
    *,
    agency: str | None = None,
    by_agency: bool = False,
    require: str | None = None,
    window: str | None = None,
    time_filter: str | None = None,
    centre: str | None = None,
    by_centre: bool = False,
) -> str:
    """Sum over partitions (and agencies) of each partition's latest `kpi` snapshot.

    `outputs` maps an output column (alias) to an expression over `sum("<kpi field>")` terms; the inner
    query takes `last()` of every field those expressions name. `require` is a WHERE condition on the
    snapshot (e.g. a positive denominator). `time_filter` (e.g. `$timeFilter` for alert rules) replaces
    the default `time > now() - 1m`. `by_agency` groups the result by agency code and Vietnamese label;
    `centre` (a code or `$centre`) keeps the agencies of one centre (the `centre` tag), `by_centre`
    groups by centre code and name.
    """
    fields = sorted({m for expr in outputs.values() for m in re.findall(r'sum\("([a-z_]+)"\)', expr)})
    if not fields:
        raise ValueError('snapshot(): every output must use sum("<field>")')
    conditions = []
    if centre is not None:
        conditions.append(f"{ident('centre')} = {literal(centre)}")
    if agency is not None:
        conditions.append(f"{ident('agency')} = {literal(agency)}")
    if require is not None:
        conditions.append(require)
    span = _window(window, time_filter)
    centre_tags = ['"centre"', '"centre_name"'] if by_centre else []
    agency_tags = ['"agency"', '"agency_name"'] if by_agency else ['"agency"']
    outer_tags = centre_tags + (agency_tags if by_agency else [])
    inner_group = ", ".join([*centre_tags, *agency_tags, '"partition"'])
    sources = latest_sources(live("kpi"), lasts(fields), _and(*conditions), inner_group, span=span)
    outer = ", ".join(f"{expr} AS {ident(alias)}" for alias, expr in outputs.items())
    query = f"SELECT {outer} FROM {sources} WHERE {span}"
    if outer_tags:
        query += f" GROUP BY {', '.join(outer_tags)}"
    return query


def ratio(good: str, total: Sequence[str]) -> tuple[str, str]:
    """(expression, WHERE condition) of sum(good) / sum(total...) over snapshots with total > 0."""
    denominator = " + ".join(f"sum({ident(t)})" for t in total)
    if len(total) > 1:
        denominator = f"({denominator})"
    condition = " + ".join(ident(t) for t in total) + " > 0"
    return f"sum({ident(good)}) / {denominator}", condition


RATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "rate_today": ("today_good", ("today_resolved",)),
    "rate_month": ("month_good", ("month_resolved",)),
    "rate_year": ("year_good", ("year_resolved",)),
    "satisfaction": ("satisfied", ("satisfied", "unsatisfied")),
    "online_payment": ("paid_online", ("paid_online", "paid_offline")),
}
"""Ratio KPIs: numerator field and denominator fields of `kpi` (docs/influxdb.md identities)."""

COUNTS: dict[str, str] = {
    "received_today": 'sum("received_today")',
    "resolved_today": 'sum("today_resolved")',
    "open": 'sum("within") + sum("due_soon") + sum("overdue")',
    "overdue": 'sum("overdue")',
    "due_soon": 'sum("due_soon")',
}
"""Count KPIs: expression over sums of `kpi` fields."""


def count_kpi(
    name: str,
    *,
    agency: str | None = None,
    by_agency: bool = False,
    time_filter: str | None = None,
    window: str | None = None,
    centre: str | None = None,
) -> str:
    """One count KPI (see COUNTS) for the centre, one agency, or every agency (of one `centre` of a
    province: its wall)."""
    return snapshot(
        {name: COUNTS[name]}, agency=agency, by_agency=by_agency, time_filter=time_filter, window=window,
        centre=centre,
    )


def rate_kpi(
    name: str,
    *,
    agency: str | None = None,
    by_agency: bool = False,
    time_filter: str | None = None,
    window: str | None = None,
    centre: str | None = None,
) -> str:
    """One ratio KPI (see RATES); no row at all when its denominator is 0 everywhere."""
    good, total = RATES[name]
    expr, condition = ratio(good, total)
    return snapshot(
        {name: expr},
        agency=agency,
        by_agency=by_agency,
        require=condition,
        time_filter=time_filter,
        window=window,
        centre=centre,
    )


def rate_vs_target(*, agency: str) -> str:
    """Month on-time rate minus the agency's own target (the `target_on_time` field): >= 0 is on target."""
    expr, condition = ratio("month_good", ("month_resolved",))
    return snapshot(
        {"vs_target": f'{expr} - sum("target_on_time") / count("target_on_time")'},
        agency=agency,
        require=condition,
    )


def target(*, agency: str) -> str:
    """The agency's target on-time rate, as the worker writes it from the catalog."""
    return (
        f'SELECT last("target_on_time") AS "target" FROM "live"."kpi" WHERE "agency" = {literal(agency)} '
        f"AND time > now() - {KPI_WINDOW}"
    )


CHANNEL_LABELS: dict[str, str] = labels.CHANNEL


def channel_mix(*, agency: str | None = None, centre: str | None = None) -> str:
    """Received dossiers by channel (all time), one column per channel with its Vietnamese label."""
    return snapshot({label: f'sum("channel_{ch}")' for ch, label in CHANNEL_LABELS.items()}, agency=agency,
                    centre=centre)


OPEN_STATES: dict[str, str] = {
    "within": labels.WITHIN,
    "due_soon": labels.DUE_SOON,
    "overdue": labels.OVERDUE,
    "paused": labels.PAUSED,
}
"""`kpi` fields of the open dossiers by SLA state, and the series names (aliases) the boards colour."""


def open_by_state(*, agency: str | None = None, centre: str | None = None) -> str:
    """Open dossiers now: within deadline, due soon, overdue; and how many have their clock stopped."""
    return snapshot({label: f"sum({ident(field)})" for field, label in OPEN_STATES.items()}, agency=agency,
                    centre=centre)


def resolved_today_split(*, agency: str | None = None, centre: str | None = None) -> str:
    """Today's results: early or on time vs late (kpi keeps early and on time together per day)."""
    return snapshot(
        {labels.ON_TIME: 'sum("today_good")', labels.LATE: 'sum("today_resolved") - sum("today_good")'},
        agency=agency, centre=centre,
    )


def backlog_over_time(*, agency: str) -> str:
    """Open dossiers by SLA state over the board's time range (backlog ageing of one agency).

    Per interval: each partition's last snapshot, summed; `$__interval` is at least the panel's 10 s so
    every partition has a snapshot in each bucket.
    """
    inner_select = ", ".join(f"last({ident(f)}) AS {ident(f)}" for f in OPEN_STATES)
    outer_select = ", ".join(f"sum({ident(f)}) AS {ident(label)}" for f, label in OPEN_STATES.items())
    inner = (
        f'SELECT {inner_select} FROM {live("kpi")} WHERE "agency" = {literal(agency)} AND $timeFilter '
        'GROUP BY time($__interval), "partition"'
    )
    return f"SELECT {outer_select} FROM ({inner}) WHERE $timeFilter GROUP BY time($__interval) fill(none)"


# -- events: throughput ---------------------------------------------------------------------------------
EVENT_SERIES: dict[str, str] = {
    "received": labels.RECEIVED,
    "resolved": labels.WITH_RESULT,
    "returned": labels.RETURNED,
}
"""Event types shown as inflow/outflow per hour, with their Vietnamese series names."""


def events_per_hour(kind: str, *, agency: str | None = None, centre: str | None = None) -> str:
    """Events of one type per hour in the board's time range (inflow: received; outflow: resolved)."""
    where = [f'"type" = {literal(kind)}']
    if agency is not None:
        where.insert(0, f'"agency" = {literal(agency)}')
    if centre is not None:
        where.insert(0, f'"centre" = {literal(centre)}')
    return (
        f'SELECT count("n") AS {ident(EVENT_SERIES.get(kind, kind))} FROM "events" '
        f"WHERE {' AND '.join(where)} AND $timeFilter GROUP BY time(1h) fill(0)"
    )


def received_by_field(*, agency: str) -> str:
    """Dossiers received in the time range by procedure domain (lĩnh vực)."""
    return (
        f'SELECT count("n") AS {ident(labels.RECEIVED)} FROM "events" WHERE "agency" = {literal(agency)} '
        'AND "type" = \'received\' AND $timeFilter GROUP BY "field"'
    )


# -- deadlines: drill-down lists ------------------------------------------------------------------------
DEADLINE_LOOKBACK = "400d"
"""Overdue dossiers older than this drop off the list (a year and some: the worst real cases)."""


def deadline_list(kind: str, *, agency: str, lookback: str = DEADLINE_LOOKBACK) -> str:
    """Open dossiers of one agency that are overdue / due soon, oldest due time first.

    No upper time bound on purpose: a due-soon dossier's point sits at its due time, in the future.
    """
    return (
        f'SELECT "dossier", "procedure", "late_seconds" FROM "deadlines" WHERE "agency" = {literal(agency)} '
        f'AND "kind" = {literal(kind)} AND "open" = 1 AND time > now() - {lookback} LIMIT 500'
    )


# -- template variables ---------------------------------------------------------------------------------
AGENCY_VALUES = 'SHOW TAG VALUES FROM "live"."kpi" WITH KEY = "agency"'
AGENCY_NAME_VALUES = 'SHOW TAG VALUES FROM "live"."kpi" WITH KEY = "agency_name" WHERE "agency" = \'$agency\''


# -- alert rules ----------------------------------------------------------------------------------------
def new_overdue_by_agency() -> str:
    """SLA alerts of kind overdue in the rule's time range, per agency (a burst of new overdue dossiers)."""
    return (
        'SELECT count("late_seconds") AS "new_overdue" FROM "alerts" WHERE "kind" = \'overdue\' '
        'AND $timeFilter GROUP BY "agency"'
    )


def due_soon_by_agency() -> str:
    """Due-soon backlog per agency, from the latest snapshots in the rule's time range."""
    return count_kpi("due_soon", by_agency=True, time_filter=TIME_FILTER)


def month_rate_for_alert(agency: str) -> str:
    """One agency's on-time rate this month (no row while nothing was resolved this month)."""
    return rate_kpi("rate_month", agency=agency, time_filter=TIME_FILTER)


def month_resolved_for_alert(agency: str) -> str:
    """How many dossiers the rate above is computed on: a rate over 3 dossiers should not page anyone."""
    return snapshot({"month_resolved": 'sum("month_resolved")'}, agency=agency, time_filter=TIME_FILTER)


def agency_recent_events(agency: str, minutes: int) -> str:
    """Events of one agency in about the last `minutes` (0 when it is silent), for the silent-agency rule.

    A plain count returns *no row* for a silent agency, and in Grafana any query with no data turns the
    whole rule into NoData, whatever the office hours. So the count is bucketed per minute with fill(0)
    over the rule's long time range (`$timeFilter`, days), and the moving sum of the last `minutes`
    buckets (moving average x N; an outer time filter would empty InfluxDB's fill) is read at the newest
    bucket: 0 while the agency is silent, no row only when it sent nothing in the whole long range.
    The value is a float (1 event may read 0.999...): compare it with 0.5, not 1.
    """
    inner = (
        f'SELECT moving_average(count("n"), {minutes}) AS "recent" FROM "events" '
        f'WHERE "agency" = {literal(agency)} AND $timeFilter GROUP BY time(1m) fill(0)'
    )
    return f'SELECT last("recent") * {minutes} AS "events" FROM ({inner})'


def office_open_throughout() -> str:
    """1 when every `kpi` snapshot in the rule's time range was taken while the centre was open.

    The workers write `office_open` from the catalog's calendar (office hours, the `holidays` package's
    public holidays, the catalog's extra days off and make-up working days), so the rule knows office
    hours at run time, for any year. 0 as soon as one snapshot in the range was taken while closed.
    """
    return 'SELECT min("office_open") AS "office_open" FROM "live"."kpi" WHERE $timeFilter'


# -- Prometheus (pipeline health; metric names from streams/metrics.py) ----------------------------------
PROMQL: dict[str, str] = {
    "events_rate": "sum by (type) (rate(ioc_events_total[1m]))",
    "events_duplicate_rate": 'sum(rate(ioc_events_total{result="duplicate"}[5m]))',
    "consumer_lag": "sum by (partition) (ioc_consumer_lag)",
    "consumer_lag_total": "sum(ioc_consumer_lag)",
    "dead_letters": "sum by (reason) (increase(ioc_dead_letters_total[10m]))",
    "dead_letters_rate": "sum by (reason) (rate(ioc_dead_letters_total[5m]))",
    "sink_errors": "sum(increase(ioc_sink_errors_total[5m]))",
    "sink_latency_p50": "histogram_quantile(0.5, sum by (le) (rate(ioc_sink_write_seconds_bucket[5m])))",
    "sink_latency_p95": "histogram_quantile(0.95, sum by (le) (rate(ioc_sink_write_seconds_bucket[5m])))",
    "sink_points_rate": "sum(rate(ioc_sink_points_total[1m]))",
    "sink_buffer": "sum by (instance) (ioc_sink_buffer_points)",
    "unsaved_records": "sum by (instance) (ioc_unsaved_records)",
    "alerts_rate": "sum by (kind) (rate(ioc_alerts_total[5m]))",
    "partitions": "sum by (instance) (ioc_assigned_partitions)",
    "partitions_total": "sum(ioc_assigned_partitions)",
    "tick_p95": "histogram_quantile(0.95, sum by (le) (rate(ioc_tick_seconds_bucket[5m])))",
    "worker_cpu": 'sum by (instance) (rate(process_cpu_seconds_total{job="ioc-worker"}[1m]))',
    "worker_full_gc": (
        'sum by (instance) (increase(python_gc_collections_total{job="ioc-worker",generation="2"}[5m]))'
    ),
}


# -- form II.06a, the running period -------------------------------------------------------------------
II06A_FIELDS = (*FORM_COLUMNS, *OUTSIDE)
"""The `ii06a` count fields (as streams.influx writes them): the form's columns, then outside it."""


PERIOD = ("period_from", "period_to")
"""The string fields of `ii06a` and `i766`: the running period's first and last day."""


def ii06a_form(*, window: str | None = None) -> str:
    """One row per agency: the sum over partitions of each partition's latest `ii06a` point, with the
    row's number (`tt`, catalog order) and the running period's dates (the same on every partition)."""
    span = _window(window, None)
    sources = latest_sources(live("ii06a"), lasts(("tt", *II06A_FIELDS, *PERIOD)), "",
                             '"agency", "agency_name", "partition"', span=span, text=PERIOD)
    outer = ", ".join(
        ['max("tt") AS "tt"', *(f"sum({ident(f)}) AS {ident(f)}" for f in II06A_FIELDS),
         'mode("period_from") AS "period_from"', 'mode("period_to") AS "period_to"']
    )
    return f'SELECT {outer} FROM {sources} WHERE {span} GROUP BY "agency", "agency_name"'


def ii06a_as_of(*, window: str | None = None) -> str:
    """The business instant the running form describes (ms, for a date panel): the latest snapshot's."""
    return f'SELECT max("as_of") * 1000 AS "as_of" FROM "live"."ii06a" WHERE {_window(window, None)}'


def ii06a_rows(run: RunQuery, *, window: str = KPI_WINDOW) -> dict[str, dict[str, int]]:
    """What the board's form table shows: {agency code: {field: n}} (the footer adds them up)."""
    out: dict[str, dict[str, int]] = {}
    for row in run(ii06a_form(window=window)):
        out[str(row["agency"])] = {f: int(row[f] or 0) for f in II06A_FIELDS}
    return out


# -- sync health to the national portal, for the alert rule (the running month's `i766` tallies) -----------
def _i766_agency(fields: tuple[str, ...], agency: str) -> str:
    """The sum over partitions of each partition's latest `i766` values of one agency (tallies add up)."""
    inner = ", ".join(f"last({ident(f)}) AS {ident(f)}" for f in fields)
    return (f'SELECT {inner} FROM "live"."i766" WHERE {TIME_FILTER} AND "agency" = {literal(agency)} '
            'GROUP BY "partition"')


def sync_share_for_alert(agency: str) -> str:
    """One agency's share of the dossiers received this reporting month that are synced to the national
    portal (item 1.4's rate, live); 0 while nothing was received (the rule also asks for enough)."""
    return (f'SELECT sum("synced") / sum("received") AS "sync_share" '
            f'FROM ({_i766_agency(("synced", "received"), agency)}) WHERE {TIME_FILTER}')


def sync_received_for_alert(agency: str) -> str:
    """How many dossiers the share above is computed on."""
    return (f'SELECT sum("received") AS "received" FROM ({_i766_agency(("received",), agency)}) '
            f'WHERE {TIME_FILTER}')
# -- the 766 index, the running period ----------------------------------------------------------------
I766_SYNC_FIELDS: tuple[str, ...] = tuple(f"synced_{h}h" for h in SYNC_WITHIN_HOURS)
"""The sync buckets of `i766`: dossiers received in the period and synced within 1, 4, 24, 72 hours."""
I766_FIELDS: tuple[str, ...] = (*TALLY_FIELDS, *I766_SYNC_FIELDS)
"""The `i766` count fields as streams.influx writes them: `Tally`'s fields (`working_days` a float, the
others integers), then the sync buckets. All of them add up over partitions; no rate does."""

SCORED: tuple[Item, ...] = tuple(item for item in ITEMS if item.max is not None)
"""The scored items (1.4, 2.1, 3.3, 3.6, 4.1, 4.2, 5.4), their thresholds and maxima from `ITEMS`."""


def _sum(name: str) -> str:
    return f"sum({ident(name)})"


def _float(sum_expr: str) -> str:
    """`sum(x) * 1.0`: InfluxDB 1.6 types an integer sum divided by an integer sum as an *integer* once an
    outer query reads it from a subquery (0.8 becomes 0); a float factor keeps the quotient a float."""
    return f"{sum_expr} * 1.0"


def _rate_766(code: str) -> tuple[str, str, tuple[str, ...]]:
    """(rate expression over the partitions' summed tallies, its denominator field, the fields it reads) of
    one item: the formulas of `dossiers.index766.indicators`, on the tallies summed over partitions (and
    agencies), as `Index766` sums them; the item is N/A (no row) where the summed denominator is 0."""
    if code == "3.3":  # online share x sync rate
        rate = f"{_float(_sum('online'))} / {_sum('received')} * {_sum('synced')} / {_sum('received')}"
        return rate, "received", ("online", "synced", "received")
    if code == "5.4":  # 100% - (overdue + complaint) rates, never below 0: max(on_time - complaint, 0)
        gap = f"{_sum('on_time')} - {_sum('complaint_or_dislike')}"
        rate = f"{_float(f'({gap} + abs({gap}))')} / 2 / {_sum('in_form')}"
        return rate, "in_form", ("on_time", "complaint_or_dislike", "in_form")
    numerator, denominator = RATIOS_766[code]
    return f"{_float(_sum(numerator))} / {_sum(denominator)}", denominator, (numerator, denominator)


RATIOS_766: dict[str, tuple[str, str]] = {
    "1.4": ("synced", "received"),
    "2.1": ("on_time", "in_form"),
    "2.2": ("working_days", "finished"),
    "3.6": ("paid_online", "fee"),
    "4.1": ("e_result", "written"),
    "4.2": ("digitised", "received"),
}
"""The items that are one tally field over another (numerator, denominator); 3.3 and 5.4 are formulas."""


def _number(value: float) -> str:
    return repr(float(value))


def _points_766(item: Item, rate: str) -> str:
    """`Item.points` in InfluxQL: max x min(rate / threshold, 1), with min(x, 1) = (x + 1 - |x - 1|) / 2
    (InfluxQL has no two-argument min over expressions; abs() of an expression works from 1.6)."""
    assert item.max is not None
    threshold = item.threshold or 1.0  # as Item.points: no threshold means full at 100%
    x = f"{rate} / {_number(threshold)}"
    return f"{_number(item.max)} * ({x} + 1 - abs({x} - 1)) / 2"


def _alias(code: str) -> str:
    return code.replace(".", "_")


def _i766_latest_sources(fields: Sequence[str], where: str, span: str, by_centre: bool = False) -> str:
    """Each partition's latest `i766` point per agency, one subquery per field (`latest_sources`);
    `by_centre` keeps the agency's `centre` tag for the outer query to group by."""
    centre = '"centre", ' if by_centre else ""
    return latest_sources(live("i766"), lasts(fields), where, f'{centre}"agency", "agency_name", "partition"',
                          span=span)


def _per_day(day_tz: str | None) -> str:
    return f" fill(none) tz({literal(day_tz)})" if day_tz else ""


def _i766_sources(where: str, span: str, by_agency: bool, day_tz: str | None = None, by_centre: bool = False,
                  daily: str = "i766") -> tuple[list[str], str]:
    """One subquery per item, where the summed denominator `d` is positive: the rate (summed
    tallies, divided), then its points, and the same points, maximum and loss under the names the outer
    query adds up (`points`, `max`, `lost_<group>`). An item with a zero denominator everywhere gives no
    row: its columns are null and it is out of the total, as N/A is in `Row.score()`.
    With `day_tz` (the trend), per local day, summed straight from the daily copies of the default policy
    in measurement `daily` (`streams.influx.trend_lines`: each is the day's last point of its series, so
    no `last()` subquery is needed).
    `where` holds the tag conditions (or ""), `span` the time condition, repeated at every level
    (`latest_sources`). Returns (subqueries, the GROUP BY clause the outer query repeats)."""
    level = ['"agency"', '"agency_name"'] if by_agency else ['"centre"'] if by_centre else []
    parts = (["time(1d)"] if day_tz else []) + level
    group = f" GROUP BY {', '.join(parts)}" if parts else ""
    tags = f" GROUP BY {', '.join(level)}" if level else ""
    fill = _per_day(day_tz)
    sources = []
    for item in ITEMS:
        rate, denominator, used = _rate_766(item.code)
        if day_tz:  # the daily copies (default policy): one point per agency, partition and day, its last
            summed = (f'SELECT {rate} AS "r", {_sum(denominator)} AS "d" FROM {ident(daily)} '
                      f"WHERE {_and(where, span)}{group}{fill}")
        else:
            latest = _i766_latest_sources(used, where, span, by_centre)
            summed = f'SELECT {rate} AS "r", {_sum(denominator)} AS "d" FROM {latest} WHERE {span}{group}'
        columns = [f'"r" AS {ident("rate_" + _alias(item.code))}']  # a raw selection: no time(1d) here
        if item.max is not None:
            points = _points_766(item, '"r"')
            columns += [
                f"{points} AS {ident('points_' + _alias(item.code))}",
                f'{points} AS "points"',
                f'"r" * 0 + {_number(item.max)} AS "max"',
                f"{_number(item.max)} - {points} AS {ident('lost_' + item.group)}",
                f"{_number(item.max)} - {points} AS {ident('lost_' + _alias(item.code))}",
            ]
        sources.append(f"SELECT {', '.join(columns)} FROM ({summed}) WHERE \"d\" > 0 AND {span}{tags}")
    if by_agency:  # a row for every agency, even one with nothing to score yet: its number in the catalog
        # (mean, not max: a selector keeps its point's time, and InfluxDB 1.6 then loses the column when it
        # merges that row with the items' rows, stamped at the epoch; tt is the same on every partition)
        numbers = _i766_latest_sources(("tt",), where, span)
        sources.append(f'SELECT mean("tt") AS "tt" FROM {numbers} WHERE {span}{group}')
    return sources, group


TREND_TZ = "Asia/Ho_Chi_Minh"
"""The trend's days are Vietnamese days (InfluxDB's `tz()`; its time(1d) buckets are UTC days without)."""

I766_GROUPS: tuple[str, ...] = tuple(GROUPS)
"""The official groups, for the `lost_<group>` columns of `i766_scores`."""


def _agency_filter(agency: str | None) -> str:
    return "" if agency is None else f'"agency" = {literal(agency)}'


I766_SCORED_LOSSES: tuple[str, ...] = tuple(f"lost_{_alias(item.code)}" for item in SCORED)
"""The `lost_<item>` columns of `i766_scores`, in the order of `ITEMS`."""


def i766_scores(*, window: str | None = None, by_agency: bool = True, agency: str | None = None,
                centre: str | None = None, by_centre: bool = False) -> str:
    """The 766 index of the running period, computed on the board from the summed tallies.

    The worker cannot compute an agency's rates (its dossiers are spread over partitions, and rates do not
    add up), so every rate is taken here, in InfluxQL, from the sums over partitions of each partition's
    latest `i766` point: per agency (`by_agency`, with its catalog number `tt`) or for the centre (the sum
    over every agency and partition). Columns: `rate_<item>` and `points_<item>` for 1.4, 2.1, 3.3, 3.6,
    4.1, 4.2, 5.4 (thresholds and maxima from `dossiers.index766.ITEMS`), `rate_2_2` (2.2: the average
    processing time in working days, not scored), `lost_<group>` (points lost per official group),
    `lost_<item>` (points lost per scored item), `points` and `max` (the total over the items that have
    a rate: `Row.score()`) and `lost`. With `agency` (a code or `$agency`), one row for that agency alone;
    with `centre`, the agencies of one centre only; with `by_centre`, a row per centre (a province: the
    `centre` tag; each centre's rates on its own summed tallies, `Index766.centres`).
    An item whose denominator is 0 (N/A in `ioc report 766`) is null and left out of `points` and `max`.
    """
    span = _window(window, None)
    where = _agency_filter(agency)
    if centre is not None:  # one centre of a province (the `centre` tag)
        where = _and(where, f'"centre" = {literal(centre)}')
    sources, group = _i766_sources(where, span, by_agency and not by_centre, by_centre=by_centre)
    columns = [*(f"max({ident(c)}) AS {ident(c)}" for c in ("tt",) if by_agency and not by_centre)]
    for item in ITEMS:
        names = ["rate_"] if item.max is None else ["rate_", "points_", "lost_"]
        columns += [f"max({ident(n + _alias(item.code))}) AS {ident(n + _alias(item.code))}" for n in names]
    columns += [f"sum({ident('lost_' + g)}) AS {ident('lost_' + g)}" for g in I766_GROUPS]
    columns += ['sum("points") AS "points"', 'sum("max") AS "max"', 'sum("max") - sum("points") AS "lost"']
    froms = ", ".join(f"({s})" for s in sources)
    return f"SELECT {', '.join(columns)} FROM {froms} WHERE {span}{group}"


def i766_trend(*, window: str | None = None, tz: str = TREND_TZ, agency: str | None = None) -> str:
    """The centre's (or one `agency`'s) total points (`points`) and their maximum (`max`, the items that had
    a rate) per local day: each partition's last `i766` point of the day, summed, scored like
    `i766_scores` (by_agency=False).
    Over the board's time range (`$timeFilter`), or `window` (e.g. "90d", for tests). Each day shows the
    index of the reporting period running then: the trend month after month, with a step where a new
    period starts (the 15th) and the month's tallies begin again."""
    span = TIME_FILTER if window is None else f"time > now() - {window}"
    # the whole catalog: the partitions' sums over their agencies (`i766_sum`, 6 series for a province
    # instead of 1,842: 11 s for a month through `i766`, docs/influxdb.md); one agency: its own points
    daily = "i766" if agency is not None else "i766_sum"
    sources, _ = _i766_sources(_agency_filter(agency), span, by_agency=False, day_tz=tz, daily=daily)
    froms = ", ".join(f"({s})" for s in sources)
    return (
        f'SELECT sum("points") AS "points", sum("max") AS "max" FROM {froms} '
        f"WHERE {span} GROUP BY time(1d){_per_day(tz)}"
    )


def i766_tallies(*, window: str | None = None) -> str:
    """One row per agency: the sum over partitions of each partition's latest `i766` point (`I766_FIELDS`),
    with the row's number (`tt`, catalog order) and the running period's dates (like `ii06a_form`)."""
    span = _window(window, None)
    sources = latest_sources(live("i766"), lasts(("tt", *I766_FIELDS, *PERIOD)), "",
                             '"agency", "agency_name", "partition"', span=span, text=PERIOD)
    outer = ", ".join(
        ['max("tt") AS "tt"', *(f"sum({ident(f)}) AS {ident(f)}" for f in I766_FIELDS),
         'mode("period_from") AS "period_from"', 'mode("period_to") AS "period_to"']
    )
    return f'SELECT {outer} FROM {sources} WHERE {span} GROUP BY "agency", "agency_name"'


def i766_rows(run: RunQuery, *, window: str = KPI_WINDOW) -> dict[str, dict[str, float]]:
    """The summed tallies the board's rates come from: {agency code: {field: n}} (`I766_FIELDS`)."""
    out: dict[str, dict[str, float]] = {}
    for row in run(i766_tallies(window=window)):
        out[str(row["agency"])] = {f: float(row[f] or 0) for f in I766_FIELDS}
    return out


def i766_score_rows(run: RunQuery, *, window: str = KPI_WINDOW, by_agency: bool = True,
                    agency: str | None = None) -> dict[str, dict[str, float | None]]:
    """What `i766_scores` shows: {agency code (or "" for the centre, or one `agency` alone): {column: value
    or None}}."""
    out: dict[str, dict[str, float | None]] = {}
    for row in run(i766_scores(window=window, by_agency=by_agency, agency=agency)):
        key = str(row.get("agency") or "")
        out[key] = {k: None if v is None else float(v) for k, v in row.items()
                    if k not in ("time", "_measurement", "agency", "agency_name")}
    return out


def sync_health(*, window: str | None = None, by_agency: bool = True) -> str:
    """Sync health of the running period from the summed tallies: `received`, `synced`, the share of the
    received dossiers synced to the national portal (`synced_share`), and the share synced within 1, 4,
    24 and 72 hours of receipt (`within_1h`...`within_72h`; the board shows 24 h). The board has buckets,
    not the report's median and 95th percentile: neither adds up over partitions. No row for an agency
    that received nothing in the period."""
    group = ' GROUP BY "agency", "agency_name"' if by_agency else ""
    fields = ("received", "synced", *I766_SYNC_FIELDS)
    span = _window(window, None)
    sources = _i766_latest_sources(fields, "", span)
    sums = ", ".join(f"{_sum(f)} AS {ident(f)}" for f in fields)
    summed = f"SELECT {sums} FROM {sources} WHERE {span}{group}"
    columns = ['"received"', '"synced"', '"synced" * 1.0 / "received" AS "synced_share"']
    columns += [f'{ident(f)} * 1.0 / "received" AS {ident("within_" + f.removeprefix("synced_"))}'
                for f in I766_SYNC_FIELDS]
    return f'SELECT {", ".join(columns)} FROM ({summed}) WHERE "received" > 0 AND {span}{group}'


def sync_health_rows(run: RunQuery, *, window: str = KPI_WINDOW, by_agency: bool = True
                     ) -> dict[str, dict[str, float]]:
    """What `sync_health` shows: {agency code (or "" for the centre): {column: value}}."""
    out: dict[str, dict[str, float]] = {}
    for row in run(sync_health(window=window, by_agency=by_agency)):
        key = str(row.get("agency") or "")
        out[key] = {k: float(v) for k, v in row.items()
                    if k not in ("time", "_measurement", "agency", "agency_name") and v is not None}
    return out


# -- Grafana macros -------------------------------------------------------------------------------------
def _ms(moment: datetime | int) -> int:
    return moment if isinstance(moment, int) else int(moment.timestamp() * 1000)


def time_filter(start: datetime | int, end: datetime | int) -> str:
    """What Grafana puts for `$timeFilter` (pkg/tsdb/influxdb/models/query.go): epoch ms bounds."""
    return f"time >= {_ms(start)}ms and time <= {_ms(end)}ms"


def render(
    query: str,
    *,
    start: datetime | int | None = None,
    end: datetime | int | None = None,
    interval: str = "1h",
    variables: Mapping[str, str] | None = None,
) -> str:
    """Replace Grafana's macros as Grafana does before sending a query to InfluxDB.

    `start`/`end` (datetime or epoch ms) become `$timeFilter`; `interval` replaces `$__interval` and
    `$interval`; `variables` replaces `$name` / `${name}` template variables (single values, inserted as
    they are, as Grafana does for a single-valued variable inside quotes).
    """
    text = query
    if "$timeFilter" in text:
        if start is None or end is None:
            raise ValueError("render(): the query uses $timeFilter: give start and end")
        text = text.replace("$timeFilter", time_filter(start, end))
    text = text.replace("$__interval", interval).replace("$interval", interval)
    for name in sorted(variables or {}, key=len, reverse=True):
        value = (variables or {})[name]
        text = text.replace("${" + name + "}", value)
        text = re.sub(r"\$" + re.escape(name) + r"(?![A-Za-z0-9_])", lambda _m: value, text)  # noqa: B023
    if re.search(r"\$[A-Za-z_{]", text):
        raise ValueError(f"render(): unreplaced macro in {text!r}")
    return text


# -- running them (tests, `ioc replay` comparisons) -------------------------------------------------------
def _value(row: Mapping[str, Any], column: str | None = None) -> float | None:
    if column is not None:
        value = row.get(column)
        return None if value is None else float(value)
    for key, value in row.items():
        if key not in ("time", "_measurement", "agency", "agency_name") and isinstance(value, int | float):
            return float(value)
    return None


def scalar(run: RunQuery, query: str) -> float | None:
    """The single value a stat panel shows (None when the query returns no row: "no value")."""
    rows = run(query)
    return _value(rows[0]) if rows else None


def centre_kpis(run: RunQuery, *, window: str = KPI_WINDOW) -> dict[str, float | None]:
    """Every centre figure of the wall's top row, by name (COUNTS and RATES keys)."""
    out: dict[str, float | None] = {name: scalar(run, count_kpi(name, window=window)) for name in COUNTS}
    out.update({name: scalar(run, rate_kpi(name, window=window)) for name in RATES})
    return out


def agency_kpis(run: RunQuery, agency: str, *, window: str = KPI_WINDOW) -> dict[str, float | None]:
    """The same figures for one agency (what the drill-down's top row shows for `$agency`)."""
    out: dict[str, float | None] = {
        name: scalar(run, count_kpi(name, agency=agency, window=window)) for name in COUNTS
    }
    out.update({name: scalar(run, rate_kpi(name, agency=agency, window=window)) for name in RATES})
    return out


def per_agency(run: RunQuery, name: str, *, window: str = KPI_WINDOW) -> dict[str, float]:
    """One KPI (a COUNTS or RATES key) for every agency, as {agency code: value}."""
    query = (
        count_kpi(name, by_agency=True, window=window)
        if name in COUNTS
        else rate_kpi(name, by_agency=True, window=window)
    )
    out: dict[str, float] = {}
    for row in run(query):
        value = _value(row, name)
        if value is not None:
            out[str(row["agency"])] = value
    return out


# -- centres and the province (issue 15) ----------------------------------------------------------------
# A province catalog has centres (the provincial centre and the commune centres); the worker tags every
# agency-level point with the code of the agency's centre (`centre`, and `centre_name` on `kpi`). The
# tag is a function of `agency`, so grouping by it adds no series. A centre's figure is the sum over its
# agencies and partitions of each partition's latest `kpi` snapshot, the province's the sum over all of
# them (for a single-centre catalog, the one centre is the whole). Same subquery as `snapshot()`, with
# the centre kept as a group tag of the inner query so that the outer one can group by it.
CENTRE_VAR = "$centre"
"""A centre board's template variable (a centre code)."""

CENTRE_VALUES = 'SHOW TAG VALUES FROM "live"."kpi" WITH KEY = "centre"'
CENTRE_NAME_VALUES = 'SHOW TAG VALUES FROM "live"."kpi" WITH KEY = "centre_name" WHERE "centre" = \'$centre\''


def centre_snapshot(
    outputs: Mapping[str, str],
    *,
    centre: str | None = None,
    by_centre: bool = False,
    require: str | None = None,
    window: str | None = None,
    time_filter: str | None = None,
) -> str:
    """Sum over agencies and partitions of each partition's latest `kpi` snapshot: per centre
    (`by_centre`, rows tagged `centre` and `centre_name`), for one centre (`centre`, a code or
    `$centre`), or for the province (neither): `snapshot()` without agencies."""
    return snapshot(outputs, centre=centre, by_centre=by_centre, require=require, window=window,
                    time_filter=time_filter)


def centre_counts(
    *, centre: str | None = None, by_centre: bool = True, window: str | None = None,
    time_filter: str | None = None,
) -> str:
    """Every count KPI (COUNTS) in one query: per centre by default, for one centre (`centre`), or for
    the province (`by_centre=False`)."""
    return centre_snapshot(dict(COUNTS), centre=centre, by_centre=by_centre and centre is None,
                           window=window, time_filter=time_filter)


def centre_rates(
    name: str, *, centre: str | None = None, by_centre: bool = True, window: str | None = None,
    time_filter: str | None = None,
) -> str:
    """One ratio KPI (a RATES key) per centre, for one centre or for the province; a centre whose
    denominator is 0 gets no row ("no value", not 0 %)."""
    good, total = RATES[name]
    expr, condition = ratio(good, total)
    return centre_snapshot({name: expr}, centre=centre, by_centre=by_centre and centre is None,
                           require=condition, window=window, time_filter=time_filter)


def province_counts(*, window: str | None = None, time_filter: str | None = None) -> str:
    """The province total of every count KPI (the sum over every centre)."""
    return centre_counts(by_centre=False, window=window, time_filter=time_filter)


def province_rate(name: str, *, window: str | None = None, time_filter: str | None = None) -> str:
    """The province's ratio KPI (sums over every centre, then divided)."""
    return centre_rates(name, by_centre=False, window=window, time_filter=time_filter)


def centre_fields(
    fields: Sequence[str], *, by_centre: bool = True, window: str | None = None
) -> str:
    """Raw `kpi` fields summed per centre (or for the province): the blocks `ioc replay --json` prints
    under `centres` (and `centre`), field by field."""
    return centre_snapshot({f: f"sum({ident(f)})" for f in fields}, by_centre=by_centre, window=window)


def per_centre_kpis(run: RunQuery, *, window: str = KPI_WINDOW) -> dict[str, dict[str, float | None]]:
    """Every figure of a centre's top row (COUNTS and RATES keys) for every centre, as {centre code:
    {name: value}}; a rate is None where the centre's denominator is 0."""
    out: dict[str, dict[str, float | None]] = {}
    for row in run(centre_counts(window=window)):
        out.setdefault(str(row["centre"]), {}).update({name: _value(row, name) for name in COUNTS})
    for name in RATES:
        for figures in out.values():
            figures.setdefault(name, None)
        for row in run(centre_rates(name, window=window)):
            out.setdefault(str(row["centre"]), dict.fromkeys(COUNTS))[name] = _value(row, name)
    return out


def province_kpis(run: RunQuery, *, window: str = KPI_WINDOW) -> dict[str, float | None]:
    """The province's top row (COUNTS and RATES keys): the sums over every centre."""
    rows = run(province_counts(window=window))
    out: dict[str, float | None] = {name: _value(rows[0], name) if rows else None for name in COUNTS}
    out.update({name: scalar(run, province_rate(name, window=window)) for name in RATES})
    return out


def per_centre_fields(
    run: RunQuery, fields: Sequence[str], *, by_centre: bool = True, window: str = KPI_WINDOW
) -> dict[str, dict[str, int]]:
    """`centre_fields` run: {centre code: {field: sum}}, or {"": {field: sum}} for the province
    (`by_centre=False`)."""
    out: dict[str, dict[str, int]] = {}
    for row in run(centre_fields(fields, by_centre=by_centre, window=window)):
        figures = out.setdefault(str(row["centre"]) if by_centre else "", {})
        figures.update({f: int(_value(row, f) or 0) for f in fields})
    return out


def centre_deadline_list(kind: str, *, agencies: Sequence[str], lookback: str = DEADLINE_LOOKBACK) -> str:
    """Open dossiers of one centre that are overdue / due soon: `deadline_list` over the centre's agency
    codes (`Catalog.agencies_of`), since `deadlines` points carry no `centre` tag (streams/influx.py,
    `deadline_point`: a point overwritten days later must keep its series)."""
    if not agencies:
        raise ValueError("centre_deadline_list(): a centre has at least one agency")
    pattern = "|".join(re.escape(code) for code in agencies).replace("/", "\\/")
    return (
        f'SELECT "dossier", "procedure", "late_seconds", "agency" FROM "deadlines" '
        f'WHERE "agency" =~ /^({pattern})$/ AND "kind" = {literal(kind)} AND "open" = 1 '
        f"AND time > now() - {lookback} LIMIT 500"
    )


# -- the province board and the centre board (issue 15) ------------------------------------------------------
_PER_CENTRE_AGENCY = '"centre", "centre_name", "agency", "partition"'


def centre_targets(*, centre: str | None = None, window: str | None = None) -> str:
    """Per centre (or for one `centre`): this month's on-time rate (`rate_month`), the rate its mix of
    agencies should reach (`target`: each agency's own `target_on_time` weighted by the dossiers it resolved
    this month, `dossiers.kpi.expected_on_time`) and `gap` = target - rate (> 0: under target). Only
    centres that resolved something this month have a row."""
    span = _window(window, None)
    conditions = ['"month_resolved" > 0']
    if centre is not None:
        conditions.append(f'"centre" = {literal(centre)}')
    columns = {"good": 'last("month_good")', "n": 'last("month_resolved")',
               "w": 'last("month_resolved") * last("target_on_time")'}
    sources = latest_sources(live("kpi"), columns, _and(*conditions), _PER_CENTRE_AGENCY, span=span)
    return ('SELECT sum("good") * 1.0 / sum("n") AS "rate_month", sum("w") / sum("n") AS "target", '
            f'(sum("w") - sum("good")) / sum("n") AS "gap" FROM {sources} WHERE {span} '
            'GROUP BY "centre", "centre_name"')


def centre_map(*, window: str | None = None) -> str:
    """Per centre with map coordinates (the catalog's `lat`, `lon`, written on `kpi` as `centre_lat`,
    `centre_lon`): `latitude`, `longitude`, and the open and overdue dossiers the markers show."""
    # the condition on the coordinates is in every subquery: an outer WHERE on "lat" would drop the rows
    # of the other subqueries, which have no "lat" column
    span = _window(window, None)
    columns = {"overdue": 'last("overdue")', "within": 'last("within")', "due_soon": 'last("due_soon")',
               "lat": 'last("centre_lat")', "lon": 'last("centre_lon")'}
    sources = latest_sources(live("kpi"), columns, '"centre_lat" > -91', _PER_CENTRE_AGENCY, span=span)
    return ('SELECT mean("lat") AS "latitude", mean("lon") AS "longitude", sum("overdue") AS "overdue", '
            'sum("within") + sum("due_soon") + sum("overdue") AS "open" '
            f'FROM {sources} WHERE {span} GROUP BY "centre", "centre_name"')


def centre_agencies(name: str, *, centre: str = CENTRE_VAR) -> str:
    """One KPI (a COUNTS or RATES key) of every agency of one centre: the centre board's table."""
    if name in COUNTS:
        return snapshot({name: COUNTS[name]}, by_agency=True, centre=centre)
    good, total = RATES[name]
    expr, condition = ratio(good, total)
    return snapshot({name: expr}, by_agency=True, centre=centre, require=condition)
