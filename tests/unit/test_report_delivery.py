"""The periodic report delivered by the notifier (ioc/report_delivery.py, notifier/report_mail.py): when it
is due, who gets what, the XLSX attached, sent once per period; attachments through the outbox and SMTP.

The events come from a list of records here (`read=`): a named stand-in for the events topic, whose real
reading is tested in tests/integration/test_report_delivery_mail.py on the local broker.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from strategies import CATALOG, at, event

from dossiers.calendar import WorkingCalendar
from dossiers.periods import delivery_day, parse_period
from dossiers.replay import Replay
from dossiers.report_ii06a import Grouping, Window, build_report
from ioc.report_delivery import ReportDelivery
from kafka_settings import KafkaSettings
from notifier.delivery import SmtpSender
from notifier.policy import Attachment, Outbound
from notifier.report_mail import XLSX, figures
from notifier.store import SqliteNotifyStore
from reports.kafka_source import TopicRecord

CALENDAR = WorkingCalendar(CATALOG.calendar)
APRIL = parse_period("2026-04")  # 15 Mar - 14 Apr 2026
P = {"procedure": "2.000488"}  # Justice (STP), 10 working days


def ts(value: datetime) -> int:
    return int(value.timestamp())


def events() -> list[dict[str, Any]]:
    return [
        event("received", at(2026, 3, 16, 9), dossier="A", event_id="A-r", channel="online", **P),
        event("resolved", at(2026, 3, 25, 10), dossier="A", event_id="A-s"),
        event("received", at(2026, 3, 16, 9), dossier="B", event_id="B-r", channel="counter", **P),
        event("resolved", at(2026, 4, 1, 9), dossier="B", event_id="B-s"),  # late
        event("received", at(2026, 4, 13, 9), dossier="C", event_id="C-r", channel="counter", **P),  # open
        event("received", at(2026, 4, 20, 9), dossier="D", event_id="D-r", channel="counter", **P),  # after
    ]


def records(items: list[dict[str, Any]]) -> list[TopicRecord]:
    return [TopicRecord(0, i, json.dumps(e).encode()) for i, e in enumerate(items)]


def job(items: list[dict[str, Any]] | None = None) -> ReportDelivery:
    given = records(events() if items is None else items)
    return ReportDelivery(KafkaSettings(), CATALOG, CALENDAR, read=lambda _settings: given)


def test_the_report_is_sent_on_the_first_working_day_after_the_cut_off() -> None:
    assert delivery_day(APRIL, CALENDAR) == date(2026, 4, 15)  # a Wednesday
    # calendar April ends on Thu 30 Apr (Reunification Day), then Labour Day and a weekend: Monday 4 May
    assert delivery_day(parse_period("2026-04", calendar=True), CALENDAR) == date(2026, 5, 4)
    assert delivery_day(parse_period("2026-01", calendar=True), CALENDAR) == date(2026, 2, 2)  # Sat 31 Jan


def test_due_only_once_the_office_opens_on_that_day() -> None:
    delivery = job()
    assert delivery.due(ts(at(2026, 4, 15, 6, 59))) is None
    due = delivery.due(ts(at(2026, 4, 15, 7, 0)))
    assert due is not None and (due.first, due.last) == (date(2026, 3, 15), date(2026, 4, 14))
    later = delivery.due(ts(at(2026, 4, 28, 10)))  # a late start still sends the last closed period
    assert later is not None and later.last == date(2026, 4, 14)


def test_director_gets_the_form_and_each_agency_its_row_once_per_period(tmp_path: Path) -> None:
    store = SqliteNotifyStore(tmp_path / "notify.sqlite")
    delivery = job()
    channels = frozenset({"email", "file"})
    delivery(store, channels, ts(at(2026, 4, 15, 6, 30)), 1000.0)
    assert store.pending(10**12) == []  # before opening: nothing
    delivery.next_check = float("-inf")
    delivery(store, channels, ts(at(2026, 4, 15, 8)), 2000.0)
    pending = store.pending(10**12)
    keys = {d.key for d in pending}
    agencies_with_supervisors = [a.code for a in CATALOG.agencies if a.supervisors]
    assert keys == {f"report:ii06a:2026-03-15:2026-04-14:{scope}"
                    for scope in ["centre", *agencies_with_supervisors]}
    director = [d for d in pending if d.channel == "email" and d.key.endswith(":centre")]
    assert [d.address for d in director] == [CATALOG.centre.director.email]  # type: ignore[union-attr]
    # the whole form attached, the same figures as the report of the same events
    window = Window.of(APRIL, CALENDAR)
    run = Replay(CATALOG, CALENDAR, window.end)
    for e in events():
        run.feed_raw(e)
    expected = build_report(run.states.values(), CATALOG, CALENDAR, APRIL, window, Grouping.AGENCY)
    [attachment] = director[0].attachments
    assert attachment.filename == "bieu-II06a_2026-03-15_2026-04-14_centre.xlsx"
    assert attachment.content_type == XLSX
    sheet = load_workbook(io.BytesIO(attachment.data)).active
    assert sheet is not None
    numbers = [list(row) for row in sheet.iter_rows(values_only=True)]
    total_row = next(r for r in numbers if r[1] == "Tổng cộng")
    assert total_row[2:13] == [expected.total.as_dict()[f"c{i}"] for i in range(3, 14)]
    assert expected.total.c3 == 3 and expected.total.c10 == 1  # A, B, C received; B late; D after the period
    # STP's supervisors: their row only, in the body and in the file
    stp = [d for d in pending if d.channel == "email" and d.key.endswith(":STP")]
    assert sorted(d.address for d in stp) == sorted(c.email for c in CATALOG.agency("STP").supervisors
                                                   if c.email)  # type: ignore[union-attr]
    stp_row = next(r for r in expected.rows if r.key == "STP")
    assert all(line in stp[0].body for line in figures(stp_row.counts))
    stp_sheet = load_workbook(io.BytesIO(stp[0].attachments[0].data)).active
    assert stp_sheet is not None
    rows = [r for r in stp_sheet.iter_rows(values_only=True) if r[0] == 1]
    assert len(rows) == 1 and list(rows[0][2:13]) == [stp_row.counts.as_dict()[f"c{i}"] for i in range(3, 14)]
    # the file sink gets the notification without the file, and a second turn sends nothing again
    assert all(d.attachments == () for d in pending if d.channel == "file")
    delivery.next_check = float("-inf")
    delivery(store, channels, ts(at(2026, 4, 16, 8)), 3000.0)
    assert len(store.pending(10**12)) == len(pending)


def test_the_mail_carries_the_attachment_byte_for_byte() -> None:
    data = bytes(range(256)) * 40
    out = Outbound("k", "report", "STP", None, "Biểu số II.06a/VPCP/KSTT — Sở Tư pháp", "Nội dung\n", (),
                   {}, (Attachment("bieu.xlsx", XLSX, data),))
    store = SqliteNotifyStore(":memory:")
    store.record(out, [("email", "a@test.invalid")], 1.0)
    [delivery] = store.pending(2.0)
    message = SmtpSender("127.0.0.1").message(delivery)
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    body = parsed.get_body(("plain",))
    assert body is not None and body.get_content() == "Nội dung\n"
    [part] = list(parsed.iter_attachments())
    assert part.get_filename() == "bieu.xlsx" and part.get_content_type() == XLSX
    assert part.get_content() == data
    assert str(parsed["Subject"]) == "Biểu số II.06a/VPCP/KSTT — Sở Tư pháp"


def test_pruned_notifications_take_their_files_with_them() -> None:
    store = SqliteNotifyStore(":memory:")
    out = Outbound("k", "report", "", None, "s", "b", (), {}, (Attachment("a.xlsx", XLSX, b"x"),))
    store.record(out, [("email", "a@test.invalid")], 1.0)
    [delivery] = store.pending(2.0)
    store.mark_sent(delivery.id, 2.0)
    store.prune(0, 10.0)
    assert store.attachments("k") == ()
