"""The worker's metrics as an observer (like faust's `PrometheusMonitor`): processing code reports what
happened, this turns it into Prometheus metrics. Nothing else in the stream touches prometheus_client
(the InfluxDB sink keeps its own counters on the same `WorkerMetrics`)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import start_http_server

from dossiers.kpi import Block
from streams.metrics import WorkerMetrics


class WorkerSensor:
    """Told about every event, dead letter, alert, tick, snapshot and lag reading of one worker."""

    def __init__(self, metrics: WorkerMetrics | None = None):
        self.metrics = metrics or WorkerMetrics.create()

    def serve(self, port: int) -> None:
        """Expose /metrics on `port` (Prometheus scrapes it; the fault tests read it)."""
        start_http_server(port, registry=self.metrics.registry)

    def on_events(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Valid events consumed, by (type, agency, status); `status` is applied or duplicate. Counted
        per batch: one increment per label set, not per event."""
        events = self.metrics.events
        for (kind, agency, status), n in counts.items():
            events.labels(kind, agency, status).inc(n)

    def on_unsaved(self, records: int) -> None:
        """Records whose states are staged but not saved yet (held back behind InfluxDB or Kafka)."""
        self.metrics.unsaved_records.set(records)

    def on_dead_letter(self, code: str) -> None:
        self.metrics.dead_letters.labels(code).inc()

    def on_alert(self, kind: str) -> None:
        self.metrics.alerts.labels(kind).inc()

    def on_tick(self, seconds: float) -> None:
        """One partition's due timers fired in `seconds`."""
        self.metrics.tick_seconds.observe(seconds)

    def on_assigned(self, partitions: int) -> None:
        self.metrics.partitions.set(partitions)

    def on_snapshot(self, agencies: Mapping[str, Block]) -> None:
        """Open, overdue and due-soon dossiers per agency, summed over this worker's partitions."""
        for agency, block in agencies.items():
            self.metrics.open_dossiers.labels(agency).set(block.open)
            self.metrics.overdue_dossiers.labels(agency).set(block.overdue)
            self.metrics.due_soon_dossiers.labels(agency).set(block.due_soon)

    def on_snapshot_time(self, seconds: float) -> None:
        self.metrics.snapshot_seconds.observe(seconds)

    def on_lag(self, partition: int, lag: int) -> None:
        """Records of an events partition not yet consumed."""
        self.metrics.consumer_lag.labels(str(partition)).set(max(lag, 0))
