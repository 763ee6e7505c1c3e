"""Gateway settings from the environment (prefix IOC_), validated at start-up by pydantic-settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from kafka_settings import KafkaSettings


class GatewaySettings(KafkaSettings):
    """Every variable is documented in docs/configuration.md; defaults suit the local stack."""

    gateway_host: str = Field("127.0.0.1", description="Address the HTTP gateway listens on")
    gateway_port: int = Field(8088, ge=0, le=65535, description="Port of the HTTP gateway")
    gateway_keys: Path = Field(
        Path("gateway-keys.txt"),
        description="API keys file: one `AGENCY sha256:HEX` line per key; reloaded on change and on SIGHUP",
    )
    gateway_tls_cert: Path | None = Field(None, description="PEM certificate chain: HTTPS when set")
    gateway_tls_key: Path | None = Field(None, description="PEM private key of gateway_tls_cert")
    gateway_max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body; larger ones get 413"
    )
    gateway_max_pending: int = Field(
        200_000, ge=1, description="Events waiting for Kafka or the spool above which requests get 429"
    )
    gateway_max_spool: int = Field(
        1_000_000, ge=1, description="Spool depth above which requests get 429 (the broker is behind)"
    )
    gateway_retry_after: int = Field(2, ge=1, description="Retry-After seconds of a 429 or 503 answer")
    gateway_ack_timeout: float = Field(
        90.0, gt=0, description="How long a request waits for Kafka or the spool before answering 504"
    )
    gateway_spool: Path = Field(
        Path("gateway-spool.sqlite"), description="The gateway's SQLite spool (one gateway process per file)"
    )
    gateway_client: Literal["kafka-python", "librdkafka"] = Field(
        "librdkafka",
        description="Kafka client of the producer SDK (librdkafka: about 1.4x the events/s of kafka-python)",
    )
    catalog: Path | None = Field(None, description="Catalog YAML; default: the shipped sample")
    log_level: str = "INFO"
