"""How every ioc-monitor service reaches Kafka (kết nối Kafka): one settings base and its client options.

The stream worker, the notifier, the producers, the access-control job and the local stack all inherit
`KafkaSettings`, so `IOC_KAFKA_BOOTSTRAP`, the topic names and the four security variables mean the same
everywhere and are parsed once, by pydantic-settings.
"""

from kafka_settings.settings import SASL_PROTOCOLS, KafkaSettings, SaslMechanism, SecurityProtocol

__all__ = ["SASL_PROTOCOLS", "KafkaSettings", "SaslMechanism", "SecurityProtocol"]
