"""The Kafka options `ioc produce` and `ioc simulate` share: security (IOC_KAFKA_* in the environment) and
the Kafka client the SDK sends through (IOC_PRODUCER_CLIENT)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from kafka_settings import KafkaSettings

SecurityProtocol = Annotated[
    str,
    typer.Option("--security-protocol", envvar="IOC_KAFKA_SECURITY_PROTOCOL",
                 help="PLAINTEXT, SASL_PLAINTEXT or SASL_SSL (docs/security.md)."),
]
SaslMechanism = Annotated[
    str, typer.Option("--sasl-mechanism", envvar="IOC_KAFKA_SASL_MECHANISM", help="SASL mechanism.")
]
KafkaUsername = Annotated[
    str | None,
    typer.Option("--kafka-username", envvar="IOC_KAFKA_USERNAME", help="SASL user, e.g. agency-STP."),
]
class ClientChoice(StrEnum):
    kafka_python = "kafka-python"
    librdkafka = "librdkafka"


ProducerClientOption = Annotated[
    ClientChoice,
    typer.Option("--client", envvar="IOC_PRODUCER_CLIENT",
                 help="Kafka client of the SDK: kafka-python, or librdkafka (confluent-kafka installed; "
                      "about 2.5x the events/s, docs/benchmarks.md)."),
]
KafkaPassword = Annotated[
    str | None,
    typer.Option("--kafka-password", envvar="IOC_KAFKA_PASSWORD", show_default=False,
                 help="SASL password (prefer the environment variable)."),
]


def security_options(
    protocol: str, mechanism: str, username: str | None, password: str | None
) -> dict[str, Any]:
    """kafka-python options for `EventProducer(**...)` from the four `IOC_KAFKA_*` security options.

    The rules are `streams.security`'s (PLAINTEXT sends no credentials; SASL_* need a username and a
    password): the producers and the stream must agree on them. A wrong combination is a usage error.
    """
    try:
        settings = KafkaSettings(
            kafka_security_protocol=protocol, kafka_sasl_mechanism=mechanism, kafka_username=username,
            kafka_password=SecretStr(password) if password else None,
        )
        return settings.kafka_python_kwargs()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--security-protocol") from exc
