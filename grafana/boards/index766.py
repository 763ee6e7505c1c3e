"""The Decision 766 index of the running period (`ioc-766`, "Chỉ số 766"): where each agency loses points
before the national dashboard shows it a month later.

From the workers' running `i766` tallies (docs/index766.md, Live), scored in InfluxQL by
`queries.i766_scores`: the centre's points on the measured part, one row per agency with the points lost
per official group, the three items losing most (the centre's and the chosen `$agency`'s), the trend of
the points day by day over months, and the sync health to the National Public Service Portal.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import bargauge, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from dossiers import labels
from dossiers.catalog import Catalog
from dossiers.index766 import GROUPS, ITEM, NO_LOSS
from grafana import queries as q
from grafana.datasources import INFLUX
from grafana.panels import (
    AGENCY_UID,
    INDEX766_UID,
    REPORT_UID,
    WALL_UID,
    Grid,
    board_links,
    dashboard,
    display_name,
    influx,
    last,
    rate_stat,
    tag_variable,
    text_stat,
    thresholds,
    transform,
)
from grafana.settings import AlertSettings
from grafana.tiles import index766_tile

TITLE = labels.INDEX766_LIVE_TITLE
MAX_ROWS = 30
"""Tables taller than this many rows scroll (a province has hundreds of agencies and desks)."""
REDUCED_VALUE = "Last *"
"""The column Grafana's reduce transformation (series to rows, `lastNotNull`) names its values."""


def item_name(code: str) -> str:
    """"2.1 Tỷ lệ hồ sơ xử lý trước hạn, đúng hạn (20 đ)": code, official wording, points."""
    item = ITEM[code]
    return f"{code} {labels.INDEX766_ITEMS[code]} ({item.max:g} đ)"


def group_name(group: str) -> str:
    return f"{labels.INDEX766_GROUPS[group]} ({GROUPS[group]} đ)"


def agency_table() -> table.Panel:
    """One row per agency in catalog order: points, maximum, points lost, and lost per group."""
    names = {"tt": labels.II06A_ROW, "agency_name": labels.AGENCY, "points": labels.INDEX766_POINTS,
             "max": labels.INDEX766_MAX, "lost": labels.INDEX766_LOST}
    names |= {f"lost_{g}": f"{labels.INDEX766_LOST}: {group_name(g)}" for g in q.I766_GROUPS}
    return (
        table.Panel()
        .title(f"{labels.INDEX766_LOST} theo cơ quan và nhóm chỉ số")
        .description("Điểm trên phần đo được của kỳ báo cáo đang chạy; tối đa = các chỉ tiêu đã có số liệu. "
                     "Cột nhóm: điểm bị trừ của các chỉ tiêu đo được trong nhóm.")
        .datasource(INFLUX)
        .with_target(influx(q.i766_scores(), table_format=True))
        .with_transformation(transform("filterFieldsByName", include={"names": list(names)}))
        .with_transformation(transform("organize", indexByName={n: i for i, n in enumerate(names)},
                                       renameByName=names))
        .with_transformation(transform("sortBy", sort=[{"field": names["tt"], "desc": False}]))
        .override_by_name(names["tt"], [dm.DynamicConfigValue(id_val="custom.width", value=50)])
        .override_by_name(names["agency_name"], [dm.DynamicConfigValue(id_val="custom.width", value=300)])
        .override_by_name(names["tt"], [dm.DynamicConfigValue(id_val="decimals", value=0)])
        .unit("none")
        .decimals(1)
        .no_value(labels.INDEX766_NOT_APPLICABLE)
        .cell_height(cm.TableCellHeight.SM)
    )


def centre_table(catalog: Catalog) -> table.Panel:
    """A province: one row per centre, scored on the centre's own summed tallies (`Index766.centres`)."""
    names = {"centre": "Trung tâm", "points": labels.INDEX766_POINTS, "max": labels.INDEX766_MAX,
             "lost": labels.INDEX766_LOST}
    names |= {f"lost_{g}": f"{labels.INDEX766_LOST}: {group_name(g)}" for g in q.I766_GROUPS}
    centres = {c.code: {"text": c.name, "index": i} for i, c in enumerate(catalog.centres)}
    return (
        table.Panel()
        .title(f"{labels.INDEX766_LOST} theo Trung tâm và nhóm chỉ số")
        .description("Mỗi Trung tâm tính trên tổng số liệu của các cơ quan, bộ phận của mình (không lấy bình "
                     "quân tỷ lệ của các cơ quan).")
        .datasource(INFLUX)
        .with_target(influx(q.i766_scores(by_centre=True), table_format=True))
        .with_transformation(transform("filterFieldsByName", include={"names": list(names)}))
        .with_transformation(transform("sortBy", sort=[{"field": "lost", "desc": True}]))
        .with_transformation(transform("organize", indexByName={n: i for i, n in enumerate(names)},
                                       renameByName=names))
        .override_by_name(names["centre"], [
            dm.DynamicConfigValue(id_val="mappings", value=[{"type": "value", "options": centres}]),
            dm.DynamicConfigValue(id_val="custom.width", value=380)])
        .unit("none")
        .decimals(1)
        .no_value(labels.INDEX766_NOT_APPLICABLE)
        .cell_height(cm.TableCellHeight.SM)
    )


