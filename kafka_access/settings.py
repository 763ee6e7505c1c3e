"""The names the ACLs are about, read from the environment by pydantic-settings, never by hand.

The topic names and the connection come from `KafkaSettings` (the same `IOC_*` variables as every
service); the worker's app id and the notifier's group are the two names only those services declare
(`IOC_APP_ID`, `IOC_NOTIFY_GROUP`): declared again here, with the same defaults (a unit test compares
them), so the access job does not import the worker or the notifier.
"""

from __future__ import annotations

from pydantic import Field

from kafka_access.acl import AclTopology
from kafka_settings import KafkaSettings


class KafkaAccessSettings(KafkaSettings):
    """`KafkaSettings` plus the worker's app id and the notifier's consumer group."""

    app_id: str = Field(AclTopology.app_id, description="Faust app id of the workers (group, topic prefix)")
    notify_group: str = Field(AclTopology.notify_group, description="Kafka consumer group of the notifier")

    def topology(self, *, worker_creates_topics: bool = True) -> AclTopology:
        """The ACLs' names for this deployment."""
        return AclTopology(
            events_topic=self.events_topic,
            dlq_topic=self.dlq_topic,
            alerts_topic=self.alerts_topic,
            ticks_topic=self.ticks_topic,
            app_id=self.app_id,
            notify_group=self.notify_group,
            worker_creates_topics=worker_creates_topics,
        )
