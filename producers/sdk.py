"""The agency-side producer SDK: validate, then send to Kafka, and never lose an event.

Rules it keeps, and why:

* Every event is checked against contract v1 (and the catalog, when given) *before* it leaves the
  agency: a bad event is the integrator's bug, reported at once with the field that is wrong, rather
  than a dead letter the centre has to chase.
* Key = dossier code, so all events of one dossier go to one partition and keep their order.
* Durable by default: `acks="all"`, retries, and a local SQLite spool for everything the broker did
  not take — unreachable at start, down mid-run, or a
  send that failed for good. The spool is drained in order by a background thread.
* Per-dossier order across an outage: a record keeps the place it was given at `send()` time (an id
  reserved in the spool), new events go to the spool while it holds anything, and the drain only
  starts once every direct send has either been acknowledged or spooled.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd
from prometheus_client import REGISTRY, CollectorRegistry

from dossiers.catalog import Catalog
from dossiers.events import SCHEMA_V1, Event, InvalidEvent
from dossiers.validation import check_against_catalog, validate_event
from dossiers.wire import AGENCY_HEADER, EVENTS_TOPIC
from producers.clients import (
    CLIENTS,
    KAFKA_PYTHON,
    LIBRDKAFKA,
    BrokerUnreachable,
    ProducerClient,
    client_available,
    create_client,
)
from producers.metrics import UNKNOWN_AGENCY, producer_metrics
from producers.spool import Spool, SpooledRecord

log = logging.getLogger(__name__)

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_TOPIC = EVENTS_TOPIC
SCHEMA_HEADER = "ioc-schema"

DeliveryCallback = Callable[[str, Any, BaseException | None], None]
"""`on_delivery(event_id, metadata, exc)`: metadata on success (exc is None) has `.topic`, `.partition`
and `.offset` (kafka-python's RecordMetadata, or `producers.clients.Delivered` from librdkafka); on a
failed attempt metadata is None and exc says why — the event is then in the spool and a later call
reports its delivery."""


_CODECS: dict[str, Callable[[], bool]] = {
    "gzip": has_gzip, "snappy": has_snappy, "lz4": has_lz4, "zstd": has_zstd,
}


def default_compression(client: str = KAFKA_PYTHON) -> str:
    """The codec "auto" means: lz4 with librdkafka (built in); with kafka-python zstd or lz4 when their
    libraries are installed, else gzip.

    Compression is for the network between an agency and the centre; on loopback it costs kafka-python a
    little throughput (docs/benchmarks.md), far less than the bandwidth it saves on a provincial WAN.
    """
    if client == LIBRDKAFKA:
        return "lz4"
    if has_zstd():
        return "zstd"
    if has_lz4():
        return "lz4"
    return "gzip"


def default_spool_path() -> Path:
    """`$IOC_SPOOL_PATH`, else `$XDG_STATE_HOME/ioc-monitor/spool.sqlite` (~/.local/state by default)."""
    explicit = os.environ.get("IOC_SPOOL_PATH")
    if explicit:
        return Path(explicit).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state).expanduser() / "ioc-monitor" / "spool.sqlite"


def check_event(
    event: Event | Mapping[str, Any] | str | bytes,
    catalog: Catalog | None = None,
    agency_identity: str | None = None,
) -> Event:
    """Everything `EventProducer.send` checks, without sending (the CLI's `--dry-run` uses it).

    Raises `InvalidEvent` naming the field: contract v1, then the catalog, then the agency identity.
    """
    if isinstance(event, str | bytes):
        parsed = validate_event(event, catalog)
    elif isinstance(event, Mapping):
        parsed = validate_event(event if type(event) is dict else dict(event), catalog)
    else:
        parsed = event  # a model instance was validated when it was built
        if catalog is not None:
            check_against_catalog(parsed, catalog)
    if agency_identity and parsed.agency != agency_identity:
        raise InvalidEvent(
            f"agency: {parsed.agency!r} differs from this producer's agency identity {agency_identity!r}",
            "agency_mismatch",
        )
    return parsed


class EventProducer:
    """Validated, keyed, durable sending of dossier events to Kafka (thread-safe).

    ``send()`` never blocks on an unreachable broker for long and never drops a valid event: what Kafka
    does not acknowledge waits in the spool and is re-sent, in order, when the broker is back.
    Use as a context manager, or call `close()`, which flushes.
    """

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str] = DEFAULT_BOOTSTRAP,
        topic: str = DEFAULT_TOPIC,
        *,
        spool: Spool | str | Path | None = None,
        catalog: Catalog | None = None,
        agency_identity: str | None = None,
        on_delivery: DeliveryCallback | None = None,
        registry: CollectorRegistry | None = REGISTRY,
        compression_type: str | None = "auto",
        linger_ms: int = 20,
        batch_size: int = 512 * 1024,
        delivery_timeout_ms: int = 30_000,
        request_timeout_ms: int = 10_000,
        max_block_ms: int = 10_000,
        connect_timeout_s: float = 5.0,
        max_in_flight_events: int = 200_000,
        drain_batch: int = 2_000,
        retry_backoff_s: tuple[float, float] = (0.5, 30.0),
        client_id: str | None = None,
        client: str = KAFKA_PYTHON,
        **kafka_config: Any,
    ) -> None:
        """Create the producer; it starts (spooling) even when the broker is unreachable.

        `spool`: a `Spool`, or a path to its file (default `default_spool_path()`).
        `catalog`: when given, unknown agencies/procedures/channels are refused before sending.
        `agency_identity`: the producing agency's code, sent as the `ioc-agency` header; events of
        another agency are refused (the stream would refuse them too).
        `compression_type`: "auto" picks `default_compression()`; None disables compression.
        `delivery_timeout_ms`: how long a direct send may retry inside kafka-python before it is spooled.
        `max_in_flight_events`: back-pressure; beyond it `send()` waits up to `delivery_timeout_ms`.
        `client`: "kafka-python" (default) or "librdkafka" (needs confluent-kafka; about 2.5x the events/s,
        docs/benchmarks.md); the spool, order, callbacks and metrics are the same with both.
        Remaining keyword arguments are Kafka client options in kafka-python's names (security_protocol,
        sasl_plain_username, ...); with librdkafka they are translated, and dotted librdkafka properties
        pass through.
        """
        if client not in CLIENTS:
            raise ValueError(f"client {client!r}: one of {', '.join(CLIENTS)}")
        if not client_available(client):
            raise ValueError(
                f"client {client!r} needs confluent-kafka: pip install 'ioc-monitor[librdkafka]'"
            )
        self.client = client
        self.topic = topic
        self.catalog = catalog
        self.agency_identity = agency_identity
        self.on_delivery = on_delivery
        self.metrics = producer_metrics(registry)
        codec = default_compression(client) if compression_type == "auto" else compression_type
        if codec is not None and client == KAFKA_PYTHON and not _CODECS.get(codec, lambda: False)():
            # kafka-python would only say so after reaching a broker: fail here, not in the drain thread
            raise ValueError(f"compression {codec!r} is unknown or its Python library is not installed")
        self.idempotence = bool(kafka_config.pop("enable_idempotence", False))
        """Off by default: with kafka-python 3.0.12 an idempotent producer whose in-flight batches
        outlive a broker restart never completes them (the spool then never drains; see
        docs/faults.md). Duplicates from the client's retries are harmless: the stream counts an
        `event_id` once. Pass enable_idempotence=True to try it."""
        self._owns_spool = not isinstance(spool, Spool)
        self.spool: Spool = spool if isinstance(spool, Spool) else Spool(spool or default_spool_path())
        self._headers: list[tuple[str, bytes]] = [(SCHEMA_HEADER, SCHEMA_V1.encode())]
        if agency_identity:
            self._headers.insert(0, (AGENCY_HEADER, agency_identity.encode("utf-8")))
        self._own_label = self.metrics.agency_label(agency_identity) if agency_identity else None
        self._depth_gauge = self.metrics.spool_depth.labels(agency=agency_identity or "any")
        self._max_in_flight = max_in_flight_events
        self._drain_batch = drain_batch
        self._backoff = retry_backoff_s
        self._delivery_timeout_s = delivery_timeout_ms / 1000
        self._connect_timeout_s = connect_timeout_s
        self._kafka_config: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "acks": "all",
            "retries": 2**31 - 1,
            "compression_type": codec,
            "linger_ms": linger_ms,
            "batch_size": batch_size,
            "delivery_timeout_ms": delivery_timeout_ms,
            "request_timeout_ms": request_timeout_ms,
            "max_block_ms": max_block_ms,
            "bootstrap_timeout_ms": int(connect_timeout_s * 1000),
            "client_id": client_id or f"ioc-producer-{agency_identity or 'any'}",
            **kafka_config,
        }
        self._kafka: ProducerClient | None = None
        # One condition guards: the direct/spool decision, the in-flight count and the draining flag.
        self._cv = threading.Condition()
        self._inflight = 0
        self._draining = False
        self._closing = False
        self._closed = False
        self._wake = threading.Event()
        self._outage_logged = False
        self._children: dict[str, _Counters] = {}
        self._latency = self.metrics.send_latency
        self._set_depth()

        try:
            self._connect()
        except BaseException:
            if self._owns_spool:
                self.spool.close()
            raise
        self._thread = threading.Thread(target=self._run, name=f"ioc-producer-drain-{topic}", daemon=True)
        self._thread.start()

    # -- public API ------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True once a Kafka client exists (the broker answered at least once)."""
        return self._kafka is not None

    @property
    def spool_depth(self) -> int:
        return len(self.spool)

    @property
    def compression_type(self) -> str | None:
        value = self._kafka_config["compression_type"]
        return None if value is None else str(value)

    def send(self, event: Event | Mapping[str, Any] | str | bytes) -> Event:
        """Validate one event and send it (or spool it); returns the parsed event.

        Raises `InvalidEvent` (with `.reason` naming the field, `.code`) before anything is sent.
        """
        try:
            parsed = check_event(event, self.catalog, self.agency_identity)
        except InvalidEvent as exc:
            self.metrics.invalid.labels(agency=self._invalid_label(event), code=exc.code).inc()
            raise
        self.send_validated(parsed)
        return parsed

    def send_validated(self, event: Event) -> None:
        """Send an event that the caller has already validated (the fast path: no checks at all)."""
        key = event.dossier.encode("utf-8")
        value = event.to_json().encode("utf-8")
        label = self._own_label or self.metrics.agency_label(event.agency)
        self._submit([(key, value, event.event_id, label)], self._headers, None)

    def send_durable(self, event: Event, identity: str | None = None) -> Future[str]:
        """Send a validated event; the future says when it is safe: "kafka" (acks=all) or "spool".

        For a door that must not acknowledge before the event is durable: the future completes once
        Kafka acknowledged the record, or once the SQLite spool committed it (at once when the broker is
        away). `identity` sets the `ioc-agency` header of this one record, in place of the producer's own
        identity. For many events at once, `send_durable_many` costs a fraction of this per event.
        """
        safe: Future[str] = Future()

        def settled(batch: DurableBatch) -> None:
            outcome = batch.outcomes[0]
            if isinstance(outcome, BaseException):
                safe.set_exception(outcome)
            else:
                safe.set_result(str(outcome))

        self.send_durable_many([event], identity, settled)
        return safe

    def send_durable_many(self, events: Sequence[Event], identity: str | None = None,
                          on_done: Callable[[DurableBatch], None] | None = None) -> DurableBatch:
        """Send validated events; the batch says when each is safe: "kafka" (acks=all) or "spool".

        The HTTP gateway's door: a request is answered only once every event of it is durable. One
        lock, one direct-or-spool decision and one header list for the whole batch, and one object
        tracking it, instead of a `Future` (a condition and a lock) per event: a fifth of the gateway's
        time per event went to those (docs/benchmarks.md). `on_done(batch)` is called once, by whichever
        thread settles the last event (the caller's own, at once, when everything went to the spool).
        `identity` sets the `ioc-agency` header of these records (the gateway checks it against the API
        key), in place of the producer's own identity.
        """
        headers = self._headers
        if identity is not None:
            headers = [(AGENCY_HEADER, identity.encode("utf-8")), (SCHEMA_HEADER, SCHEMA_V1.encode())]
        batch = DurableBatch(len(events), on_done)
        labels: dict[str, str] = {}
        records = []
        for event in events:
            label = self._own_label or labels.get(event.agency)
            if label is None:
                label = labels[event.agency] = self.metrics.agency_label(event.agency)
            records.append((event.dossier.encode("utf-8"), event.to_json().encode("utf-8"), event.event_id,
                            label))
        self._submit(records, headers, batch)
        return batch

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event sent so far is acknowledged or spooled, then until the spool is drained.

        Returns True when nothing is left waiting (the spool is empty), False on timeout.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        kafka = self._kafka
        if kafka is not None:
            kafka.flush(_left(deadline))
        with self._cv:
            while self._inflight > 0:
                self._cv.wait(_slice(deadline, 1.0))
                if _expired(deadline) and self._inflight > 0:
                    return False
        return self.drain(_left(deadline))

    def drain(self, timeout: float | None = None) -> bool:
        """Wake the drain thread and wait until the spool is empty; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._cv:
            while len(self.spool) > 0 or self._draining:
                if not self._thread.is_alive():
                    return False
                self._cv.wait(_slice(deadline, 0.5))
                if _expired(deadline):
                    return len(self.spool) == 0
        return True

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flush for up to `timeout` seconds, then stop; what is left stays in the spool for next time.

        Returns True when everything was delivered.
        """
        if self._closed:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        delivered = False
        try:
            delivered = self.flush(timeout)
        finally:
            with self._cv:
                self._closing = True
                self._cv.notify_all()
            self._wake.set()
            self._thread.join(_left(deadline))
            with self._cv:
                kafka, self._kafka = self._kafka, None
            if kafka is not None:
                # a forced close fails what is still queued; the errbacks spool it, so wait for them
                kafka.close(_left(deadline))
                with self._cv:
                    self._cv.wait_for(lambda: self._inflight == 0, timeout=10.0)
            self._thread.join(5.0)
            self._closed = True
            self._set_depth()
            left = len(self.spool)
            if left:
                log.warning("closing with %d event(s) in the spool %s; they are sent on the next start",
                            left, self.spool.path)
            if self._owns_spool:
                self.spool.close()
        return delivered and left == 0

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------------------------------
    def _submit(self, records: Sequence[tuple[bytes, bytes, str, str]], headers: list[tuple[str, bytes]],
                batch: DurableBatch | None) -> None:
        """Send records (key, value, event id, agency label) directly when the way is clear, else append
        them to the spool (behind what is there); one decision for all of them.

        `batch`, when given, learns where each record ends up (its index in `records`). A batch may take
        the in-flight count past `max_in_flight_events` by its own size less one.
        """
        with self._cv:
            if self._closing:
                raise RuntimeError("EventProducer is closed")
            if self._inflight >= self._max_in_flight and self._kafka is not None:
                # back-pressure: the broker is slow or gone; wait for acks or for the errbacks to spool
                self._cv.wait_for(lambda: self._inflight < self._max_in_flight or self._closing,
                                  timeout=self._delivery_timeout_s + 5)
            kafka = self._kafka
            direct = (
                kafka is not None
                and not self._draining
                and self._inflight < self._max_in_flight
                and len(self.spool) == 0
            )
            if direct:
                self._inflight += len(records)
                seqs = [self.spool.reserve() for _ in records]
            else:
                for key, value, _, _ in records:
                    self.spool.append(key, value, headers, topic=self.topic)
        if not direct:
            for index, (_, _, _, label) in enumerate(records):
                self._counters(label).spooled.inc()
                if batch is not None:
                    batch.settle(index, "spool")
            self._set_depth()
            self._wake.set()
            return
        assert kafka is not None
        started = time.monotonic()
        refused: Exception | None = None
        for index, (key, value, event_id, label) in enumerate(records):
            pending = _Pending(self, seqs[index], key, value, event_id, self._counters(label), started,
                               headers, batch, index)
            if refused is None:
                try:
                    kafka.send(self.topic, key, value, headers, pending)
                    continue
                except Exception as exc:  # metadata timeout, full queue, closed client: still not lost
                    refused = exc
            # spooled in its reserved place; once the client refused one record (after blocking up to
            # max_block_ms), the rest of the batch follows it there without blocking again each
            pending.fail(refused)

    def _on_sent(self, pending: _Pending, metadata: Any) -> None:
        """kafka-python callback (sender thread): a direct send was acknowledged."""
        try:
            if pending.batch is not None:
                pending.batch.settle(pending.index, "kafka")
            pending.counters.sent.inc()
            self._latency.observe(time.monotonic() - pending.started)
            if self.on_delivery is not None:
                self._notify(pending.event_id, metadata, None)
        finally:
            with self._cv:
                self._inflight -= 1
                if self._inflight == 0 or self._inflight == self._max_in_flight - 1:
                    self._cv.notify_all()

    def _on_error(self, pending: _Pending, exc: BaseException) -> None:
        """kafka-python errback (sender thread): a direct send failed for good; spool it in its place."""
        try:
            pending.counters.failed.inc()
            if not self._outage_logged:
                self._outage_logged = True
                log.warning("event %s not delivered (%s: %s); spooling it and what follows until Kafka "
                            "takes them", pending.event_id, type(exc).__name__, exc)
            else:
                log.debug("event %s not delivered (%s); spooled", pending.event_id, exc)
            try:
                self.spool.append(
                    pending.key, pending.value, pending.headers, topic=self.topic, seq=pending.seq
                )
            except Exception as spool_exc:
                log.exception("event %s could not be spooled either: it is LOST", pending.event_id)
                if pending.batch is not None:
                    pending.batch.settle(pending.index, spool_exc)
                raise
            if pending.batch is not None:
                pending.batch.settle(pending.index, "spool")
            pending.counters.spooled.inc()
            self._set_depth()
            self._wake.set()
            if self.on_delivery is not None:
                self._notify(pending.event_id, None, exc)
        finally:
            with self._cv:
                self._inflight -= 1
                self._cv.notify_all()

    def _counters(self, label: str) -> _Counters:
        found = self._children.get(label)
        if found is None:
            found = self._children[label] = _Counters(
                sent=self.metrics.sent.labels(agency=label),
                failed=self.metrics.failed.labels(agency=label),
                spooled=self.metrics.spooled.labels(agency=label),
            )
        return found

    def _notify(self, event_id: str, metadata: Any, exc: BaseException | None) -> None:
        assert self.on_delivery is not None
        try:
            self.on_delivery(event_id, metadata, exc)
        except Exception:
            log.exception("on_delivery callback raised for event %s", event_id)

    # -- connecting and draining (background thread) ---------------------------------------------------
    def _connect(self) -> bool:
        """Create the Kafka client; False (and logged) when the broker does not answer."""
        config = self._kafka_config
        try:
            kafka = create_client(self.client, config, self._connect_timeout_s, self.idempotence)
        except BrokerUnreachable as exc:
            log.warning("Kafka at %s unreachable (%s); events go to the spool %s",
                        config["bootstrap_servers"], exc, self.spool.path)
            return False
        self.idempotence = kafka.idempotence
        with self._cv:
            if self._closing:
                kafka.close(0)
                return False
            self._kafka = kafka
            self._cv.notify_all()
        log.info("connected to Kafka at %s with %s (idempotence %s, compression %s)",
                 config["bootstrap_servers"], kafka.name, "on" if self.idempotence else "off",
                 kafka.compression)
        return True

    def _run(self) -> None:
        """Drain thread: connect with back-off, then re-send the spool in order whenever it holds events."""
        first, cap = self._backoff
        delay = first
        failures = 0
        while True:
            with self._cv:
                if self._closing:
                    return
            if self._kafka is None:
                try:
                    connected = self._connect()
                except Exception:
                    log.exception("cannot create the Kafka client; retrying")
                    connected = False
                if not connected:
                    self._sleep(delay)
                    delay = min(delay * 2, cap)
                    continue
                delay = first
            if len(self.spool) == 0:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                ok = self._drain_once()
            except Exception:
                log.exception("spool drain failed")
                ok = False
            if ok:
                delay, failures = first, 0
                continue
            failures += 1
            self._sleep(delay)
            delay = min(delay * 2, cap)

    def _drain_once(self) -> bool:
        """Send the oldest spooled records and ack those Kafka took; False when any failed."""
        with self._cv:
            # records sent directly before the spool filled must be acked or spooled first (order)
            while self._inflight > 0 and not self._closing:
                self._cv.wait(0.5)
            if self._closing or self._kafka is None:
                return True
            kafka = self._kafka
            self._draining = True
        try:
            rows = self.spool.peek(self._drain_batch)
            if not rows:
                return True
            reports = _Reports()
            error: BaseException | None = None
            queued = 0
            for index, row in enumerate(rows):
                try:
                    kafka.send(row.topic or self.topic, row.key, row.value, row.headers,
                               _DrainedRecord(reports, index))
                except Exception as exc:
                    error = exc
                    break
                queued += 1
            kafka.flush(self._delivery_timeout_s + 5)
            if not reports.wait(queued, self._delivery_timeout_s + 5):
                error = error or TimeoutError(f"{queued - len(reports)} spooled record(s) not reported")
            acked: list[int] = []
            for index, row in enumerate(rows[:queued]):
                metadata, failure = reports.get(index, (None, TimeoutError("no delivery report")))
                if failure is not None:
                    error = error or failure
                    self._record_drained(row, None, failure)
                    continue
                acked.append(row.id)
                self._record_drained(row, metadata, None)
            self.spool.ack(acked)
            self._set_depth()
            if acked and len(self.spool) == 0:
                log.info("spool drained: every spooled event is now in Kafka")
                self._outage_logged = False
            if error is not None:
                log.warning("spool drain: %d of %d sent, then %s: %s; retrying later",
                            len(acked), len(rows), type(error).__name__, error)
            return error is None
        finally:
            with self._cv:
                self._draining = False
                self._cv.notify_all()

    def _record_drained(self, row: SpooledRecord, metadata: Any, exc: BaseException | None) -> None:
        event_id, agency = _identify(row)
        counters = self._counters(self._own_label or self.metrics.agency_label(agency))
        if exc is None:
            counters.sent.inc()
            self._latency.observe(max(0.0, time.time() - row.spooled_at))
        else:
            counters.failed.inc()
        if self.on_delivery is not None:
            self._notify(event_id, metadata, exc)

    # -- helpers ---------------------------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        with self._cv:
            self._cv.wait_for(lambda: self._closing, timeout=seconds)

    def _set_depth(self) -> None:
        if not self.spool.closed:
            self._depth_gauge.set(len(self.spool))

    def _invalid_label(self, event: object) -> str:
        if self.agency_identity:
            return self._own_label or UNKNOWN_AGENCY
        agency = event.get("agency") if isinstance(event, Mapping) else getattr(event, "agency", None)
        if isinstance(agency, str) and self.catalog is not None and self.catalog.agency(agency) is not None:
            return self.metrics.agency_label(agency)
        return UNKNOWN_AGENCY


class _Counters(NamedTuple):
    """The labelled children of one agency, resolved once (labels() costs more than inc())."""

    sent: Any
    failed: Any
    spooled: Any


class DurableBatch:
    """Where each event of one `send_durable_many` call stands: "kafka" (acks=all), "spool", or the
    exception that kept it from both (None while unknown).

    `on_done(batch)` is called once, by the thread that settles the last event (a Kafka delivery
    report, a spool commit, or the sending thread itself).
    """

    __slots__ = ("_left", "_lock", "_on_done", "outcomes")

    def __init__(self, size: int, on_done: Callable[[DurableBatch], None] | None = None) -> None:
        self.outcomes: list[str | BaseException | None] = [None] * size
        self._left = size
        self._lock = threading.Lock()
        self._on_done = on_done
        if size == 0 and on_done is not None:
            on_done(self)

    @property
    def done(self) -> bool:
        return self._left == 0

    def settle(self, index: int, outcome: str | BaseException) -> None:
        self.outcomes[index] = outcome
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last and self._on_done is not None:
            self._on_done(self)


class _Pending:
    """One direct send in flight: what is needed to spool it, in its place, if Kafka does not take it."""

    __slots__ = ("batch", "counters", "event_id", "headers", "index", "key", "producer", "seq", "started",
                 "value")

    def __init__(self, producer: EventProducer, seq: int, key: bytes, value: bytes, event_id: str,
                 counters: _Counters, started: float, headers: list[tuple[str, bytes]],
                 batch: DurableBatch | None, index: int) -> None:
        self.headers = headers
        self.batch = batch
        self.index = index
        self.producer = producer
        self.seq = seq
        self.key = key
        self.value = value
        self.event_id = event_id
        self.counters = counters
        self.started = started

    def ok(self, metadata: Any) -> None:
        self.producer._on_sent(self, metadata)

    def fail(self, exc: BaseException) -> None:
        self.producer._on_error(self, exc)


class _Reports:
    """Delivery reports of one spool drain, by the record's index in it (filled on a client thread)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._by_index: dict[int, tuple[Any, BaseException | None]] = {}

    def __len__(self) -> int:
        with self._cv:
            return len(self._by_index)

    def wait(self, count: int, timeout: float) -> bool:
        """True once `count` reports arrived; False after `timeout` seconds."""
        with self._cv:
            return self._cv.wait_for(lambda: len(self._by_index) >= count, timeout)

    def get(self, index: int, default: tuple[Any, BaseException | None]) -> tuple[Any, BaseException | None]:
        with self._cv:
            return self._by_index.get(index, default)

    def put(self, index: int, metadata: Any, exc: BaseException | None) -> None:
        with self._cv:
            self._by_index.setdefault(index, (metadata, exc))
            self._cv.notify_all()


class _DrainedRecord:
    """The `Delivery` of one re-sent spooled record: reports into the drain's `_Reports`."""

    __slots__ = ("index", "reports")

    def __init__(self, reports: _Reports, index: int) -> None:
        self.reports = reports
        self.index = index

    def ok(self, metadata: Any) -> None:
        self.reports.put(self.index, metadata, None)

    def fail(self, exc: BaseException) -> None:
        self.reports.put(self.index, None, exc)


def _identify(row: SpooledRecord) -> tuple[str, str | None]:
    """(event_id, agency) of a spooled record, read back from its JSON value."""
    try:
        payload = json.loads(row.value)
        return str(payload.get("event_id", "")), payload.get("agency")
    except (ValueError, AttributeError):
        return "", None


def _left(deadline: float | None) -> float | None:
    """Seconds until `deadline` (never negative); None for no deadline."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _slice(deadline: float | None, step: float) -> float:
    """How long one wait may last: `step`, shortened to what is left before `deadline`."""
    return step if deadline is None else max(0.0, min(step, deadline - time.monotonic()))


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline
