"""The live terminal wall (màn hình giám sát) of `ioc up`: the IOC board for a terminal.

Rendering only: it takes the KPIs read back from InfluxDB (what Grafana would show) and the latest
alerts, and returns a rich renderable. Labels are in Vietnamese, as on the wall.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dossiers import labels
from dossiers.alerts import Alert
from dossiers.catalog import Agency, Catalog
from dossiers.kpi import Block, CentreRow, worst_first
from dossiers.kpi import centre_rows as rank_input
from ioc.readback import LiveKpis


def _late(seconds: int) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} ngày" if hours >= 48 else f"{hours:.1f} giờ"


WORST_COMMUNES = 10
"""How many commune centres the province page lists (the worst first)."""


def centre_rows(catalog: Catalog, live: LiveKpis) -> list[CentreRow]:
    """Every centre of the catalog, in catalog order, from the blocks read back from InfluxDB."""
    return rank_input(catalog, live.agencies)


def render(
    catalog: Catalog, live: LiveKpis, alerts: Sequence[Alert], business_now: datetime, status: str = "",
    centre: str | None = None,
) -> Group:
    """The board. A single centre (or `centre`, one centre of a province): its header, one row per agency,
    the alert feed. A province without `centre`: the province page (`province_page`)."""
    if catalog.is_province and centre is None:
        return province_page(catalog, live, alerts, business_now, status)
    if centre is not None:
        codes = {a.code for a in catalog.agencies_of(centre)}
        live = LiveKpis({k: v for k, v in live.agencies.items() if k in codes}, live.as_of, live.partitions)
        alerts = [a for a in alerts if a.agency in codes]
    place = catalog.centre_by_code[centre] if centre is not None else catalog.centre
    agencies = catalog.agencies_of(place.code) if centre is not None else catalog.agencies
    return Group(
        Panel(_headline(live.centre), title=_title(catalog, place.name, business_now),
              subtitle=status or None),
        Panel(_agency_table(agencies, live), title="Các cơ quan"),
        Panel(_feed(catalog, alerts), title="Cảnh báo mới nhất"),
    )


def province_page(catalog: Catalog, live: LiveKpis, alerts: Sequence[Alert], business_now: datetime,
                  status: str = "") -> Group:
    """The province (toàn tỉnh): its totals, the provincial centre, the ten commune centres that fall
    behind most (overdue, then under target), and the alert feed of every centre."""
    rows = centre_rows(catalog, live)
    provincial = [r for r in rows if r.centre.code == catalog.centre.code]
    communes = worst_first([r for r in rows if r.centre.code != catalog.centre.code])
    table = _centre_table()
    for row in provincial:
        _centre_line(table, row)
    table.add_section()
    for row in communes[:WORST_COMMUNES]:
        _centre_line(table, row)
    behind = sum(1 for r in communes if r.block.overdue or r.gap > 0)
    name = catalog.province.name if catalog.province is not None else catalog.centre.name
    return Group(
        Panel(_headline(live.centre), title=_title(catalog, f"Toàn {name}", business_now),
              subtitle=status or None),
        Panel(table, title=f"Trung tâm cấp tỉnh và {min(WORST_COMMUNES, len(communes))} Trung tâm cấp xã "
                           f"chậm nhất ({behind}/{len(communes)} có hồ sơ quá hạn hoặc dưới mục tiêu)"),
        Panel(_feed(catalog, alerts), title="Cảnh báo mới nhất"),
    )


def _title(catalog: Catalog, name: str, business_now: datetime) -> str:
    title = f"{name} — {business_now:%d/%m/%Y %H:%M}"
    return f"[bold red]{labels.SAMPLE_CATALOG_WARNING}[/bold red] — {title}" if catalog.sample else title


def _centre_table() -> Table:
    table = Table(expand=True, show_edge=False, pad_edge=False)
    for title, justify in (("Trung tâm", "left"), (labels.RECEIVED, "right"), (labels.OPEN, "right"),
                           (labels.OVERDUE, "right"), (labels.DUE_SOON, "right"),
                           (f"{labels.ON_TIME_RATE} ({labels.MONTH})", "right"), (labels.TARGET, "right")):
        table.add_column(title, justify=justify)  # type: ignore[arg-type]
    return table


def _centre_line(table: Table, row: CentreRow) -> None:
    rate, block = row.rate, row.block
    colour = "white" if rate is None or row.target is None else ("green" if rate >= row.target else "red")
    table.add_row(
        f"{row.centre.name} [dim]({row.centre.code})[/dim]",
        str(block.received),
        str(block.open),
        Text(str(block.overdue), style="red" if block.overdue else ""),
        str(block.due_soon),
        Text(labels.percent(rate), style=colour),
        labels.percent(row.target),
    )


def _headline(centre: Block) -> Table:
    header = Table.grid(expand=True, padding=(0, 2))
    for _ in range(7):
        header.add_column(justify="center")
    figures = centre.as_dict()
    header.add_row(
        *(
            Text(label, style="dim")
            for label in (
                f"{labels.RECEIVED} {labels.TODAY}",
                f"{labels.RESOLVED} {labels.TODAY}",
                labels.OPEN,
                labels.OVERDUE,
                labels.DUE_SOON,
                f"{labels.ON_TIME_RATE} ({labels.MONTH})",
                labels.SATISFACTION,
            )
        )
    )
    header.add_row(
        Text(str(centre.received_today), style="bold cyan"),
        Text(str(centre.today_resolved), style="bold cyan"),
        Text(str(centre.open), style="bold"),
        Text(str(centre.overdue), style="bold red" if centre.overdue else "bold"),
        Text(str(centre.due_soon), style="bold yellow"),
        Text(labels.percent(figures["on_time_rate_month"]), style="bold green"),
        Text(labels.percent(figures["satisfaction_rate"]), style="bold green"),
    )
    return header


def _agency_table(agencies: Sequence[Agency], live: LiveKpis) -> Table:
    grid = Table(expand=True, show_edge=False, pad_edge=False)
    for title, justify in (
        (labels.AGENCY, "left"),
        (labels.RECEIVED, "right"),
        (labels.OPEN, "right"),
        (labels.OVERDUE, "right"),
        (labels.DUE_SOON, "right"),
        (labels.ON_TIME_RATE, "right"),
        (labels.TARGET, "right"),
    ):
        grid.add_column(title, justify=justify)  # type: ignore[arg-type]
    for agency in agencies:
        block = live.agencies.get(agency.code, Block())
        rate = block.as_dict()["on_time_rate"]
        colour = "white" if rate is None else ("green" if rate >= agency.target_on_time else "red")
        grid.add_row(
            f"{agency.label} [dim]({agency.code})[/dim]",
            str(block.received),
            str(block.open),
            Text(str(block.overdue), style="red" if block.overdue else ""),
            str(block.due_soon),
            Text(labels.percent(rate), style=colour),
            labels.percent(agency.target_on_time),
        )
    return grid


def _feed(catalog: Catalog, alerts: Sequence[Alert]) -> Table:
    feed = Table(expand=True, show_header=False, show_edge=False, box=None)
    feed.add_column(width=22)
    feed.add_column()
    for alert in alerts:
        style = "red" if alert.kind == "overdue" else "yellow"
        label = (
            catalog.agency_by_code[alert.agency].label
            if alert.agency in catalog.agency_by_code
            else alert.agency
        )
        extra = f" trễ {_late(alert.late_seconds)}" if alert.late_seconds else ""
        feed.add_row(
            Text(labels.ALERT_TAG.get(alert.kind, alert.kind), style=style),
            f"{label} · {alert.dossier} · {alert.procedure or ''}{extra}",
        )
    if not alerts:
        feed.add_row("", Text("Chưa có cảnh báo", style="dim"))
    return feed
