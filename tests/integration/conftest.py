"""Fixtures shared by the integration tests (the session's broker and InfluxDB are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.pipeline import Pipeline, make_pipeline


@pytest.fixture
def pipeline(kafka_broker: Any, influx_db: Any, tmp_path: Path) -> Iterator[Pipeline]:
    """A fresh topic set, InfluxDB database and worker launcher on the shared local stack."""
    line = make_pipeline(kafka_broker.bootstrap, influx_db, tmp_path)
    yield line
    line.close()
