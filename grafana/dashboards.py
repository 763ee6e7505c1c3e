"""The IOC boards as code (grafana-foundation-sdk), generated from the centre's catalog.

* `ioc-wall`     the wall of the centre (1920x1080, kiosk, dark, refresh 10 s), labels in Vietnamese:
                 centre totals, one tile per agency coloured against *that agency's* target, overdue by
                 agency, throughput per hour, channel mix, open dossiers by state, online payments.
* `ioc-agency`   drill-down for one agency (template variable `agency`): inflow/outflow per hour,
                 backlog by SLA state over time, overdue and due-soon lists with dossier codes.
* `ioc-pipeline` the workers' own health from Prometheus (streams/metrics.py).

Why one stat panel per agency rather than one multi-value panel: each agency's tile carries its own
thresholds (99 % for departments, 80 % for the city land branch), which a single panel could only do
with per-series overrides keyed on display names; generating the tiles from the catalog makes the
colouring explicit, testable (every agency present, right threshold) and regenerated with the catalog.
Every query comes from grafana/queries.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    gauge,
    piechart,
    prometheus,
    stat,
    table,
    text,
    timeseries,
)
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import piechart as pm
from grafana_foundation_sdk.models import text as tm

from dossiers.catalog import Agency, Catalog
from grafana import queries as q
from grafana.datasources import INFLUX, PROMETHEUS
from grafana.influxql import InfluxQL
from grafana.settings import WallSettings

WALL_DEFAULTS = WallSettings()

WALL_UID = "ioc-wall"
AGENCY_UID = "ioc-agency"
PIPELINE_UID = "ioc-pipeline"
WALL_TITLE = "Trung tâm IOC — Hành chính công"
AGENCY_TITLE = "IOC — Chi tiết cơ quan"
PIPELINE_TITLE = "IOC — Sức khỏe hệ thống xử lý"
TAGS = ["ioc", "hanh-chinh-cong"]
GRID_COLUMNS = 24


# -- small helpers ----------------------------------------------------------------------------------------
def _thresholds(base: str, *steps: tuple[float, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=None, color=base)] + [dm.Threshold(value=v, color=c) for v, c in steps])
    )


def rate_thresholds(target: float, margin: float) -> db.ThresholdsConfig:
    """Red under target - margin, orange under target, green at or above target."""
    return _thresholds("red", (round(max(target - margin, 0.0), 4), "orange"), (target, "green"))


def _influx(query: str, ref: str = "A", alias: str | None = None, *, table_format: bool = False) -> InfluxQL:
    target = InfluxQL(query).ref_id(ref).datasource(INFLUX)
    if alias is not None:
        target = target.alias(alias)
    return target.table() if table_format else target


def _prom(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROMETHEUS).range()


def _last() -> cb.ReduceDataOptions:
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


def _count_stat(
    title: str,
    query: str,
    thresholds: db.ThresholdsConfig,
    *,
    background: bool = False,
    description: str = "",
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(INFLUX)
        .with_target(_influx(query))
        .unit("none")
        .decimals(0)
        .no_value("0")
        .thresholds(thresholds)
        .reduce_options(_last())
        .graph_mode(cm.BigValueGraphMode.NONE)
        .color_mode(cm.BigValueColorMode.BACKGROUND if background else cm.BigValueColorMode.VALUE)
        .text_mode(cm.BigValueTextMode.VALUE)
        .justify_mode(cm.BigValueJustifyMode.CENTER)
    )


def _rate_stat(
    title: str, query: str, thresholds: db.ThresholdsConfig, *, description: str = ""
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(INFLUX)
        .with_target(_influx(query))
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .max(1)
        .no_value("—")
        .thresholds(thresholds)
        .reduce_options(_last())
        .graph_mode(cm.BigValueGraphMode.NONE)
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .text_mode(cm.BigValueTextMode.VALUE)
        .justify_mode(cm.BigValueJustifyMode.CENTER)
    )


def agency_tile(agency: Agency, settings: WallSettings) -> stat.Panel:
    """One agency on the wall: this month's on-time rate coloured against its own target, and overdue."""
    target = agency.target_on_time
    overdue_props = [
        dm.DynamicConfigValue(id_val="displayName", value="Quá hạn"),
        dm.DynamicConfigValue(id_val="unit", value="none"),
        dm.DynamicConfigValue(id_val="decimals", value=0),
        dm.DynamicConfigValue(id_val="noValue", value="0"),
        dm.DynamicConfigValue(id_val="thresholds", value=_thresholds("green", (1, "red")).build()),
    ]
    return (
        stat.Panel()
        .title(agency.label)
        .description(f"{agency.name} ({agency.code}). Đúng hạn tháng này; mục tiêu {target:.0%}.")
        .datasource(INFLUX)
        .with_target(_influx(q.rate_kpi("rate_month", agency=agency.code), "A"))
        .with_target(_influx(q.count_kpi("overdue", agency=agency.code), "B"))
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .max(1)
        .no_value("—")
        .thresholds(rate_thresholds(target, settings.warn_margin))
        .override_by_query("A", [dm.DynamicConfigValue(id_val="displayName", value="Đúng hạn tháng")])
        .override_by_query("B", overdue_props)
        .reduce_options(_last())
        .graph_mode(cm.BigValueGraphMode.NONE)
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .orientation(cm.VizOrientation.VERTICAL)
        .justify_mode(cm.BigValueJustifyMode.CENTER)
        .links(
            [db.DashboardLink(f"Chi tiết {agency.label}").url(f"/d/{AGENCY_UID}?var-agency={agency.code}")]
        )
    )


