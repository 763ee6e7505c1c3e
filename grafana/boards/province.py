"""The province (`ioc-province`, "IOC — Toàn tỉnh") and one centre (`ioc-centre`, for `$centre`), generated
only for a catalog with several centres (issue 15).

The province board: the province's totals; every centre ranked by overdue dossiers; every centre's month
on-time rate against the rate its mix of agencies should reach (`queries.centre_targets`); the ten commune
centres with the most overdue dossiers; a map of the centres the catalog gives coordinates for. A centre's
name links to its board: the centre's totals and one row per agency, each linking to the agency drill-down.
Figures are the workers' `kpi` snapshots summed by the `centre` tag (docs/influxdb.md).
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import bargauge, geomap, stat, table
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import geomap as gm

from dossiers import labels
from dossiers.catalog import Catalog
from grafana import queries as q
from grafana.datasources import INFLUX
from grafana.panels import (
    AGENCY_UID,
    CENTRE_UID,
    INDEX766_UID,
    PROVINCE_UID,
    WALL_UID,
    Grid,
    board_links,
    count_stat,
    dashboard,
    influx,
    last,
    rate_stat,
    rate_thresholds,
    tag_variable,
    thresholds,
    transform,
)
from grafana.settings import WallSettings
from grafana.tiles import COUNT_TILES, MONTH_RATE, SATISFACTION, index766_tile

PROVINCE_TITLE = "IOC — Toàn tỉnh"
CENTRE_TITLE = "IOC — Một Trung tâm"
WORST = 10
"""How many commune centres the "falling behind" table lists."""

COUNT_NAMES = {"centre_name": "Trung tâm", "received_today": f"{labels.RECEIVED} {labels.TODAY}",
               "resolved_today": f"{labels.RESOLVED} {labels.TODAY}", "open": labels.OPEN,
               "overdue": labels.OVERDUE, "due_soon": labels.DUE_SOON}
TARGET_NAMES = {"centre_name": "Trung tâm", "rate_month": f"{labels.ON_TIME_RATE} {labels.MONTH}",
                "target": labels.TARGET, "gap": "Thiếu so với mục tiêu"}


def _centre_link() -> list[dm.DynamicConfigValue]:
    link = {"title": "Màn hình của Trung tâm", "url": f"/d/{CENTRE_UID}?var-centre=${{__data.fields.centre}}"}
    return [dm.DynamicConfigValue(id_val="links", value=[link])]


def _field_stat(title: str, query: str, field: str, colours: db.ThresholdsConfig, *,
                background: bool = False) -> stat.Panel:
    """One field of a multi-field query (`centre_counts`), as the wall's count tiles show it."""
    panel = count_stat(title, query, colours, background=background)
    return panel.reduce_options(last().fields(f"/^{field}$/"))


def centre_table(title: str, *, worst_communes_of: str | None = None) -> table.Panel:
    """Every centre's counts, most overdue first; with `worst_communes_of` (the provincial centre's code),
    only the commune centres, the first `WORST`."""
    panel = (
        table.Panel()
        .title(title)
        .datasource(INFLUX)
        .with_target(influx(q.centre_counts(), table_format=True))
        .with_transformation(transform("filterFieldsByName", include={"names": ["centre", *COUNT_NAMES]}))
    )
    if worst_communes_of is not None:
        same: dict[str, Any] = {"id": "equal", "options": {"value": worst_communes_of}}
        panel = panel.with_transformation(transform("filterByValue", type="exclude", match="any",
                                                    filters=[{"fieldName": "centre", "config": same}]))
    panel = panel.with_transformation(transform("sortBy", sort=[{"field": "overdue", "desc": True}]))
    if worst_communes_of is not None:
        panel = panel.with_transformation(transform("limit", limitField=WORST))
    return (
        panel.with_transformation(transform("organize", excludeByName={"centre": True},
                                            indexByName={n: i for i, n in enumerate(COUNT_NAMES)},
                                            renameByName=COUNT_NAMES))
        .override_by_name(COUNT_NAMES["centre_name"], _centre_link())
        .override_by_name(COUNT_NAMES["overdue"], [
            dm.DynamicConfigValue(id_val="thresholds", value=thresholds("green", (1, "red")).build()),
            dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"}),
        ])
        .unit("none")
        .decimals(0)
        .no_value("Chưa có số liệu")
        .cell_height(cm.TableCellHeight.SM)
    )


