"""The pipeline board (`ioc-pipeline`): the stream workers' own health, from Prometheus
(metric names of streams/metrics.py)."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.models import common as cm

from dossiers.catalog import Catalog
from grafana import queries as q
from grafana.datasources import PROMETHEUS
from grafana.panels import AGENCY_UID, PIPELINE_UID, WALL_UID, Grid, board_links, dashboard, prom, thresholds

TITLE = "IOC — Sức khỏe hệ thống xử lý"


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
        panel = panel.with_target(prom(expr, legend, ref))
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
            thresholds=thresholds("green", (1000, "red")),
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
            thresholds=thresholds("green", (1, "red")),
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
    grid.add(
        _prom_series("Bản ghi chờ lưu trạng thái", [(p["unsaved_records"], "{{instance}}")], "short"),
        0,
        31,
        24,
        7,
    )
    grid.add(_prom_series("CPU của worker", [(p["worker_cpu"], "{{instance}}")], "percentunit"), 0, 38, 12, 7)
    grid.add(
        _prom_series("Thu gom rác toàn phần / 5 phút", [(p["worker_full_gc"], "{{instance}}")], "short"),
        12,
        38,
        12,
        7,
    )
    board = (
        dashboard(PIPELINE_UID, TITLE, catalog.calendar.timezone)
        .refresh("10s")
        .time("now-1h", "now")
        .description("Sức khỏe các worker xử lý sự kiện (Prometheus)")
        .links(board_links(WALL_UID, AGENCY_UID))
    )
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board
