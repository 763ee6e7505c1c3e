"""The live terminal wall (màn hình giám sát) of `ioc up`: the IOC board for a terminal.

Rendering only: it takes the KPIs read back from InfluxDB (what Grafana would show) and the latest
alerts, and returns a rich renderable. Labels are in Vietnamese, as on the wall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dossiers.catalog import Catalog
from dossiers.kpi import Block
from streams.readback import LiveKpis

ALERT_LABELS = {"overdue": "QUÁ HẠN", "due_soon": "SẮP ĐẾN HẠN", "resolved_late": "TRẢ TRỄ"}


@dataclass(frozen=True)
class AlertLine:
    kind: str
    agency: str
    dossier: str
    procedure: str | None
    late_seconds: int
    at: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AlertLine:
        return cls(
            body.get("kind", "?"),
            body.get("agency", "?"),
            body.get("dossier", "?"),
            body.get("procedure"),
            int(body.get("late_seconds") or 0),
            str(body.get("at") or ""),
        )


def _rate(good: int, total: int) -> float | None:
    return good / total if total else None


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _late(seconds: int) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} ngày" if hours >= 48 else f"{hours:.1f} giờ"


def render(
    catalog: Catalog, live: LiveKpis, alerts: Sequence[AlertLine], business_now: datetime, status: str = ""
) -> Group:
    """The whole board: centre header, one row per agency, the alert feed."""
    centre = live.centre
    header = Table.grid(expand=True, padding=(0, 2))
    for _ in range(7):
        header.add_column(justify="center")
    month_rate = _rate(centre.month_good, centre.month_resolved)
    satisfaction = _rate(centre.satisfied, centre.satisfied + centre.unsatisfied)
    header.add_row(
        *(
            Text(label, style="dim")
            for label in (
                "Tiếp nhận hôm nay",
                "Giải quyết hôm nay",
                "Đang giải quyết",
                "Quá hạn",
                "Sắp đến hạn",
                "Đúng hạn (tháng)",
                "Hài lòng",
            )
        )
    )
    header.add_row(
        Text(str(centre.received_today), style="bold cyan"),
        Text(str(centre.today_resolved), style="bold cyan"),
        Text(str(centre.open), style="bold"),
        Text(str(centre.overdue), style="bold red" if centre.overdue else "bold"),
        Text(str(centre.due_soon), style="bold yellow"),
        Text(_pct(month_rate), style="bold green"),
        Text(_pct(satisfaction), style="bold green"),
    )
    grid = Table(expand=True, show_edge=False, pad_edge=False)
    for title, justify in (
        ("Cơ quan", "left"),
        ("Tiếp nhận", "right"),
        ("Đang xử lý", "right"),
        ("Quá hạn", "right"),
        ("Sắp đến hạn", "right"),
        ("Đúng hạn", "right"),
        ("Mục tiêu", "right"),
    ):
        grid.add_column(title, justify=justify)  # type: ignore[arg-type]
    for agency in catalog.agencies:
        block = live.agencies.get(agency.code, Block())
        rate = _rate(block.early + block.on_time, block.early + block.on_time + block.late)
        colour = "white" if rate is None else ("green" if rate >= agency.target_on_time else "red")
        grid.add_row(
            f"{agency.label} [dim]({agency.code})[/dim]",
            str(block.received),
            str(block.open),
            Text(str(block.overdue), style="red" if block.overdue else ""),
            str(block.due_soon),
            Text(_pct(rate), style=colour),
            _pct(agency.target_on_time),
        )
    feed = Table(expand=True, show_header=False, show_edge=False, box=None)
    feed.add_column(width=12)
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
            Text(ALERT_LABELS.get(alert.kind, alert.kind), style=style),
            f"{label} · {alert.dossier} · {alert.procedure or ''}{extra}",
        )
    if not alerts:
        feed.add_row("", Text("Chưa có cảnh báo", style="dim"))
    title = f"{catalog.centre.name} — {business_now:%d/%m/%Y %H:%M}"
    return Group(
        Panel(header, title=title, subtitle=status or None),
        Panel(grid, title="Các cơ quan"),
        Panel(feed, title="Cảnh báo mới nhất"),
    )
