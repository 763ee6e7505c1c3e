"""The real Apache Kafka 3.9.1 broker started by the fixtures, driven with kafka-python (no mocks):
key -> partition stability, a two-member consumer group splitting partitions, restart and crash
recovery keeping data, fail-fast startup errors, and no server left behind when pytest is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from ioc.devstack.kafka import KafkaBroker
from ioc.devstack.proc import StartupError, pid_alive
from tests.support.stack import TopicFactory

pytestmark = pytest.mark.integration

AGENCIES = ["Sở Tư pháp", "Sở Y tế", "Sở Tài nguyên và Môi trường", "UBND huyện Bình Sơn", "Công an tỉnh"]


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> dict[bytes, set[int]]:
    """Send and wait for every ack; returns key -> partitions the broker put it in."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [(k, producer.send(topic, key=k, value=v)) for k, v in records]
        producer.flush(timeout=30)
        placed: dict[bytes, set[int]] = defaultdict(set)
        for key, fut in futures:
            placed[key].add(fut.get(timeout=30).partition)
        return placed
    finally:
        producer.close(timeout=5)


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list[Any]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in parts])
        consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def test_same_key_always_lands_on_the_same_partition(
    kafka_broker: KafkaBroker, kafka_topic: TopicFactory
) -> None:
    topic = kafka_topic(partitions=6, prefix="keys")
    keys = [f"HS-{i:05d}".encode() for i in range(60)]
    records = [
        (k, json.dumps({"seq": n, "agency": AGENCIES[n % 5]}).encode()) for n in range(5) for k in keys
    ]
    placed = produce(kafka_broker.bootstrap, topic, records)
    assert all(len(parts) == 1 for parts in placed.values()), "a key was split across partitions"
    assert len({p for parts in placed.values() for p in parts}) > 1, "60 keys should spread over partitions"

    # a second, independent producer maps every key to the same partition again
    again = produce(kafka_broker.bootstrap, topic, [(k, b"again") for k in keys])
    assert again == placed

    consumed = consume_all(kafka_broker.bootstrap, topic, len(records) + len(keys))
    assert len(consumed) == len(records) + len(keys)
    seen: dict[bytes, set[int]] = defaultdict(set)
    for rec in consumed:
        seen[rec.key].add(rec.partition)
    assert seen == placed
    # order per key is kept within its partition
    per_key = defaultdict(list)
    for rec in sorted(consumed, key=lambda r: (r.partition, r.offset)):
        if rec.value != b"again":
            per_key[rec.key].append(json.loads(rec.value)["seq"])
    assert all(seqs == [0, 1, 2, 3, 4] for seqs in per_key.values())


def test_auto_created_topic_gets_default_partitions(kafka_broker: KafkaBroker) -> None:
    topic = f"auto-{uuid.uuid4().hex[:8]}"
    produce(kafka_broker.bootstrap, topic, [(b"k", b"v")])
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    try:
        (info,) = admin.describe_topics([topic])
        assert len(info["partitions"]) == kafka_broker.partitions == 6
    finally:
        admin.close()


class GroupOfTwo:
    """Members "a" and "b" of one consumer group, each polling in a thread of its own."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.group = f"g-{uuid.uuid4().hex[:8]}"
        self.stop = threading.Event()
        self.assignments: dict[str, set[int]] = {}
        self.received: dict[str, list[tuple[int, int, bytes]]] = {"a": [], "b": []}
        self.errors: list[BaseException] = []
        self.bootstrap, self.topic = bootstrap, topic
        self.threads = [threading.Thread(target=self._member, args=(n,), daemon=True) for n in ("a", "b")]
        for t in self.threads:
            t.start()

    def _member(self, name: str) -> None:
        try:
            consumer = KafkaConsumer(
                self.topic,
                bootstrap_servers=self.bootstrap,
                group_id=self.group,
                client_id=f"member-{name}",
                auto_offset_reset="earliest",
                enable_auto_commit=True,
                auto_commit_interval_ms=200,
                heartbeat_interval_ms=300,
                session_timeout_ms=6000,
                max_poll_interval_ms=30000,
            )
            try:
                while not self.stop.is_set():
                    for tp, batch in consumer.poll(timeout_ms=100).items():
                        self.received[name].extend((tp.partition, r.offset, r.value) for r in batch)
                    self.assignments[name] = {tp.partition for tp in consumer.assignment()}
            finally:
                consumer.close()
        except BaseException as exc:  # surfaced in the main thread
            self.errors.append(exc)

    def split(self, timeout: float) -> bool:
        """True once each member holds two of the four partitions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.errors:
            a, b = self.assignments.get("a", set()), self.assignments.get("b", set())
            if len(a) == 2 and len(b) == 2 and not a & b:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


