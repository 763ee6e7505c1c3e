"""The supervisor notifier's decisions (notifier/policy.py) with plain times, plus its store and settings.

Times are local Vietnam instants worked out by hand: 2026-03-02 is a Monday; Tết 2026 closes the
offices from Saturday 14 February to Sunday 22 February (the `holidays` package, country VN).
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
from datetime import datetime, time, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dossiers.alerts import Alert, alert_id
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog
from notifier.delivery import DeliveryError, Dispatcher, FileSink, SmtpSender
from notifier.policy import Notifier, Outbound, Policy, route, targets, working_duration
from notifier.service import decide, prune
from notifier.settings import NotifySettings
from notifier.store import PendingDelivery, SqliteNotifyStore

ICT = timezone(timedelta(hours=7))

CATALOG = Catalog.model_validate({
    "centre": {"code": "TT", "name": "Trung tâm thử nghiệm",
               "director": {"name": "Giám đốc", "email": "director@test.invalid",
                            "webhook": "http://hooks.invalid/director"}},
    "agencies": [
        {"code": "STP", "name": "Sở Tư pháp",
         "supervisors": [{"name": "Phó Giám đốc Sở Tư pháp", "email": "stp@test.invalid"},
                         {"name": "Trực ban STP", "email": "duty.stp@test.invalid",
                          "webhook": "http://hooks.invalid/stp"}],
         "procedures": [{"code": "1.000001", "name": "Cấp phiếu lý lịch tư pháp", "field": "Lý lịch tư pháp",
                         "processing": 10}]},
        {"code": "SXD", "name": "Sở Xây dựng",
         "procedures": [{"code": "1.000002", "name": "Cấp giấy phép xây dựng", "field": "Xây dựng",
                         "processing": 15}]},
    ],
})
CALENDAR = WorkingCalendar(CATALOG.calendar)


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=ICT).timestamp())


def alert(kind: str = "overdue", dossier: str = "H48-0001", agency: str = "STP", *,
          due_at: int | None = None, at: int | None = None, procedure: str = "1.000001") -> Alert:
    due = ts(2026, 3, 2, 10) if due_at is None else due_at
    when = due + 1 if at is None else at
    late = max(0, when - due) if kind != "due_soon" else 0
    return Alert(alert_id(dossier, kind, due), kind, dossier, agency, procedure, "Lý lịch tư pháp", due, when,
                 late, None)


@pytest.fixture
def store() -> SqliteNotifyStore:
    return SqliteNotifyStore(":memory:")


def notifier(store: SqliteNotifyStore, **policy: Any) -> Notifier:
    return Notifier(CATALOG, CALENDAR, store, Policy(**policy))


def emails(out: Outbound) -> list[str]:
    return [c.email for c in out.recipients if c.email]


# -- the record -----------------------------------------------------------------------------------------
def test_parse_alert_reads_what_the_worker_writes() -> None:
    original = Alert("abc", "overdue", "H48-1", "STP", "1.000001", "Lý lịch", ts(2026, 3, 2, 10),
                     ts(2026, 3, 2, 10, 0, 1), 1, ts(2026, 3, 5, 9))
    assert Alert.from_json(original.to_json()) == original


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"schema": "dossier-alert/2"}',
                                 b'{"schema": "dossier-alert/1", "alert_id": "x", "kind": "overdue"}'])
def test_parse_alert_rejects_malformed_records(raw: bytes) -> None:
    with pytest.raises(ValueError):
        Alert.from_json(raw)


# -- routing --------------------------------------------------------------------------------------------
def test_routes_to_the_agencys_supervisors_on_every_channel(store: SqliteNotifyStore) -> None:
    [out] = notifier(store).on_alert(alert(), ts(2026, 3, 2, 10, 0, 5))
    assert emails(out) == ["stp@test.invalid", "duty.stp@test.invalid"]
    assert targets(out, {"email", "webhook", "file"}) == [
        ("email", "stp@test.invalid"), ("email", "duty.stp@test.invalid"),
        ("webhook", "http://hooks.invalid/stp"), ("file", "")]
    assert targets(out, {"webhook"}) == [("webhook", "http://hooks.invalid/stp")]
    assert out.payload["note"] is None


def test_agency_without_supervisors_and_unknown_agency_go_to_the_director_with_a_note() -> None:
    for code, words in (("SXD", "chưa khai báo người phụ trách"), ("XYZ", "không có trong danh mục")):
        found = route(CATALOG, code)
        assert [c.email for c in found.recipients] == ["director@test.invalid"]
        assert found.note is not None and words in found.note
    out = notifier(SqliteNotifyStore(":memory:")).on_alert(alert(agency="XYZ"), ts(2026, 3, 2, 10, 0, 5))[0]
    assert "Ghi chú: Mã cơ quan 'XYZ'" in out.body
    assert targets(out, {"email", "webhook"}) == [("email", "director@test.invalid"),
                                                  ("webhook", "http://hooks.invalid/director")]


# -- immediate messages ---------------------------------------------------------------------------------
def test_overdue_message_is_vietnamese_with_procedure_local_due_time_and_lateness(
        store: SqliteNotifyStore) -> None:
    # due Monday 10:00, sent Tuesday 11:00: 1 working day and 1 working hour late
    [out] = notifier(store).on_alert(alert(at=ts(2026, 3, 3, 11)), ts(2026, 3, 3, 11))
    assert out.subject == "Hồ sơ quá hạn: H48-0001 — Sở Tư pháp"
    assert out.key == f"overdue:{alert().alert_id}"
    assert "Thủ tục: 1.000001 — Cấp phiếu lý lịch tư pháp" in out.body
    assert "Hạn giải quyết: 10:00 Thứ Hai 02/03/2026 (giờ Việt Nam)" in out.body
    assert "Thời gian quá hạn: 1 ngày 1 giờ làm việc" in out.body
    assert out.payload["schema"] == "ioc-notification/1"
    assert out.payload["data"]["late_working_seconds"] == CALENDAR.day_seconds + 3600
    assert out.payload["data"]["alert"]["dossier"] == "H48-0001"
    json.dumps(out.payload)  # JSON-able as it is


def test_one_message_per_transition_and_duplicates_are_ignored(store: SqliteNotifyStore) -> None:
    n = notifier(store)
    now = ts(2026, 3, 2, 10, 0, 5)
    assert len(n.on_alert(alert(), now)) == 1
    assert n.on_alert(alert(), now + 60) == []  # the same alert re-sent after a worker crash
    # another overdue alert for the same dossier (a moved due time) is not a new transition
    assert n.on_alert(alert(due_at=ts(2026, 3, 2, 9), at=now), now) == []
    assert len(n.on_alert(alert(dossier="H48-0002"), now)) == 1


def test_due_soon_and_resolved_late_go_to_the_digest_only_unless_configured(store: SqliteNotifyStore) -> None:
    now = ts(2026, 3, 2, 9)
    assert notifier(store).on_alert(alert("due_soon", due_at=ts(2026, 3, 2, 16), at=now), now) == []
    assert notifier(store).on_alert(alert("resolved_late", at=now + 7200), now + 7200) == []
    both = notifier(SqliteNotifyStore(":memory:"),
                    immediate_kinds=frozenset({"overdue", "due_soon", "resolved_late"}))
    [soon] = both.on_alert(alert("due_soon", due_at=ts(2026, 3, 2, 16), at=now), now)
    assert soon.subject.startswith("Hồ sơ sắp đến hạn: H48-0001")
    assert "Thời gian còn lại: 5 giờ làm việc" in soon.body and "quá hạn:" not in soon.body  # 09:00 -> 16:00
    [late] = both.on_alert(alert("resolved_late", at=ts(2026, 3, 2, 17)), ts(2026, 3, 2, 16, 30))
    assert late.subject.startswith("Hồ sơ giải quyết quá hạn: H48-0001")


def test_alerts_older_than_the_max_age_update_state_but_send_nothing(store: SqliteNotifyStore) -> None:
    n = notifier(store)
    old = alert(due_at=ts(2026, 2, 26, 10))
    assert n.on_alert(old, ts(2026, 3, 2, 10)) == []
    assert [a.dossier for a in store.overdue()] == ["H48-0001"]


# -- office hours ---------------------------------------------------------------------------------------
def test_held_after_friday_close_and_sent_monday_at_opening(store: SqliteNotifyStore) -> None:
    n = notifier(store)
    friday_evening = ts(2026, 3, 6, 18)
    assert n.on_alert(alert(due_at=ts(2026, 3, 6, 17), at=friday_evening), friday_evening) == []
    assert [release for _, release in store.held()] == [ts(2026, 3, 9, 7)]
    assert n.on_time(ts(2026, 3, 7, 10)) == []  # Saturday
    assert n.on_time(ts(2026, 3, 9, 6, 59, 59)) == []
    [out] = n.on_time(ts(2026, 3, 9, 7))
    assert out.kind == "overdue" and out.payload["created_at"] == "2026-03-09T00:00:00Z"
    assert n.on_time(ts(2026, 3, 9, 7, 1)) == []


def test_held_through_tet_2026_until_23_february(store: SqliteNotifyStore) -> None:
    n = notifier(store)
    friday_evening = ts(2026, 2, 13, 18)
    assert n.on_alert(alert(due_at=ts(2026, 2, 13, 17), at=friday_evening), friday_evening) == []
    assert [release for _, release in store.held()] == [ts(2026, 2, 23, 7)]
    assert n.on_time(ts(2026, 2, 18, 9)) == []  # a weekday, but Tết
    assert len(n.on_time(ts(2026, 2, 23, 7))) == 1


def test_lunch_break_holds_until_the_afternoon_session(store: SqliteNotifyStore) -> None:
    n = notifier(store)
    noon = ts(2026, 3, 3, 12)
    assert n.on_alert(alert(at=noon), noon) == []
    assert [release for _, release in store.held()] == [ts(2026, 3, 3, 13, 30)]


def test_outside_hours_send_policy_sends_at_once(store: SqliteNotifyStore) -> None:
    evening = ts(2026, 3, 6, 18)
    assert len(notifier(store, outside_hours="send").on_alert(alert(at=evening), evening)) == 1


def test_a_held_message_is_dropped_when_the_dossier_is_resolved_before_the_opening(
        store: SqliteNotifyStore) -> None:
    n = notifier(store)
    evening = ts(2026, 3, 6, 18)
    n.on_alert(alert(due_at=ts(2026, 3, 6, 17), at=evening), evening)
    n.on_alert(alert("resolved_late", due_at=ts(2026, 3, 6, 17), at=evening + 600), evening + 600)
    assert n.on_time(ts(2026, 3, 9, 7)) == []
    assert store.overdue() == []


# -- digest ---------------------------------------------------------------------------------------------
def test_daily_digest_at_0730_on_working_days_once_per_day(store: SqliteNotifyStore) -> None:
    n = notifier(store, escalate_after_days=0)
    n.on_alert(alert(dossier="OD-1", due_at=ts(2026, 3, 4, 10)), ts(2026, 3, 4, 10, 0, 5))
    n.on_alert(alert("due_soon", dossier="DS-1", due_at=ts(2026, 3, 5, 15), at=ts(2026, 3, 4, 15)),
               ts(2026, 3, 4, 15))
    n.on_alert(alert("due_soon", dossier="DS-2", due_at=ts(2026, 3, 4, 16), at=ts(2026, 3, 4, 8)),
               ts(2026, 3, 4, 8))  # its due time passes with no overdue alert: resolved on time
    n.on_alert(alert("resolved_late", dossier="RL-1", due_at=ts(2026, 3, 3, 9), at=ts(2026, 3, 4, 11)),
               ts(2026, 3, 4, 11))
    n.on_alert(alert(agency="SXD", dossier="X-1", procedure="1.000002", due_at=ts(2026, 3, 4, 9)),
               ts(2026, 3, 4, 9, 0, 5))
    assert [o for o in n.on_time(ts(2026, 3, 5, 7, 29, 59)) if o.kind == "digest"] == []
    digests = {o.agency: o for o in n.on_time(ts(2026, 3, 5, 7, 30))}
    assert set(digests) == {"STP", "SXD"}
    stp = digests["STP"]
    assert stp.key == "digest:2026-03-05:STP"
    assert stp.subject == ("Tổng hợp hồ sơ ngày 05/03/2026 — Sở Tư pháp: 1 quá hạn, 1 sắp đến hạn, "
                           "1 giải quyết quá hạn")
    assert emails(stp) == ["stp@test.invalid", "duty.stp@test.invalid"]
    data = stp.payload["data"]
    assert data["counts"] == {"overdue": 1, "due_soon": 1, "resolved_late": 1}
    assert [row["dossier"] for row in data["overdue"]] == ["OD-1"]
    assert [row["dossier"] for row in data["due_soon"]] == ["DS-1"]
    assert "  - OD-1 · 1.000001 · quá hạn 5 giờ 30 phút làm việc" in stp.body  # Wed 10:00 -> Thu 07:30
    assert emails(digests["SXD"]) == ["director@test.invalid"]  # no supervisors: the director
    assert n.on_time(ts(2026, 3, 5, 16)) == []  # once a day
    assert n.on_time(ts(2026, 3, 7, 7, 30)) == []  # Saturday
    monday = {o.agency: o for o in n.on_time(ts(2026, 3, 9, 7, 30))}
    # resolved-late since the last digest only; the due-soon dossier's due time has passed
    assert monday["STP"].payload["data"]["counts"] == {"overdue": 1, "due_soon": 0, "resolved_late": 0}


def test_digest_after_a_downtime_comes_late_that_day_and_empty_ones_are_skipped(
        store: SqliteNotifyStore) -> None:
    assert notifier(store).on_time(ts(2026, 3, 5, 10)) == []  # nothing to report anywhere
    n = notifier(SqliteNotifyStore(":memory:"), digest_skip_empty=False, escalate_after_days=0)
    assert {o.agency for o in n.on_time(ts(2026, 3, 5, 10))} == {"STP", "SXD"}
    assert notifier(store, digest_at=None).on_time(ts(2026, 3, 6, 10)) == []
    late_start = notifier(SqliteNotifyStore(":memory:"), digest_skip_empty=False, escalate_after_days=0)
    assert late_start.on_time(ts(2026, 3, 5, 17, 0)) == []  # closed: the next morning's digest will come
    evening = notifier(SqliteNotifyStore(":memory:"), digest_skip_empty=False, digest_at=time(18))
    assert len(evening.on_time(ts(2026, 3, 5, 19))) == 2  # an evening digest time is allowed too


# -- escalation -----------------------------------------------------------------------------------------
def test_escalation_to_the_director_after_two_working_days_once(store: SqliteNotifyStore) -> None:
    n = notifier(store, digest_at=None)
    due = ts(2026, 3, 6, 10)  # Friday 10:00: two working days later is Tuesday 10:00
    n.on_alert(alert(due_at=due), due + 5)
    assert n.on_time(ts(2026, 3, 10, 9, 59, 59)) == []
    [out] = n.on_time(ts(2026, 3, 10, 10))
    assert out.kind == "escalation" and out.key == "escalation:H48-0001"
    assert emails(out) == ["director@test.invalid"]
    assert out.subject == "Báo cáo Giám đốc — hồ sơ quá hạn 2 ngày làm việc: H48-0001 — Sở Tư pháp"
    assert "Người phụ trách của đơn vị: Phó Giám đốc Sở Tư pháp, Trực ban STP" in out.body
    assert n.on_time(ts(2026, 3, 10, 11)) == []
    assert n.on_time(ts(2026, 3, 12, 11)) == []


def test_escalation_waits_for_office_hours_and_not_for_resolved_dossiers(store: SqliteNotifyStore) -> None:
    n = notifier(store, digest_at=None)
    n.on_alert(alert(dossier="A", due_at=ts(2026, 3, 2, 17)), ts(2026, 3, 2, 17, 0, 1))
    n.on_alert(alert(dossier="B", due_at=ts(2026, 3, 2, 16)), ts(2026, 3, 2, 16, 0, 1))
    n.on_alert(alert("resolved_late", dossier="B", due_at=ts(2026, 3, 2, 16)), ts(2026, 3, 3, 9))
    assert n.on_time(ts(2026, 3, 4, 17, 30)) == []  # two working days reached at 17:00: closed
    assert [(o.kind, o.dossier) for o in n.on_time(ts(2026, 3, 5, 7))] == [
        ("overdue", "A"), ("escalation", "A")]  # A's overdue message was held since Monday 17:00 too


def test_escalation_days_are_read_when_checking_and_zero_disables(store: SqliteNotifyStore) -> None:
    due = ts(2026, 3, 2, 10)
    notifier(store, digest_at=None).on_alert(alert(due_at=due), due + 5)
    assert notifier(store, digest_at=None, escalate_after_days=0).on_time(ts(2026, 3, 20, 10)) == []
    half_day = notifier(store, digest_at=None, escalate_after_days=0.5)  # 4 working hours: 16:00
    assert half_day.on_time(ts(2026, 3, 2, 15, 59)) == []
    assert len(half_day.on_time(ts(2026, 3, 2, 16))) == 1


def test_working_duration_text() -> None:
    day = CALENDAR.day_seconds
    assert working_duration(0, day) == "dưới 1 phút làm việc"
    assert working_duration(25 * 60, day) == "25 phút làm việc"
    assert working_duration(2 * day + 3 * 3600 + 60, day) == "2 ngày 3 giờ làm việc"


# -- the store and the dispatcher -----------------------------------------------------------------------
def test_state_and_outbox_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "notify.sqlite"
    first = SqliteNotifyStore(path)
    [out] = notifier(first).on_alert(alert(), ts(2026, 3, 2, 10, 0, 5))
    assert first.record(out, targets(out, {"email", "file"}), 100.0)
    first.close()
    again = SqliteNotifyStore(path)
    assert notifier(again).on_alert(alert(), ts(2026, 3, 2, 10, 0, 9)) == []
    assert not again.record(out, targets(out, {"email", "file"}), 101.0)  # same key: recorded once
    assert [(p.channel, p.address) for p in again.pending(100.0)] == [
        ("email", "stp@test.invalid"), ("email", "duty.stp@test.invalid"), ("file", "")]


def test_prune_forgets_old_ids_and_sent_messages_but_keeps_what_is_pending_or_open(
        store: SqliteNotifyStore) -> None:
    day = 86400
    n = notifier(store)
    first = ts(2026, 3, 2, 10, 0, 5)
    [old] = n.on_alert(alert(dossier="H48-OLD"), first)
    [stuck] = n.on_alert(alert(dossier="H48-STUCK"), first)
    assert store.record(old, targets(old, {"file"}), 1000.0)
    assert store.record(stuck, targets(stuck, {"file"}), 1000.0)
    [sent_old] = store.pending(1000.0, limit=1)
    store.mark_sent(sent_old.id, 1001.0)  # H48-STUCK's delivery is never delivered: stays pending
    later = first + 42 * day  # Monday 13 April, 10:00:05
    [recent] = n.on_alert(alert(dossier="H48-NEW", due_at=later - 5), later)
    assert store.record(recent, targets(recent, {"file"}), 1000.0 + 42 * day)
    store.mark_sent(store.pending(1000.0 + 42 * day)[-1].id, 1001.0 + 42 * day)

    assert prune(store, 0, first + 43 * day, 1000.0 + 43 * day) == {}  # 0 = keep forever
    removed = prune(store, 30, first + 43 * day, 1000.0 + 43 * day)
    assert removed == {"alerts_seen": 2, "deliveries": 1, "notifications": 1}
    assert {r.key for r in store.deliveries()} == {stuck.key, recent.key}
    assert [p.key for p in store.pending(1e12)] == [stuck.key]
    assert store.stats()["overdue_open"] == 3  # open overdue dossiers are state, not history
    assert store.stats()["alerts_seen"] == 1
    assert n.on_alert(alert(dossier="H48-NEW", due_at=later - 5), later + 60) == []  # still recognised
    assert prune(store, 30, first + 43 * day, 1000.0 + 43 * day) == {
        "alerts_seen": 0, "deliveries": 0, "notifications": 0}


def test_transaction_rolls_back_decisions_and_messages_together(store: SqliteNotifyStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        [out] = notifier(store).on_alert(alert(), ts(2026, 3, 2, 10, 0, 5))
        store.record(out, targets(out, {"email"}), 1.0)
        raise RuntimeError("crash before the commit")
    assert store.stats()["alerts_seen"] == 0 and store.pending(10.0) == []
    assert len(notifier(store).on_alert(alert(), ts(2026, 3, 2, 10, 0, 5))) == 1


class Brittle(SqliteNotifyStore):
    """Fails half-way through handling one dossier, after the alert id was recorded."""

    def open_overdue(self, alert: Alert, due_work: int) -> bool:
        if alert.dossier == "BOOM":
            raise RuntimeError("a bug")
        return super().open_overdue(alert, due_work)


def test_a_poison_record_is_skipped_with_its_partial_writes_undone() -> None:
    store = Brittle(":memory:")
    now = ts(2026, 3, 2, 10, 0, 5)
    records = [SimpleNamespace(topic="t", partition=0, offset=i, value=value)
               for i, value in enumerate([b"{oops", alert(dossier="BOOM").to_json(), alert().to_json()])]
    decide(store, notifier(store, digest_at=None), frozenset({"file"}), records, now, 0.0)
    assert store.stats()["alerts_seen"] == 1
    assert [(p.key, p.channel) for p in store.pending(1.0)] == [(f"overdue:{alert().alert_id}", "file")]


class Flaky:
    """A sender that fails a given number of times, then records what it sent."""

    def __init__(self, failures: int):
        self.failures = failures
        self.sent: list[PendingDelivery] = []

    def send(self, delivery: PendingDelivery) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("receiver down")
        self.sent.append(delivery)


def test_dispatcher_retries_with_backoff_and_never_drops(store: SqliteNotifyStore, tmp_path: Path) -> None:
    [out] = notifier(store).on_alert(alert(), ts(2026, 3, 2, 10, 0, 5))
    store.record(out, targets(out, {"webhook", "file"}), 0.0)
    hook = Flaky(failures=2)
    sink = tmp_path / "out.jsonl"
    dispatcher = Dispatcher(store, {"webhook": hook, "file": FileSink(sink)}, retry_initial=5, retry_max=8)
    assert dispatcher.run(0.0) == (1, 1)
    assert dispatcher.run(4.9) == (0, 0)  # first retry after 5 s
    assert dispatcher.run(5.0) == (0, 1)  # second retry after 8 s more (10 s capped to 8)
    assert dispatcher.run(12.9) == (0, 0)
    assert dispatcher.run(13.0) == (1, 0)
    assert dispatcher.run(1000.0) == (0, 0)
    assert [d.address for d in hook.sent] == ["http://hooks.invalid/stp"]
    assert json.loads(hook.sent[0].payload)["id"] == out.key
    [line] = sink.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["subject"] == "Hồ sơ quá hạn: H48-0001 — Sở Tư pháp"
    assert {(r.channel, r.state, r.attempts) for r in store.deliveries()} == {("webhook", "sent", 3),
                                                                              ("file", "sent", 1)}


def test_email_keeps_a_long_vietnamese_subject_intact() -> None:
    subject = ("Báo cáo Giám đốc — hồ sơ quá hạn 2 ngày 3 giờ làm việc: 000.00.12.H48-211127-0001 — "
               "Chi nhánh Văn phòng đăng ký đất đai thành phố Quảng Ngãi")
    delivery = PendingDelivery(1, "escalation:X", "email", "a@test.invalid", 0, subject, "Nội dung\n", "{}")
    message = SmtpSender("127.0.0.1", sender="ioc@test.invalid").message(delivery)
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert str(parsed["Subject"]) == subject
    assert parsed.get_content() == "Nội dung\n"
    assert parsed["X-IOC-Notification"] == "escalation:X"
    assert parsed["Message-ID"] == SmtpSender("other").message(delivery)["Message-ID"]  # stable on resend


def test_a_dead_endpoint_costs_one_attempt_per_pass_and_does_not_block_the_others(
        store: SqliteNotifyStore) -> None:
    n = notifier(store)
    for i in range(3):
        [out] = n.on_alert(alert(dossier=f"D-{i}"), ts(2026, 3, 2, 10, 0, 5))
        store.record(out, targets(out, {"email", "webhook"}), 0.0)
    mail, hook = Flaky(failures=1), Flaky(failures=0)
    dispatcher = Dispatcher(store, {"email": mail, "webhook": hook}, retry_initial=5, retry_max=60)
    assert dispatcher.run(0.0) == (3, 1)  # one e-mail tried and failed, five postponed; 3 webhooks sent
    assert {(r.channel, r.state, r.attempts) for r in store.deliveries() if r.channel == "email"} == {
        ("email", "pending", 1), ("email", "pending", 0)}
    assert dispatcher.run(4.0) == (0, 0)
    assert dispatcher.run(5.0) == (6, 0)
    assert len(mail.sent) == 6 and len(hook.sent) == 3


# -- settings -------------------------------------------------------------------------------------------
def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IOC_NOTIFY_OUTSIDE_HOURS", "send")
    monkeypatch.setenv("IOC_NOTIFY_ESCALATE_AFTER_DAYS", "3")
    monkeypatch.setenv("IOC_NOTIFY_IMMEDIATE_KINDS", "overdue, resolved_late")
    monkeypatch.setenv("IOC_NOTIFY_DIGEST_TIME", "08:15")
    monkeypatch.setenv("IOC_NOTIFY_FILE", str(tmp_path / "n.jsonl"))
    monkeypatch.setenv("IOC_NOTIFY_CHANNELS", "email,file")
    settings = NotifySettings()
    policy = settings.policy()
    assert policy.outside_hours == "send" and policy.escalate_after_days == 3
    assert policy.immediate_kinds == {"overdue", "resolved_late"} and policy.digest_at == time(8, 15)
    assert settings.channels() == {"file"}  # e-mail is enabled but has no IOC_SMTP_HOST
    monkeypatch.setenv("IOC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("IOC_NOTIFY_DIGEST_TIME", "off")
    assert NotifySettings().channels() == {"email", "file"}
    assert NotifySettings().policy().digest_at is None
    monkeypatch.setenv("IOC_NOTIFY_CHANNELS", "email,pager")
    with pytest.raises(ValueError, match="pager"):
        NotifySettings()


def test_settings_clock_is_the_workers_business_clock() -> None:
    settings = NotifySettings(clock_origin=1000.0, clock_wall_origin=50.0, clock_speed=60.0)
    assert settings.clock().now(51.0) == 1060.0
    assert NotifySettings().clock(wall=123.0).now(124.0) == 124.0


# -- start-up ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", [True, False])
def test_the_notifier_warns_loudly_at_start_on_the_sample_catalog(
        sample: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The shipped sample routes real alerts to made-up supervisors: say so before anything else."""
    import threading

    import yaml

    from dossiers.catalog import SAMPLE_WARNING
    from notifier.service import run_notifier

    own = tmp_path / "catalog.yaml"
    own.write_text(yaml.safe_dump(CATALOG.model_dump(mode="json")), encoding="utf-8")
    settings = NotifySettings(catalog=None if sample else own, notify_db=tmp_path / "n.sqlite",
                              kafka_bootstrap="127.0.0.1:9")
    stopped = threading.Event()
    stopped.set()  # start, log, stop: no Kafka needed
    with caplog.at_level(logging.WARNING, logger="ioc.notify"):
        run_notifier(settings, stopped)
    warnings = [r for r in caplog.records
                if r.levelno == logging.WARNING and SAMPLE_WARNING in r.getMessage()]
    assert len(warnings) == (1 if sample else 0)


