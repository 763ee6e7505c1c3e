"""`ioc notify`: tell supervisors about overdue dossiers (e-mail, webhook, file), digests, escalations.

`run_notifier` is the service loop, callable from a thread or a process (`ioc up`): poll
`dossier-alerts`, decide (notifier/policy.py) and record the decisions and outgoing messages in SQLite
in one transaction, commit the Kafka offsets only then, and let the dispatcher send what is due.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from dossiers.alerts import Alert
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import SAMPLE_WARNING, load_catalog
from notifier.delivery import Dispatcher, FileSink, Sender, SmtpSender, WebhookSender
from notifier.policy import Notifier, targets
from notifier.settings import NotifySettings
from notifier.store import SqliteNotifyStore

log = logging.getLogger("ioc.notify")

CONNECT_RETRY_SECONDS = 5.0
MAX_POLL_RECORDS = 500
PARTITION_REFRESH_SECONDS = 60.0
PRUNE_EVERY_SECONDS = 3600.0
KAFKA_TIMEOUT_MS = 10_000


class NotifierJob(Protocol):
    """Work the entry point adds to the loop (e.g. the periodic report, ioc/report_delivery.py): called on
    every turn with the outbox, the enabled channels, business `now` and wall time; it keeps its own pace."""

    def __call__(self, store: SqliteNotifyStore, channels: frozenset[str], now: int, wall: float) -> None: ...


class StopEvent(Protocol):
    """threading.Event and multiprocessing.Event both fit."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def build_senders(settings: NotifySettings) -> dict[str, Sender]:
    """The adapters of the channels that are enabled and configured."""
    channels = settings.channels()
    senders: dict[str, Sender] = {}
    if "email" in channels and settings.smtp_host:
        senders["email"] = SmtpSender(
            settings.smtp_host, settings.smtp_port, settings.smtp_from, user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls, use_ssl=settings.smtp_ssl, timeout=settings.smtp_timeout)
    if "webhook" in channels:
        senders["webhook"] = WebhookSender(settings.notify_webhook_timeout)
    if "file" in channels and settings.notify_file is not None:
        senders["file"] = FileSink(settings.notify_file)
    return senders


class AlertSource:
    """The alerts topic, read by one notifier: every partition, offsets committed in its group.

    Why manual assignment rather than group subscription: the notifier is a single instance by design
    (its SQLite file is the truth; two instances splitting partitions would each send half a digest),
    so group rebalancing brings nothing, and kafka-python 3.0 was seen to hang in a rejoin. The group id
    still holds the committed offsets (and shows the lag in the usual Kafka tools).
    """

    def __init__(self, settings: NotifySettings):
        self.settings = settings
        self.security = settings.kafka_python_kwargs()  # SASL settings checked at start-up, not later
        self.consumer: Any = None
        self.next_connect = 0.0
        self.next_refresh = 0.0
        self.backlog: dict[Any, int] | None = None
        """End offsets when connected; None once they were reached (see `poll`)."""

    def poll(self) -> tuple[list[Any], bool]:
        """New records, and whether the backlog found at connection time has been read.

        Time-driven decisions wait for that, so that a digest after a restart is not built from stale
        state; with Kafka unreachable they go on (held messages, digests, retries do not need it).
        """
        from kafka.errors import KafkaError

        if self.consumer is None and time.monotonic() >= self.next_connect:
            self._connect()
        if self.consumer is None:
            return [], True
        try:
            self._refresh_partitions()
            batch = self.consumer.poll(timeout_ms=int(self.settings.notify_poll_seconds * 1000))
            records = [record for part in batch.values() for record in part]
            if self.backlog is not None and self._reached(self.backlog):
                self.backlog = None
        except KafkaError as exc:  # what was not committed comes again after the reconnection
            log.warning("kafka poll failed (%s); reconnecting in %.0f s", exc, CONNECT_RETRY_SECONDS)
            self.close()
            return [], True
        return records, self.backlog is None and len(records) < MAX_POLL_RECORDS

    def commit(self) -> None:
        """Called only once the polled records are recorded: a crash before it re-reads them."""
        from kafka.errors import KafkaError

        try:
            self.consumer.commit()
        except KafkaError as exc:
            log.warning("offset commit failed (%s); the alerts will come again and be ignored", exc)

    def close(self) -> None:
        from kafka.errors import KafkaError

        if self.consumer is not None:
            try:
                self.consumer.close(autocommit=False)
            except KafkaError as exc:
                log.warning("kafka consumer close: %s", exc)
        self.consumer = None
        self.next_connect = time.monotonic() + CONNECT_RETRY_SECONDS

    def _connect(self) -> None:
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        settings = self.settings
        self.next_connect = time.monotonic() + CONNECT_RETRY_SECONDS
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=[h.strip() for h in settings.kafka_bootstrap.split(",") if h.strip()],
                group_id=settings.notify_group, client_id="ioc-notifier", enable_auto_commit=False,
                auto_offset_reset="earliest", max_poll_records=MAX_POLL_RECORDS, **self.security)
            if not self._refresh_partitions():
                log.warning("topic %s not found; retrying in %.0f s", settings.alerts_topic,
                            CONNECT_RETRY_SECONDS)
                self.close()
                return
            self.backlog = dict(self.consumer.end_offsets(list(self.consumer.assignment()),
                                                          timeout_ms=KAFKA_TIMEOUT_MS))
        except KafkaError as exc:
            log.warning("kafka %s unreachable (%s); retrying in %.0f s", settings.kafka_bootstrap, exc,
                        CONNECT_RETRY_SECONDS)
            self.close()

    def _reached(self, ends: dict[Any, int]) -> bool:
        return all((self.consumer.position(tp, timeout_ms=KAFKA_TIMEOUT_MS) or 0) >= end
                   for tp, end in ends.items())

    def _refresh_partitions(self) -> bool:
        """Assign every partition of the topic (again when partitions were added); False if none."""
        from kafka import TopicPartition

        if time.monotonic() < self.next_refresh and self.consumer.assignment():
            return True
        self.next_refresh = time.monotonic() + PARTITION_REFRESH_SECONDS
        topic = self.settings.alerts_topic
        wanted = {TopicPartition(topic, p) for p in self.consumer.partitions_for_topic(topic)}
        if wanted and wanted != self.consumer.assignment():
            self.consumer.assign(sorted(wanted))
        return bool(wanted)


