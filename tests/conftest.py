"""Session fixtures for the real Kafka broker and InfluxDB (logic lives in tests/support/stack.py).

* `kafka_broker`  (session)  - a running `ioc.devstack.kafka.KafkaBroker`: `.bootstrap`, `.restart()`, ...
* `kafka_topic`   (function) - factory `kafka_topic(partitions=1, prefix="test", configs=None) -> name`
* `influx`        (session)  - `LocalInflux` (InfluxDB 1.x + dev-only v2 write shim), or `RemoteInflux`
                               when IOC_TEST_INFLUX_URL and IOC_TEST_INFLUX_TOKEN are set: `.url`, `.token`,
                               `.org`, `.bucket`, `.query_url`, `.query(q)`
* `influx_db`     (function) - the same interface on a fresh database (local), or on the configured
                               bucket (remote)

A component that cannot start fails the test under CI=true and skips it elsewhere, saying how to fix it.
Everything under tests/integration/ is marked `integration` automatically.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ioc.devstack.influx import InfluxEndpoint, LocalInflux, RemoteInflux
from ioc.devstack.kafka import KafkaBroker
from tests.support import stack as testing

INTEGRATION_DIR = Path(__file__).parent / "integration"


STAMPED_AT_IMPORT = "test_dashboard_queries.py"
"""Its data is stamped with the clock at import (collection) time and read back through `now() - 1m`
windows, as Grafana reads it: it must run right after collection, not minutes later in a long session."""


def pytest_configure(config: pytest.Config) -> None:
    """A compiled core built from other sources would test old rules: refuse it (`ioc.native`)."""
    from ioc import native

    try:
        native.check()
    except native.StaleBuild as exc:
        raise pytest.UsageError(str(exc)) from exc


def pytest_report_header(config: pytest.Config) -> str:
    from ioc import native

    return f"domain core: {native.status().state} (ioc native status)"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselection, which reads the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: Path(item.path).name != STAMPED_AT_IMPORT)  # stable: others keep their order


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("local stack (ioc.devstack)")
    for line in testing.summary_lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    with testing.kafka_for_session(partitions=6) as broker:
        yield broker


@pytest.fixture
def kafka_topic(kafka_broker: KafkaBroker) -> Iterator[testing.TopicFactory]:
    factory = testing.TopicFactory(kafka_broker.bootstrap)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def influx() -> Iterator[LocalInflux | RemoteInflux]:
    with testing.influx_for_session() as target:
        yield target


@pytest.fixture
def influx_db(influx: LocalInflux | RemoteInflux) -> InfluxEndpoint:
    return testing.fresh_endpoint(influx)
