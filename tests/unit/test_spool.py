"""The durable spool, and the producer's offline behaviour that rests on it (no broker needed)."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from dossiers.events import InvalidEvent, parse_event
from producers.sdk import DurableBatch, EventProducer
from producers.spool import Spool, SpoolLocked


def _free_port() -> int:
    """A local port nobody listens on: the 'broker is down' case, for real."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def event(i: int, dossier: str = "000.00.12.H48-260302-0001", agency: str = "STP") -> dict[str, Any]:
    return {
        "event_id": f"e-{i}",
        "schema": "dossier-event/1",
        "type": "received",
        "occurred_at": "2026-03-02T08:15:00+07:00",
        "dossier": dossier,
        "agency": agency,
        "procedure": "1.004363",
        "channel": "online",
    }


# -- Spool ----------------------------------------------------------------------------------------------
def test_append_peek_ack_in_order(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.sqlite") as spool:
        assert len(spool) == 0 and spool.peek() == []
        ids = [spool.append(f"k{i}".encode(), f"v{i}".encode(), [("h", b"x")], topic="t") for i in range(5)]
        assert ids == sorted(ids)
        assert len(spool) == 5
        rows = spool.peek(3)
        assert [r.value for r in rows] == [b"v0", b"v1", b"v2"]
        assert rows[0].key == b"k0" and rows[0].headers == [("h", b"x")] and rows[0].topic == "t"
        assert spool.ack([r.id for r in rows[:2]]) == 2
        assert [r.value for r in spool.peek()] == [b"v2", b"v3", b"v4"]
        assert len(spool) == 3
        assert spool.ack([]) == 0
        assert spool.ack([999_999]) == 0
        assert len(spool) == 3


def test_reopen_after_close_keeps_records_order_and_ids(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "s.sqlite"
    with Spool(path) as spool:
        for i in range(4):
            spool.append(None, f"v{i}".encode())
        spool.ack([spool.peek(1)[0].id])
        last = spool.peek()[-1].id
    with Spool(path) as again:
        assert len(again) == 3
        assert [r.value for r in again.peek()] == [b"v1", b"v2", b"v3"]
        assert again.peek()[0].key is None
        new_id = again.append(None, b"v4")
        assert new_id > last
        assert again.reserve() > new_id
        assert [r.value for r in again.peek()][-1] == b"v4"


def test_reserved_id_keeps_its_place(tmp_path: Path) -> None:
    """A record sent directly and spooled only after its send failed sorts before later records."""
    with Spool(tmp_path / "s.sqlite") as spool:
        early = spool.reserve()
        spool.append(None, b"later-1")
        spool.append(None, b"later-2")
        spool.append(None, b"early", seq=early)
        assert [r.value for r in spool.peek()] == [b"early", b"later-1", b"later-2"]


def test_headers_and_binary_values_round_trip(tmp_path: Path) -> None:
    headers = [("ioc-agency", "Sở Tư pháp".encode()), ("raw", b"\x00\xff\xfe"), ("ioc-agency", b"")]
    with Spool(tmp_path / "s.sqlite") as spool:
        spool.append(b"\xff key", b"\x00 value \xff", headers)
        row = spool.peek()[0]
    assert row.headers == headers
    assert row.key == b"\xff key" and row.value == b"\x00 value \xff"
    assert row.spooled_at == pytest.approx(time.time(), abs=60)


def test_one_owner_per_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    first = Spool(path)
    with pytest.raises(SpoolLocked, match="in use"):
        Spool(path)
    first.close()
    first.close()  # idempotent
    with Spool(path) as second:
        assert len(second) == 0
    with pytest.raises(RuntimeError, match="closed"):
        first.append(None, b"x")


def test_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    with Spool(tmp_path / "s.sqlite") as spool:
        spool.append(None, b"x")
        probe = sqlite3.connect(tmp_path / "s.sqlite")
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        probe.close()


def test_appends_survive_a_killed_process(tmp_path: Path) -> None:
    """Each append is committed: a process that dies without closing loses nothing it appended."""
    path = tmp_path / "s.sqlite"
    script = textwrap.dedent(
        f"""
        import os
        from producers.spool import Spool
        spool = Spool({str(path)!r})
        for i in range(50):
            spool.append(b"k", b"v%d" % i)
        os._exit(9)  # no close, no checkpoint, no atexit
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2], timeout=60)
    assert result.returncode == 9
    with Spool(path) as spool:
        assert len(spool) == 50
        assert [r.value for r in spool.peek(100)] == [b"v%d" % i for i in range(50)]


def test_concurrent_append_and_drain(tmp_path: Path) -> None:
    """One thread appends while another peeks and acks: every record is drained once, in order."""
    total = 3000
    drained: list[bytes] = []
    errors: list[BaseException] = []
    done_appending = threading.Event()
    with Spool(tmp_path / "s.sqlite") as spool:

        def appender() -> None:
            try:
                for i in range(total):
                    spool.append(b"k", f"{i:06d}".encode())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                done_appending.set()

        def drainer() -> None:
            try:
                while not (done_appending.is_set() and len(spool) == 0):
                    rows = spool.peek(97)
                    if not rows:
                        time.sleep(0.001)
                        continue
                    drained.extend(r.value for r in rows)
                    assert spool.ack(r.id for r in rows) == len(rows)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=appender), threading.Thread(target=drainer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        assert drained == [f"{i:06d}".encode() for i in range(total)]
        assert len(spool) == 0


# -- EventProducer without a broker: starts, validates, spools ----------------------------------------
@pytest.fixture
def offline_producer(tmp_path: Path) -> Iterator[EventProducer]:
    producer = EventProducer(
        f"127.0.0.1:{_free_port()}",
        "dossier-events",
        spool=tmp_path / "spool.sqlite",
        agency_identity="STP",
        registry=CollectorRegistry(),
        connect_timeout_s=0.5,
        retry_backoff_s=(0.2, 1.0),
    )
    yield producer
    producer.close(timeout=0)


def _sample(producer: EventProducer, name: str, **labels: str) -> float:
    for family in (producer.metrics.sent, producer.metrics.spooled, producer.metrics.invalid,
                   producer.metrics.spool_depth, producer.metrics.failed):
        for metric in family.collect():
            for sample in metric.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
    return 0.0


def test_producer_starts_and_spools_when_broker_is_down(offline_producer: EventProducer) -> None:
    started = time.monotonic()
    for i in range(10):
        offline_producer.send(event(i))
    assert time.monotonic() - started < 5, "send() must not block on an unreachable broker"
    assert not offline_producer.connected
    assert offline_producer.spool_depth == 10
    rows = offline_producer.spool.peek(100)
    assert [parse_event(r.value).event_id for r in rows] == [f"e-{i}" for i in range(10)]
    assert rows[0].key == b"000.00.12.H48-260302-0001"
    assert ("ioc-agency", b"STP") in rows[0].headers
    assert ("ioc-schema", b"dossier-event/1") in rows[0].headers
    assert rows[0].value == parse_event(event(0)).to_json().encode()
    assert _sample(offline_producer, "ioc_producer_events_spooled_total", agency="STP") == 10
    assert _sample(offline_producer, "ioc_producer_spool_depth", agency="STP") == 10
    assert offline_producer.drain(timeout=0.3) is False


def test_producer_refuses_invalid_events_naming_the_field(offline_producer: EventProducer) -> None:
    bad = event(1)
    bad["occurred_at"] = "2026-03-02T08:15:00"
    with pytest.raises(InvalidEvent, match="occurred_at") as caught:
        offline_producer.send(bad)
    assert caught.value.code == "schema"
    with pytest.raises(InvalidEvent, match="differs from this producer's agency identity"):
        offline_producer.send(event(2, agency="SXD"))
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        offline_producer.send("{not json")
    assert offline_producer.spool_depth == 0
    assert _sample(offline_producer, "ioc_producer_events_invalid_total", agency="STP", code="schema") == 1
    assert _sample(offline_producer, "ioc_producer_events_invalid_total", code="agency_mismatch") == 1


def test_spooled_events_outlive_the_producer(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    port = _free_port()
    kwargs: dict[str, Any] = {"spool": path, "registry": CollectorRegistry(), "connect_timeout_s": 0.3}
    with EventProducer(f"127.0.0.1:{port}", **kwargs) as producer:
        producer.send(event(1))
        producer.send(event(2, dossier="other"))
        assert producer.close(timeout=0.5) is False
    with Spool(path) as spool:
        assert [parse_event(r.value).event_id for r in spool.peek()] == ["e-1", "e-2"]


def test_send_durable_many_to_a_down_broker_settles_every_event_in_the_spool_at_once(
    offline_producer: EventProducer,
) -> None:
    events = [parse_event(event(i, dossier=f"000.00.12.H48-260302-{i % 3:04d}")) for i in range(7)]
    calls: list[DurableBatch] = []
    batch = offline_producer.send_durable_many(events, "STP", calls.append)
    assert calls == [batch], "on_done once, by the sending thread: the spool committed them all"
    assert batch.done and batch.outcomes == ["spool"] * 7
    rows = offline_producer.spool.peek(100)
    assert [r.value for r in rows] == [e.to_json().encode() for e in events], "in order, canonical JSON"
    assert all(("ioc-agency", b"STP") in r.headers for r in rows)
    assert _sample(offline_producer, "ioc_producer_events_spooled_total", agency="STP") == 7
    assert offline_producer.send_durable(events[0]).result(timeout=1) == "spool"
    empty: list[DurableBatch] = []
    assert offline_producer.send_durable_many([], "STP", empty.append).done and len(empty) == 1


def test_durable_batch_calls_on_done_once_after_the_last_of_many_threads() -> None:
    done: list[list[str | BaseException | None]] = []
    size = 4_000
    batch = DurableBatch(size, lambda b: done.append(list(b.outcomes)))
    lost = RuntimeError("lost")

    def settle(start: int) -> None:
        for index in range(start, size, 4):
            batch.settle(index, lost if index == 13 else "kafka")

    threads = [threading.Thread(target=settle, args=(start,)) for start in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(done) == 1, "on_done exactly once"
    assert None not in done[0], "on_done only once every event is settled"
    assert done[0][13] is lost and done[0].count("kafka") == size - 1


def test_closed_producer_refuses_sends(offline_producer: EventProducer) -> None:
    offline_producer.close(timeout=0)
    with pytest.raises(RuntimeError, match="closed"):
        offline_producer.send(event(1))


class _Cluster:
    """The two metadata queries a partitioner makes (no broker involved)."""

    def __init__(self, partitions: int) -> None:
        self._partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions


def test_dossier_partitioner_maps_keys_like_the_default_one() -> None:
    """Memoising the hash must not move a dossier to another partition than other clients pick."""
    from kafka.partitioner.default import DefaultPartitioner

    from producers.clients import DossierPartitioner

    ours, theirs = DossierPartitioner(max_keys=50), DefaultPartitioner()
    for partitions in (1, 3, 6, 12):
        cluster = _Cluster(partitions)
        for i in range(300):
            key = f"000.00.12.H48-260302-{i:04d}".encode()
            for _ in range(2):  # second time from the memo
                assert ours.partition("t", None, key, None, None, cluster) == theirs.partition(
                    "t", None, key, None, None, cluster
                )
    assert ours.partition("t", None, None, None, None, _Cluster(3)) in {0, 1, 2}


def test_unusable_codec_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """Refused at construction, not later in the drain thread where nobody would see it."""
    with pytest.raises(ValueError, match="brotli"):
        EventProducer("127.0.0.1:1", spool=tmp_path / "s.sqlite", compression_type="brotli",
                      registry=CollectorRegistry())
    with Spool(tmp_path / "s.sqlite") as spool:  # and the spool file is not left locked
        assert len(spool) == 0