def test_consumer_group_of_two_splits_four_partitions(
    kafka_broker: KafkaBroker, kafka_topic: TopicFactory
) -> None:
    """Two members split four partitions, and each record reaches exactly one of them.

    Up to two groups are tried, 60 s each: twice in the fresh-clone runs of the whole suite (2026-11-25
    and -26) the second member never got a partition, even in 120 s (it had been evicted: its LeaveGroup
    was answered UnknownMemberId), a kafka-python client-side problem under load that did not recur when
    the test ran alone. A second group that does not split either fails the test, with the broker's lines
    about the groups.
    """
    topic = kafka_topic(partitions=4, prefix="group")
    members = GroupOfTwo(kafka_broker.bootstrap, topic)
    first_try = ""
    if not members.split(60) and not members.errors:
        first_try = f"first group {members.group} did not split in 60 s: {members.assignments}; "
        members.close()
        members = GroupOfTwo(kafka_broker.bootstrap, topic)
        if not members.split(60):
            members.close()
            log = kafka_broker.log_path.read_text(errors="replace")
            said = [line for line in log.splitlines() if "g-" in line and "roup" in line]
            raise AssertionError(first_try + f"second group {members.group}: {members.assignments}; broker:\n"
                                 + "\n".join(said[-40:]))
    received = members.received
    try:
        assert not members.errors, members.errors
        assert members.assignments["a"] | members.assignments["b"] == {0, 1, 2, 3}
        if first_try:
            print(first_try + "the second one did")

        n = 400
        records = [(f"HS-{i % 37}".encode(), f"event-{i}".encode()) for i in range(n)]
        produce(kafka_broker.bootstrap, topic, records)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(received["a"]) + len(received["b"]) < n:
            time.sleep(0.05)
        time.sleep(0.3)  # would expose duplicates arriving late
    finally:
        members.close()
    assert not members.errors, members.errors

    values = Counter(v for name in received for _, _, v in received[name])
    assert len(values) == n and set(values.values()) == {1}, "every record exactly once"
    for name in ("a", "b"):
        assert received[name], f"member {name} got nothing"
        assert {p for p, _, _ in received[name]} <= members.assignments[name]


def test_restart_keeps_data_and_ports(kafka_broker: KafkaBroker, kafka_topic: TopicFactory) -> None:
    topic = kafka_topic(partitions=3, prefix="restart")
    records = [(f"k{i}".encode(), f"before-restart-{i}".encode()) for i in range(50)]
    produce(kafka_broker.bootstrap, topic, records)
    bootstrap, pid = kafka_broker.bootstrap, kafka_broker.pid

    kafka_broker.restart()

    assert kafka_broker.bootstrap == bootstrap
    assert kafka_broker.pid != pid
    got = consume_all(kafka_broker.bootstrap, topic, len(records))
    assert sorted(r.value for r in got) == sorted(v for _, v in records)
    produce(kafka_broker.bootstrap, topic, [(b"k", b"after-restart")])  # still writable


def test_crash_and_start_recovers_data(kafka_broker: KafkaBroker, kafka_topic: TopicFactory) -> None:
    topic = kafka_topic(partitions=2, prefix="crash")
    records = [(f"k{i}".encode(), f"before-crash-{i}".encode()) for i in range(30)]
    produce(kafka_broker.bootstrap, topic, records)
    pid = kafka_broker.pid
    assert pid is not None

    kafka_broker.kill()
    assert not kafka_broker.running
    assert not pid_alive(pid)

    kafka_broker.start()
    got = consume_all(kafka_broker.bootstrap, topic, len(records))
    assert sorted(r.value for r in got) == sorted(v for _, v in records)


def test_bad_configuration_fails_fast_with_the_log(tmp_path: Path) -> None:
    broker = KafkaBroker(data_dir=tmp_path, extra_properties={"num.io.threads": "not-a-number"})
    started = time.monotonic()
    with pytest.raises(StartupError) as info:
        broker.start()
    assert time.monotonic() - started < 60
    assert "num.io.threads" in str(info.value)
    assert not broker.running
    broker.close()


