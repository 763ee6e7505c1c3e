"""The IOC wall (`ioc-wall`): the centre on a 1920x1080 kiosk screen, dark, refresh 10 s, in Vietnamese.

Centre totals (grafana/tiles.py, with the 766 index on its measured part), one tile per agency coloured
against *that agency's* target, overdue by agency, throughput per hour, channel mix, open dossiers by
state, online payments.

Why one stat panel per agency rather than one multi-value panel: each agency's tile carries its own
thresholds (from `target_on_time` in the catalog), which a single panel could only do with per-series
overrides keyed on display names; generating the tiles from the catalog makes the colouring explicit,
testable (every agency present, right threshold) and regenerated with the catalog.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, text
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import text as tm

from dossiers import labels
from dossiers.catalog import Agency, Catalog
from grafana import queries as q
from grafana.datasources import INFLUX
from grafana.panels import (
    AGENCY_UID,
    CENTRE_UID,
    GRID_COLUMNS,
    INDEX766_UID,
    PIPELINE_UID,
    PROVINCE_UID,
    WALL_UID,
    Grid,
    bars,
    board_links,
    dashboard,
    fixed_colour,
    influx,
    last,
    online_payment,
    open_by_state,
    per_hour,
    pie,
    rate_thresholds,
    thresholds,
)
from grafana.settings import WallSettings
from grafana.tiles import (
    COUNT_TILES,
    RATE_TILES,
    count_tile,
    index766_tile,
    rate_tile,
    target_summary,
    wall_agencies,
    wall_centre,
)

TITLE = "Trung tâm IOC — Hành chính công"
DEFAULTS = WallSettings()


def agency_tile(agency: Agency, settings: WallSettings) -> stat.Panel:
    """One agency on the wall: this month's on-time rate coloured against its own target, and overdue."""
    target = agency.target_on_time
    overdue_props = [
        dm.DynamicConfigValue(id_val="displayName", value=labels.OVERDUE),
        dm.DynamicConfigValue(id_val="unit", value="none"),
        dm.DynamicConfigValue(id_val="decimals", value=0),
        dm.DynamicConfigValue(id_val="noValue", value="0"),
        dm.DynamicConfigValue(id_val="thresholds", value=thresholds("green", (1, "red")).build()),
    ]
    return (
        stat.Panel()
        .title(agency.label)
        .description(f"{agency.name} ({agency.code}). Đúng hạn tháng này; mục tiêu {target:.0%}.")
        .datasource(INFLUX)
        .with_target(influx(q.rate_kpi("rate_month", agency=agency.code), "A"))
        .with_target(influx(q.count_kpi("overdue", agency=agency.code), "B"))
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .max(1)
        .no_value("—")
        .thresholds(rate_thresholds(target, settings.warn_margin))
        .override_by_query(
            "A", [dm.DynamicConfigValue(id_val="displayName", value=f"{labels.ON_TIME} {labels.MONTH}")]
        )
        .override_by_query("B", overdue_props)
        .reduce_options(last())
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
    content = (
        f"**Màu mỗi ô cơ quan** theo tỷ lệ đúng hạn tháng so với mục tiêu của chính cơ quan đó: "
        f"mục tiêu {target_summary(catalog)}.\n\n"
        f"Xanh: đạt mục tiêu · cam: thấp hơn dưới {settings.warn_margin * 100:g} điểm · đỏ: thấp hơn nữa · "
        "—: chưa có hồ sơ giải quyết trong tháng. Số thứ hai: hồ sơ quá hạn. Bấm vào ô để xem chi tiết."
    )
    return text.Panel().title("Chú thích").mode(tm.TextMode.MARKDOWN).content(content).transparent(True)


def wall(catalog: Catalog, settings: WallSettings = DEFAULTS) -> db.Dashboard:
    """The wall: 28 grid rows of 38 px fill 1080 px in kiosk mode."""
    s = settings
    centre = wall_centre(catalog)  # a province: the provincial centre's wall
    agencies = wall_agencies(catalog)
    grid = Grid()
    x = 0
    for tile in COUNT_TILES:
        grid.add(count_tile(tile, centre=centre), x, 0, tile.wall_width, 4)
        x += tile.wall_width
    for rate in RATE_TILES:
        grid.add(rate_tile(rate, s, centre=centre), x, 0, rate.wall_width, 4)
        x += rate.wall_width

    tile_w = GRID_COLUMNS // s.tiles_per_row
    y = 4
    for i, agency in enumerate(agencies):
        row, col = divmod(i, s.tiles_per_row)
        grid.add(agency_tile(agency, s), col * tile_w, y + row * s.tile_height, tile_w, s.tile_height)
    used = len(agencies) % s.tiles_per_row
    if used and GRID_COLUMNS - used * tile_w >= 3:
        last_row = y + (len(agencies) // s.tiles_per_row) * s.tile_height
        grid.add(legend(catalog, s), used * tile_w, last_row, GRID_COLUMNS - used * tile_w, s.tile_height)
    y += -(-len(agencies) // s.tiles_per_row) * s.tile_height

    bottom = max(28 - y, 12)
    half = bottom // 2
    grid.add(
        bars(
            "Quá hạn theo cơ quan",
            q.count_kpi("overdue", by_agency=True, centre=centre),
            thresholds("green", (1, "orange"), (5, "red")),
            alias="$tag_agency_name",
        ),
        0,
        y,
        6,
        bottom,
    )
    grid.add(per_hour("Lưu lượng hồ sơ theo giờ", None, centre), 6, y, 9, half)
    grid.add(index766_tile(centre=centre), 15, y, 3, half)
    grid.add(pie("Kênh tiếp nhận", q.channel_mix(centre=centre)), 18, y, 6, half)
    grid.add(open_by_state(None, centre), 6, y + half, 6, bottom - half)
    grid.add(
        bars("Kết quả giải quyết hôm nay", q.resolved_today_split(centre=centre),
             thresholds("green")).override_by_name(
            labels.LATE, fixed_colour("red")
        ),
        12,
        y + half,
        6,
        bottom - half,
    )
    grid.add(online_payment(None, centre), 18, y + half, 6, bottom - half)

    board = (
        dashboard(WALL_UID, TITLE, catalog.calendar.timezone)
        .refresh("10s")
        .time("now/d", "now")
        .description(f"{catalog.centre.name}: số liệu trực tiếp từ các cơ quan tại Trung tâm")
        .timepicker(db.TimePicker().hidden(True).refresh_intervals(["10s", "30s", "1m"]))
        .links(board_links(AGENCY_UID, PIPELINE_UID, INDEX766_UID,
                           *((PROVINCE_UID, CENTRE_UID) if catalog.is_province else ())))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board
