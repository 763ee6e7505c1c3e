"""The Kafka clients `EventProducer` can send through: kafka-python (the default) or librdkafka.

Why two: kafka-python is pure Python and tops out near 25,000-40,000 records/s per process on the
machines we measured (docs/benchmarks.md), below the 50,000 events/s a bulk load of a province's
history wants. librdkafka (the `confluent-kafka` package, optional: `pip install 'ioc-monitor[librdkafka]'`)
does the batching, partitioning and networking in C. Everything that makes the SDK an SDK — contract
validation, the durable spool, per-dossier order across outages, callbacks and metrics — stays in
`producers.sdk` and is the same for both: a client here only sends one record and reports, once, whether
the broker took it.

Both partition a keyed record with murmur2 as the Java client does (librdkafka is told to), so
producers of either kind put a dossier's events on the same partition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaConfigurationError, KafkaError, UnsupportedVersionError
from kafka.partitioner.default import DefaultPartitioner, murmur2

log = logging.getLogger(__name__)

KAFKA_PYTHON = "kafka-python"
LIBRDKAFKA = "librdkafka"
CLIENTS = (KAFKA_PYTHON, LIBRDKAFKA)

Headers = list[tuple[str, bytes]]


class Delivery(Protocol):
    """The sender's handle on one record: exactly one of these is called, once, on a client thread."""

    def ok(self, metadata: Any) -> None:
        """The broker took the record; `metadata` has `.topic`, `.partition` and `.offset`."""

    def fail(self, exc: BaseException) -> None:
        """The record was not delivered and will not be retried by the client."""


class BrokerUnreachable(Exception):
    """The broker did not answer while the client was being created: the caller spools and retries."""


class Delivered(NamedTuple):
    """Where the broker put a record (librdkafka's report; kafka-python's RecordMetadata has these too)."""

    topic: str
    partition: int
    offset: int


class ProducerClient(Protocol):
    """What `EventProducer` needs from a Kafka client."""

    name: str
    idempotence: bool
    compression: str | None

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers, delivery: Delivery) -> None:
        """Queue one record; `delivery` hears later whether the broker took it.

        Raises when the record cannot even be queued (the caller then fails it itself).
        """

    def flush(self, timeout: float | None) -> None:
        """Wait until every queued record has been reported (or the timeout)."""

    def close(self, timeout: float | None) -> None:
        """Flush for up to `timeout`, then fail (through `Delivery.fail`) whatever is still queued."""


def client_available(name: str) -> bool:
    """Whether the named client can be used in this installation."""
    if name == KAFKA_PYTHON:
        return True
    if name == LIBRDKAFKA:
        try:
            import confluent_kafka  # noqa: F401
        except ImportError:
            return False
        return True
    return False


def create_client(name: str, config: Mapping[str, Any], connect_timeout_s: float,
                  idempotence: bool) -> ProducerClient:
    """A connected client, or `BrokerUnreachable`. `config` uses kafka-python's option names."""
    if name == KAFKA_PYTHON:
        return KafkaPythonClient(config, idempotence)
    if name == LIBRDKAFKA:
        return LibrdkafkaClient(config, connect_timeout_s, idempotence)
    raise ValueError(f"unknown Kafka client {name!r}: one of {', '.join(CLIENTS)}")


# -- kafka-python -----------------------------------------------------------------------------------------
class DossierPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """kafka-python's DefaultPartitioner (murmur2, the Java client's mapping) with the result memoised.

    Why: every event of a dossier carries the same key, and the pure-Python murmur2 plus the sorted copy of
    the partition list DefaultPartitioner makes per record were a fifth of the SDK's per-event time. The
    mapping is unchanged, so other clients agree on the partition.
    """

    def __init__(self, max_keys: int = 200_000) -> None:
        self._hashes: dict[bytes, int] = {}
        self._max_keys = max_keys
        self._ordered: dict[str, tuple[frozenset[int], list[int]]] = {}

    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: Any, cluster: Any) -> int:
        partitions = cluster.partitions_for_topic(topic) if serialized_key is not None else None
        if not partitions:
            return int(super().partition(topic, key, serialized_key, value, serialized_value, cluster))
        assert serialized_key is not None
        hashed = self._hashes.get(serialized_key)
        if hashed is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            hashed = self._hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        known = self._ordered.get(topic)
        if known is None or known[0] != partitions:  # the topic grew (or is new): sort once
            known = self._ordered[topic] = (frozenset(partitions), sorted(partitions))
        ordered = known[1]
        return ordered[hashed % len(ordered)]


