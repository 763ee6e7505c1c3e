"""Panel builders shared by the boards (grafana/boards/): thresholds, queries, stat tiles, charts, the grid.

Every query comes from grafana/queries.py and every Vietnamese word from dossiers/labels.py; a board
module only places panels.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import bargauge, gauge, piechart, prometheus, stat, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import piechart as pm

from dossiers import labels
from grafana import queries as q
from grafana.datasources import INFLUX, PROMETHEUS
from grafana.influxql import InfluxQL

WALL_UID = "ioc-wall"
AGENCY_UID = "ioc-agency"
PIPELINE_UID = "ioc-pipeline"
REPORT_UID = "ioc-ii06a"
INDEX766_UID = "ioc-766"
PROVINCE_UID = "ioc-province"
CENTRE_UID = "ioc-centre"
TAGS = ["ioc", "hanh-chinh-cong"]
GRID_COLUMNS = 24

STATE_COLOURS: dict[str, str] = {
    labels.WITHIN: "green",
    labels.DUE_SOON: "orange",
    labels.OVERDUE: "red",
    labels.PAUSED: "purple",
}
"""Colours of the open dossiers' series (queries.OPEN_STATES aliases), the same on every board."""


def thresholds(base: str, *steps: tuple[float, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=None, color=base)] + [dm.Threshold(value=v, color=c) for v, c in steps])
    )


def rate_thresholds(target: float, margin: float) -> db.ThresholdsConfig:
    """Red under target - margin, orange under target, green at or above target."""
    return thresholds("red", (round(max(target - margin, 0.0), 4), "orange"), (target, "green"))


def influx(query: str, ref: str = "A", alias: str | None = None, *, table_format: bool = False) -> InfluxQL:
    target = InfluxQL(query).ref_id(ref).datasource(INFLUX)
    if alias is not None:
        target = target.alias(alias)
    return target.table() if table_format else target


def prom(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROMETHEUS).range()


def last() -> cb.ReduceDataOptions:
    return cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


class Grid:
    """Places panels: sequential ids, explicit gridPos (24 columns), and remembers them in order."""

    def __init__(self) -> None:
        self.panels: list[cogbuilder.Builder[dm.Panel]] = []

    def add(self, panel: Any, x: int, y: int, w: int, h: int) -> None:
        if x < 0 or w <= 0 or x + w > GRID_COLUMNS:
            raise ValueError(f"panel at x={x} w={w} does not fit in {GRID_COLUMNS} columns")
        panel.id(len(self.panels) + 1).grid_pos(dm.GridPos(h=h, w=w, x=x, y=y))
        self.panels.append(panel)