# -- sync health: dossiers not synced to the national portal (Cổng DVCQG) in time ------------------------
def sync_late(dossier: str, agency: str = "STP", *, due: int, at: int | None = None) -> Alert:
    return Alert(alert_id(dossier, "sync_late", due), "sync_late", dossier, agency, "1.000001",
                 "Lý lịch tư pháp", due, due if at is None else at, 0, None)


def test_sync_late_alerts_are_gathered_into_one_message_per_agency(store: SqliteNotifyStore) -> None:
    n = notifier(store)
    due = ts(2026, 3, 2, 10)
    assert n.on_alert(sync_late("H48-0001", due=due), due) == []
    assert n.on_alert(sync_late("H48-0002", due=due + 5), due + 5) == []
    assert n.on_alert(sync_late("H48-0003", "SXD", due=due + 10), due + 10) == []
    assert n.on_time(due + 30) == [], "the first alert waits a minute for the others"
    sent = n.on_time(due + 71)  # one release per agency: a minute after the first alert of its batch
    assert sorted((m.kind, m.agency) for m in sent) == [("sync_late", "STP"), ("sync_late", "SXD")]
    stp = next(m for m in sent if m.agency == "STP")
    assert stp.subject == "Hồ sơ chậm đồng bộ Cổng Dịch vụ công quốc gia: 2 hồ sơ — Sở Tư pháp"
    assert "H48-0001" in stp.body and "H48-0002" in stp.body and "1.4 và 3.3" in stp.body
    assert [c.email for c in stp.recipients] == ["stp@test.invalid", "duty.stp@test.invalid"]
    assert stp.payload["data"]["count"] == 2
    sxd = next(m for m in sent if m.agency == "SXD")
    assert [c.email for c in sxd.recipients] == ["director@test.invalid"], "no supervisors: the director"
    # a fourth dossier 10 minutes later waits for the hour since the last message; a repeat is ignored
    assert n.on_alert(sync_late("H48-0004", due=due + 600), due + 600) == []
    assert n.on_alert(sync_late("H48-0004", due=due + 600), due + 700) == []
    assert n.on_time(due + 3000) == []
    assert n.on_time(due + 70 + 3600) == []
    (later,) = n.on_time(due + 71 + 3600)
    assert later.payload["data"]["count"] == 1 and "H48-0004" in later.body