def legend(catalog: Catalog, settings: WallSettings) -> text.Panel:
    """How to read the tiles: each agency against its own target (which targets differ, from the catalog)."""
    usual = max(
        {a.target_on_time for a in catalog.agencies},
        key=lambda t: sum(a.target_on_time == t for a in catalog.agencies),
    )
    others = ", ".join(
        f"{a.label} {a.target_on_time:.0%}" for a in catalog.agencies if a.target_on_time != usual
    )
    targets = f"{usual:.0%}" + (f" (riêng {others})" if others else "")
    content = (
        f"**Màu mỗi ô cơ quan** theo tỷ lệ đúng hạn tháng so với mục tiêu của chính cơ quan đó: "
        f"mục tiêu {targets}.\n\n"
        f"Xanh: đạt mục tiêu · cam: thấp hơn dưới {settings.warn_margin * 100:g} điểm · đỏ: thấp hơn nữa · "
        "—: chưa có hồ sơ giải quyết trong tháng. Số thứ hai: hồ sơ quá hạn. Bấm vào ô để xem chi tiết."
    )
    return text.Panel().title("Chú thích").mode(tm.TextMode.MARKDOWN).content(content).transparent(True)


def _per_hour(title: str, agency: str | None) -> timeseries.Panel:
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
        panel = panel.with_target(_influx(q.events_per_hour(kind, agency=agency), ref))
    return panel


def _pie(title: str, query: str) -> piechart.Panel:
    return (
        piechart.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(_influx(query, alias="$col"))
        .unit("short")
        .decimals(0)
        .reduce_options(_last())
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


def _bars(
    title: str, query: str, thresholds: db.ThresholdsConfig, *, alias: str = "$col", unit: str = "none"
) -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(_influx(query, alias=alias))
        .unit(unit)
        .decimals(0)
        .min(0)
        .thresholds(thresholds)
        .reduce_options(_last())
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .show_unfilled(True)
    )


def _open_by_state(agency: str | None) -> bargauge.Panel:
    panel = _bars(
        "Hồ sơ đang giải quyết theo tình trạng", q.open_by_state(agency=agency), _thresholds("blue")
    )
    colours = {"Trong hạn": "green", "Sắp đến hạn": "orange", "Quá hạn": "red", "Tạm dừng": "purple"}
    for name, colour in colours.items():
        panel = panel.override_by_name(
            name, [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})]
        )
    return panel


