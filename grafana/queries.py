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
from dossiers.report_ii06a import FORM_COLUMNS, OUTSIDE

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


# -- kpi snapshots --------------------------------------------------------------------------------------
def snapshot(
    outputs: Mapping[str, str],
    *,
    agency: str | None = None,
    by_agency: bool = False,
    require: str | None = None,
    window: str | None = None,
    time_filter: str | None = None,
) -> str:
    """Sum over partitions (and agencies) of each partition's latest `kpi` snapshot.

    `outputs` maps an output column (alias) to an expression over `sum("<kpi field>")` terms; the inner
    query takes `last()` of every field those expressions name. `require` is a WHERE condition on the
    snapshot (e.g. a positive denominator). `time_filter` (e.g. `$timeFilter` for alert rules) replaces
    the default `time > now() - 1m`. `by_agency` groups the result by agency code and Vietnamese label.
    """
    fields = sorted({m for expr in outputs.values() for m in re.findall(r'sum\("([a-z_]+)"\)', expr)})
    if not fields:
        raise ValueError('snapshot(): every output must use sum("<field>")')
    inner_select = ", ".join(f"last({ident(f)}) AS {ident(f)}" for f in fields)
    conditions = []
    if agency is not None:
        conditions.append(f"{ident('agency')} = {literal(agency)}")
    if require is not None:
        conditions.append(require)
    conditions.append(_window(window, time_filter))
    inner_group = '"agency", "agency_name", "partition"' if by_agency else '"agency", "partition"'
    inner = f'SELECT {inner_select} FROM "kpi" WHERE {" AND ".join(conditions)} GROUP BY {inner_group}'
    outer = ", ".join(f"{expr} AS {ident(alias)}" for alias, expr in outputs.items())
    query = f"SELECT {outer} FROM ({inner})"
    if by_agency:
        query += ' GROUP BY "agency", "agency_name"'
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
) -> str:
    """One count KPI (see COUNTS) for the centre, one agency, or every agency."""
    return snapshot(
        {name: COUNTS[name]}, agency=agency, by_agency=by_agency, time_filter=time_filter, window=window
    )


def rate_kpi(
    name: str,
    *,
    agency: str | None = None,
    by_agency: bool = False,
    time_filter: str | None = None,
    window: str | None = None,
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
        f'SELECT last("target_on_time") AS "target" FROM "kpi" WHERE "agency" = {literal(agency)} '
        f"AND time > now() - {KPI_WINDOW}"
    )


CHANNEL_LABELS: dict[str, str] = labels.CHANNEL


def channel_mix(*, agency: str | None = None) -> str:
    """Received dossiers by channel (all time), one column per channel with its Vietnamese label."""
    return snapshot({label: f'sum("channel_{ch}")' for ch, label in CHANNEL_LABELS.items()}, agency=agency)


OPEN_STATES: dict[str, str] = {
    "within": labels.WITHIN,
    "due_soon": labels.DUE_SOON,
    "overdue": labels.OVERDUE,
    "paused": labels.PAUSED,
}
"""`kpi` fields of the open dossiers by SLA state, and the series names (aliases) the boards colour."""


def open_by_state(*, agency: str | None = None) -> str:
    """Open dossiers now: within deadline, due soon, overdue; and how many have their clock stopped."""
    return snapshot({label: f"sum({ident(field)})" for field, label in OPEN_STATES.items()}, agency=agency)


def resolved_today_split(*, agency: str | None = None) -> str:
    """Today's results: early or on time vs late (kpi keeps early and on time together per day)."""
    return snapshot(
        {labels.ON_TIME: 'sum("today_good")', labels.LATE: 'sum("today_resolved") - sum("today_good")'},
        agency=agency,
    )


def backlog_over_time(*, agency: str) -> str:
    """Open dossiers by SLA state over the board's time range (backlog ageing of one agency).

    Per interval: each partition's last snapshot, summed; `$__interval` is at least the panel's 10 s so
    every partition has a snapshot in each bucket.
    """
    inner_select = ", ".join(f"last({ident(f)}) AS {ident(f)}" for f in OPEN_STATES)
    outer_select = ", ".join(f"sum({ident(f)}) AS {ident(label)}" for f, label in OPEN_STATES.items())
    inner = (
        f'SELECT {inner_select} FROM "kpi" WHERE "agency" = {literal(agency)} AND $timeFilter '
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


def events_per_hour(kind: str, *, agency: str | None = None) -> str:
    """Events of one type per hour in the board's time range (inflow: received; outflow: resolved)."""
    where = [f'"type" = {literal(kind)}']
    if agency is not None:
        where.insert(0, f'"agency" = {literal(agency)}')
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
AGENCY_VALUES = 'SHOW TAG VALUES FROM "kpi" WITH KEY = "agency"'
AGENCY_NAME_VALUES = 'SHOW TAG VALUES FROM "kpi" WITH KEY = "agency_name" WHERE "agency" = \'$agency\''


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
    return 'SELECT min("office_open") AS "office_open" FROM "kpi" WHERE $timeFilter'


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
    "alerts_rate": "sum by (kind) (rate(ioc_alerts_total[5m]))",
    "partitions": "sum by (instance) (ioc_assigned_partitions)",
    "partitions_total": "sum(ioc_assigned_partitions)",
    "tick_p95": "histogram_quantile(0.95, sum by (le) (rate(ioc_tick_seconds_bucket[5m])))",
}


# -- form II.06a, the running period -------------------------------------------------------------------
II06A_FIELDS = (*FORM_COLUMNS, *OUTSIDE)
"""The `ii06a` count fields (as streams.influx writes them): the form's columns, then outside it."""


def ii06a_form(*, window: str | None = None) -> str:
    """One row per agency: the sum over partitions of each partition's latest `ii06a` point, with the
    row's number (`tt`, catalog order) and the running period's dates (the same on every partition)."""
    inner_select = ", ".join(
        f"last({ident(f)}) AS {ident(f)}" for f in ("tt", *II06A_FIELDS, "period_from", "period_to")
    )
    inner = (
        f'SELECT {inner_select} FROM "ii06a" WHERE {_window(window, None)} '
        'GROUP BY "agency", "agency_name", "partition"'
    )
    outer = ", ".join(
        ['max("tt") AS "tt"', *(f"sum({ident(f)}) AS {ident(f)}" for f in II06A_FIELDS),
         'last("period_from") AS "period_from"', 'last("period_to") AS "period_to"']
    )
    return f'SELECT {outer} FROM ({inner}) GROUP BY "agency", "agency_name"'


def ii06a_as_of(*, window: str | None = None) -> str:
    """The business instant the running form describes (ms, for a date panel): the latest snapshot's."""
    return f'SELECT max("as_of") * 1000 AS "as_of" FROM "ii06a" WHERE {_window(window, None)}'


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
    return (f'SELECT {inner} FROM "i766" WHERE {TIME_FILTER} AND "agency" = {literal(agency)} '
            'GROUP BY "partition"')


def sync_share_for_alert(agency: str) -> str:
    """One agency's share of the dossiers received this reporting month that are synced to the national
    portal (item 1.4's rate, live); 0 while nothing was received (the rule also asks for enough)."""
    return (f'SELECT sum("synced") / sum("received") AS "sync_share" '
            f'FROM ({_i766_agency(("synced", "received"), agency)})')


def sync_received_for_alert(agency: str) -> str:
    """How many dossiers the share above is computed on."""
    return f'SELECT sum("received") AS "received" FROM ({_i766_agency(("received",), agency)})'


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
