"""The periodic report, delivered: on the first working day after a period's cut-off, once the office
opens, the notifier sends Biểu II.06a of the period that just closed, built from the events topic, to the
centre's director (the whole form) and to each agency's supervisors (their own row), the XLSX attached.

Composed here, at the entry point, because it joins three adapters that must not import each other:
`reports/` (the topic reader, the XLSX writer), `notifier/` (the messages and the outbox) and the core
that computes the form. The notifier's loop calls it (`run_notifier(jobs=...)`); `ioc notify` adds it
unless IOC_NOTIFY_REPORTS=false.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from kafka.errors import KafkaError

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from dossiers.periods import Period, delivery_day, relative_period
from dossiers.replay import Replay
from dossiers.report_ii06a import Grouping, Report, Window, build_report
from kafka_settings import KafkaSettings
from notifier.policy import targets
from notifier.report_mail import report_outbounds
from notifier.store import SqliteNotifyStore
from reports.kafka_source import TopicNotFound, TopicRecord, read_topic
from reports.xlsx import workbook

log = logging.getLogger("ioc.notify")

CHECK_EVERY_SECONDS = 60.0


def xlsx_bytes(report: Report, centre: str) -> bytes:
    out = io.BytesIO()
    workbook(report, centre).save(out)
    return out.getvalue()


class ReportDelivery:
    """A notifier job (notifier.service.NotifierJob): sends each closed period's report once."""

    def __init__(self, settings: KafkaSettings, catalog: Catalog, calendar: WorkingCalendar, *,
                 calendar_periods: bool = False,
                 read: Callable[[KafkaSettings], Iterable[TopicRecord]] = read_topic) -> None:
        self.settings, self.catalog, self.calendar = settings, catalog, calendar
        self.calendar_periods = calendar_periods
        self.read = read
        self.next_check = float("-inf")

    def due(self, now: int) -> Period | None:
        """The period whose report is due at business instant `now`: the last closed one, once the office
        has opened on the first working day after it; None before that."""
        period = relative_period("previous", self.calendar.local_date(now), self.calendar_periods)
        assert period is not None
        day = delivery_day(period, self.calendar)
        opening = self.calendar.config.office_hours.periods[0][0]
        return period if now >= datetime.combine(day, opening, tzinfo=self.calendar.tz).timestamp() else None

    def build(self, period: Period, now: int) -> Report:
        """The form of `period` from every record of the events topic (invalid records are skipped and
        counted in the log, as `ioc report ii06a --from-kafka` reports them)."""
        window = Window.of(period, self.calendar, now)
        run = Replay(self.catalog, self.calendar, window.end)
        for record in self.read(self.settings):
            if record.value is not None:
                run.feed_raw(record.value, record.offset)
        if run.invalid:
            log.warning("report %s..%s: %d invalid record(s) of the events topic skipped", period.first,
                        period.last, len(run.invalid))
        return build_report(run.states.values(), self.catalog, self.calendar, period, window, Grouping.AGENCY)

    def __call__(self, store: SqliteNotifyStore, channels: frozenset[str], now: int, wall: float) -> None:
        if wall < self.next_check:
            return
        self.next_check = wall + CHECK_EVERY_SECONDS
        period = self.due(now)
        if period is None:
            return
        done = f"report:ii06a:{period.first}:{period.last}"
        if store.get_meta(done) is not None:
            return
        try:
            report = self.build(period, now)
        except (TopicNotFound, TimeoutError, KafkaError) as exc:  # Kafka down, or no events yet: later
            log.warning("report II.06a %s..%s: cannot read the events topic (%s); retrying in %.0f s",
                        period.first, period.last, exc, CHECK_EVERY_SECONDS)
            return
        centre = self.catalog.centre.name
        rows = {row.key: xlsx_bytes(replace(report, rows=[row], total=row.counts), centre)
                for row in report.rows}
        outbounds = report_outbounds(report, self.catalog, xlsx_bytes(report, centre), rows, now)
        with store.transaction():
            for out in outbounds:
                store.record(out, targets(out, channels), wall)
            store.set_meta(done, str(int(wall)))
        log.info("report II.06a %s..%s queued for %d recipient group(s)", period.first, period.last,
                 len(outbounds))