def _online_payment(agency: str | None) -> gauge.Panel:
    return (
        gauge.Panel()
        .title("Thanh toán trực tuyến")
        .description("Hồ sơ có thanh toán trực tuyến / hồ sơ có thanh toán")
        .datasource(INFLUX)
        .with_target(_influx(q.rate_kpi("online_payment", agency=agency)))
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .max(1)
        .no_value("—")
        .thresholds(_thresholds("orange", (0.5, "green")))
        .reduce_options(_last())
        .show_threshold_markers(True)
        .show_threshold_labels(False)
    )


def _dashboard(uid: str, title: str, timezone: str) -> db.Dashboard:
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


def _board_links(*uids: str) -> list[cogbuilder.Builder[dm.DashboardLink]]:
    names = {WALL_UID: "Màn hình IOC", AGENCY_UID: "Chi tiết cơ quan", PIPELINE_UID: "Sức khỏe hệ thống"}
    return [
        db.DashboardLink(names[u]).type(dm.DashboardLinkType.LINK).url(f"/d/{u}").icon("dashboard")
        for u in uids
    ]


# -- the wall ---------------------------------------------------------------------------------------------
def wall(catalog: Catalog, settings: WallSettings = WALL_DEFAULTS) -> db.Dashboard:
    """The wall: 28 grid rows of 38 px fill 1080 px in kiosk mode."""
    s = settings
    target = s.centre_target
    grid = Grid()
    counts = [
        ("Tiếp nhận hôm nay", "received_today", _thresholds("blue"), False, 3),
        ("Đã giải quyết hôm nay", "resolved_today", _thresholds("green"), False, 3),
        ("Đang giải quyết", "open", _thresholds("blue"), False, 3),
        ("Quá hạn", "overdue", _thresholds("green", (1, "red")), True, 2),
        ("Sắp đến hạn", "due_soon", _thresholds("green", (1, "orange")), True, 2),
    ]
    x = 0
    for title, name, thresholds, background, width in counts:
        grid.add(_count_stat(title, q.count_kpi(name), thresholds, background=background), x, 0, width, 4)
        x += width
    rates = [
        ("Tỷ lệ đúng hạn hôm nay", "rate_today", target, 3),
        ("Tỷ lệ đúng hạn tháng", "rate_month", target, 3),
        ("Tỷ lệ đúng hạn năm", "rate_year", target, 3),
        ("Mức độ hài lòng", "satisfaction", s.satisfaction_target, 2),
    ]
    for title, name, goal, width in rates:
        grid.add(
            _rate_stat(
                title,
                q.rate_kpi(name),
                rate_thresholds(goal, s.warn_margin),
                description=f"Mục tiêu {goal:.0%}",
            ),
            x,
            0,
            width,
            4,
        )
        x += width

    tile_w = GRID_COLUMNS // s.tiles_per_row
    y = 4
    for i, agency in enumerate(catalog.agencies):
        row, col = divmod(i, s.tiles_per_row)
        grid.add(agency_tile(agency, s), col * tile_w, y + row * s.tile_height, tile_w, s.tile_height)
    used = len(catalog.agencies) % s.tiles_per_row
    if used and GRID_COLUMNS - used * tile_w >= 3:
        last_row = y + (len(catalog.agencies) // s.tiles_per_row) * s.tile_height
        grid.add(legend(catalog, s), used * tile_w, last_row, GRID_COLUMNS - used * tile_w, s.tile_height)
    y += -(-len(catalog.agencies) // s.tiles_per_row) * s.tile_height

    bottom = max(28 - y, 12)
    half = bottom // 2
    grid.add(
        _bars(
            "Quá hạn theo cơ quan",
            q.count_kpi("overdue", by_agency=True),
            _thresholds("green", (1, "orange"), (5, "red")),
            alias="$tag_agency_name",
        ),
        0,
        y,
        6,
        bottom,
    )
    grid.add(_per_hour("Lưu lượng hồ sơ theo giờ", None), 6, y, 12, half)
    grid.add(_pie("Kênh tiếp nhận", q.channel_mix()), 18, y, 6, half)
    grid.add(_open_by_state(None), 6, y + half, 6, bottom - half)
    grid.add(
        _bars("Kết quả giải quyết hôm nay", q.resolved_today_split(), _thresholds("green")).override_by_name(
            "Trễ hạn", [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "red"})]
        ),
        12,
        y + half,
        6,
        bottom - half,
    )
    grid.add(_online_payment(None), 18, y + half, 6, bottom - half)

    board = (
        _dashboard(WALL_UID, WALL_TITLE, catalog.calendar.timezone)
        .refresh("10s")
        .time("now/d", "now")
        .description(f"{catalog.centre.name}: số liệu trực tiếp từ các cơ quan tại Trung tâm")
        .timepicker(db.TimePicker().hidden(True).refresh_intervals(["10s", "30s", "1m"]))
        .links(_board_links(AGENCY_UID, PIPELINE_UID))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board


# -- agency drill-down ------------------------------------------------------------------------------------
def _deadline_table(title: str, kind: str, since_label: str) -> table.Panel:
    renames = {"Time": since_label, "dossier": "Mã hồ sơ", "procedure": "Mã thủ tục"}
    return (
        table.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(_influx(q.deadline_list(kind, agency=q.AGENCY_VAR), table_format=True))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize", options={"excludeByName": {"late_seconds": True}, "renameByName": renames}
            )
        )
        .override_by_name(
            "Time",
            [
                dm.DynamicConfigValue(id_val="unit", value="dateTimeFromNow"),
                dm.DynamicConfigValue(id_val="custom.width", value=170),
            ],
        )
        .override_by_name("dossier", [dm.DynamicConfigValue(id_val="custom.width", value=260)])
        .no_value("Không có hồ sơ")
        .cell_height(cm.TableCellHeight.SM)
    )


