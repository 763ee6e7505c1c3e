"""`KafkaSettings`: bootstrap servers, topic names and client security, from `IOC_*` variables.

PLAINTEXT (the default, the local stack) sends no credentials. SASL_PLAINTEXT and SASL_SSL need
`IOC_KAFKA_USERNAME` and `IOC_KAFKA_PASSWORD`; SASL_SSL verifies the broker against the system's CA store
with host-name checking (a private CA: install it in the image's trust store). docs/security.md.
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dossiers import wire

if TYPE_CHECKING:
    import faust


class SecurityProtocol(StrEnum):
    """How clients talk to the broker."""

    PLAINTEXT = "PLAINTEXT"  # the local stack on loopback only
    SASL_PLAINTEXT = "SASL_PLAINTEXT"  # a lab network
    SASL_SSL = "SASL_SSL"  # production


class SaslMechanism(StrEnum):
    """How a SASL client proves who it is (the compose stack creates SCRAM-SHA-256 users)."""

    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"
    PLAIN = "PLAIN"


SASL_PROTOCOLS = frozenset({SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL})


class KafkaSettings(BaseSettings):
    """The Kafka part of every service's settings; subclasses add their own variables."""

    model_config = SettingsConfigDict(env_prefix="IOC_", extra="ignore", env_parse_none_str="none")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated")
    events_topic: str = Field(wire.EVENTS_TOPIC, description="Topic of the agencies' dossier-event/1 records")
    dlq_topic: str = Field(wire.DLQ_TOPIC, description="Dead-letter topic of refused records")
    alerts_topic: str = Field(wire.ALERTS_TOPIC, description="Topic of the workers' dossier-alert/1 records")
    ticks_topic: str = Field(
        wire.TICKS_TOPIC, description="Internal timer topic, co-partitioned with the events topic"
    )
    kafka_security_protocol: SecurityProtocol = Field(
        SecurityProtocol.PLAINTEXT,
        description="PLAINTEXT (local), SASL_PLAINTEXT (loopback/lab) or SASL_SSL (production)",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        SaslMechanism.SCRAM_SHA_256, description="SASL mechanism when the protocol is SASL_*"
    )
    kafka_username: str | None = Field(None, description="SASL user (principal User:<name>)")
    kafka_password: SecretStr | None = Field(None, description="SASL password of kafka_username")

    def sasl_login(self) -> tuple[str, str] | None:
        """(username, password) for SASL_*, None for PLAINTEXT; ValueError naming the variables if absent."""
        protocol = self.kafka_security_protocol
        if protocol not in SASL_PROTOCOLS:
            return None
        user = self.kafka_username
        password = self.kafka_password.get_secret_value() if self.kafka_password is not None else ""
        if not user or not password:
            raise ValueError(
                f"IOC_KAFKA_SECURITY_PROTOCOL={protocol.value} needs IOC_KAFKA_USERNAME and "
                "IOC_KAFKA_PASSWORD"
            )
        return user, password

    def ssl_context(self) -> ssl.SSLContext | None:
        """The system's CA store with host-name checking, for SASL_SSL only."""
        if self.kafka_security_protocol != SecurityProtocol.SASL_SSL:
            return None
        return ssl.create_default_context()

    def kafka_python_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients (admin, consumer, producer); always spreadable."""
        login = self.sasl_login()
        if login is None:
            return {"security_protocol": "PLAINTEXT"}
        user, password = login
        return {
            "security_protocol": self.kafka_security_protocol.value,
            "sasl_mechanism": self.kafka_sasl_mechanism.value,
            "sasl_plain_username": user,
            "sasl_plain_password": password,
        }

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """The same for aiokafka clients (same names; aiokafka needs an explicit SSL context for SASL_SSL)."""
        kwargs = self.kafka_python_kwargs()
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        return kwargs

    def faust_broker_credentials(self) -> faust.SASLCredentials | None:
        """`faust.App(..., broker_credentials=...)`: None for PLAINTEXT (Faust's default).

        Faust derives the protocol from the credentials: SASL_PLAINTEXT, or SASL_SSL when an SSL context
        is given. Its consumer, producer and topic-creating client all use them.
        """
        import faust  # here, not at module level: producers use this class without Faust's start-up cost

        login = self.sasl_login()
        if login is None:
            return None
        user, password = login
        return faust.SASLCredentials(
            username=user,
            password=password,
            mechanism=self.kafka_sasl_mechanism.value,
            ssl_context=self.ssl_context(),
        )