def test_sync_late_after_the_office_closes_waits_for_the_opening(store: SqliteNotifyStore) -> None:
    n = notifier(store)
    friday_evening = ts(2026, 3, 6, 18)
    n.on_alert(sync_late("H48-0009", due=friday_evening), friday_evening)
    assert n.on_time(ts(2026, 3, 8, 12)) == []
    (sent,) = n.on_time(ts(2026, 3, 9, 7))
    assert sent.kind == "sync_late"
    assert store.overdue() == [], "a sync alert is not an overdue dossier"


def test_sync_messages_can_be_turned_off(store: SqliteNotifyStore) -> None:
    n = notifier(store, sync_messages=False)
    due = ts(2026, 3, 2, 10)
    n.on_alert(sync_late("H48-0001", due=due), due)
    assert n.on_time(due + 3600) == []


# -- a province: commune centres' directors, escalation to the province, digests by centre (issue 15) --------
def _procedure(code: str) -> list[dict[str, Any]]:
    return [{"code": code, "name": "Chứng thực bản sao", "field": "Chứng thực", "processing": 1}]


PROVINCE = Catalog.model_validate({
    "province": {"code": "51", "name": "Tỉnh thử nghiệm"},
    "centres": [
        {"code": "TT", "name": "Trung tâm tỉnh", "level": "province",
         "director": {"name": "Giám đốc tỉnh", "email": "province@test.invalid"},
         "agencies": [{"code": "STP", "name": "Sở Tư pháp", "procedures": _procedure("1.000001"),
                       "supervisors": [{"name": "PGĐ STP", "email": "stp@test.invalid"}]}]},
        {"code": "X1", "name": "Trung tâm xã Một", "level": "commune",
         "director": {"name": "Giám đốc xã Một", "email": "x1@test.invalid"},
         "agencies": [
             {"code": "X1_TP", "name": "Bộ phận Tư pháp xã Một", "procedures": _procedure("2.000001")},
             {"code": "X1_DD", "name": "Bộ phận Đất đai xã Một", "procedures": _procedure("2.000002"),
              "supervisors": [{"name": "Công chức địa chính", "email": "dd.x1@test.invalid"}]}]},
        {"code": "X2", "name": "Trung tâm xã Hai", "level": "commune",
         "agencies": [
             {"code": "X2_TP", "name": "Bộ phận Tư pháp xã Hai", "procedures": _procedure("2.000001")}]},
    ],
})


