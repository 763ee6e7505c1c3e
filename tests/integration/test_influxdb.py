"""The real InfluxDB started by the fixtures (1.6.7 + dev-only v2 write shim, or a real 2.x/3.x given by
IOC_TEST_INFLUX_URL/_TOKEN): the real influxdb-client writes, InfluxQL reads back, Vietnamese tag values
survive, engine errors reach the client, and a writer rides out an InfluxDB outage."""

# influxdb-client is only partly typed:
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import SYNCHRONOUS, WriteOptions
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from ioc.devstack.influx import InfluxEndpoint, InfluxQL, LocalInflux, quote_string

pytestmark = pytest.mark.integration

NS = 1_000_000_000

AGENCIES = ["Sở Tư pháp", "Sở Y tế", "Sở Tài nguyên và Môi trường"]
FIELDS = ["Đất đai", "Hộ tịch", "Khám chữa bệnh"]
T0 = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)  # 08:00 in Việt Nam


def client_for(db: InfluxEndpoint, **kwargs: Any) -> InfluxDBClient:
    return InfluxDBClient(url=db.url, token=db.token, org=db.org, timeout=10_000, **kwargs)


def test_sync_write_vietnamese_tags_and_group_by(influx_db: InfluxEndpoint) -> None:
    points = []
    for i, agency in enumerate(AGENCIES):
        for j, field in enumerate(FIELDS):
            points.append(
                Point("dossier_kpi")
                .tag("agency", agency)
                .tag("field", field)
                .field("received", (i + 1) * 10 + j)
                .field("on_time_ratio", 0.5 + 0.1 * j)
                .time(T0 + timedelta(minutes=i * 3 + j), WritePrecision.S)
            )
    with client_for(influx_db) as client:
        client.write_api(write_options=SYNCHRONOUS).write(bucket=influx_db.bucket, record=points)

    rows = influx_db.query('SELECT sum("received") AS total FROM "dossier_kpi" GROUP BY "agency"')
    assert {r["agency"]: r["total"] for r in rows} == {
        "Sở Tư pháp": 10 + 11 + 12,
        "Sở Y tế": 20 + 21 + 22,
        "Sở Tài nguyên và Môi trường": 30 + 31 + 32,
    }
    rows = influx_db.query(
        f'SELECT last("received") AS last FROM "dossier_kpi" WHERE "field" = {quote_string("Đất đai")} '
        'GROUP BY "agency", "field"'
    )
    assert sorted((r["agency"], r["field"], r["last"]) for r in rows) == sorted(
        [
            ("Sở Tư pháp", "Đất đai", 10),
            ("Sở Y tế", "Đất đai", 20),
            ("Sở Tài nguyên và Môi trường", "Đất đai", 30),
        ]
    )
    values = influx_db.query('SHOW TAG VALUES FROM "dossier_kpi" WITH KEY = "field"')
    assert sorted(v["value"] for v in values) == sorted(FIELDS)
    first = influx_db.query('SELECT "received" FROM "dossier_kpi" ORDER BY time ASC LIMIT 1', epoch="s")
    assert first[0]["time"] == int(T0.timestamp())


@pytest.mark.parametrize("precision,scale", [("s", 1), ("ms", 10**3), ("us", 10**6), ("ns", 10**9)])
def test_line_protocol_precisions(influx_db: InfluxEndpoint, precision: str, scale: int) -> None:
    ts = int(T0.timestamp())
    with client_for(influx_db) as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            bucket=influx_db.bucket,
            record=f"prec_{precision},agency=Sở\\ Tư\\ pháp n=1i {ts * scale}",
            write_precision=precision,
        )
    rows = influx_db.query(f'SELECT n, agency FROM "prec_{precision}"', epoch="s")
    assert rows == [{"_measurement": f"prec_{precision}", "time": ts, "n": 1, "agency": "Sở Tư pháp"}]


def test_batching_write_api_with_gzip(influx_db: InfluxEndpoint) -> None:
    n = 2_000
    options = WriteOptions(batch_size=250, flush_interval=200, jitter_interval=0, retry_interval=200)
    with client_for(influx_db, enable_gzip=True) as client, client.write_api(write_options=options) as write:
        for i in range(n):
            write.write(
                bucket=influx_db.bucket,
                record=Point("queue")
                .tag("agency", AGENCIES[i % 3])
                .tag("counter", f"Quầy {i % 7}")
                .field("waiting", i % 11)
                .time(T0 + timedelta(seconds=i), WritePrecision.S),
            )
    rows = influx_db.query('SELECT count("waiting") AS n FROM "queue" GROUP BY "agency"')
    assert {r["agency"]: r["n"] for r in rows} == {a: len(range(k, n, 3)) for k, a in enumerate(AGENCIES)}


