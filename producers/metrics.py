"""Prometheus metrics of the producer SDK: what an agency's operator needs to see that events flow.

Labels stay low-cardinality on purpose: the agency code (about 19 per centre, capped) and, for invalid
events, the short reason code of `InvalidEvent` — never a dossier code or an event id.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

MAX_AGENCY_LABELS = 100
"""Beyond this many distinct agency codes, further ones are counted under `other`."""

UNKNOWN_AGENCY = "unknown"
OTHER_AGENCY = "other"

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
)
"""Seconds from `send()` to the broker's ack; the long tail covers events that waited in the spool."""


@dataclass
class ProducerMetrics:
    """The producer's counters, gauge and histogram, registered once per registry."""

    sent: Counter
    failed: Counter
    spooled: Counter
    invalid: Counter
    spool_depth: Gauge
    send_latency: Histogram
    _labels: set[str] = field(default_factory=set)
    _labels_lock: threading.Lock = field(default_factory=threading.Lock)

    def agency_label(self, code: str | None) -> str:
        """The label value for an agency code, capped so a misbehaving source cannot explode the series."""
        if not code:
            return UNKNOWN_AGENCY
        if code in self._labels:
            return code
        with self._labels_lock:
            if len(self._labels) >= MAX_AGENCY_LABELS:
                return OTHER_AGENCY
            self._labels.add(code)
        return code


_BY_REGISTRY: dict[int, tuple[CollectorRegistry, ProducerMetrics]] = {}
_BY_REGISTRY_LOCK = threading.Lock()


def producer_metrics(registry: CollectorRegistry | None = REGISTRY) -> ProducerMetrics:
    """The metrics registered in `registry` (created on first use; shared by producers of a process).

    `registry=None` gives unregistered metrics (nothing is exported), e.g. for benchmarks.
    Tests pass a fresh `CollectorRegistry()`.
    """
    if registry is not None:
        with _BY_REGISTRY_LOCK:
            found = _BY_REGISTRY.get(id(registry))
            if found is not None and found[0] is registry:
                return found[1]
            metrics = _create(registry)
            _BY_REGISTRY[id(registry)] = (registry, metrics)
            return metrics
    return _create(None)


def _create(registry: CollectorRegistry | None) -> ProducerMetrics:
    return ProducerMetrics(
        sent=Counter(
            "ioc_producer_events_sent",
            "Events acknowledged by Kafka (directly or after waiting in the spool).",
            ["agency"],
            registry=registry,
        ),
        failed=Counter(
            "ioc_producer_events_failed",
            "Send attempts that failed (the event then waits in the spool; it is not lost).",
            ["agency"],
            registry=registry,
        ),
        spooled=Counter(
            "ioc_producer_events_spooled",
            "Events written to the local spool (broker unreachable, send failed, or spool not yet empty).",
            ["agency"],
            registry=registry,
        ),
        invalid=Counter(
            "ioc_producer_events_invalid",
            "Events refused before sending because they break the contract or the catalog.",
            ["agency", "code"],
            registry=registry,
        ),
        spool_depth=Gauge(
            "ioc_producer_spool_depth",
            "Events waiting in the local spool.",
            ["agency"],
            registry=registry,
        ),
        send_latency=Histogram(
            "ioc_producer_send_latency_seconds",
            "Time from send() (or from spooling) to the broker's acknowledgement.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
    )