def province_notifier(store: SqliteNotifyStore, **policy: Any) -> Notifier:
    return Notifier(PROVINCE, WorkingCalendar(PROVINCE.calendar), store, Policy(**policy))


def test_a_commune_desk_without_supervisors_goes_to_its_centres_director() -> None:
    assert emails_of(route(PROVINCE, "X1_DD")) == ["dd.x1@test.invalid"]
    x1 = route(PROVINCE, "X1_TP")
    assert emails_of(x1) == ["x1@test.invalid"] and x1.note is not None and "Trung tâm xã Một" in x1.note
    x2 = route(PROVINCE, "X2_TP")  # a commune centre without a director: the province watches it
    assert emails_of(x2) == ["province@test.invalid"] and x2.note is not None and "Trung tâm tỉnh" in x2.note
    assert emails_of(route(PROVINCE, "NOPE")) == ["province@test.invalid"]


def emails_of(r: Any) -> list[str]:
    return [c.email for c in r.recipients if c.email]


def test_an_overdue_commune_dossier_is_signed_by_its_centre(store: SqliteNotifyStore) -> None:
    n = province_notifier(store, digest_at=None)
    [out] = n.on_alert(alert(agency="X1_TP", procedure="2.000001"), ts(2026, 3, 2, 10, 0, 5))
    assert emails(out) == ["x1@test.invalid"]
    assert out.payload["centre"] == "X1" and "\nTrung tâm xã Một\n" in out.body