# -- no orphans ---------------------------------------------------------------------------------------
CHILD_TEST = textwrap.dedent(
    """
    import json, os, time
    from tests.conftest import kafka_broker, influx  # the real session fixtures

    def test_hold(kafka_broker, influx):
        info = {"java": kafka_broker.pid, "kafka_watchdog": kafka_broker.watchdog_pid,
                "kafka_dir": str(kafka_broker.data_dir), "influxd": influx.engine.pid,
                "influx_dir": str(influx.engine.data_dir)}
        with open(os.environ["IOC_ORPHAN_INFO"] + ".tmp", "w") as fh:
            json.dump(info, fh)
        os.replace(os.environ["IOC_ORPHAN_INFO"] + ".tmp", os.environ["IOC_ORPHAN_INFO"])
        parent = int(os.environ["IOC_ORPHAN_PARENT"])
        deadline = time.monotonic() + 300
        while os.getppid() == parent and time.monotonic() < deadline:  # never outlive the outer pytest
            time.sleep(0.1)
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_sigkill_of_pytest_leaves_no_server_behind(tmp_path: Path, influx: Any) -> None:
    """Run a pytest that holds both real fixtures, SIGKILL it, and check the JVM and influxd go away
    (and their temp dirs with them). Skipped against a remote InfluxDB (nothing to start)."""
    if not hasattr(influx, "engine"):
        pytest.skip("needs the local InfluxDB")
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "test_child.py").write_text(CHILD_TEST)
    info_path = tmp_path / "info.json"
    env = {
        **os.environ,
        "IOC_ORPHAN_INFO": str(info_path),
        "IOC_ORPHAN_PARENT": str(os.getpid()),
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-o",
            "addopts=",
            "-o",
            "timeout=0",
            str(tmp_path / "test_child.py"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not info_path.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                out = child.stdout.read().decode() if child.stdout else ""
                pytest.fail(f"child pytest did not start the servers:\n{out}")
            time.sleep(0.1)
        info = json.loads(info_path.read_text())
        assert _alive(info["java"]) and _alive(info["influxd"])

        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)

        deadline = time.monotonic() + 40  # Kafka's clean shutdown gets up to its SIGTERM grace period
        while time.monotonic() < deadline and any(
            _alive(info[k]) for k in ("java", "kafka_watchdog", "influxd")
        ):
            time.sleep(0.2)
        left = {k: info[k] for k in ("java", "kafka_watchdog", "influxd") if _alive(info[k])}
        assert not left, f"left behind after SIGKILL of pytest: {left}"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            Path(info["kafka_dir"]).exists() or Path(info["influx_dir"]).exists()
        ):
            time.sleep(0.1)
        assert not Path(info["kafka_dir"]).exists() and not Path(info["influx_dir"]).exists()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def test_ioc_dev_kafka_sasl_serves_the_catalog_users_until_sigterm(tmp_path: Path) -> None:
    """`ioc dev kafka --sasl` (was `python -m ioc.devstack.kafka_sasl run`): a secured broker with the
    catalog's users and ACLs, the worker's password in DATA_DIR/secrets; SIGTERM stops it cleanly."""
    from kafka_access.acl import WORKER_USER, agency_user
    from kafka_access.admin import admin_client, client_settings, describe_rules

    data_dir = tmp_path / "kafka"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc.cli", "dev", "kafka", "--sasl", "--partitions", "1", "--data-dir",
         str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Ctrl-C stops it." in line:
                break
        said = "".join(output)
        assert "Ctrl-C stops it." in said, said
        bootstrap = said.split("bootstrap servers :", 1)[1].split()[0]
        secrets = data_dir / "secrets"
        assert f"IOC_KAFKA_USERNAME={WORKER_USER}" in said
        worker = KafkaAdminClient(bootstrap_servers=bootstrap,
                                  **client_settings(WORKER_USER, (secrets / WORKER_USER).read_text()))
        worker.close()  # it logged in
        admin = admin_client(bootstrap, (secrets / "admin").read_text())
        try:
            users = {rule.user for rule in describe_rules(admin)}
        finally:
            admin.close()
        assert {agency_user("STP"), agency_user("SKHDT"), WORKER_USER} <= users
        assert len([u for u in users if u.startswith("agency-")]) == 19  # the sample catalog
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(output) + rest
    assert "stopping Kafka" in rest


def test_the_benchmarks_count_a_groups_progress_by_its_committed_offsets(
    kafka_broker: KafkaBroker, kafka_topic: TopicFactory
) -> None:
    """`benchmarks.harness.Committed`, what the worker benchmarks follow: records of one topic whose
    offsets the group committed (0 for a group that has committed nothing)."""
    from benchmarks.harness import Committed

    topic, other = kafka_topic(partitions=3), kafka_topic(partitions=1)
    produce(kafka_broker.bootstrap, topic, [(f"k{i}".encode(), b"v") for i in range(30)])
    produce(kafka_broker.bootstrap, other, [(b"k", b"v")] * 5)
    group = f"bench-{uuid.uuid4().hex[:8]}"
    committed = Committed(kafka_broker.bootstrap, group, topic)
    try:
        assert committed() == 0
        consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id=group,
                                 enable_auto_commit=False, auto_offset_reset="earliest")
        try:
            consumer.subscribe([topic, other])
            seen = 0
            deadline = time.monotonic() + 30
            while seen < 35 and time.monotonic() < deadline:
                seen += sum(len(batch) for batch in consumer.poll(500).values())
            assert seen == 35
            consumer.commit()
        finally:
            consumer.close()
        assert committed() == 30  # the other topic's 5 are not counted
    finally:
        committed.close()
