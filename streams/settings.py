"""Worker settings from the environment (prefix IOC_), validated at start-up by pydantic-settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from dossiers.clock import BusinessClock
from kafka_settings import KafkaSettings
from streams.collector import FULL_COLLECTION_THRESHOLD, YOUNG_COLLECTION_THRESHOLD

EXACTLY_ONCE_REFUSED = (
    "exactly_once is not supported: with Kafka transactions the worker's own timer records (the ticks "
    "topic) stay invisible until a transaction commits, and Faust commits one only when records are "
    "acknowledged, so the worker never starts (faust-streaming 0.15.3; producers fenced after the "
    "transaction timeout). Use at_least_once: KPIs, points and alert ids are exactly once by design "
    "(docs/faults.md)"
)
"""Why `IOC_PROCESSING_GUARANTEE=exactly_once` is refused at start-up (issue 19)."""


class StreamSettings(KafkaSettings):
    """Every variable is documented in docs/configuration.md; defaults suit the local stack."""

    partitions: int = Field(
        6, ge=1, description="Partitions of the events topic (and of the internal topics)"
    )
    app_id: str = Field("ioc-monitor", description="Faust app id = consumer group")
    store: str = Field("memory://", description="Table store: memory:// (tests) or rocksdb:// (production)")
    data_dir: Path = Field(Path("./.ioc-worker"), description="Faust data dir (RocksDB files)")
    catalog: Path | None = Field(None, description="Catalog YAML; default: the shipped sample")
    metrics_port: int = Field(9108, description="Prometheus /metrics port (0 = disabled)")
    tick_seconds: float = Field(
        0.1,
        gt=0,
        description="How often due-time heaps are checked: a peek per partition, a tick record only when "
        "something is due; adds up to this much to an overdue alert's delay (0.5 before 2026-12-05)",
    )
    snapshot_seconds: float = Field(5.0, gt=0, description="How often KPI snapshots go to InfluxDB")
    influx_url: str | None = Field(None, description="InfluxDB URL (v2 write API); unset = no sink")
    influx_token: str = "dev-token"
    influx_org: str = "ioc"
    influx_bucket: str = "ioc"
    sink_batch_size: int = Field(5000, ge=1)
    sink_flush_seconds: float = Field(1.0, gt=0)
    sink_max_buffer: int = Field(
        500_000, ge=1000, description="Points held during an outage before backpressure"
    )
    clock_origin: float | None = Field(
        None, description="Business-time origin (epoch s) for accelerated demos"
    )
    clock_wall_origin: float | None = Field(None, description="Wall-clock instant matching clock_origin")
    clock_speed: float = Field(1.0, gt=0, description="Business seconds per wall second")
    alert_backfill_seconds: int | None = Field(
        2 * 86400,
        description="Events older than this raise no alert (a backfill must not page supervisors); "
        "none = always alert",
    )
    max_future_seconds: int | None = Field(
        3600,
        description="Events dated further ahead of the clock are dead-lettered (future_event); none = off",
    )
    session_timeout_seconds: float = Field(
        30.0,
        gt=1,
        description="Kafka group session timeout: how fast a dead worker's partitions move to the others",
    )
    max_poll_records: int | None = Field(
        None,
        ge=1,
        description="Records of one fetch handed over at most (Kafka's max.poll.records); none = all that "
        "were fetched. A bound shortens how long one batch holds the worker's loop, which its timers and a "
        "rebalance's revocation wait for (a fetch of 6 MiB held it about 1.5 s), at some throughput: "
        "measured 2,000 costs 5-10 %, 8,000 about 3 % (docs/benchmarks.md)",
    )
    sync_late_hours: float | None = Field(
        None,
        gt=0,
        description="Working hours after receipt by which a dossier should be synced to the national "
        "portal (Cổng DVCQG); later: a sync_late alert (none = no sync alerts; docs/index766.md)",
    )
    producer_linger_seconds: float = Field(
        0.02,
        ge=0,
        description="How long Faust's producer gathers the changelog, alert, tick and dead-letter records "
        "into one request (Faust's producer_linger): 20 ms gave the worker 1.04-1.15x and cut the broker's "
        "CPU per event to about a third (docs/benchmarks.md)",
    )
    gc_full_threshold: int = Field(
        FULL_COLLECTION_THRESHOLD,
        ge=1,
        description="Collections of the garbage collector's middle generation between two full ones "
        "(CPython's default 10): the records a worker holds in flight reach the oldest generation, and "
        "full collections over them stalled it 120-260 ms every one to three seconds (streams/collector.py, "
        "docs/benchmarks.md)",
    )
    gc_young_threshold: int = Field(
        YOUNG_COLLECTION_THRESHOLD,
        ge=1,
        description="Allocations of tracked objects between two young collections of the garbage collector "
        "(CPython's default 700)",
    )
    commit_seconds: float = Field(
        1.0,
        gt=0,
        description="How often Faust commits the offsets of the records saved so far (its "
        "broker_commit_interval); each commit first waits for Kafka to have their changelog records",
    )
    processing_guarantee: Literal["at_least_once"] = Field(
        "at_least_once",
        description="Faust's delivery mode; only at_least_once: the results are exactly once by design",
    )
    log_level: str = "WARNING"

    @field_validator("processing_guarantee", mode="before")
    @classmethod
    def _no_transactions(cls, value: object) -> object:
        if value == "exactly_once":
            raise ValueError(EXACTLY_ONCE_REFUSED)
        return value

    def sync_late_seconds(self) -> int | None:
        return None if self.sync_late_hours is None else round(self.sync_late_hours * 3600)

    def business_clock(self, wall: float) -> BusinessClock:
        """Business time as configured; without an origin, business time is wall time from `wall` on."""
        return BusinessClock(
            origin=wall if self.clock_origin is None else self.clock_origin,
            wall_origin=wall if self.clock_wall_origin is None else self.clock_wall_origin,
            speed=self.clock_speed,
        )
