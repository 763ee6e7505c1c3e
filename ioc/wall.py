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
from dossiers.catalog import Catalog
from dossiers.kpi import Block
from ioc.readback import LiveKpis


def _late(seconds: int) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} ngày" if hours >= 48 else f"{hours:.1f} giờ"


def render(
    catalog: Catalog, live: LiveKpis, alerts: Sequence[Alert], business_now: datetime, status: str = ""
) -> Group:
    """The whole board: centre header, one row per agency, the alert feed."""
    centre = live.centre
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
    for agency in catalog.agencies:
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
    title = f"{catalog.centre.name} — {business_now:%d/%m/%Y %H:%M}"
    if catalog.sample:
        title = f"[bold red]{labels.SAMPLE_CATALOG_WARNING}[/bold red] — {title}"
    return Group(
        Panel(header, title=title, subtitle=status or None),
        Panel(grid, title="Các cơ quan"),
        Panel(feed, title="Cảnh báo mới nhất"),
    )
