"""`ioc gateway` on a real broker, as a process: posted = in the topic = replay; keys, other agency,
oversize and malformed bodies; the broker stopped during a load; the gateway killed with SIGKILL during a
load. Every event the gateway acknowledged must be in the topic in the end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from kafka import KafkaConsumer, TopicPartition

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from dossiers.dvcqg import translate
from dossiers.replay import Replay
from ioc.devstack.kafka import KafkaBroker
from ioc.devstack.proc import DevstackError
from producers.clients import CLIENTS
from producers.gateway.keys import hash_key, new_key
from producers.simulator import Simulator, warmup_start
from tests.support import stack as testing
from tests.support.events import VN, received
from tests.support.pipeline import EVENING, assert_same_kpis, make_pipeline, metric, replay_of, settle

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
STP_KEY, SYT_KEY = new_key(), new_key()


@pytest.fixture(scope="module")
def broker() -> Iterator[KafkaBroker]:
    """A broker of our own: the outage test stops it (the session broker is shared)."""
    own = KafkaBroker(partitions=3)
    try:
        own.start()
    except DevstackError as exc:
        own.close()
        testing.component_unavailable("kafka", exc)
    try:
        yield own
    finally:
        own.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayProcess:
    """`python -m ioc.cli gateway` with its own keys file, spool and port."""

    def __init__(self, tmp_path: Path, bootstrap: str, topic: str,
                 keys_by_agency: dict[str, str] | None = None, client: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        keys = tmp_path / "keys.txt"
        pairs = keys_by_agency or {"STP": STP_KEY, "SYT": SYT_KEY}
        keys.write_text("".join(f"{agency} {hash_key(key)}\n" for agency, key in pairs.items()))
        self.log = tmp_path / "gateway.log"
        self.env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": bootstrap, "IOC_EVENTS_TOPIC": topic,
                    "IOC_GATEWAY_PORT": str(self.port), "IOC_GATEWAY_KEYS": str(keys),
                    "IOC_GATEWAY_SPOOL": str(tmp_path / "gateway-spool.sqlite"), "IOC_LOG_LEVEL": "INFO"}
        if client is not None:
            self.env["IOC_GATEWAY_CLIENT"] = client
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ioc.cli", "gateway"], cwd=ROOT, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gateway not ready: {self.log.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def topic(broker: KafkaBroker) -> str:
    broker.start()  # whatever an earlier test did
    name = f"gateway-test-{uuid.uuid4().hex[:10]}"
    testing.create_topic(broker.bootstrap, name, 3)
    return name


@pytest.fixture
def gateway(broker: KafkaBroker, topic: str, tmp_path: Path) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path, broker.bootstrap, topic).start()
    try:
        yield process
    finally:
        process.stop()


def read_topic(bootstrap: str, topic: str, expected: int = 0, timeout: float = 120) -> list[Any]:
    """Every record of the topic up to its end offsets (waiting until it holds `expected` records)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(parts)
        deadline = time.monotonic() + timeout
        ends = consumer.end_offsets(parts)
        while sum(ends.values()) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
            ends = consumer.end_offsets(parts)
        consumer.seek_to_beginning(*parts)
        records: list[Any] = []
        while any(consumer.position(p) < ends[p] for p in parts) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def batch(run: str, start: int, size: int, agency: str = "STP") -> list[dict[str, Any]]:
    procedure = "2.000488" if agency == "STP" else CATALOG.agency_by_code[agency].procedures[0].code
    base = datetime(2026, 3, 2, 8, tzinfo=VN).timestamp()
    return [received(f"{run}-{agency}-{n}", base + n, procedure=procedure, agency=agency,
                     channel="counter") for n in range(start, start + size)]


def post(url: str, events: list[dict[str, Any]] | str, key: str = STP_KEY, path: str = "/v1/events",
         timeout: float = 120) -> requests.Response:
    data = events if isinstance(events, str) else json.dumps(events)
    return requests.post(url + path, data=data, headers={"X-API-Key": key}, timeout=timeout)