def run_notifier(settings: NotifySettings | None = None, stop_event: StopEvent | None = None,
                 jobs: Sequence[NotifierJob] = ()) -> None:
    """Run until `stop_event` is set (forever without one). Safe to stop and restart at any point."""
    settings = settings or NotifySettings()
    stop: StopEvent = stop_event if stop_event is not None else threading.Event()
    catalog = load_catalog(settings.catalog)
    if catalog.sample:
        log.warning("%s", SAMPLE_WARNING)
    calendar = WorkingCalendar(catalog.calendar)
    clock = settings.clock()
    channels = settings.channels()
    store = SqliteNotifyStore(settings.notify_db)
    notifier = Notifier(catalog, calendar, store, settings.policy())
    dispatcher = Dispatcher(store, build_senders(settings),
                            retry_initial=settings.notify_retry_initial_seconds,
                            retry_max=settings.notify_retry_max_seconds)
    source = AlertSource(settings)
    log.info("notifier: topic %s, group %s, channels %s, state %s", settings.alerts_topic,
             settings.notify_group, ",".join(sorted(channels)) or "none", settings.notify_db)
    pruned_at = float("-inf")
    try:
        while not stop.is_set():
            records, caught_up = source.poll()
            decide(store, notifier, channels, records, int(clock.now(time.time())), time.time(), caught_up)
            if records:
                source.commit()
            for job in jobs:
                try:
                    job(store, channels, int(clock.now(time.time())), time.time())
                except Exception:  # one failing job must not stop the alerts; it is tried again
                    log.exception("notifier job %s failed; retried on a later turn", type(job).__name__)
            dispatcher.run(time.time())
            if time.time() - pruned_at >= PRUNE_EVERY_SECONDS:
                pruned_at = time.time()
                prune(store, settings.notify_retention_days, int(clock.now(pruned_at)), pruned_at)
            if source.consumer is None:
                stop.wait(settings.notify_poll_seconds)
    finally:
        source.close()
        store.close()


def prune(store: SqliteNotifyStore, retention_days: float, now: int, wall: float) -> dict[str, int]:
    """Forget seen alert ids (business time) and sent messages (wall time) older than the retention."""
    if not retention_days:
        return {}
    keep = retention_days * 86400
    removed = store.prune(int(now - keep), wall - keep)
    if any(removed.values()):
        log.info("pruned after %g day(s): %s", retention_days,
                 ", ".join(f"{n} {what}" for what, n in removed.items()))
    return removed


def decide(store: SqliteNotifyStore, notifier: Notifier, channels: frozenset[str], records: Sequence[Any],
           now: int, wall: float, on_time: bool = True) -> None:
    """Decide on a batch of records (and on the time) and queue the messages, in one transaction.

    Records are decoded strictly (`Alert.from_json`); a malformed one is logged with its partition, offset
    and the reason, and skipped. Each alert has its own savepoint: one that cannot be handled is logged
    and skipped too, rather than stopping the notifier on every restart (a poison record).
    """
    with store.transaction():
        for record in records:
            where = f"{record.topic}[{record.partition}]@{record.offset}"
            try:
                alert = Alert.from_json(record.value)
            except ValueError as exc:  # the contract is strict (dossiers/alerts.py): say why, go on
                log.warning("malformed alert record at %s skipped: %s", where, exc)
                continue
            try:
                with store.savepoint():
                    for out in notifier.on_alert(alert, now):
                        store.record(out, targets(out, channels), wall)
            except Exception:
                log.exception("alert %s at %s could not be handled; skipped", alert.alert_id, where)
        if on_time:
            try:
                with store.savepoint():
                    for out in notifier.on_time(now):
                        store.record(out, targets(out, channels), wall)
            except Exception:
                log.exception("time-driven notifications failed; retried on the next poll")
