"""The drill-down (`ioc-agency`): one agency, chosen with the `agency` variable; its Vietnamese name is the
`agency_name` variable and is in the panel titles. Inflow/outflow per hour, backlog by SLA state over time,
the overdue and due-soon lists with dossier codes.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from dossiers import labels
from dossiers.catalog import Catalog
from grafana import queries as q
from grafana.datasources import INFLUX
from grafana.panels import (
    AGENCY_UID,
    PIPELINE_UID,
    STATE_COLOURS,
    WALL_UID,
    Grid,
    bars,
    board_links,
    dashboard,
    fixed_colour,
    influx,
    online_payment,
    per_hour,
    pie,
    rate_stat,
    tag_variable,
    thresholds,
)
from grafana.settings import WallSettings
from grafana.tiles import COUNT_TILES, MONTH_RATE, SATISFACTION, count_tile, rate_tile, target_summary

TITLE = "IOC — Chi tiết cơ quan"
DEFAULTS = WallSettings()


def _deadline_table(title: str, kind: str, since_label: str) -> table.Panel:
    renames = {"Time": since_label, "dossier": "Mã hồ sơ", "procedure": "Mã thủ tục"}
    return (
        table.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(influx(q.deadline_list(kind, agency=q.AGENCY_VAR), table_format=True))
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


def agency_board(catalog: Catalog, settings: WallSettings = DEFAULTS) -> db.Dashboard:
    """Drill-down for `$agency`; its Vietnamese name is the `agency_name` variable and in panel titles."""
    agency = q.AGENCY_VAR
    grid = Grid()
    name = "${agency_name}"
    tops = [count_tile(tile, agency=agency) for tile in COUNT_TILES]
    tops.append(rate_tile(MONTH_RATE, settings, agency=agency, colours=thresholds("blue"),
                          description="Màu: xem ô So với mục tiêu"))
    tops.append(
        rate_stat(
            "So với mục tiêu",
            q.rate_vs_target(agency=agency),
            thresholds("red", (0, "green")),
            description="Tỷ lệ đúng hạn tháng trừ mục tiêu của cơ quan "
            f"(mục tiêu {target_summary(catalog)}): âm là dưới mục tiêu",
        )
        .min(-1)
        .max(1)
    )
    tops.append(rate_tile(SATISFACTION, settings, agency=agency, description=""))
    for i, top in enumerate(tops):
        grid.add(top, i * 3, 0, 3, 4)
    grid.add(per_hour(f"Tiếp nhận và giải quyết theo giờ — {name}", agency), 0, 4, 12, 8)
    backlog = (
        timeseries.Panel()
        .title(f"Hồ sơ tồn theo tình trạng — {name}")
        .datasource(INFLUX)
        .with_target(influx(q.backlog_over_time(agency=agency), alias="$col"))
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
    for series, colour in STATE_COLOURS.items():
        backlog = backlog.override_by_name(series, fixed_colour(colour))
    grid.add(backlog, 12, 4, 12, 8)
    grid.add(_deadline_table(f"Hồ sơ quá hạn — {name}", "overdue", "Quá hạn từ"), 0, 12, 12, 10)
    grid.add(_deadline_table(f"Hồ sơ sắp đến hạn — {name}", "due_soon", "Đến hạn"), 12, 12, 12, 10)
    grid.add(pie("Kênh tiếp nhận", q.channel_mix(agency=agency)), 0, 22, 8, 8)
    grid.add(
        bars(
            "Tiếp nhận theo lĩnh vực",
            q.received_by_field(agency=agency),
            thresholds("blue"),
            alias="$tag_field",
            unit="short",
        ),
        8,
        22,
        8,
        8,
    )
    grid.add(online_payment(agency), 16, 22, 8, 8)

    first = catalog.agencies[0].code
    agency_var = tag_variable("agency", "Mã cơ quan", q.AGENCY_VALUES).current(
        dm.VariableOption(selected=True, text=first, value=first)
    )
    name_var = tag_variable("agency_name", labels.AGENCY, q.AGENCY_NAME_VALUES)
    board = (
        dashboard(AGENCY_UID, TITLE, catalog.calendar.timezone)
        .refresh("30s")
        .time("now/d", "now")
        .description("Chi tiết một cơ quan: chọn mã cơ quan ở trên")
        .with_variable(agency_var)
        .with_variable(name_var)
        .links(board_links(WALL_UID, PIPELINE_UID))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board