def test_posted_equals_the_topic_equals_replay(broker: KafkaBroker, topic: str,
                                               gateway: GatewayProcess) -> None:
    stp, syt = batch("a", 0, 500), batch("a", 0, 200, agency="SYT")
    for events, key in ((stp[:250], STP_KEY), (stp[250:], STP_KEY), (syt, SYT_KEY)):
        response = post(gateway.url, events, key)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == len(events)
    records = [{"MaHoSo": f"H48-{n}", "MaTTHC": "2.000488", "NgayTiepNhan": "20260302081500",
                "NgayHenTra": "20260316170000", "TrangThaiHoSo": "10", "NgayKetThucXuLy": "20260310100000",
                "NgayTra": "20260311090000", "KenhThucHien": "2"} for n in range(20)]
    answer = post(gateway.url, "\n".join(json.dumps(r) for r in records), path="/v1/dvcqg/dossiers").json()
    assert answer["accepted"] == 20
    assert post(gateway.url, json.dumps(records), path="/v1/dvcqg/dossiers").json()["duplicate"] == 20

    # refused requests leave nothing in the topic
    assert post(gateway.url, batch("x", 0, 3), key="ioc_not-a-key").status_code == 401
    assert post(gateway.url, batch("x", 0, 3, agency="SYT"), key=STP_KEY).status_code == 403
    assert post(gateway.url, "x" * (9 * 1024 * 1024)).status_code == 413
    assert post(gateway.url, "[{").status_code == 400
    malformed = post(gateway.url, "{broken\n" + json.dumps(batch("m", 0, 1)[0]) + "\n")
    assert [r["status"] for r in malformed.json()["results"]] == ["invalid", "accepted"]

    implied = [e for r in records for e in translate(r, "STP")]
    posted = [*stp, *syt, *(json.loads(e.to_json()) for e in implied), *batch("m", 0, 1)]
    in_topic = read_topic(broker.bootstrap, topic, expected=len(posted))
    values = [json.loads(r.value) for r in in_topic]
    assert sorted(v["event_id"] for v in values) == sorted(e["event_id"] for e in posted)
    for record in in_topic:
        headers = dict(record.headers)
        assert headers["ioc-agency"].decode() == json.loads(record.value)["agency"]
        assert record.key.decode() == json.loads(record.value)["dossier"]

    as_of = int(datetime(2026, 4, 1, tzinfo=VN).timestamp())
    calendar = WorkingCalendar(CATALOG.calendar)

    def replay(items: list[dict[str, Any]]) -> dict[str, Any]:
        run = Replay(CATALOG, calendar, as_of)
        for item in items:
            run.feed_raw(item)
        return run.report()
    assert replay(values) == replay(posted)
    log = gateway.log.read_text()
    assert STP_KEY not in log and SYT_KEY not in log and "ioc_not-a-key" not in log  # keys never logged
    metrics = requests.get(gateway.url + "/metrics", timeout=10).text
    assert 'ioc_gateway_events_total{agency="STP",outcome="accepted",route="/v1/events"} 501.0' in metrics


def load(url: str, run: str, stop: threading.Event, acked: list[str], errors: list[str],
         size: int = 100) -> Callable[[], None]:
    """A client posting batches until `stop`; records the ids of every event answered `accepted`."""
    def loop() -> None:
        n = 0
        while not stop.is_set():
            events = batch(run, n, size)
            n += size
            try:
                response = post(url, events, timeout=150)
            except requests.RequestException as exc:  # the gateway died: nothing of this batch is acked
                errors.append(type(exc).__name__)
                time.sleep(0.2)
                continue
            if response.status_code == 200:
                acked.extend(r["event_id"] for r in response.json()["results"] if r["status"] == "accepted")
            else:
                errors.append(str(response.status_code))
                time.sleep(0.2)
    return loop


@pytest.mark.slow
@pytest.mark.parametrize("kafka_client", CLIENTS)
def test_broker_stopped_during_a_load(broker: KafkaBroker, topic: str, tmp_path: Path,
                                      kafka_client: str) -> None:
    gateway = GatewayProcess(tmp_path, broker.bootstrap, topic, client=kafka_client).start()
    try:
        stop, acked, errors = threading.Event(), [], []
        client = threading.Thread(target=load(gateway.url, "outage", stop, acked, errors), daemon=True)
        client.start()
        time.sleep(3)
        before = len(acked)
        broker.stop()
        time.sleep(40)  # in-flight sends time out (30 s) and are spooled; new ones go to the spool at once
        during = len(acked) - before
        broker.start()
        time.sleep(3)
        stop.set()
        client.join(200)
        assert before > 0 and during > 0, (before, during, errors)
        records = read_topic(broker.bootstrap, topic, len(acked), 180)
        values = [json.loads(r.value)["event_id"] for r in records]
        assert set(acked) <= set(values), f"{len(set(acked) - set(values))} acknowledged events never arrived"
        assert len(set(acked)) == len(acked)
    finally:
        gateway.stop()


