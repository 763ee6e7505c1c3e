"""Topic creation: explicit partitions and retention, so workers scale, ticks do not pile up, and the events
topic keeps its whole history (the periodic reports replay it from the earliest offset: docs/reports.md)."""

from __future__ import annotations

import contextlib
import logging
import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.settings import StreamSettings

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
EVENTS_TOPIC_CONFIGS = {"retention.ms": "-1"}
"""The events topic is the history `ioc report ii06a --from-kafka` and `ioc replay` rebuild from: never
deleted by age (Kafka's default would delete records after 7 days). A year of a province is a few GB."""


def topic_specs(settings: StreamSettings, n: int) -> list[NewTopic]:
    return [
        NewTopic(settings.events_topic, n, 1, topic_configs=dict(EVENTS_TOPIC_CONFIGS)),
        NewTopic(settings.dlq_topic, n, 1),
        NewTopic(settings.alerts_topic, n, 1),
        NewTopic(settings.ticks_topic, n, 1, topic_configs={"retention.ms": str(HOUR_MS)}),
    ]


def ensure_topics(settings: StreamSettings, timeout: float = 60.0) -> int:
    """Create the project's topics if missing; returns the events topic's partition count.

    An events topic that already exists decides the partition count of the others (the ticks topic
    and the table changelog must be co-partitioned with it). Idempotent; waits for a starting broker.
    """
    security = settings.kafka_python_kwargs()  # before the retry loop: a configuration error fails at once
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap, client_id="ioc-topics", **security
            )
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    try:
        existing = set(admin.list_topics())
        n = settings.partitions
        if settings.events_topic in existing:
            n = len(admin.describe_topics([settings.events_topic])[0]["partitions"])
        missing = [t for t in topic_specs(settings, n) if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
        while True:  # a topic just created may be described before its partitions exist
            described = admin.describe_topics([settings.events_topic, settings.ticks_topic])
            counts = {d["name"]: len(d["partitions"]) for d in described}
            if all(counts.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if len(set(counts.values())) != 1:
            raise RuntimeError(
                f"{settings.events_topic} and {settings.ticks_topic} must have the same number of "
                f"partitions (co-partitioned), found {counts}"
            )
        return n
    finally:
        admin.close()