def target_table(settings: WallSettings) -> table.Panel:
    """Every centre that resolved dossiers this month: its rate, its target, how far under it, worst first."""
    colours = thresholds("green", (0.000001, "orange"), (settings.warn_margin, "red")).build()
    return (
        table.Panel()
        .title("Tỷ lệ đúng hạn tháng so với mục tiêu của từng Trung tâm")
        .description("Mục tiêu của một Trung tâm = mục tiêu của từng cơ quan, bộ phận (danh mục) bình quân "
                     "theo số hồ sơ mỗi cơ quan đã giải quyết trong tháng.")
        .datasource(INFLUX)
        .with_target(influx(q.centre_targets(), table_format=True))
        .with_transformation(transform("filterFieldsByName", include={"names": ["centre", *TARGET_NAMES]}))
        .with_transformation(transform("sortBy", sort=[{"field": "gap", "desc": True}]))
        .with_transformation(transform("organize", excludeByName={"centre": True},
                                       indexByName={n: i for i, n in enumerate(TARGET_NAMES)},
                                       renameByName=TARGET_NAMES))
        .override_by_name(TARGET_NAMES["centre_name"], _centre_link())
        .override_by_name(TARGET_NAMES["gap"], [
            dm.DynamicConfigValue(id_val="thresholds", value=colours),
            dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"}),
        ])
        .unit("percentunit")
        .decimals(1)
        .no_value("Chưa có hồ sơ giải quyết trong tháng")
        .cell_height(cm.TableCellHeight.SM)
    )


def centre_map(catalog: Catalog) -> geomap.Panel:
    """The centres with coordinates in the catalog: a marker each, sized by open dossiers, red when some
    are overdue. Centred on the provincial centre (or the first centre with coordinates)."""
    placed = [c for c in catalog.centres if c.lat is not None and c.lon is not None]
    anchor = next((c for c in placed if c.code == catalog.centre.code), placed[0] if placed else None)
    view = geomap.MapViewConfig().id("coords").zoom(8)
    if anchor is not None and anchor.lat is not None and anchor.lon is not None:
        # the SDK types lat/lon as int (its schema says int64); Grafana reads a float
        view = view.lat(anchor.lat).lon(anchor.lon)  # type: ignore[arg-type]
    markers = (
        cb.MapLayerOptions()
        .type("markers")
        .name("Trung tâm")
        .location(cb.FrameGeometrySource().mode(cm.FrameGeometrySourceMode.COORDS)
                  .latitude("latitude").longitude("longitude"))
        .config({"showLegend": True,
                 "style": {"size": {"field": "open", "min": 4, "max": 24, "fixed": 6},
                           "color": {"field": "overdue"},
                           "text": {"field": "centre_name", "mode": "field"},
                           "textConfig": {"fontSize": 10, "offsetY": -14}}})
        .tooltip(True)
    )
    return (
        geomap.Panel()
        .title(f"Bản đồ các Trung tâm ({len(placed)}/{len(catalog.centres)} có tọa độ trong danh mục)")
        .datasource(INFLUX)
        .with_target(influx(q.centre_map(), table_format=True))
        .view(view)
        .basemap(cb.MapLayerOptions().type("default").name("Bản đồ nền"))
        .layers([markers])
        .tooltip(geomap.TooltipOptions().mode(gm.TooltipMode.DETAILS))
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True))
        .thresholds(thresholds("green", (1, "red")))
        .no_value("Danh mục chưa có tọa độ Trung tâm")
    )