class KafkaPythonClient:
    """kafka-python's `KafkaProducer`: creating it waits for the broker (`bootstrap_timeout_ms`)."""

    name = KAFKA_PYTHON

    def __init__(self, config: Mapping[str, Any], idempotence: bool) -> None:
        settings = {"partitioner": DossierPartitioner(), **config}
        try:
            try:
                self._producer = KafkaProducer(enable_idempotence=idempotence, **settings)
            except (KafkaConfigurationError, UnsupportedVersionError) as exc:
                if not idempotence:
                    raise
                log.warning("idempotent producer refused (%s); continuing without idempotence: a retried "
                            "batch may then be written twice (the stream dedupes by event_id)", exc)
                idempotence = False
                self._producer = KafkaProducer(enable_idempotence=False, **settings)
        except KafkaError as exc:
            raise BrokerUnreachable(str(exc)) from exc
        self.idempotence = idempotence
        self.compression: str | None = settings.get("compression_type")

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers, delivery: Delivery) -> None:
        future = self._producer.send(topic, value=value, key=key, headers=headers)
        register = getattr(future, "_add_cb_eb", None)  # kafka-python's one-lock fast path, when present
        if register is not None:
            register(delivery.ok, delivery.fail)
        else:  # pragma: no cover - other kafka-python versions
            future.add_callback(delivery.ok)
            future.add_errback(delivery.fail)

    def flush(self, timeout: float | None) -> None:
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            log.warning("flush: %s", exc)

    def close(self, timeout: float | None) -> None:
        self._producer.close(timeout=timeout)


# -- librdkafka (confluent-kafka) --------------------------------------------------------------------------
_RENAMED = {
    "bootstrap_servers": "bootstrap.servers",
    "client_id": "client.id",
    "acks": "acks",
    "retries": "retries",
    "compression_type": "compression.type",
    "linger_ms": "linger.ms",
    "batch_size": "batch.size",
    "delivery_timeout_ms": "message.timeout.ms",
    "request_timeout_ms": "request.timeout.ms",
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "retry_backoff_ms": "retry.backoff.ms",
    "max_in_flight_requests_per_connection": "max.in.flight.requests.per.connection",
}
_KAFKA_PYTHON_ONLY = {"max_block_ms", "bootstrap_timeout_ms", "partitioner"}
"""kafka-python options the SDK sets that librdkafka has no use for (max_block_ms is applied by the SDK)."""


def librdkafka_config(config: Mapping[str, Any], idempotence: bool) -> dict[str, Any]:
    """librdkafka properties from kafka-python-named options; dotted names pass through unchanged.

    An option with no librdkafka equivalent is refused by name rather than silently dropped.
    """
    out: dict[str, Any] = {
        "partitioner": "murmur2_random",  # the Java client's mapping for keyed records, as kafka-python's
        "enable.idempotence": idempotence,
    }
    unknown = []
    for key, value in config.items():
        if key in _KAFKA_PYTHON_ONLY:
            continue
        if "." in key:
            out[key] = value
        elif key in _RENAMED:
            if key == "bootstrap_servers" and not isinstance(value, str):
                value = ",".join(value)
            if key == "acks" and value == "all":
                value = -1
            if key == "compression_type" and value is None:
                value = "none"
            if key == "retries":
                value = min(int(value), 2_147_483_647)
            if value is not None:
                out[_RENAMED[key]] = value
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"option(s) {', '.join(sorted(unknown))} have no librdkafka equivalent known to "
                         "the SDK: pass the librdkafka property name (with dots) instead")
    out["batch.size"] = min(int(out.get("batch.size", 1_000_000)), 2_147_483_647)
    return out


