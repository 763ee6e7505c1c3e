"""Kafka client security from settings: SASL credentials for Faust (aiokafka) and kafka-python clients.

`StreamSettings` and `NotifySettings` share four variables (docs/security.md):
`IOC_KAFKA_SECURITY_PROTOCOL` (PLAINTEXT | SASL_PLAINTEXT | SASL_SSL), `IOC_KAFKA_SASL_MECHANISM`
(SCRAM-SHA-256 by default), `IOC_KAFKA_USERNAME`, `IOC_KAFKA_PASSWORD`. PLAINTEXT (the default, the local
stack) sends no credentials. SASL_SSL verifies the broker against the system's CA store, with host name
checking (a private CA: install it in the image's trust store).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import SecretStr

if TYPE_CHECKING:
    import faust

__all__ = [
    "KafkaSecurity",
    "KafkaSecuritySettings",
    "aiokafka_kwargs",
    "faust_broker_credentials",
    "kafka_python_kwargs",
    "sasl_login",
]

Protocol_ = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


class KafkaSecuritySettings(Protocol):
    """What these functions read: satisfied by `StreamSettings` and `NotifySettings`."""

    @property
    def kafka_security_protocol(self) -> str: ...

    @property
    def kafka_sasl_mechanism(self) -> str: ...

    @property
    def kafka_username(self) -> str | None: ...

    @property
    def kafka_password(self) -> SecretStr | None: ...


@dataclass(frozen=True)
class KafkaSecurity:
    """The four IOC_KAFKA_* security values outside a settings class (the producer CLIs' options)."""

    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-256"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None


def sasl_login(settings: KafkaSecuritySettings) -> tuple[str, str] | None:
    """(username, password) when the protocol is SASL_*, None for PLAINTEXT.

    Raises ValueError (at start-up, naming the variables) for an unknown protocol or a SASL protocol
    without both a username and a password.
    """
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol not in SASL_PROTOCOLS:
        raise ValueError(
            f"IOC_KAFKA_SECURITY_PROTOCOL={protocol!r}: expected PLAINTEXT, SASL_PLAINTEXT or SASL_SSL"
        )
    user = settings.kafka_username
    password = settings.kafka_password.get_secret_value() if settings.kafka_password is not None else ""
    if not user or not password:
        raise ValueError(
            f"IOC_KAFKA_SECURITY_PROTOCOL={protocol} needs IOC_KAFKA_USERNAME and IOC_KAFKA_PASSWORD"
        )
    return user, password


def _ssl_context(settings: KafkaSecuritySettings) -> ssl.SSLContext | None:
    return ssl.create_default_context() if settings.kafka_security_protocol == "SASL_SSL" else None


def faust_broker_credentials(settings: KafkaSecuritySettings) -> faust.SASLCredentials | None:
    """`faust.App(..., broker_credentials=...)`: None for PLAINTEXT (Faust's default).

    Faust derives the protocol from the credentials: SASL_PLAINTEXT, or SASL_SSL when an SSL context is
    given. Its consumer, producer and topic-creating client all use them.
    """
    import faust  # here, not at module level: producers use this module without Faust's start-up cost

    login = sasl_login(settings)
    if login is None:
        return None
    user, password = login
    return faust.SASLCredentials(
        username=user,
        password=password,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=_ssl_context(settings),
    )


def kafka_python_kwargs(settings: KafkaSecuritySettings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients (`KafkaAdminClient`, `KafkaConsumer`, `KafkaProducer`).

    PLAINTEXT gives `{"security_protocol": "PLAINTEXT"}` (kafka-python's default), so the result can
    always be spread into a constructor.
    """
    login = sasl_login(settings)
    if login is None:
        return {"security_protocol": "PLAINTEXT"}
    user, password = login
    return {
        "security_protocol": settings.kafka_security_protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


def aiokafka_kwargs(settings: KafkaSecuritySettings) -> dict[str, Any]:
    """The same for aiokafka clients (same names; aiokafka needs an explicit SSL context for SASL_SSL)."""
    kwargs = kafka_python_kwargs(settings)
    context = _ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    return kwargs