@pytest.mark.slow
@pytest.mark.parametrize("kafka_client", CLIENTS)
def test_gateway_killed_during_a_load(broker: KafkaBroker, topic: str, tmp_path: Path,
                                      kafka_client: str) -> None:
    process = GatewayProcess(tmp_path, broker.bootstrap, topic, client=kafka_client).start()
    stop, acked, errors = threading.Event(), [], []
    client = threading.Thread(target=load(process.url, "kill", stop, acked, errors), daemon=True)
    client.start()
    try:
        time.sleep(4)
        process.kill()  # SIGKILL: no flush, no goodbye
        killed_with = len(acked)
        stop.set()
        client.join(60)
        assert killed_with > 0 and errors, (killed_with, errors)
        process.start()  # the same spool: what it held goes out now
        values = {json.loads(r.value)["event_id"]
                  for r in read_topic(broker.bootstrap, topic, len(acked), 120)}
        deadline = time.monotonic() + 60
        while not set(acked) <= values and time.monotonic() < deadline:
            time.sleep(1)
            values = {json.loads(r.value)["event_id"] for r in read_topic(broker.bootstrap, topic, 0, 30)}
        assert set(acked) <= values, f"{len(set(acked) - values)} of {len(acked)} acknowledged events lost"
    finally:
        process.stop()


def test_posted_equals_what_the_worker_counts_equals_replay(kafka_broker: Any, influx_db: Any,
                                                            tmp_path: Path) -> None:
    """A day of the 19-agency simulator posted through the gateway, each agency with its own key: the
    worker's KPIs in InfluxDB equal `ioc replay` of the posted events, and nothing is dead-lettered (the
    gateway's `ioc-agency` header matches every event)."""
    pipeline = make_pipeline(kafka_broker.bootstrap, influx_db, tmp_path)
    keys = {agency.code: new_key() for agency in CATALOG.agencies}
    process = GatewayProcess(tmp_path, pipeline.bootstrap, pipeline.topic, keys)
    try:
        worker = pipeline.worker("w1")
        worker.wait_ready()
        process.start()
        calendar = WorkingCalendar(CATALOG.calendar)
        start = datetime(2026, 3, 23, tzinfo=VN)
        simulator = Simulator(CATALOG, calendar, seed=7, start=warmup_start(calendar, start, 3), end=EVENING,
                              emit_from=start)
        posted = list(simulator.events())
        by_agency: dict[str, list[dict[str, Any]]] = {}
        for item in posted:
            by_agency.setdefault(item["agency"], []).append(item)
        for agency, items in by_agency.items():
            for first in range(0, len(items), 500):
                response = post(process.url, items[first:first + 500], keys[agency])
                assert response.status_code == 200, response.text
                assert response.json()["invalid"] == 0, response.text
        records = [(None, json.dumps(e, ensure_ascii=False).encode()) for e in posted]
        expected = replay_of(records, CATALOG, EVENING)
        live = settle(pipeline, expected_received=expected.snapshot().centre.received)
        assert_same_kpis(live, replay_of(records, CATALOG, max(live.as_of)))
        assert metric(worker, "ioc_dead_letters_total") == 0
    finally:
        process.stop()
        pipeline.close()


def test_sighup_reloads_the_keys(gateway: GatewayProcess, tmp_path: Path) -> None:
    """Rotation by SIGHUP alone: the file is rewritten with the same size and modification time, so the
    once-a-second check cannot see it; the signal must."""
    keys = tmp_path / "keys.txt"
    before = keys.stat()
    rotated = new_key()
    keys.write_text(f"STP {hash_key(rotated)}\nSYT {hash_key(SYT_KEY)}\n")
    os.utime(keys, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert keys.stat().st_size == before.st_size
    time.sleep(1.5)
    assert post(gateway.url, batch("hup", 0, 1), rotated).status_code == 401  # not reloaded yet
    assert gateway.proc is not None
    gateway.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while post(gateway.url, batch("hup", 1, 1), rotated).status_code != 200:
        assert time.monotonic() < deadline, "SIGHUP did not reload the keys"
        time.sleep(0.2)
    assert post(gateway.url, batch("hup", 2, 1), STP_KEY).status_code == 401  # the old key is revoked