class LibrdkafkaClient:
    """confluent-kafka's `Producer`.

    librdkafka connects lazily and retries for ever, so reachability is checked once here with a
    metadata request, as kafka-python does when it is created.

    Delivery reports are Python callbacks, each taking the GIL. Served by a thread of their own while
    another thread sends, the two threads fight for the GIL on every report (measured: the SDK at 27,000
    events/s where confluent-kafka alone does 300,000). So the sending thread serves them itself, every
    `POLL_EVERY` sends, and the background thread only serves them when nobody has sent for a while.
    """

    POLL_EVERY = 32
    IDLE_S = 0.05

    name = LIBRDKAFKA

    def __init__(self, config: Mapping[str, Any], connect_timeout_s: float, idempotence: bool) -> None:
        from confluent_kafka import KafkaException, Producer

        properties = librdkafka_config(config, idempotence)
        properties.setdefault("queue.buffering.max.messages", 1_000_000)
        properties["error_cb"] = self._on_client_error
        properties["logger"] = logging.getLogger("producers.librdkafka")  # not librdkafka's own stderr
        self._max_block_s = float(config.get("max_block_ms", 10_000)) / 1000
        self.idempotence = idempotence
        compression = properties.get("compression.type")
        self.compression = None if compression in (None, "none") else str(compression)
        self._producer = Producer(properties)
        try:
            self._producer.list_topics(timeout=connect_timeout_s)
        except KafkaException as exc:
            self._producer.purge()
            raise BrokerUnreachable(str(exc)) from exc
        self._sends = 0
        self._last_send = time.monotonic()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="ioc-producer-librdkafka-poll", daemon=True)
        self._poller.start()

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers, delivery: Delivery) -> None:
        report = _Report(delivery)
        deadline = None
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers,  # type: ignore[arg-type]
                                       on_delivery=report)
                self._last_send = time.monotonic()
                self._sends += 1
                if self._sends % self.POLL_EVERY == 0:
                    self._producer.poll(0)
                return
            except BufferError:  # librdkafka's local queue is full: wait as kafka-python's max_block_ms does
                now = time.monotonic()
                deadline = deadline or now + self._max_block_s
                if now >= deadline:
                    raise
                self._producer.poll(0.05)

    def flush(self, timeout: float | None) -> None:
        self._producer.flush(-1 if timeout is None else timeout)

    def close(self, timeout: float | None) -> None:
        self.flush(timeout)
        # what is still queued is failed now, so the caller's errbacks spool it (in flight: may yet
        # arrive, and be re-sent from the spool: a duplicate the stream drops by event_id)
        self._producer.purge(in_queue=True, in_flight=True, blocking=True)
        self._producer.poll(0)
        self._stop.set()
        self._poller.join(5.0)
        self._producer.flush(0)

    def _poll(self) -> None:
        """Serve delivery reports while no thread is sending (the senders serve them otherwise)."""
        while not self._stop.is_set():
            if time.monotonic() - self._last_send >= self.IDLE_S:
                self._producer.poll(self.IDLE_S)
            else:
                self._stop.wait(self.IDLE_S)

    @staticmethod
    def _on_client_error(err: Any) -> None:
        log.warning("librdkafka: %s", err)


class _Report:
    """librdkafka's delivery callback for one record, passed on to its `Delivery`.

    One small object per record in flight rather than a closure with its cells: at 50,000 records/s,
    with up to `max_in_flight_events` of them alive, the garbage collector's work is a quarter of the
    sending thread's time (measured), and it grows with the objects each record keeps alive.
    """

    __slots__ = ("delivery",)

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    def __call__(self, err: Any, msg: Any) -> None:
        if err is None:
            self.delivery.ok(Delivered(msg.topic(), msg.partition(), msg.offset()))
        else:
            self.delivery.fail(LibrdkafkaDeliveryError(err))


class LibrdkafkaDeliveryError(Exception):
    """librdkafka reported a record as not delivered (timed out, purged, refused)."""

    def __init__(self, error: Any) -> None:
        super().__init__(f"{error.name()}: {error.str()}")
        self.error = error