def province_board(catalog: Catalog, settings: WallSettings | None = None) -> db.Dashboard:
    settings = settings or WallSettings()
    grid = Grid()
    totals = q.centre_counts(by_centre=False)
    x = 0
    for tile in COUNT_TILES:
        grid.add(_field_stat(tile.title, totals, tile.kpi, thresholds(tile.base, *tile.steps),
                             background=tile.background), x, 0, 3, 4)
        x += 3
    grid.add(rate_stat(MONTH_RATE.title, q.province_rate("rate_month"),
                       rate_thresholds(settings.centre_target, settings.warn_margin),
                       description=f"{labels.TARGET} {settings.centre_target:.0%}"), x, 0, 3, 4)
    grid.add(rate_stat(SATISFACTION.title, q.province_rate("satisfaction"),
                       rate_thresholds(settings.satisfaction_target, settings.warn_margin),
                       description=f"{labels.TARGET} {settings.satisfaction_target:.0%}"), x + 3, 0, 3, 4)
    grid.add(index766_tile(), x + 6, 0, 3, 4)
    grid.add(centre_table("Các Trung tâm, nhiều hồ sơ quá hạn nhất trước"), 0, 4, 12, 16)
    grid.add(target_table(settings), 12, 4, 12, 16)
    grid.add(centre_table(f"{WORST} Trung tâm cấp xã có nhiều hồ sơ quá hạn nhất",
                          worst_communes_of=catalog.centre.code), 0, 20, 12, 12)
    grid.add(centre_map(catalog), 12, 20, 12, 12)
    name = catalog.province.name if catalog.province is not None else catalog.centre.name
    board = (
        dashboard(PROVINCE_UID, PROVINCE_TITLE, catalog.calendar.timezone)
        .refresh("30s")
        .time("now/d", "now")
        .description(f"{name}: Trung tâm cấp tỉnh và {len(catalog.centres) - 1} Trung tâm cấp xã")
        .links(board_links(CENTRE_UID, WALL_UID, AGENCY_UID, INDEX766_UID))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board


def centre_board(catalog: Catalog, settings: WallSettings | None = None) -> db.Dashboard:
    """One centre (`$centre`): its totals and one row per agency (open, overdue, due soon, month rate)."""
    settings = settings or WallSettings()
    centre, name = q.CENTRE_VAR, "${centre_name}"
    grid = Grid()
    totals = q.centre_counts(centre=centre)
    x = 0
    for tile in COUNT_TILES:
        grid.add(_field_stat(tile.title, totals, tile.kpi, thresholds(tile.base, *tile.steps),
                             background=tile.background), x, 0, 3, 4)
        x += 3
    grid.add(rate_stat(MONTH_RATE.title, q.centre_rates("rate_month", centre=centre), thresholds("blue"),
                       description="Màu: xem cột Thiếu so với mục tiêu ở màn hình toàn tỉnh"), x, 0, 3, 4)
    grid.add(rate_stat(SATISFACTION.title, q.centre_rates("satisfaction", centre=centre),
                       rate_thresholds(settings.satisfaction_target, settings.warn_margin)), x + 3, 0, 3, 4)
    columns = ("open", "overdue", "due_soon", "rate_month")
    renames = {"agency_name": labels.AGENCY, "open": labels.OPEN, "overdue": labels.OVERDUE,
               "due_soon": labels.DUE_SOON, "rate_month": f"{labels.ON_TIME_RATE} {labels.MONTH}"}
    agencies = (
        table.Panel()
        .title(f"Các cơ quan, bộ phận — {name}")
        .datasource(INFLUX)
        .with_transformation(transform("merge"))
        .with_transformation(transform("filterFieldsByName", include={"names": ["agency", *renames]}))
        .with_transformation(transform("sortBy", sort=[{"field": "overdue", "desc": True}]))
        .with_transformation(transform("organize", excludeByName={"agency": True}, renameByName=renames,
                                       indexByName={n: i for i, n in enumerate(renames)}))
        .override_by_name(labels.AGENCY, [dm.DynamicConfigValue(id_val="links", value=[
            {"title": "Chi tiết cơ quan", "url": f"/d/{AGENCY_UID}?var-agency=${{__data.fields.agency}}"}])])
        .override_by_name(renames["rate_month"], [dm.DynamicConfigValue(id_val="unit", value="percentunit"),
                                                  dm.DynamicConfigValue(id_val="decimals", value=1)])
        .unit("none")
        .decimals(0)
        .no_value("Chưa có số liệu")
        .cell_height(cm.TableCellHeight.SM)
    )
    for ref, column in zip("ABCD", columns, strict=True):
        agencies = agencies.with_target(influx(q.centre_agencies(column), ref, table_format=True))
    grid.add(agencies, 0, 4, 14, 20)
    overdue = (
        bargauge.Panel()
        .title(f"Quá hạn theo cơ quan — {name}")
        .datasource(INFLUX)
        .with_target(influx(q.centre_agencies("overdue"), alias="$tag_agency_name"))
        .unit("none")
        .decimals(0)
        .min(0)
        .thresholds(thresholds("green", (1, "orange"), (5, "red")))
        .reduce_options(last())
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
    )
    grid.add(overdue, 14, 4, 10, 20)
    first = catalog.centres[1].code if len(catalog.centres) > 1 else catalog.centre.code
    board = (
        dashboard(CENTRE_UID, CENTRE_TITLE, catalog.calendar.timezone)
        .refresh("30s")
        .time("now/d", "now")
        .description("Một Trung tâm: chọn mã Trung tâm ở trên")
        .with_variable(tag_variable("centre", "Mã Trung tâm", q.CENTRE_VALUES)
                       .current(dm.VariableOption(selected=True, text=first, value=first)))
        .with_variable(tag_variable("centre_name", "Trung tâm", q.CENTRE_NAME_VALUES))
        .links(board_links(PROVINCE_UID, AGENCY_UID))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board

