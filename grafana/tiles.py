"""The headline tiles, once: the wall shows them for the centre, the drill-down for `$agency`.

A tile is a row of a table (title from the glossary, KPI name of grafana/queries.py, colours); `count_tile`
and `rate_tile` build the panel for the centre (`agency=None`) or for one agency.
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.models import common as cm

from dossiers import labels
from dossiers.catalog import Agency, Catalog
from dossiers.index766 import COVERED, GROUPS
from grafana import queries as q
from grafana.datasources import INFLUX
from grafana.panels import (
    INDEX766_UID,
    count_stat,
    display_name,
    influx,
    last,
    rate_stat,
    rate_thresholds,
    thresholds,
)
from grafana.settings import WallSettings


@dataclass(frozen=True)
class CountTile:
    title: str
    kpi: str
    """A key of `queries.COUNTS`."""
    base: str
    """Colour below the first step."""
    steps: tuple[tuple[float, str], ...] = ()
    background: bool = False
    """Paint the whole tile (the figures that need action: overdue, due soon)."""
    wall_width: int = 3


@dataclass(frozen=True)
class RateTile:
    title: str
    kpi: str
    """A key of `queries.RATES`."""
    goal: str
    """Which `WallSettings` target colours it: "centre_target" or "satisfaction_target"."""
    wall_width: int = 3


COUNT_TILES: tuple[CountTile, ...] = (
    CountTile(f"{labels.RECEIVED} {labels.TODAY}", "received_today", "blue"),
    CountTile(f"{labels.RESOLVED} {labels.TODAY}", "resolved_today", "green"),
    CountTile(labels.OPEN, "open", "blue"),
    CountTile(labels.OVERDUE, "overdue", "green", ((1, "red"),), background=True, wall_width=2),
    CountTile(labels.DUE_SOON, "due_soon", "green", ((1, "orange"),), background=True, wall_width=2),
)
RATE_TILES: tuple[RateTile, ...] = (
    RateTile(f"{labels.ON_TIME_RATE} {labels.TODAY}", "rate_today", "centre_target"),
    RateTile(f"{labels.ON_TIME_RATE} {labels.MONTH}", "rate_month", "centre_target"),
    RateTile(f"{labels.ON_TIME_RATE} {labels.YEAR}", "rate_year", "centre_target"),
    RateTile(labels.SATISFACTION_RATE, "satisfaction", "satisfaction_target", wall_width=2),
)
MONTH_RATE = RATE_TILES[1]
SATISFACTION = RATE_TILES[3]


def count_tile(tile: CountTile, *, agency: str | None = None, centre: str | None = None) -> stat.Panel:
    """One count for the whole catalog, for `agency` (a code or the `$agency` variable), or for one
    `centre` of a province (the provincial centre's wall)."""
    return count_stat(tile.title, q.count_kpi(tile.kpi, agency=agency, centre=centre),
                      thresholds(tile.base, *tile.steps), background=tile.background)


def rate_tile(
    tile: RateTile,
    settings: WallSettings,
    *,
    agency: str | None = None,
    colours: db.ThresholdsConfig | None = None,
    description: str | None = None,
    centre: str | None = None,
) -> stat.Panel:
    """One rate, coloured against its goal unless `colours` says otherwise (an agency's own target)."""
    goal: float = getattr(settings, tile.goal)
    return rate_stat(
        tile.title,
        q.rate_kpi(tile.kpi, agency=agency, centre=centre),
        colours if colours is not None else rate_thresholds(goal, settings.warn_margin),
        description=f"{labels.TARGET} {goal:.0%}" if description is None else description,
    )


def target_summary(catalog: Catalog) -> str:
    """The agencies' on-time targets in words, from the catalog (a province: its provincial centre's
    agencies, those of its wall): "99% (riêng ĐKĐĐ TP 80%)"."""
    agencies = wall_agencies(catalog)
    targets = [a.target_on_time for a in agencies]
    usual = max(set(targets), key=targets.count)
    others = ", ".join(f"{a.label} {a.target_on_time:.0%}" for a in agencies if a.target_on_time != usual)
    return f"{usual:.0%}" + (f" (riêng {others})" if others else "")



def index766_tile(*, agency: str | None = None, centre: str | None = None) -> stat.Panel:
    """The 766 index of the running period on the part events measure: the points and, under them, the
    maximum of the items that have a rate so far (N/A items are out of both, as in `ioc report 766`)."""
    total = sum(GROUPS.values())
    return (
        stat.Panel()
        .title(labels.INDEX766_LIVE_TITLE)
        .description(
            f"{labels.INDEX766_SUBTITLE}: {COVERED}/{total} điểm của Quyết định 766/QĐ-TTg, kỳ báo cáo đang "
            f"chạy. {labels.INDEX766_POINTS} / {labels.INDEX766_MAX.lower()} của các chỉ tiêu đã có số liệu."
        )
        .datasource(INFLUX)
        .with_target(influx(q.i766_scores(by_agency=False, agency=agency, centre=centre), table_format=True))
        .reduce_options(last().fields("/^(points|max)$/"))
        .unit("none")
        .decimals(1)
        .no_value("—")
        .thresholds(thresholds("blue"))
        .override_by_name("points", [display_name(labels.INDEX766_POINTS)])
        .override_by_name("max", [display_name(labels.INDEX766_MAX)])
        .graph_mode(cm.BigValueGraphMode.NONE)
        .color_mode(cm.BigValueColorMode.VALUE)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .orientation(cm.VizOrientation.VERTICAL)
        .justify_mode(cm.BigValueJustifyMode.CENTER)
        .links([db.DashboardLink(labels.INDEX766_LIVE_TITLE).url(f"/d/{INDEX766_UID}")])
    )


def wall_centre(catalog: Catalog) -> str | None:
    """The centre the wall (`ioc-wall`) filters on: None for a single-centre catalog (everything), the
    provincial centre for a province (the communes are on `ioc-province` and `ioc-centre`)."""
    return catalog.centre.code if catalog.is_province else None


def wall_agencies(catalog: Catalog) -> tuple[Agency, ...]:
    """The agencies with a tile on the wall: every agency, or the provincial centre's for a province."""
    centre = wall_centre(catalog)
    return catalog.agencies_of(centre) if centre is not None else tuple(catalog.agencies)