def group_losses(title: str, agency: str | None) -> bargauge.Panel:
    """Points lost per official group, for the centre or one agency (a bar per group)."""
    panel = (
        bargauge.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(influx(q.i766_scores(by_agency=False, agency=agency), table_format=True))
        .reduce_options(last().fields("/^lost_(" + "|".join(q.I766_GROUPS) + ")$/"))
        .unit("none")
        .decimals(1)
        .min(0)
        .thresholds(thresholds("green", (0.5, "orange"), (2, "red")))
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .show_unfilled(True)
        .no_value(labels.INDEX766_NOT_APPLICABLE)
    )
    for group in q.I766_GROUPS:
        panel = panel.override_by_name(f"lost_{group}", [display_name(group_name(group))])
    return panel


def worst_items(title: str, agency: str | None) -> table.Panel:
    """The three scored items losing most: the per-item losses of one row turned into rows (Grafana's
    reduce, series to rows), the ones losing nothing dropped, sorted, the first three: `Row.losing_most()`."""
    pairs = zip(q.I766_SCORED_LOSSES, q.SCORED, strict=True)
    renames = {column: item_name(item.code) for column, item in pairs}
    greater: dict[str, Any] = {"id": "greater", "options": {"value": NO_LOSS}}
    return (
        table.Panel()
        .title(title)
        .description("Điểm bị trừ của từng chỉ tiêu = điểm tối đa - điểm đạt; chỉ tiêu chưa có số liệu "
                     "không tính.")
        .datasource(INFLUX)
        .with_target(influx(q.i766_scores(by_agency=False, agency=agency), table_format=True))
        .with_transformation(transform("filterFieldsByName", include={"names": list(renames)}))
        .with_transformation(transform("organize", renameByName=renames))
        .with_transformation(transform("reduce", mode="seriesToRows", reducers=["lastNotNull"]))
        .with_transformation(transform("filterByValue", type="include", match="any",
                                       filters=[{"fieldName": REDUCED_VALUE, "config": greater}]))
        .with_transformation(transform("sortBy", sort=[{"field": REDUCED_VALUE, "desc": True}]))
        .with_transformation(transform("limit", limitField=3))
        .with_transformation(transform("organize", renameByName={"Field": "Chỉ tiêu",
                                                                 REDUCED_VALUE: labels.INDEX766_LOST}))
        .override_by_name("Field", [dm.DynamicConfigValue(id_val="custom.width", value=420)])
        .unit("none")
        .decimals(2)
        .no_value("Không chỉ tiêu nào bị trừ điểm")
        .cell_height(cm.TableCellHeight.SM)
    )


def trend(title: str, agency: str | None) -> timeseries.Panel:
    """Points and their maximum per day over the board's range: month after month, with a step on the 15th
    when a new reporting period starts."""
    return (
        timeseries.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(influx(q.i766_trend(agency=agency), alias="$col"))
        .unit("none")
        .decimals(1)
        .min(0)
        .draw_style(cm.GraphDrawStyle.LINE)
        .line_interpolation(cm.LineInterpolation.STEP_AFTER)
        .override_by_name("points", [display_name(labels.INDEX766_POINTS)])
        .override_by_name("max", [display_name(labels.INDEX766_MAX)])
        .legend(cb.VizLegendOptions().show_legend(True).display_mode(cm.LegendDisplayMode.LIST)
                .placement(cm.LegendPlacement.BOTTOM).calcs(["lastNotNull"]))
    )


