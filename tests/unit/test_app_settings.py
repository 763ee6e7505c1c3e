"""The worker's Faust app takes its group settings from `StreamSettings` (no broker is contacted)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dossiers.catalog import load_catalog
from streams.app import create_app
from streams.settings import StreamSettings


@pytest.fixture(autouse=True)
def _defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults under test, whatever this shell's environment says."""
    monkeypatch.delenv("IOC_SESSION_TIMEOUT_SECONDS", raising=False)
    monkeypatch.delenv("IOC_MAX_POLL_RECORDS", raising=False)
    monkeypatch.delenv("IOC_COMMIT_SECONDS", raising=False)


def _conf(**settings: Any) -> Any:
    async def made() -> Any:
        app, _ = create_app(StreamSettings(**settings), 6, load_catalog())
        return app.conf

    return asyncio.run(made())


def test_a_running_worker_hears_of_a_join_within_a_second_at_the_default_session() -> None:
    assert _conf().broker_heartbeat_interval == 1.0  # a thirtieth of the 30 s session
    assert _conf(session_timeout_seconds=6).broker_heartbeat_interval == 0.5  # never below half a second


def test_records_per_fetch_are_unbounded_unless_set() -> None:
    assert _conf().broker_max_poll_records is None
    assert _conf(max_poll_records=5000).broker_max_poll_records == 5000


def test_offsets_are_committed_every_second_unless_set() -> None:
    assert _conf().broker_commit_interval == 1.0
    assert _conf(commit_seconds=0.2).broker_commit_interval == 0.2
    with pytest.raises(ValueError, match="commit_seconds"):
        StreamSettings(commit_seconds=0)