def test_escalation_goes_to_the_communes_director_and_the_province_once(store: SqliteNotifyStore) -> None:
    n = province_notifier(store, digest_at=None)
    due = ts(2026, 3, 6, 10)
    n.on_alert(alert(dossier="C-1", agency="X1_DD", procedure="2.000002", due_at=due), due + 5)
    n.on_alert(alert(dossier="P-1", agency="STP", due_at=due), due + 5)
    n.on_alert(alert(dossier="C-2", agency="X2_TP", procedure="2.000001", due_at=due), due + 5)
    out = {o.dossier: o for o in n.on_time(ts(2026, 3, 10, 10)) if o.kind == "escalation"}
    assert emails(out["C-1"]) == ["x1@test.invalid", "province@test.invalid"]
    assert "Đồng gửi Trung tâm cấp tỉnh" in out["C-1"].body and "Giám đốc Trung tâm xã Một" in out["C-1"].body
    assert emails(out["P-1"]) == ["province@test.invalid"]  # a provincial agency: its own director only
    assert emails(out["C-2"]) == ["province@test.invalid"]  # no commune director: the province, once
    assert n.on_time(ts(2026, 3, 10, 11)) == []
    alone = province_notifier(SqliteNotifyStore(":memory:"), digest_at=None, escalate_to_province=False)
    alone.on_alert(alert(dossier="C-1", agency="X1_DD", procedure="2.000002", due_at=due), due + 5)
    [only] = alone.on_time(ts(2026, 3, 10, 10))
    assert emails(only) == ["x1@test.invalid"]