def _headline(title: str, query: str, colours: db.ThresholdsConfig, description: str) -> stat.Panel:
    """A single big figure, its last value, centred: what count and rate tiles share."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(INFLUX)
        .with_target(influx(query))
        .thresholds(colours)
        .reduce_options(last())
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode.VALUE)
        .justify_mode(cm.BigValueJustifyMode.CENTER)
    )


def count_stat(
    title: str,
    query: str,
    colours: db.ThresholdsConfig,
    *,
    background: bool = False,
    description: str = "",
) -> stat.Panel:
    """A count: whole number, 0 when there is no row; the background painted for figures to act on."""
    return (
        _headline(title, query, colours, description)
        .unit("none")
        .decimals(0)
        .no_value("0")
        .color_mode(cm.BigValueColorMode.BACKGROUND if background else cm.BigValueColorMode.VALUE)
    )


def rate_stat(title: str, query: str, colours: db.ThresholdsConfig, *, description: str = "") -> stat.Panel:
    """A rate in percent; "—" when nothing was counted yet (the query returns no row then)."""
    return (
        _headline(title, query, colours, description)
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .max(1)
        .no_value("—")
        .color_mode(cm.BigValueColorMode.BACKGROUND)
    )


def per_hour(title: str, agency: str | None, centre: str | None = None) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(INFLUX)
        .unit("short")
        .decimals(0)
        .draw_style(cm.GraphDrawStyle.BARS)
        .fill_opacity(70)
        .line_width(1)
        .bar_alignment(cm.BarAlignment.CENTER)
        .legend(
            cb.VizLegendOptions()
            .show_legend(True)
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .calcs(["sum"])
        )
        .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.NONE))
    )
    for ref, kind in zip("ABC", q.EVENT_SERIES, strict=True):
        panel = panel.with_target(influx(q.events_per_hour(kind, agency=agency, centre=centre), ref))
    return panel


def pie(title: str, query: str) -> piechart.Panel:
    return (
        piechart.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(influx(query, alias="$col"))
        .unit("short")
        .decimals(0)
        .reduce_options(last())
        .pie_type(pm.PieChartType.DONUT)
        .display_labels([pm.PieChartLabels.PERCENT])
        .hide_from(cb.HideSeriesConfig().legend(False).tooltip(False).viz(False))
        .legend(
            piechart.PieChartLegendOptions()
            .show_legend(True)
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.RIGHT)
            .values([pm.PieChartLegendValues.VALUE])
        )
    )


def bars(
    title: str, query: str, thresholds: db.ThresholdsConfig, *, alias: str = "$col", unit: str = "none"
) -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(influx(query, alias=alias))
        .unit(unit)
        .decimals(0)
        .min(0)
        .thresholds(thresholds)
        .reduce_options(last())
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .show_unfilled(True)
    )


def open_by_state(agency: str | None, centre: str | None = None) -> bargauge.Panel:
    title = f"Hồ sơ {labels.OPEN.lower()} theo tình trạng"
    panel = bars(title, q.open_by_state(agency=agency, centre=centre), thresholds("blue"))
    for name, colour in STATE_COLOURS.items():
        panel = panel.override_by_name(
            name, [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})]
        )
    return panel


def online_payment(agency: str | None, centre: str | None = None) -> gauge.Panel:
    return (
        gauge.Panel()
        .title("Thanh toán trực tuyến")
        .description("Hồ sơ có thanh toán trực tuyến / hồ sơ có thanh toán")
        .datasource(INFLUX)
        .with_target(influx(q.rate_kpi("online_payment", agency=agency, centre=centre)))
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .max(1)
        .no_value("—")
        .thresholds(thresholds("orange", (0.5, "green")))
        .reduce_options(last())
        .show_threshold_markers(True)
        .show_threshold_labels(False)
    )


def dashboard(uid: str, title: str, timezone: str) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .tags(TAGS)
        .timezone(timezone)
        .style("dark")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .readonly()
        .week_start("monday")
    )


def board_links(*uids: str) -> list[cogbuilder.Builder[dm.DashboardLink]]:
    names = {WALL_UID: "Màn hình IOC", AGENCY_UID: "Chi tiết cơ quan", PIPELINE_UID: "Sức khỏe hệ thống",
             REPORT_UID: labels.II06A_LIVE_TITLE, INDEX766_UID: labels.INDEX766_LIVE_TITLE,
             PROVINCE_UID: "Toàn tỉnh", CENTRE_UID: "Một Trung tâm"}
    return [
        db.DashboardLink(names[u]).type(dm.DashboardLinkType.LINK).url(f"/d/{u}").icon("dashboard")
        for u in uids
    ]


def fixed_colour(colour: str) -> list[dm.DynamicConfigValue]:
    return [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})]


def text_stat(title: str, query: str, field: str, unit: str) -> stat.Panel:
    """One field of a table query's last row, shown as is (a period's first day, an instant)."""
    return (
        stat.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(influx(query, table_format=True))
        .reduce_options(last().fields(f"/^{field}$/"))
        .unit(unit)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode.VALUE)
        .color_mode(cm.BigValueColorMode.NONE)
        .no_value("—")
    )


def tag_variable(name: str, label: str, query: str) -> db.QueryVariable:
    """A template variable filled from an InfluxDB tag's values (`queries.AGENCY_VALUES`...)."""
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(INFLUX)
        .query(query)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )


def transform(kind: str, **options: Any) -> dm.DataTransformerConfig:
    """A Grafana transformation (organize, sortBy, reduce, limit, filterFieldsByName...)."""
    return dm.DataTransformerConfig(id_val=kind, options=options)


def display_name(name: str) -> dm.DynamicConfigValue:
    """An override's new name for a field (a query column named in English, shown in Vietnamese)."""
    return dm.DynamicConfigValue(id_val="displayName", value=name)
