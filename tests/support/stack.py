"""Logic behind the pytest fixtures in tests/conftest.py (the local stack: Kafka broker, InfluxDB).

Why: the fixtures must start each component once per session, fail loudly in CI but skip with a clear
message elsewhere when a component cannot start, report startup times, and create uniquely named
topics and databases. None of that belongs in a conftest that every test directory inherits, nor in the
product (it calls pytest.skip/fail): it lives with the tests, and benchmarks/ reuses `create_topic`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from ioc.devstack.influx import INSTALL_INFLUXD, InfluxEndpoint, LocalInflux, RemoteInflux
from ioc.devstack.kafka import INSTALL_JAVA, INSTALL_MAVEN, KAFKA_VERSION, KafkaBroker, ensure_jars
from ioc.devstack.proc import DevstackError, DevstackUnavailable, env_flag

__all__ = [
    "STATUS",
    "TopicFactory",
    "component_unavailable",
    "create_topic",
    "influx_for_session",
    "kafka_for_session",
    "summary_lines",
    "write_as_worker",
]

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

HOW_TO_INSTALL = {
    "kafka": f"Kafka needs Java 17+ and, once, Maven with access to Maven Central ({INSTALL_JAVA}; "
    f"{INSTALL_MAVEN}; then `ioc dev fetch`). `scripts/test` does all of this.",
    "influx": f"InfluxDB 1.x: {INSTALL_INFLUXD}. `scripts/test` does this. Or point the tests at a real "
    "InfluxDB 2.x/3.x with IOC_TEST_INFLUX_URL and IOC_TEST_INFLUX_TOKEN (+ _ORG, _BUCKET).",
}


@dataclass
class ComponentStatus:
    """What happened to one component this session, for the terminal summary."""

    label: str
    startup_seconds: float | None = None
    detail: str = ""
    error: str = ""
    extra: dict[str, float] = field(default_factory=dict)


STATUS: dict[str, ComponentStatus] = {
    "kafka": ComponentStatus(f"Kafka {KAFKA_VERSION} broker"),
    "influx": ComponentStatus("InfluxDB"),
}


def component_unavailable(component: str, exc: BaseException) -> NoReturn:
    """Fail (CI=true) or skip (elsewhere) the requesting test, saying what is missing and how to fix it."""
    import pytest

    kind = "missing prerequisite" if isinstance(exc, DevstackUnavailable) else "startup failed"
    message = (
        f"{STATUS[component].label} could not start ({kind}): {exc}\nHow to fix: {HOW_TO_INSTALL[component]}"
    )
    STATUS[component].error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if env_flag("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_librdkafka() -> None:
    """Fail (CI=true) or skip the requesting test when confluent-kafka, the SDK's optional librdkafka
    client, is not installed (the test command installs it: scripts/setup)."""
    import pytest

    from producers.clients import LIBRDKAFKA, client_available

    if client_available(LIBRDKAFKA):
        return
    message = "confluent-kafka is not installed: pip install -e '.[librdkafka]' (scripts/setup does)"
    if env_flag("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextmanager
def kafka_for_session(partitions: int = 6) -> Iterator[KafkaBroker]:
    """A started KafkaBroker for the session; fails/skips the test through component_unavailable."""
    status = STATUS["kafka"]
    try:
        started = time.monotonic()
        ensure_jars()
        status.extra["jar check/resolution"] = time.monotonic() - started
        broker = KafkaBroker(partitions=partitions).start()
    except DevstackError as exc:
        component_unavailable("kafka", exc)
    status.startup_seconds = broker.startup_seconds
    status.detail = f"{broker.bootstrap}, {partitions} partitions by default, log {broker.log_path}"
    try:
        yield broker
    finally:
        broker.close()


@contextmanager
def influx_for_session(env: Mapping[str, str] | None = None) -> Iterator[LocalInflux | RemoteInflux]:
    """The configured real InfluxDB 2.x/3.x (IOC_TEST_INFLUX_URL + _TOKEN), else a LocalInflux."""
    status = STATUS["influx"]
    remote = RemoteInflux.from_env(env)
    if remote is not None:
        status.label = "InfluxDB (remote, IOC_TEST_INFLUX_URL)"
        started = time.monotonic()
        if not remote.ql.ping():
            component_unavailable(
                "influx", DevstackError(f"GET {remote.url}/ping with the token did not answer 2xx")
            )
        remote.startup_seconds = time.monotonic() - started
        status.startup_seconds = remote.startup_seconds
        status.detail = f"{remote.url}, bucket {remote.bucket} (time to first /ping)"
        yield remote
        return
    status.label = "InfluxDB 1.x (influxd) + dev-only v2 write shim"
    try:
        local = LocalInflux(database="ioc_test").start()
    except DevstackError as exc:
        component_unavailable("influx", exc)
    status.startup_seconds = local.startup_seconds
    status.detail = f"shim {local.url} -> influxd {local.query_url}, log {local.engine.log_path}"
    try:
        yield local
    finally:
        local.close()


def fresh_endpoint(influx: LocalInflux | RemoteInflux) -> InfluxEndpoint:
    """A fresh database on a local InfluxDB (CREATE DATABASE is cheap); the configured bucket remotely."""
    return influx.endpoint()


def write_as_worker(endpoint: InfluxEndpoint, lines: list[str], tz: tzinfo = VIETNAM) -> None:
    """Write test lines where the worker would: `kpi`, `ii06a`, `i766`, `i766_sum` into the `live`
    retention policy (those older than a day are left out: they would have expired), the others into the
    default one, and each `i766` and `i766_sum` line again at the start of its local day (`trend_lines`,
    in time order, so that the day's last point stays, as the worker's overwrites leave it)."""
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS

    from streams.influx import LIVE_MEASUREMENTS, LIVE_RP, TREND_MEASUREMENTS, trend_lines
    from streams.lines import NS

    prefixes = tuple(f"{m}," for m in LIVE_MEASUREMENTS)
    daily = tuple(f"{m}," for m in TREND_MEASUREMENTS)

    def stamp(text: str) -> int:
        return int(text[text.rindex(" ") + 1:])

    fresh = (time.time() - 86400 + 600) * NS
    live = [t for t in lines if t.startswith(prefixes) and stamp(t) > fresh]
    main = [t for t in lines if not t.startswith(prefixes)]
    main += [copy for t in sorted((t for t in lines if t.startswith(daily)), key=stamp)
             for copy in trend_lines([t], stamp(t) // NS, tz)]
    with InfluxDBClient(url=endpoint.url, token=endpoint.token, org=endpoint.org, timeout=30_000) as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        for bucket, batch in ((f"{endpoint.bucket}/{LIVE_RP}", live), (endpoint.bucket, main)):
            for start in range(0, len(batch), 10_000):
                write.write(bucket=bucket, record=batch[start:start + 10_000])


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int,
    *,
    configs: Mapping[str, str] | None = None,
    admin: Any = None,
    timeout: float = 20.0,
) -> None:
    """Create a topic and wait until every partition has a leader (so the first send never fails)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    own = admin is None
    client = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ioc-tests") if own else admin
    try:
        client.create_topics(
            [
                NewTopic(
                    name, num_partitions=partitions, replication_factor=1, topic_configs=dict(configs or {})
                )
            ]
        )
        deadline = time.monotonic() + timeout
        while True:
            topics = client.describe_topics([name])
            parts = topics[0].get("partitions") or [] if topics else []
            if len(parts) == partitions and all(
                p.get("error_code", 0) == 0 and p.get("leader", p.get("leader_id", -1)) >= 0 for p in parts
            ):
                return
            if time.monotonic() > deadline:
                raise DevstackError(f"topic {name} not ready after {timeout:.0f} s: {topics}")
            time.sleep(0.05)
    finally:
        if own:
            client.close()


class TopicFactory:
    """`kafka_topic(partitions=1, prefix="test", configs=None) -> name`: a new, uniquely named topic."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.created: list[str] = []
        self._admin: Any = None

    def __call__(
        self, partitions: int = 1, *, prefix: str = "test", configs: Mapping[str, str] | None = None
    ) -> str:
        from kafka import KafkaAdminClient

        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="ioc-tests")
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        create_topic(self.bootstrap, name, partitions, configs=configs, admin=self._admin)
        self.created.append(name)
        return name

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


def summary_lines() -> list[str]:
    """Lines for pytest's terminal summary: startup time of each component, or why it did not start."""
    lines: list[str] = []
    for status in STATUS.values():
        if status.startup_seconds is not None:
            line = f"{status.label}: started in {status.startup_seconds:.2f} s ({status.detail})"
            for what, seconds in status.extra.items():
                line += f"; {what} {seconds:.2f} s"
        elif status.error:
            line = f"{status.label}: NOT started: {status.error}"
        else:
            line = f"{status.label}: not started (no selected test needed it)"
        lines.append(line)
    return lines


# Re-exported for the type of the `kafka_topic` fixture.
MakeTopic = Callable[..., str]