def sync_table(settings: AlertSettings) -> table.Panel:
    """Per agency: dossiers received this period, synced, the share synced and synced within 1/4/24/72 h."""
    names = {"agency_name": labels.AGENCY, "received": "Tiếp nhận trong kỳ", "synced": "Đã đồng bộ",
             "synced_share": "Tỷ lệ đồng bộ"}
    names |= {f"within_{f.removeprefix('synced_')}": f"Đồng bộ trong {f.removeprefix('synced_')[:-1]} giờ"
              for f in q.I766_SYNC_FIELDS}
    shares = [n for n in names if n == "synced_share" or n.startswith("within_")]
    panel = (
        table.Panel()
        .title(f"{labels.INDEX766_SYNC} theo cơ quan (chỉ tiêu 1.4)")
        .description(f"Hồ sơ tiếp nhận trong kỳ đã đồng bộ lên Cổng Dịch vụ công quốc gia; cảnh báo khi dưới "
                     f"{settings.sync_min_rate:.0%} trong giờ làm việc.")
        .datasource(INFLUX)
        .with_target(influx(q.sync_health(), table_format=True))
        .with_transformation(transform("filterFieldsByName", include={"names": list(names)}))
        .with_transformation(transform("organize", indexByName={n: i for i, n in enumerate(names)},
                                       renameByName=names))
        .with_transformation(transform("sortBy", sort=[{"field": names["synced_share"], "desc": False}]))
        .unit("none")
        .decimals(0)
        .no_value("Chưa có hồ sơ tiếp nhận trong kỳ")
        .cell_height(cm.TableCellHeight.SM)
    )
    colours = thresholds("red", (settings.sync_min_rate, "green")).build()
    for name in shares:
        panel = panel.override_by_name(names[name], [
            dm.DynamicConfigValue(id_val="unit", value="percentunit"),
            dm.DynamicConfigValue(id_val="decimals", value=1),
            dm.DynamicConfigValue(id_val="thresholds", value=colours),
            dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"}),
        ])
    return panel


def index766_board(catalog: Catalog, settings: AlertSettings | None = None) -> db.Dashboard:
    """The board: the centre's headline, the agencies' table, the centre and `$agency` side by side, sync."""
    settings = settings or AlertSettings()
    agency, name = q.AGENCY_VAR, "${agency_name}"
    grid = Grid()
    grid.add(index766_tile(), 0, 0, 4, 4)
    grid.add(rate_stat(f"{labels.INDEX766_SYNC}", q.sync_health(by_agency=False),
                       thresholds("red", (settings.sync_min_rate, "green")),
                       description="Hồ sơ tiếp nhận trong kỳ đã đồng bộ / đã tiếp nhận (chỉ tiêu 1.4)")
             .reduce_options(last().fields("/^synced_share$/")), 4, 0, 5, 4)
    grid.add(rate_stat("Đồng bộ trong 24 giờ", q.sync_health(by_agency=False), thresholds("blue"),
                       description="Hồ sơ tiếp nhận trong kỳ đã đồng bộ trong 24 giờ sau khi tiếp nhận")
             .reduce_options(last().fields("/^within_24h$/")), 9, 0, 5, 4)
    grid.add(text_stat(labels.FROM_DAY, q.i766_tallies(), "period_from", "string"), 14, 0, 5, 4)
    grid.add(text_stat(labels.TO_DAY, q.i766_tallies(), "period_to", "string"), 19, 0, 5, 4)
    rows = min(len(catalog.agencies), MAX_ROWS)  # more rows than that scroll
    grid.add(agency_table(), 0, 4, 24, 4 + rows)
    y = 8 + rows
    if catalog.is_province:
        centre_rows = min(len(catalog.centres), MAX_ROWS)
        grid.add(centre_table(catalog), 0, y, 24, 4 + centre_rows)
        y += 4 + centre_rows
    centre = labels.CENTRE
    grid.add(group_losses(f"{labels.INDEX766_BY_GROUP} — {centre}", None), 0, y, 8, 8)
    grid.add(worst_items(f"{labels.INDEX766_WORST} — {centre}", None), 8, y, 8, 8)
    grid.add(trend(f"{labels.INDEX766_TREND} — {centre}", None), 16, y, 8, 8)
    y += 8
    grid.add(group_losses(f"{labels.INDEX766_BY_GROUP} — {name}", agency), 0, y, 8, 8)
    grid.add(worst_items(f"{labels.INDEX766_WORST} — {name}", agency), 8, y, 8, 8)
    grid.add(trend(f"{labels.INDEX766_TREND} — {name}", agency), 16, y, 8, 8)
    y += 8
    grid.add(sync_table(settings), 0, y, 24, 4 + rows)

    first = catalog.agencies[0].code
    board = (
        dashboard(INDEX766_UID, TITLE, catalog.calendar.timezone)
        .refresh("1m")
        .time("now-6M", "now")
        .description(f"{labels.INDEX766_TITLE}: {labels.INDEX766_SUBTITLE.lower()}, kỳ báo cáo đang chạy")
        .with_variable(tag_variable("agency", "Mã cơ quan", q.AGENCY_VALUES)
                       .current(dm.VariableOption(selected=True, text=first, value=first)))
        .with_variable(tag_variable("agency_name", labels.AGENCY, q.AGENCY_NAME_VALUES))
        .links(board_links(WALL_UID, AGENCY_UID, REPORT_UID))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board