def agency_board(catalog: Catalog, settings: WallSettings = WALL_DEFAULTS) -> db.Dashboard:
    """Drill-down for `$agency`; its Vietnamese name is the `agency_name` variable and in panel titles."""
    agency = q.AGENCY_VAR
    grid = Grid()
    name = "${agency_name}"
    tops: list[tuple[str, Any]] = [
        (
            "Tiếp nhận hôm nay",
            _count_stat(
                "Tiếp nhận hôm nay", q.count_kpi("received_today", agency=agency), _thresholds("blue")
            ),
        ),
        (
            "Đã giải quyết hôm nay",
            _count_stat(
                "Đã giải quyết hôm nay", q.count_kpi("resolved_today", agency=agency), _thresholds("green")
            ),
        ),
        (
            "Đang giải quyết",
            _count_stat("Đang giải quyết", q.count_kpi("open", agency=agency), _thresholds("blue")),
        ),
        (
            "Quá hạn",
            _count_stat(
                "Quá hạn",
                q.count_kpi("overdue", agency=agency),
                _thresholds("green", (1, "red")),
                background=True,
            ),
        ),
        (
            "Sắp đến hạn",
            _count_stat(
                "Sắp đến hạn",
                q.count_kpi("due_soon", agency=agency),
                _thresholds("green", (1, "orange")),
                background=True,
            ),
        ),
        (
            "Tỷ lệ đúng hạn tháng",
            _rate_stat(
                "Tỷ lệ đúng hạn tháng",
                q.rate_kpi("rate_month", agency=agency),
                _thresholds("blue"),
                description="Màu: xem ô So với mục tiêu",
            ),
        ),
        (
            "So với mục tiêu",
            _rate_stat(
                "So với mục tiêu",
                q.rate_vs_target(agency=agency),
                _thresholds("red", (0, "green")),
                description="Tỷ lệ đúng hạn tháng trừ mục tiêu của cơ quan "
                "(99 %, 80 % với đất đai): âm là dưới mục tiêu",
            )
            .min(-1)
            .max(1),
        ),
        (
            "Mức độ hài lòng",
            _rate_stat(
                "Mức độ hài lòng",
                q.rate_kpi("satisfaction", agency=agency),
                rate_thresholds(settings.satisfaction_target, settings.warn_margin),
            ),
        ),
    ]
    for i, (_, panel) in enumerate(tops):
        grid.add(panel, i * 3, 0, 3, 4)
    grid.add(_per_hour(f"Tiếp nhận và giải quyết theo giờ — {name}", agency), 0, 4, 12, 8)
    backlog = (
        timeseries.Panel()
        .title(f"Hồ sơ tồn theo tình trạng — {name}")
        .datasource(INFLUX)
        .with_target(_influx(q.backlog_over_time(agency=agency), alias="$col"))
        .interval("10s")
        .unit("none")
        .decimals(0)
        .draw_style(cm.GraphDrawStyle.LINE)
        .fill_opacity(40)
        .stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
        .legend(
            cb.VizLegendOptions()
            .show_legend(True)
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull"])
        )
    )
    for series, colour in {
        "Trong hạn": "green",
        "Sắp đến hạn": "orange",
        "Quá hạn": "red",
        "Tạm dừng": "purple",
    }.items():
        backlog = backlog.override_by_name(
            series, [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})]
        )
    grid.add(backlog, 12, 4, 12, 8)
    grid.add(_deadline_table(f"Hồ sơ quá hạn — {name}", "overdue", "Quá hạn từ"), 0, 12, 12, 10)
    grid.add(_deadline_table(f"Hồ sơ sắp đến hạn — {name}", "due_soon", "Đến hạn"), 12, 12, 12, 10)
    grid.add(_pie("Kênh tiếp nhận", q.channel_mix(agency=agency)), 0, 22, 8, 8)
    grid.add(
        _bars(
            "Tiếp nhận theo lĩnh vực",
            q.received_by_field(agency=agency),
            _thresholds("blue"),
            alias="$tag_field",
            unit="short",
        ),
        8,
        22,
        8,
        8,
    )
    grid.add(_online_payment(agency), 16, 22, 8, 8)

    agency_var = (
        db.QueryVariable("agency")
        .label("Mã cơ quan")
        .datasource(INFLUX)
        .query(q.AGENCY_VALUES)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .current(
            dm.VariableOption(selected=True, text=catalog.agencies[0].code, value=catalog.agencies[0].code)
        )
    )
    name_var = (
        db.QueryVariable("agency_name")
        .label("Cơ quan")
        .datasource(INFLUX)
        .query(q.AGENCY_NAME_VALUES)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )
    board = (
        _dashboard(AGENCY_UID, AGENCY_TITLE, catalog.calendar.timezone)
        .refresh("30s")
        .time("now/d", "now")
        .description("Chi tiết một cơ quan: chọn mã cơ quan ở trên")
        .with_variable(agency_var)
        .with_variable(name_var)
        .links(_board_links(WALL_UID, PIPELINE_UID))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board


# -- pipeline health --------------------------------------------------------------------------------------
def _prom_series(
    title: str,
    targets: Sequence[tuple[str, str]],
    unit: str,
    *,
    thresholds: db.ThresholdsConfig | None = None,
    description: str = "",
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .unit(unit)
        .fill_opacity(15)
        .line_width(2)
        .legend(
            cb.VizLegendOptions()
            .show_legend(True)
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
        )
    )
    for ref, (expr, legend) in zip("ABCDEF", targets, strict=False):
        panel = panel.with_target(_prom(expr, legend, ref))
    if thresholds is not None:
        panel = panel.thresholds(thresholds).thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(cm.GraphTresholdsStyleMode.LINE)
        )
    return panel


