"""`ioc notify` end to end: alerts produced to the real broker, e-mail to a real SMTP server (aiosmtpd on
loopback), webhooks to a real HTTP receiver (http.server in a thread). No mocks.

Each test has its own topic (one partition, so that a sentinel alert proves everything before it was
read), consumer group, catalog, SQLite file and business clock.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from kafka import KafkaAdminClient, KafkaProducer

from dossiers.alerts import Alert, alert_id
from ioc.devstack.kafka import KafkaBroker
from ioc.devstack.ports import free_port
from notifier.service import NotifierJob, run_notifier
from notifier.settings import NotifySettings

ICT = timezone(timedelta(hours=7))
ROOT = Path(__file__).resolve().parents[2]


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=ICT).timestamp())


def wait_for(condition: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# -- real receivers -------------------------------------------------------------------------------------
class MailBox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        for rcpt in envelope.rcpt_tos:
            self.messages.append((rcpt, message))
        return "250 OK"

    def by(self, kind: str) -> list[tuple[str, EmailMessage]]:
        return [(rcpt, m) for rcpt, m in self.messages if str(m["X-IOC-Notification"]).startswith(kind)]


@contextlib.contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[MailBox, int]]:
    box = MailBox()
    port = port or free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class HookServer(ThreadingHTTPServer):
    """Records JSON POSTs; answers 500 to the first `failures` of them (a receiver having a bad time)."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), HookHandler)
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.failures = failures
        self.refused = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def kinds(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(path, body) for path, body in self.posts if body["kind"] == kind]


