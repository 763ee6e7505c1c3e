"""The periodic report delivered end to end: events on a real Kafka topic, `ioc notify`'s loop with the
jobs `ioc notify` adds (ioc.commands.notify.report_jobs), e-mail to a real SMTP server (aiosmtpd on
loopback). On the first working day after the cut-off the director receives the form, each agency's
supervisors their row, the XLSX attached and equal to `ioc report ii06a` on the same events; once.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from openpyxl import load_workbook
from test_notify import ICT, notifier, settings_for, smtp_server, ts, wait_for, write_catalog

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from dossiers.periods import parse_period
from dossiers.replay import Replay
from dossiers.report_ii06a import Grouping, Window, build_report
from ioc.commands.notify import report_jobs
from ioc.devstack.kafka import KafkaBroker

APRIL = parse_period("2026-04")  # 15 Mar - 14 Apr 2026


def event(kind: str, dossier: str, when: int, agency: str, **fields: Any) -> dict[str, Any]:
    occurred = datetime.fromtimestamp(when, ICT).isoformat()
    return {"schema": "dossier-event/1", "event_id": f"{dossier}-{kind}", "type": kind, "dossier": dossier,
            "agency": agency, "occurred_at": occurred, **fields}


def history() -> list[dict[str, Any]]:
    stp, sxd = {"procedure": "1.000001"}, {"procedure": "1.000002"}
    return [
        event("received", "STP-1", ts(2026, 3, 16, 9), "STP", channel="online", **stp),
        event("resolved", "STP-1", ts(2026, 3, 20, 9), "STP"),
        event("received", "STP-2", ts(2026, 3, 2, 9), "STP", channel="counter", **stp),  # carried over, late
        event("resolved", "STP-2", ts(2026, 3, 30, 9), "STP"),
        event("received", "SXD-1", ts(2026, 4, 10, 9), "SXD", channel="postal", **sxd),  # open at the end
        event("received", "SXD-2", ts(2026, 4, 16, 9), "SXD", channel="counter", **sxd),  # after the period
    ]


def test_the_closed_period_s_report_reaches_the_director_and_each_agency_once(
        kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], tmp_path: Path) -> None:
    alerts, events = kafka_topic(partitions=1, prefix="alerts"), kafka_topic(partitions=3, prefix="events")
    catalog_path = write_catalog(tmp_path / "catalog.yaml", "http://127.0.0.1:9")
    items = history()
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    for item in items:
        producer.send(events, key=item["dossier"].encode(), value=json.dumps(item).encode())
    producer.flush(30)
    producer.close()
    catalog = load_catalog(catalog_path)
    calendar = WorkingCalendar(catalog.calendar)
    window = Window.of(APRIL, calendar)
    run = Replay(catalog, calendar, window.end)
    for item in items:
        assert run.feed_raw(item) is not None, run.invalid
    expected = build_report(run.states.values(), catalog, calendar, APRIL, window, Grouping.AGENCY)
    assert (expected.total.c3, expected.total.c6, expected.total.c10, expected.total.c13) == (3, 1, 1, 0)

    with smtp_server() as (box, port):
        settings = settings_for(tmp_path, kafka_broker.bootstrap, alerts, catalog_path, port,
                                ts(2026, 4, 15, 7, 30), events_topic=events, notify_digest_time=None,
                                notify_group=f"notify-report-{uuid.uuid4().hex[:6]}")
        jobs = report_jobs(settings)
        assert len(jobs) == 1
        with notifier(settings, jobs=jobs):
            wait_for(lambda: len(box.by("report:")) >= 3, what="the report e-mails")
            time.sleep(1.0)  # room for a duplicate to show up
        with notifier(settings, jobs=report_jobs(settings)):  # a restart the same day sends nothing again
            time.sleep(1.5)

    mails = Counter((rcpt, str(m["X-IOC-Notification"])) for rcpt, m in box.by("report:"))
    key = "report:ii06a:2026-03-15:2026-04-14"
    assert mails == Counter({("director@test.invalid", f"{key}:centre"): 1,
                             ("stp@test.invalid", f"{key}:STP"): 1, ("sxd@test.invalid", f"{key}:SXD"): 1})
    for rcpt, message in box.by("report:"):
        [part] = list(message.iter_attachments())
        sheet = load_workbook(io.BytesIO(part.get_content())).active
        assert sheet is not None
        table = [list(r) for r in sheet.iter_rows(values_only=True)]
        if rcpt == "director@test.invalid":
            total = next(r for r in table if r[1] == "Tổng cộng")
            assert total[2:13] == [expected.total.as_dict()[f"c{i}"] for i in range(3, 14)]
        else:
            code = "STP" if rcpt.startswith("stp") else "SXD"
            row = next(r for r in expected.rows if r.key == code)
            [line] = [r for r in table if r[0] == 1]
            assert line[1] == row.label
            assert line[2:13] == [row.counts.as_dict()[f"c{i}"] for i in range(3, 14)]
