"""The topics the worker creates: the events topic keeps its history, the ticks topic an hour."""

from __future__ import annotations

from streams.settings import StreamSettings
from streams.topics import HOUR_MS, topic_specs


def test_events_topic_is_kept_forever_and_ticks_for_an_hour() -> None:
    settings = StreamSettings(kafka_bootstrap="127.0.0.1:9", partitions=4)
    specs = {spec.name: spec for spec in topic_specs(settings, 4)}
    assert specs[settings.events_topic].topic_configs == {"retention.ms": "-1"}
    assert specs[settings.ticks_topic].topic_configs == {"retention.ms": str(HOUR_MS)}
    assert {spec.num_partitions for spec in specs.values()} == {4}
