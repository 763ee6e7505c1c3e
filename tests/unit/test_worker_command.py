"""`ioc worker` is a thin command: options into `StreamSettings`, the catalog checked, then
`streams.service.run_worker`; the worker says loudly when it starts on the sample catalog."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dossiers.catalog import SAMPLE_WARNING, Catalog, load_catalog
from ioc.commands import worker as command
from streams.service import warn_at_start_up
from streams.settings import StreamSettings
from tests.support.catalogs import fast_catalog, write_fast_catalog


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """A group, so that `worker` is a sub-command as under `ioc`."""

    command.register(app)
    return app


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[StreamSettings, Catalog]]:
    """What `run_worker` was called with (the service itself is replaced: it would consume forever)."""
    calls: list[tuple[StreamSettings, Catalog]] = []
    monkeypatch.setattr(command, "run_worker", lambda settings, catalog: calls.append((settings, catalog)))
    for name in ("IOC_CATALOG", "IOC_KAFKA_BOOTSTRAP", "IOC_INFLUX_URL", "IOC_METRICS_PORT"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_options_reach_the_worker_settings_and_the_catalog_is_loaded(
    tmp_path: Path, started: list[Any]
) -> None:
    path = write_fast_catalog(tmp_path)
    result = CliRunner().invoke(
        cli(),
        ["worker", "--catalog", str(path), "--bootstrap", "kafka-1:9092", "--influx-url", "http://influx:8086",
         "--metrics-port", "0"],
    )
    assert result.exit_code == 0, result.output
    [(settings, catalog)] = started
    assert settings.catalog == path and catalog == load_catalog(path)
    assert (settings.kafka_bootstrap, settings.influx_url, settings.metrics_port) == (
        "kafka-1:9092",
        "http://influx:8086",
        0,
    )


def test_the_catalog_comes_from_ioc_catalog_too(
    tmp_path: Path, started: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_fast_catalog(tmp_path)
    monkeypatch.setenv("IOC_CATALOG", str(path))
    result = CliRunner().invoke(cli(), ["worker"])
    assert result.exit_code == 0, result.output
    assert started[0][0].catalog == path and started[0][1].sample is False


def test_ioc_catalog_none_means_the_sample_as_for_every_worker_setting(
    started: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOC_CATALOG", "none")  # what the tests' worker environments say
    result = CliRunner().invoke(cli(), ["worker"])
    assert result.exit_code == 0, result.output
    assert started[0][0].catalog is None and started[0][1].sample is True


def test_a_missing_catalog_is_a_usage_error_not_a_traceback(tmp_path: Path, started: list[Any]) -> None:
    result = CliRunner().invoke(cli(), ["worker", "--catalog", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "catalog not found" in result.output
    assert started == []


def test_an_invalid_setting_is_a_usage_error_that_names_it(
    monkeypatch: pytest.MonkeyPatch, started: list[Any]
) -> None:
    monkeypatch.setenv("IOC_SINK_MAX_BUFFER", "10")
    result = CliRunner().invoke(cli(), ["worker"])
    assert result.exit_code == 2 and "invalid worker settings" in result.output
    assert "sink_max_buffer" in result.output and started == []


def test_exactly_once_is_refused_at_start_up_with_why(
    monkeypatch: pytest.MonkeyPatch, started: list[Any]
) -> None:
    """Faust's transactions would hide the worker's own ticks until a commit that never comes: measured
    with a real broker (docs/faults.md), the worker never became ready. Refused, not silently ignored."""
    monkeypatch.setenv("IOC_PROCESSING_GUARANTEE", "exactly_once")
    result = CliRunner().invoke(cli(), ["worker"])
    assert result.exit_code == 2 and "exactly_once is not supported" in result.output
    assert started == []
    assert StreamSettings(processing_guarantee="at_least_once").processing_guarantee == "at_least_once"


def test_the_worker_says_whether_its_domain_core_runs_compiled(caplog: pytest.LogCaptureFixture) -> None:
    from ioc import native
    from streams.service import core_build

    caplog.set_level(logging.INFO, logger="streams.service")
    warn_at_start_up(fast_catalog())
    expected = native.status().state  # compiled or source (a stale build never gets this far)
    assert core_build() == expected
    said = "compiled (mypyc)" if expected == "compiled" else "from source"
    said_at_start = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert (logging.INFO, f"the domain core runs {said}") in said_at_start


def test_the_worker_warns_loudly_when_it_starts_on_the_sample_catalog(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    sample = load_catalog(None)
    assert sample.sample
    warn_at_start_up(sample)
    said = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert said == [(logging.WARNING, f"WARNING: {SAMPLE_WARNING}")]
    caplog.clear()
    warn_at_start_up(fast_catalog())  # a centre's own catalog: nothing to say
    assert caplog.records == []
