"""The worker's own health (sức khỏe hệ thống) for Prometheus: throughput, dead letters, lag, sink."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector


@dataclass(frozen=True)
class WorkerMetrics:
    """All metrics of one worker; a fresh registry per instance keeps tests independent."""

    registry: CollectorRegistry
    events: Counter
    dead_letters: Counter
    alerts: Counter
    open_dossiers: Gauge
    overdue_dossiers: Gauge
    due_soon_dossiers: Gauge
    consumer_lag: Gauge
    sink_latency: Histogram
    sink_errors: Counter
    sink_points: Counter
    sink_buffer: Gauge
    tick_seconds: Histogram
    snapshot_seconds: Histogram
    partitions: Gauge
    unsaved_records: Gauge
    gc_frozen: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> WorkerMetrics:
        reg = registry or CollectorRegistry()
        # the process's CPU, memory and garbage collections (`python_gc_*`, `process_*`), as the default
        # registry has them: what an operator reads first when a worker falls behind
        GCCollector(registry=reg)
        ProcessCollector(registry=reg)
        return cls(
            registry=reg,
            events=Counter(
                "ioc_events_total",
                "Valid events consumed, by type, agency and result (applied or duplicate)",
                ["type", "agency", "result"],
                registry=reg,
            ),
            dead_letters=Counter(
                "ioc_dead_letters_total",
                "Events sent to the dead-letter topic, by reason code",
                ["reason"],
                registry=reg,
            ),
            alerts=Counter("ioc_alerts_total", "SLA alerts published, by kind", ["kind"], registry=reg),
            open_dossiers=Gauge(
                "ioc_open_dossiers", "Open dossiers on this worker's partitions", ["agency"], registry=reg
            ),
            overdue_dossiers=Gauge(
                "ioc_overdue_dossiers",
                "Open overdue dossiers on this worker's partitions",
                ["agency"],
                registry=reg,
            ),
            due_soon_dossiers=Gauge(
                "ioc_due_soon_dossiers",
                "Open due-soon dossiers on this worker's partitions",
                ["agency"],
                registry=reg,
            ),
            consumer_lag=Gauge(
                "ioc_consumer_lag",
                "Records not yet consumed, per partition of the events topic",
                ["partition"],
                registry=reg,
            ),
            sink_latency=Histogram(
                "ioc_sink_write_seconds", "Latency of one InfluxDB batch write", registry=reg
            ),
            sink_errors=Counter(
                "ioc_sink_errors_total", "Failed InfluxDB batch writes (retried)", registry=reg
            ),
            sink_points=Counter("ioc_sink_points_total", "Points written to InfluxDB", registry=reg),
            sink_buffer=Gauge(
                "ioc_sink_buffer_points", "Points waiting to be written to InfluxDB", registry=reg
            ),
            tick_seconds=Histogram(
                "ioc_tick_seconds",
                "Time to fire due SLA timers of one partition",
                buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
                registry=reg,
            ),
            snapshot_seconds=Histogram(
                "ioc_snapshot_seconds",
                "Time to compute one KPI/II.06a/766 snapshot of every assigned partition",
                buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
                registry=reg,
            ),
            partitions=Gauge(
                "ioc_assigned_partitions", "Partitions of the events topic assigned here", registry=reg
            ),
            unsaved_records=Gauge(
                "ioc_unsaved_records",
                "Records consumed whose states wait for their InfluxDB points or alert deliveries before "
                "they are saved and their offsets committed",
                registry=reg,
            ),
            gc_frozen=Gauge(
                "ioc_gc_frozen_objects",
                "Objects of the worker's start-up moved out of the garbage collector's reach "
                "(streams/collector.py)",
                registry=reg,
            ),
        )