def test_engine_4xx_reaches_the_client(influx_db: InfluxEndpoint) -> None:
    with client_for(influx_db) as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        with pytest.raises(ApiException) as info:
            write.write(bucket=influx_db.bucket, record="dossier,agency=Sở\\ Tư\\ pháp received=")
        assert info.value.status == 400
        assert "unable to parse" in str(info.value.body) or "invalid" in str(info.value.body)
        # a type conflict is a 4xx from the engine too (field type is fixed per shard)
        write.write(bucket=influx_db.bucket, record="conflict v=1i 1700000000", write_precision="s")
        with pytest.raises(ApiException) as info:
            write.write(bucket=influx_db.bucket, record='conflict v="text" 1700000001', write_precision="s")
        assert 400 <= info.value.status < 500
    assert influx_db.query('SELECT count(v) FROM "conflict"')[0]["count"] == 1


def test_ping_and_health_through_the_client(influx: Any) -> None:
    with InfluxDBClient(url=influx.url, token=influx.token, org=influx.org) as client:
        assert client.ping()
        assert client.health().status == "pass"


# -- local engine only ---------------------------------------------------------------------------------
@pytest.fixture
def local(influx: Any) -> LocalInflux:
    if not isinstance(influx, LocalInflux):
        pytest.skip("fault test needs the local InfluxDB (not a remote IOC_TEST_INFLUX_URL)")
    return influx


def test_fresh_database_per_test(local: LocalInflux, influx_db: InfluxEndpoint) -> None:
    names = {r["name"] for r in InfluxQL(local.query_url).query("SHOW DATABASES")}
    assert influx_db.bucket in names and influx_db.bucket != local.bucket
    assert influx_db.query("SHOW MEASUREMENTS") == []


def test_upstream_down_is_503_through_the_shim(local: LocalInflux, influx_db: InfluxEndpoint) -> None:
    local.engine.stop()
    try:
        with client_for(influx_db) as client:
            with pytest.raises(ApiException) as info:
                client.write_api(write_options=SYNCHRONOUS).write(bucket=influx_db.bucket, record="m v=1")
            assert info.value.status == 503
            assert client.health().status == "fail"
    finally:
        local.engine.start()
    assert local.running


def test_batching_writer_rides_out_an_outage(local: LocalInflux, influx_db: InfluxEndpoint) -> None:
    """Stop InfluxDB (shim included: connection refused, like a real outage) under a batching writer;
    after start() every point written before, during and after the outage is stored exactly once."""
    errors: list[str] = []
    options = WriteOptions(
        batch_size=50,
        flush_interval=100,
        jitter_interval=0,
        retry_interval=100,
        max_retries=30,
        max_retry_delay=500,
        exponential_base=2,
        max_retry_time=30_000,
    )
    n = 600
    with client_for(influx_db) as client:
        write = client.write_api(
            write_options=options, error_callback=lambda _c, _d, e: errors.append(repr(e))
        )
        try:
            for i in range(n):
                if i == 200:
                    local.stop()
                if i == 400:
                    time.sleep(1.0)  # still down: retries keep failing for a while
                    local.start()
                write.write(
                    bucket=influx_db.bucket,
                    record=Point("outage")
                    .tag("agency", AGENCIES[i % 3])
                    .field("seq", i)
                    .time(T0 + timedelta(seconds=i), WritePrecision.S),
                )
                time.sleep(0.002)
        finally:
            if not local.running:
                local.start()
            write.close()
    assert not errors, errors
    rows = influx_db.query('SELECT count("seq") AS n, sum("seq") AS s FROM "outage"')
    assert rows[0]["n"] == n and rows[0]["s"] == sum(range(n))


def test_sink_writes_within_seconds_of_influxdb_answering_again_after_a_grown_back_off(
    local: LocalInflux, influx_db: InfluxEndpoint
) -> None:
    """The worker's sink: once its back-off has grown to 8-10 s, InfluxDB comes back and the buffered lines
    are written within about a probe interval, not after the rest of the back-off."""
    from streams.influx import InfluxSink
    from streams.metrics import WorkerMetrics

    metrics = WorkerMetrics.create()
    sink = InfluxSink(influx_db.url, influx_db.token, influx_db.org, influx_db.bucket, metrics,
                      batch_size=100, flush_seconds=0.2, max_backoff=30.0, probe_seconds=0.5)
    try:
        local.stop()
        try:
            sink.add([f"probe seq={i}i {i}" for i in range(300)])
            deadline = time.monotonic() + 60
            # failures after waits of 0.5, 1, 2, 4 s: the 5th starts a back-off of 8 to 10 s
            while (metrics.registry.get_sample_value("ioc_sink_errors_total") or 0) < 5:
                assert time.monotonic() < deadline, "the sink never failed five times"
                time.sleep(0.1)
        finally:
            local.start()
        back = time.monotonic()
        assert sink.flush(timeout=30), "lines still buffered 30 s after InfluxDB came back"
        caught_up = time.monotonic() - back
    finally:
        sink.close()
        if not local.running:
            local.start()
    assert caught_up < 4.0, f"written {caught_up:.1f} s after InfluxDB answered (back-off was 8-10 s)"
    rows = influx_db.query('SELECT count("seq") AS n FROM "probe"')
    assert rows[0]["n"] == 300