def pipeline_board(catalog: Catalog) -> db.Dashboard:
    """The stream workers' health: throughput, lag, dead letters, sink, alerts, partitions."""
    p = q.PROMQL
    grid = Grid()
    grid.add(_prom_series("Sự kiện/giây theo loại", [(p["events_rate"], "{{type}}")], "ops"), 0, 0, 12, 8)
    grid.add(
        _prom_series(
            "Độ trễ consumer (bản ghi chưa đọc)",
            [(p["consumer_lag"], "partition {{partition}}")],
            "short",
            thresholds=_thresholds("green", (1000, "red")),
        ),
        12,
        0,
        12,
        8,
    )
    grid.add(
        _prom_series(
            "Thư chết (DLQ) theo lý do, 10 phút",
            [(p["dead_letters"], "{{reason}}")],
            "short",
            description="Sự kiện không hợp lệ bị chuyển sang dossier-events-dlq",
        ),
        0,
        8,
        8,
        8,
    )
    grid.add(
        _prom_series(
            "Lỗi ghi InfluxDB, 5 phút",
            [(p["sink_errors"], "lỗi")],
            "short",
            thresholds=_thresholds("green", (1, "red")),
        ),
        8,
        8,
        8,
        8,
    )
    grid.add(
        _prom_series(
            "Thời gian ghi InfluxDB", [(p["sink_latency_p50"], "p50"), (p["sink_latency_p95"], "p95")], "s"
        ),
        16,
        8,
        8,
        8,
    )
    grid.add(
        _prom_series("Điểm chờ ghi InfluxDB", [(p["sink_buffer"], "{{instance}}")], "short"), 0, 16, 8, 8
    )
    grid.add(
        _prom_series("Cảnh báo SLA/giây theo loại", [(p["alerts_rate"], "{{kind}}")], "ops"), 8, 16, 8, 8
    )
    grid.add(
        _prom_series(
            "Partition được gán",
            [(p["partitions"], "{{instance}}"), (p["partitions_total"], "tổng")],
            "short",
        ),
        16,
        16,
        8,
        8,
    )
    grid.add(_prom_series("Điểm ghi/giây", [(p["sink_points_rate"], "điểm/giây")], "ops"), 0, 24, 12, 7)
    grid.add(_prom_series("Thời gian xử lý hẹn giờ SLA (p95)", [(p["tick_p95"], "p95")], "s"), 12, 24, 12, 7)
    board = (
        _dashboard(PIPELINE_UID, PIPELINE_TITLE, catalog.calendar.timezone)
        .refresh("10s")
        .time("now-1h", "now")
        .description("Sức khỏe các worker xử lý sự kiện (Prometheus)")
        .links(_board_links(WALL_UID, AGENCY_UID))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board


# -- output -----------------------------------------------------------------------------------------------
def to_json(board: db.Dashboard | dm.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data (what Grafana stores)."""
    model = board.build() if isinstance(board, db.Dashboard) else board
    data: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return data


def dashboards(catalog: Catalog, settings: WallSettings = WALL_DEFAULTS) -> dict[str, dict[str, Any]]:
    """{uid: dashboard JSON} for the three boards."""
    return {
        WALL_UID: to_json(wall(catalog, settings)),
        AGENCY_UID: to_json(agency_board(catalog, settings)),
        PIPELINE_UID: to_json(pipeline_board(catalog)),
    }


def provider() -> dict[str, Any]:
    """grafana/provisioning/dashboards/ioc.yaml: load the JSON files beside it into folder "IOC"."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "ioc",
                "orgId": 1,
                "folder": "IOC",
                "folderUid": "ioc",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {
                    "path": "/etc/grafana/provisioning/dashboards",
                    "foldersFromFilesStructure": False,
                },
            }
        ],
    }