class HookHandler(BaseHTTPRequestHandler):
    server: HookServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            fail = self.server.failures > 0
            if fail:
                self.server.failures -= 1
                self.server.refused += 1
            else:
                self.server.posts.append((self.path, body))
        self.send_response(500 if fail else 204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    server = HookServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


# -- the system under test ------------------------------------------------------------------------------
def write_catalog(path: Path, hook_url: str) -> Path:
    path.write_text(yaml.safe_dump({
        "centre": {"code": "TT", "name": "Trung tâm thử nghiệm",
                   "director": {"name": "Giám đốc", "email": "director@test.invalid",
                                "webhook": f"{hook_url}/director"}},
        "agencies": [
            {"code": "STP", "name": "Sở Tư pháp",
             "supervisors": [{"name": "Lãnh đạo STP", "email": "stp@test.invalid",
                              "webhook": f"{hook_url}/stp"}],
             "procedures": [{"code": "1.000001", "name": "Cấp phiếu lý lịch tư pháp", "field": "Tư pháp",
                             "processing": 10}]},
            {"code": "SXD", "name": "Sở Xây dựng",
             "supervisors": [{"name": "Lãnh đạo SXD", "email": "sxd@test.invalid"}],
             "procedures": [{"code": "1.000002", "name": "Cấp giấy phép xây dựng", "field": "Xây dựng",
                             "processing": 15}]},
        ],
    }, allow_unicode=True), encoding="utf-8")
    return path


def alert(kind: str, dossier: str, agency: str, due_at: int, at: int) -> Alert:
    procedure = {"STP": "1.000001", "SXD": "1.000002"}.get(agency, "9.999999")
    return Alert(alert_id(dossier, kind, due_at), kind, dossier, agency, procedure, "Tư pháp", due_at, at,
                 max(0, at - due_at) if kind != "due_soon" else 0, None)


def produce(bootstrap: str, topic: str, *alerts: Alert) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for a in alerts:
            producer.send(topic, key=a.dossier.encode(), value=a.to_json())
        producer.flush(30)
    finally:
        producer.close()


@contextlib.contextmanager
def notifier(settings: NotifySettings, jobs: Sequence[NotifierJob] = ()) -> Iterator[threading.Thread]:
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run_notifier(settings, stop, jobs)
        except BaseException as exc:  # surfaced in the test
            errors.append(exc)

    thread = threading.Thread(target=target, name="notifier", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(30)
        if errors:  # the root cause of a timeout in the test, if any
            raise AssertionError(f"the notifier failed: {errors!r}")
        assert not thread.is_alive(), "the notifier did not stop"


def settings_for(tmp_path: Path, bootstrap: str, topic: str, catalog: Path, smtp_port: int,
                 business_origin: int, speed: float = 1.0, **extra: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap, "alerts_topic": topic, "notify_group": f"notify-{uuid.uuid4().hex[:8]}",
        "catalog": catalog, "notify_db": tmp_path / "notify.sqlite", "notify_file": tmp_path / "notify.jsonl",
        "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_from": "ioc@test.invalid",
        "clock_origin": float(business_origin), "clock_wall_origin": time.time(), "clock_speed": speed,
        "notify_poll_seconds": 0.2, "notify_retry_initial_seconds": 0.2, "notify_retry_max_seconds": 1.0,
    }
    values.update(extra)
    return NotifySettings(**values)


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


def file_keys(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    return Counter(json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines())


# -- tests ----------------------------------------------------------------------------------------------
def test_recipients_per_agency_and_one_message_per_transition_across_duplicates_and_restarts(
        kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], hooks: HookServer, tmp_path: Path
) -> None:
    topic = kafka_topic(partitions=1, prefix="alerts")
    catalog = write_catalog(tmp_path / "catalog.yaml", hooks.url)
    nine = ts(2026, 3, 2, 9)  # a Monday, office hours
    stp = alert("overdue", "STP-1", "STP", nine - 3600, nine)
    sxd = alert("overdue", "SXD-1", "SXD", nine - 7200, nine)
    stranger = alert("overdue", "ZZZ-1", "ZZZ", nine - 600, nine)
    with smtp_server() as (box, port):
        settings = settings_for(tmp_path, kafka_broker.bootstrap, topic, catalog, port, nine + 60,
                                notify_digest_time=None)
        produce(kafka_broker.bootstrap, topic, stp, sxd, stp, sxd)  # each alert twice
        with notifier(settings):
            wait_for(lambda: len(box.messages) >= 2 and len(hooks.posts) >= 1, what="first messages")
        assert committed(kafka_broker.bootstrap, settings.notify_group) == {(topic, 0): 4}
        produce(kafka_broker.bootstrap, topic, stp, stranger)  # a duplicate while stopped, and a new one
        with notifier(settings):  # same SQLite file, same group
            wait_for(lambda: len(box.by("overdue")) >= 3, what="the unknown agency's message")
        # a restart that lost its offsets (new group: everything is read again) still sends nothing twice
        sentinel = alert("overdue", "STP-2", "STP", nine - 60, nine)
        produce(kafka_broker.bootstrap, topic, sentinel)
        with notifier(settings.model_copy(update={"notify_group": "notify-replay-" + uuid.uuid4().hex[:6]})):
            wait_for(lambda: any("STP-2" in str(m["Subject"]) for _, m in box.messages), what="sentinel")
            time.sleep(1.0)  # room for any duplicate to show up

    mails = Counter((rcpt, str(m["Subject"])) for rcpt, m in box.messages)
    assert mails == Counter({
        ("stp@test.invalid", "Hồ sơ quá hạn: STP-1 — Sở Tư pháp"): 1,
        ("sxd@test.invalid", "Hồ sơ quá hạn: SXD-1 — Sở Xây dựng"): 1,
        ("director@test.invalid", "Hồ sơ quá hạn: ZZZ-1 — ZZZ"): 1,
        ("stp@test.invalid", "Hồ sơ quá hạn: STP-2 — Sở Tư pháp"): 1,
    })
    posts = Counter((path, body["dossier"]) for path, body in hooks.posts)
    assert posts == Counter({("/stp", "STP-1"): 1, ("/director", "ZZZ-1"): 1, ("/stp", "STP-2"): 1})
    director_mail = next(m for rcpt, m in box.messages if rcpt == "director@test.invalid")
    body = director_mail.get_content()
    assert "Mã cơ quan 'ZZZ' không có trong danh mục" in body
    stp_mail = next(m for rcpt, m in box.messages if "STP-1" in str(m["Subject"]))
    assert "Thủ tục: 1.000001 — Cấp phiếu lý lịch tư pháp" in stp_mail.get_content()
    assert "Hạn giải quyết: 08:00 Thứ Hai 02/03/2026 (giờ Việt Nam)" in stp_mail.get_content()
    assert stp_mail["From"] == "ioc@test.invalid"
    hook_body = next(body for path, body in hooks.posts if body["dossier"] == "STP-1")
    assert hook_body["schema"] == "ioc-notification/1"
    assert hook_body["data"]["alert"]["alert_id"] == stp.alert_id
    assert set(file_keys(tmp_path / "notify.jsonl").values()) == {1}
    assert len(file_keys(tmp_path / "notify.jsonl")) == 4


def test_held_overnight_then_digest_and_escalation_once_with_an_accelerated_clock(
        kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], hooks: HookServer, tmp_path: Path
) -> None:
    topic = kafka_topic(partitions=1, prefix="alerts")
    catalog = write_catalog(tmp_path / "catalog.yaml", hooks.url)
    evening = ts(2026, 3, 2, 17, 30)  # Monday after closing; 1 wall second = 4000 business seconds
    overdue = alert("overdue", "STP-9", "STP", ts(2026, 3, 2, 15), ts(2026, 3, 2, 15, 0, 1))
    due_soon = alert("due_soon", "SXD-9", "SXD", ts(2026, 3, 3, 16), ts(2026, 3, 2, 16))
    resolved = alert("resolved_late", "STP-8", "STP", ts(2026, 3, 2, 9), ts(2026, 3, 2, 17, 10))
    produce(kafka_broker.bootstrap, topic, overdue, due_soon, resolved, overdue)
    with smtp_server() as (box, port):
        # 2 working hours after 15:00 is 17:00, closing time: the escalation waits for Tuesday 07:00.
        # No age limit: on a slow machine the group may join after the alert is a business day old.
        settings = settings_for(tmp_path, kafka_broker.bootstrap, topic, catalog, port, evening, speed=4000,
                                notify_escalate_after_days=0.25, notify_max_age_hours=0)
        with notifier(settings):
            wait_for(lambda: len(box.by("digest")) >= 2, what="Tuesday's digests")
            time.sleep(0.5)
        assert [(r, str(m["Subject"])) for r, m in box.by("overdue")] == [
            ("stp@test.invalid", "Hồ sơ quá hạn: STP-9 — Sở Tư pháp")]
        [(_, held)] = hooks.kinds("overdue")
        assert held["created_at"] >= "2026-03-03T00:00:00Z"  # Tuesday 07:00 local, not Monday evening
        [(rcpt, escalation)] = box.by("escalation")
        assert rcpt == "director@test.invalid" and "STP-9" in str(escalation["Subject"])
        assert [path for path, _ in hooks.kinds("escalation")] == ["/director"]
        digests = {rcpt: m for rcpt, m in box.by("digest")}
        assert set(digests) == {"stp@test.invalid", "sxd@test.invalid"}
        assert str(digests["stp@test.invalid"]["Subject"]) == (
            "Tổng hợp hồ sơ ngày 03/03/2026 — Sở Tư pháp: 1 quá hạn, 0 sắp đến hạn, 1 giải quyết quá hạn")
        assert str(digests["sxd@test.invalid"]["Subject"]) == (
            "Tổng hợp hồ sơ ngày 03/03/2026 — Sở Xây dựng: 0 quá hạn, 1 sắp đến hạn, 0 giải quyết quá hạn")
        [(_, digest_hook)] = hooks.kinds("digest")
        assert digest_hook["data"]["counts"] == {"overdue": 1, "due_soon": 0, "resolved_late": 1}
        assert [row["dossier"] for row in digest_hook["data"]["resolved_late"]] == ["STP-8"]
        before = len(box.messages)
        # a restart later the same business day: no second digest, escalation or overdue message
        with notifier(settings):
            time.sleep(2.0)
        assert len(box.messages) == before
    assert set(file_keys(tmp_path / "notify.jsonl").values()) == {1}


def write_province(path: Path) -> Path:
    """Two centres: the provincial one (STP, with its supervisor) and a commune's, whose desk has none."""
    procedure = [{"code": "1.000001", "name": "Chứng thực bản sao", "field": "Chứng thực", "processing": 1}]
    path.write_text(yaml.safe_dump({
        "province": {"code": "51", "name": "Tỉnh thử nghiệm"},
        "centres": [
            {"code": "TT", "name": "Trung tâm tỉnh", "level": "province",
             "director": {"name": "Giám đốc tỉnh", "email": "province@test.invalid"},
             "agencies": [{"code": "STP", "name": "Sở Tư pháp", "procedures": [dict(procedure[0])],
                           "supervisors": [{"name": "Lãnh đạo STP", "email": "stp@test.invalid"}]}]},
            {"code": "X1", "name": "Trung tâm xã Một", "level": "commune",
             "director": {"name": "Giám đốc xã Một", "email": "x1@test.invalid"},
             "agencies": [{"code": "X1_TP", "name": "Bộ phận Tư pháp xã Một",
                           "procedures": [dict(procedure[0])]}]},
        ],
    }, allow_unicode=True), encoding="utf-8")
    return path


def test_a_province_routes_to_the_commune_director_escalates_to_the_province_and_digests_by_centre(
        kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = kafka_topic(partitions=1, prefix="alerts")
    catalog = write_province(tmp_path / "province.yaml")
    start = ts(2026, 3, 2, 17, 30)  # Monday after closing; 1 wall second = 4000 business seconds
    commune = alert("overdue", "X1-1", "X1_TP", ts(2026, 3, 2, 15), ts(2026, 3, 2, 15, 0, 1))
    provincial = alert("overdue", "STP-1", "STP", ts(2026, 3, 2, 15), ts(2026, 3, 2, 15, 0, 1))
    produce(kafka_broker.bootstrap, topic, commune, provincial)
    with smtp_server() as (box, port):
        settings = settings_for(tmp_path, kafka_broker.bootstrap, topic, catalog, port, start, speed=4000,
                                notify_escalate_after_days=0.25, notify_max_age_hours=0)
        with notifier(settings):
            wait_for(lambda: any("toàn Tỉnh thử nghiệm" in str(m["Subject"]) for _, m in box.by("digest")),
                     what="Tuesday's province digest")  # after the held messages and the escalations
            time.sleep(0.5)
    overdue = sorted((rcpt, str(m["Subject"])) for rcpt, m in box.by("overdue"))
    assert overdue == [("stp@test.invalid", "Hồ sơ quá hạn: STP-1 — Sở Tư pháp"),
                       ("x1@test.invalid", "Hồ sơ quá hạn: X1-1 — Bộ phận Tư pháp xã Một")]
    escalations = sorted((rcpt, "X1-1" in str(m["Subject"])) for rcpt, m in box.by("escalation"))
    assert escalations == [("province@test.invalid", False), ("province@test.invalid", True),
                           ("x1@test.invalid", True)]
    digests = sorted((rcpt, str(m["Subject"]).split(" — ")[1]) for rcpt, m in box.by("digest"))
    assert digests == [
        ("province@test.invalid", "Trung tâm tỉnh: 1 quá hạn, 0 sắp đến hạn, 0 giải quyết quá hạn"),
        ("province@test.invalid", "toàn Tỉnh thử nghiệm: 2 quá hạn, 0 sắp đến hạn, 0 giải quyết quá hạn"),
        ("stp@test.invalid", "Sở Tư pháp: 1 quá hạn, 0 sắp đến hạn, 0 giải quyết quá hạn"),
        ("x1@test.invalid", "Bộ phận Tư pháp xã Một: 1 quá hạn, 0 sắp đến hạn, 0 giải quyết quá hạn"),
        ("x1@test.invalid", "Trung tâm xã Một: 1 quá hạn, 0 sắp đến hạn, 0 giải quyết quá hạn"),
    ]
    assert set(file_keys(tmp_path / "notify.jsonl").values()) == {1}


def test_failed_deliveries_stay_pending_and_are_sent_once_when_receivers_recover(
        kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], tmp_path: Path) -> None:
    topic = kafka_topic(partitions=1, prefix="alerts")
    hooks = HookServer(failures=3)
    thread = threading.Thread(target=hooks.serve_forever, daemon=True)
    thread.start()
    try:
        catalog = write_catalog(tmp_path / "catalog.yaml", hooks.url)
        nine = ts(2026, 3, 3, 9)
        port = free_port()  # nothing listens here yet: the mail server is down
        settings = settings_for(tmp_path, kafka_broker.bootstrap, topic, catalog, port, nine,
                                notify_digest_time=None)
        produce(kafka_broker.bootstrap, topic, alert("overdue", "STP-5", "STP", nine - 3600, nine))
        with notifier(settings):
            wait_for(lambda: hooks.refused >= 3, what="failed webhook attempts")
            wait_for(lambda: len(hooks.posts) == 1, what="the webhook retry")
        # the notifier is stopped with the e-mail still pending; it goes out after a restart
        with smtp_server(port) as (box, _), notifier(settings):
            wait_for(lambda: len(box.messages) == 1, what="the e-mail retry")
            time.sleep(1.0)
        assert [rcpt for rcpt, _ in box.messages] == ["stp@test.invalid"]
        assert len(hooks.posts) == 1
    finally:
        hooks.shutdown()
        hooks.server_close()
        thread.join(5)


def test_malformed_alert_records_are_logged_and_skipped_and_the_notifier_keeps_running(
        kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], hooks: HookServer, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """A record that breaks the dossier-alert/1 contract (Alert.from_json is strict) is logged with its
    partition, offset and reason, skipped, and committed past; the alerts around it are delivered."""
    topic = kafka_topic(partitions=1, prefix="alerts")
    catalog = write_catalog(tmp_path / "catalog.yaml", hooks.url)
    nine = ts(2026, 3, 3, 9)
    before = alert("overdue", "STP-31", "STP", nine - 3600, nine)
    after = alert("overdue", "SXD-32", "SXD", nine - 3600, nine)
    wrong_kind = json.loads(before.to_json()) | {"kind": "late", "alert_id": "x1"}
    no_time = {k: v for k, v in json.loads(after.to_json()).items() if k != "at"}
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    try:
        for value in (before.to_json(), b"not json {", json.dumps(wrong_kind).encode(),
                      json.dumps(no_time).encode(), after.to_json()):
            producer.send(topic, key=b"k", value=value)
        producer.flush(30)
    finally:
        producer.close()
    with smtp_server() as (box, port), caplog.at_level(logging.WARNING, logger="ioc.notify"):
        settings = settings_for(tmp_path, kafka_broker.bootstrap, topic, catalog, port, nine,
                                notify_digest_time=None)
        with notifier(settings):  # raises if the notifier thread died
            wait_for(lambda: len(box.by("overdue")) >= 2, what="the two valid alerts")
            wait_for(lambda: committed(kafka_broker.bootstrap, settings.notify_group) == {(topic, 0): 5},
                     what="offsets committed past the malformed records")
    assert sorted(str(m["Subject"]).split(":")[1].split()[0] for _, m in box.by("overdue")) == [
        "STP-31", "SXD-32"]
    prefix = f"malformed alert record at {topic}[0]@"
    skipped = [r.getMessage().removeprefix(prefix) for r in caplog.records if prefix in r.getMessage()]
    assert skipped == [
        "1 skipped: not JSON: Expecting value: line 1 column 1 (char 0)",
        "2 skipped: kind: expected one of overdue, due_soon, resolved_late, sync_late, got 'late'",
        "3 skipped: at: missing",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records if "malformed" in r.getMessage())


def test_ioc_notify_command_writes_the_file_sink_and_stops_on_sigterm(
        kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], tmp_path: Path) -> None:
    topic = kafka_topic(partitions=1, prefix="alerts")
    catalog = write_catalog(tmp_path / "catalog.yaml", "http://127.0.0.1:9")
    out = tmp_path / "out.jsonl"
    nine = ts(2026, 3, 3, 9)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")} | {
        "IOC_KAFKA_BOOTSTRAP": kafka_broker.bootstrap, "IOC_ALERTS_TOPIC": topic,
        "IOC_NOTIFY_GROUP": f"notify-cli-{uuid.uuid4().hex[:6]}", "IOC_CATALOG": str(catalog),
        "IOC_NOTIFY_DB": str(tmp_path / "cli.sqlite"), "IOC_NOTIFY_FILE": str(out),
        "IOC_NOTIFY_CHANNELS": "file",
        "IOC_CLOCK_ORIGIN": str(nine), "IOC_CLOCK_WALL_ORIGIN": str(time.time()),
        "IOC_NOTIFY_POLL_SECONDS": "0.2", "IOC_NOTIFY_DIGEST_TIME": "off",
        "IOC_NOTIFY_REPORTS": "false",  # this test is about alerts: test_report_delivery.py covers reports
    }
    produce(kafka_broker.bootstrap, topic, alert("overdue", "SXD-7", "SXD", nine - 60, nine))
    proc = subprocess.Popen([sys.executable, "-m", "ioc.cli", "notify"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: bool(file_keys(out)), what="the file sink line")
        [line] = out.read_text(encoding="utf-8").splitlines()
        body = json.loads(line)
        assert body["subject"] == "Hồ sơ quá hạn: SXD-7 — Sở Xây dựng"
        assert body["recipients"] == [{"name": "Lãnh đạo SXD", "email": "sxd@test.invalid"}]
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, output.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
