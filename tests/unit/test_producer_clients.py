"""The SDK's Kafka clients: the librdkafka translation of the options, and the choice of client."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from producers.clients import CLIENTS, KAFKA_PYTHON, LIBRDKAFKA, librdkafka_config
from producers.sdk import EventProducer, default_compression
from tests.support import stack as testing


def test_sdk_options_become_librdkafka_properties() -> None:
    config = librdkafka_config(
        {
            "bootstrap_servers": ["a:9092", "b:9092"],
            "acks": "all",
            "retries": 2**31 - 1,
            "compression_type": None,
            "linger_ms": 20,
            "batch_size": 512 * 1024,
            "delivery_timeout_ms": 30_000,
            "request_timeout_ms": 10_000,
            "max_block_ms": 10_000,
            "bootstrap_timeout_ms": 5_000,
            "client_id": "ioc-producer-STP",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_plain_username": "agency-STP",
            "sasl_plain_password": "secret",
            "ssl_cafile": "/etc/ioc/ca.pem",
            "socket.keepalive.enable": True,
        },
        idempotence=False,
    )
    assert config == {
        "partitioner": "murmur2_random",  # the Java client's mapping, as kafka-python's
        "enable.idempotence": False,
        "bootstrap.servers": "a:9092,b:9092",
        "acks": -1,
        "retries": 2_147_483_647,
        "compression.type": "none",
        "linger.ms": 20,
        "batch.size": 512 * 1024,
        "message.timeout.ms": 30_000,
        "request.timeout.ms": 10_000,
        "client.id": "ioc-producer-STP",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "agency-STP",
        "sasl.password": "secret",
        "ssl.ca.location": "/etc/ioc/ca.pem",
        "socket.keepalive.enable": True,  # a librdkafka property passes through
    }


def test_an_option_librdkafka_has_no_name_for_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"api_version, metadata_max_age_ms have no librdkafka"):
        librdkafka_config({"metadata_max_age_ms": 1000, "api_version": (3, 9)}, idempotence=False)


def test_idempotence_is_passed_on() -> None:
    assert librdkafka_config({}, idempotence=True)["enable.idempotence"] is True


def test_auto_compression_per_client() -> None:
    assert default_compression(LIBRDKAFKA) == "lz4"  # built into librdkafka
    assert default_compression(KAFKA_PYTHON) in {"zstd", "lz4", "gzip"}


def test_an_unknown_client_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"client 'java': one of " + ", ".join(CLIENTS)):
        EventProducer("127.0.0.1:1", spool=tmp_path / "s.sqlite", client="java", registry=CollectorRegistry())
    assert not (tmp_path / "s.sqlite").exists()


def test_librdkafka_against_no_broker_starts_unconnected_and_spools(tmp_path: Path) -> None:
    """Nothing listens on port 1: the reachability check fails fast, and the SDK spools."""
    testing.require_librdkafka()
    producer = EventProducer("127.0.0.1:1", spool=tmp_path / "s.sqlite", client=LIBRDKAFKA,
                             registry=CollectorRegistry(), connect_timeout_s=0.5, retry_backoff_s=(30, 30))
    try:
        assert not producer.connected
    finally:
        producer.close(0.5)