def test_the_daily_digest_groups_by_centre_and_the_province_ranks_centres(store: SqliteNotifyStore) -> None:
    n = province_notifier(store, escalate_after_days=0)
    day = ts(2026, 3, 4, 10)
    for dossier, agency, procedure in (("C-1", "X1_TP", "2.000001"), ("C-2", "X1_DD", "2.000002"),
                                       ("C-3", "X1_DD", "2.000002"), ("P-1", "STP", "1.000001")):
        n.on_alert(alert(dossier=dossier, agency=agency, procedure=procedure, due_at=day), day + 5)
    n.on_alert(alert("due_soon", dossier="S-1", agency="X2_TP", procedure="2.000001",
                     due_at=ts(2026, 3, 5, 15), at=ts(2026, 3, 4, 15)), ts(2026, 3, 4, 15))
    out = n.on_time(ts(2026, 3, 5, 7, 30))
    digests = {o.key: o for o in out if o.kind == "digest"}
    assert set(digests) == {"digest:2026-03-05:X1_TP", "digest:2026-03-05:X1_DD", "digest:2026-03-05:STP",
                            "digest:2026-03-05:X2_TP", "digest:2026-03-05:centre:X1",
                            "digest:2026-03-05:centre:TT", "digest:2026-03-05:centre:X2",
                            "digest:2026-03-05:province"}
    x1 = digests["digest:2026-03-05:centre:X1"]
    assert emails(x1) == ["x1@test.invalid"] and x1.payload["centre"] == "X1"
    assert x1.payload["data"]["counts"] == {"overdue": 3, "due_soon": 0, "resolved_late": 0}
    body = x1.body
    assert body.index("Bộ phận Đất đai xã Một: 2 quá hạn") < body.index("Bộ phận Tư pháp xã Một: 1 quá hạn")
    assert emails(digests["digest:2026-03-05:centre:X2"]) == ["province@test.invalid"]  # no director
    province = digests["digest:2026-03-05:province"]
    assert emails(province) == ["province@test.invalid"]
    assert province.payload["data"]["counts"] == {"overdue": 4, "due_soon": 1, "resolved_late": 0}
    ranked = [c["centre"] for c in province.payload["data"]["centres"]]
    assert ranked == ["X1", "TT", "X2"]
    assert "toàn Tỉnh thử nghiệm: 4 quá hạn, 1 sắp đến hạn" in province.subject


def test_a_single_centre_has_no_centre_or_province_digest(store: SqliteNotifyStore) -> None:
    n = notifier(store, escalate_after_days=0)
    n.on_alert(alert(dossier="OD-1", due_at=ts(2026, 3, 4, 10)), ts(2026, 3, 4, 10, 0, 5))
    keys = [o.key for o in n.on_time(ts(2026, 3, 5, 7, 30))]
    assert keys == ["digest:2026-03-05:STP"]