def test_sink_keeps_its_back_off_when_influxdb_answers_but_refuses_the_writes(
    influx_db: InfluxEndpoint,
) -> None:
    """Pings succeed, writes fail (no such database): the probe must not cut the back-off short."""
    from streams.influx import InfluxSink
    from streams.metrics import WorkerMetrics

    metrics = WorkerMetrics.create()
    sink = InfluxSink(influx_db.url, influx_db.token, influx_db.org, f"{influx_db.bucket}_missing", metrics,
                      batch_size=100, flush_seconds=0.2, probe_seconds=0.2)
    try:
        sink.add(["refused seq=1i 1"])
        time.sleep(5.0)
        errors = metrics.registry.get_sample_value("ioc_sink_errors_total") or 0
    finally:
        sink.close(timeout=0.5)
    # attempts at 0, 0.5-0.6, 1.5-1.9, 3.5-4.4 s: at most 4 in 5 s (a probe every 0.2 s would allow 20)
    assert 1 <= errors <= 4, f"{errors:.0f} failed writes in 5 s"


def test_sink_writes_each_line_into_its_retention_policy_in_order(influx_db: InfluxEndpoint) -> None:
    """Snapshots go to the `live` retention policy (a day), the rest to the default one; runs of lines
    for the two interleave and `written` counts them all, in order."""
    from streams.influx import LIVE_RP, InfluxSink
    from streams.metrics import WorkerMetrics

    now = int(time.time())
    sink = InfluxSink(influx_db.url, influx_db.token, influx_db.org, influx_db.bucket, WorkerMetrics.create(),
                      batch_size=7, flush_seconds=0.1)
    try:
        added = 0
        for round_ in range(5):
            stamps = [(now - 10 * round_ - i) * NS for i in range(10)]  # each point its own
            added = sink.add([f"kpi,partition=0 overdue={i}i {t}" for i, t in enumerate(stamps)], LIVE_RP)
            added = sink.add([f"events,agency=A n=1i,seq={i}i {t}" for i, t in enumerate(stamps[:3])])
        assert added == 65 and sink.flush(timeout=30)
        assert sink.written == 65
    finally:
        sink.close()
    assert influx_db.query('SELECT count("overdue") AS n FROM "live"."kpi"')[0]["n"] == 50
    assert influx_db.query('SELECT count("overdue") AS n FROM "kpi"') == []  # not in the default policy
    assert influx_db.query('SELECT count("seq") AS n FROM "events"')[0]["n"] == 15
    assert influx_db.query(f'SELECT count("seq") AS n FROM "{LIVE_RP}"."events"') == []


def test_sink_lets_go_of_points_older_than_their_retention_policy(influx_db: InfluxEndpoint) -> None:
    """A snapshot buffered through an outage longer than the `live` policy's day is refused by InfluxDB
    (400, "points beyond retention policy"), for ever: the sink writes the batch's other points and goes
    on instead of retrying it and holding every later line back."""
    from streams.influx import LIVE_RP, InfluxSink
    from streams.metrics import WorkerMetrics

    now = int(time.time())
    metrics = WorkerMetrics.create()
    sink = InfluxSink(influx_db.url, influx_db.token, influx_db.org, influx_db.bucket, metrics,
                      batch_size=100, flush_seconds=0.1)
    try:
        sink.add([f"kpi,partition=0 overdue=1i {(now - 2 * 86400) * NS}",
                  f"kpi,partition=1 overdue=2i {now * NS}"], LIVE_RP)
        sink.add([f"events,agency=A seq=1i {now * NS}"])
        assert sink.flush(timeout=15), "the sink is stuck behind the expired point"
    finally:
        sink.close()
    assert metrics.registry.get_sample_value("ioc_sink_errors_total") == 1
    rows = influx_db.query('SELECT "overdue" FROM "live"."kpi"')
    assert [row["overdue"] for row in rows] == [2]
    assert influx_db.query('SELECT count("seq") AS n FROM "events"')[0]["n"] == 1
