"""The events topic read once from its earliest offset (kafka-python, no consumer group, nothing
committed): a report is a replay of the whole history up to the end offsets seen at the start."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from kafka_settings import KafkaSettings

POLL_MS = 500


class TopicNotFound(RuntimeError):
    """The events topic does not exist on the broker (nothing was ever produced, or a wrong name)."""


@dataclass(frozen=True, slots=True)
class TopicRecord:
    partition: int
    offset: int
    value: bytes | None


def read_topic(settings: KafkaSettings, topic: str | None = None, timeout: float = 60.0,
               ) -> Iterator[TopicRecord]:
    """Every record of `topic` (default: the events topic) from the earliest offset to the end offsets
    taken when the read starts; records produced meanwhile are left for the next report."""
    name = topic or settings.events_topic
    consumer = KafkaConsumer(
        bootstrap_servers=[h.strip() for h in settings.kafka_bootstrap.split(",") if h.strip()],
        client_id="ioc-report", group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
        consumer_timeout_ms=POLL_MS, **settings.kafka_python_kwargs())
    try:
        if name not in consumer.topics():
            raise TopicNotFound(f"topic {name!r} not found on {settings.kafka_bootstrap}")
        partitions = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = {tp: end for tp, end in consumer.end_offsets(partitions).items() if end > 0}
        deadline = time.monotonic() + timeout
        while ends:
            batch = consumer.poll(timeout_ms=POLL_MS)
            for tp, records in batch.items():
                for record in records:
                    if tp in ends and record.offset < ends[tp]:
                        yield TopicRecord(tp.partition, record.offset, record.value)
            for tp in list(ends):
                if consumer.position(tp) >= ends[tp]:
                    del ends[tp]
                    consumer.pause(tp)
            if batch:
                deadline = time.monotonic() + timeout
            elif time.monotonic() > deadline:
                raise TimeoutError(f"no record from {name!r} for {timeout:.0f} s before its end offsets")
    finally:
        consumer.close(autocommit=False)
