"""The running period of form II.06a (`ioc-ii06a`): the form of the reporting month in progress, one row
per agency in catalog order, columns (3)..(13) with the form's headers and the refusals at the counter
outside it, a total in the footer. Figures are the workers' running counters (`ii06a` measurement,
docs/reports.md); they equal `ioc report ii06a --period current` at the snapshot's instant.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from dossiers import labels
from dossiers.catalog import Catalog
from grafana import queries as q
from grafana.datasources import INFLUX
from grafana.panels import REPORT_UID, WALL_UID, Grid, board_links, dashboard, influx, text_stat

TITLE = labels.II06A_LIVE_TITLE


def headers() -> dict[str, str]:
    """{field: column header}: `(3) Tiếp nhận: Tổng số` ... then the column outside the form."""
    out = {"tt": labels.II06A_ROW, "agency_name": labels.II06A_GROUP["agency"]}
    for group, columns in labels.II06A_HEADER:
        for key, sub in columns:
            out[key] = f"({key[1:]}) {group}: {sub}"
    out["refused_at_counter"] = f"{labels.II06A_OUTSIDE}: {labels.II06A_REFUSED}"
    return out


def form_table() -> table.Panel:
    """The form: the board query's rows, renamed and ordered like the paper form, summed in the footer."""
    names = headers()
    order = {name: i for i, name in enumerate(names)}
    hidden = {"Time": True, "agency": True, "period_from": True, "period_to": True}
    return (
        table.Panel()
        .title(f"{labels.II06A_FORM} — {labels.II06A_TITLE}")
        .description(f"{labels.II06A_UNIT}. {labels.II06A_TOTAL}: dòng cuối. "
                     "(3) = (4) + (5) + (6) = (7) + (11); (7) = (8) + (9) + (10); (11) = (12) + (13)")
        .datasource(INFLUX)
        .with_target(influx(q.ii06a_form(), table_format=True))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": hidden, "indexByName": order, "renameByName": names},
            )
        )
        .with_transformation(
            dm.DataTransformerConfig(id_val="sortBy",
                                     options={"sort": [{"field": names["tt"], "desc": False}]})
        )
        .footer(
            cb.TableFooterOptions().show(True).reducer(["sum"]).count_rows(False)
            .fields([names[f] for f in q.II06A_FIELDS])
        )
        .override_by_name(names["tt"], [dm.DynamicConfigValue(id_val="custom.width", value=50)])
        .override_by_name(names["agency_name"], [dm.DynamicConfigValue(id_val="custom.width", value=320)])
        .unit("none")
        .decimals(0)
        .no_value("Chưa có số liệu")
        .cell_height(cm.TableCellHeight.SM)
    )


def report_board(catalog: Catalog) -> db.Dashboard:
    """The running form with the period's first and last day and the instant its figures describe."""
    grid = Grid()
    grid.add(text_stat(labels.FROM_DAY, q.ii06a_form(), "period_from", "string"), 0, 0, 6, 3)
    grid.add(text_stat(labels.TO_DAY, q.ii06a_form(), "period_to", "string"), 6, 0, 6, 3)
    grid.add(text_stat(labels.AS_OF, q.ii06a_as_of(), "as_of", "dateTimeAsLocal"), 12, 0, 12, 3)
    grid.add(form_table(), 0, 3, 24, 10 + len(catalog.agencies))
    board = (
        dashboard(REPORT_UID, TITLE, catalog.calendar.timezone)
        .refresh("30s")
        .time("now-5m", "now")
        .description(f"{labels.II06A_FORM}, kỳ báo cáo đang chạy (15 tháng trước - 14 tháng này)")
        .links(board_links(WALL_UID))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board
