"""The Kafka security options `ioc produce` and `ioc simulate` share (IOC_KAFKA_* in the environment)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import SecretStr

from streams.security import KafkaSecurity, kafka_python_kwargs

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
KafkaPassword = Annotated[
    str | None,
    typer.Option("--kafka-password", envvar="IOC_KAFKA_PASSWORD", show_default=False,
                 help="SASL password (prefer the environment variable)."),
]


def kafka_security_kwargs(
    protocol: str, mechanism: str, username: str | None, password: str | None
) -> dict[str, Any]:
    """kafka-python options for `EventProducer(**...)` from the four `IOC_KAFKA_*` security options.

    The rules are `streams.security`'s (PLAINTEXT sends no credentials; SASL_* need a username and a
    password, else ValueError): the producers and the stream must agree on them.
    """
    return kafka_python_kwargs(KafkaSecurity(protocol, mechanism, username,
                                             SecretStr(password) if password else None))


def security_options(
    protocol: str, mechanism: str, username: str | None, password: str | None
) -> dict[str, Any]:
    """`kafka_security_kwargs` for a command: a wrong combination is a usage error naming the option."""
    try:
        return kafka_security_kwargs(protocol, mechanism, username, password)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--security-protocol") from exc
