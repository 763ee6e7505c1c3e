"""The HTTP gateway takes the hostile corpus (tests/support/hostile.py) like the file doors: each JSON-lines
case posted as one body gives an answer, never a server error; one result per line with the line's number,
accepted = the case's valid lines, invalid = its bad ones with a reason. Also the portal-record door
(`POST /v1/dvcqg/dossiers`) with arbitrary bytes (hypothesis): a 4xx or per-record results, never a 5xx.
The gateway runs without a broker (its real SDK acknowledges from the spool), as in test_gateway.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_gateway import STP_KEY, gateway, post

from tests.support.hostile import Case, corpus

JSONL = [case for case in corpus() if case.fmt == "jsonl"]


@pytest.mark.parametrize("case", JSONL, ids=[case.name for case in JSONL])
def test_every_hostile_body_is_answered_line_by_line(tmp_path: Path, case: Case) -> None:
    async def body() -> None:
        async with gateway(tmp_path) as (client, _):
            response = await post(client, "/v1/events", case.data, **{"Content-Type": "application/x-ndjson"})
            assert response.status < 500, await response.text()
            if case.valid + case.invalid == 0:
                return  # an empty body: any clear 2xx/4xx answer will do
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
            statuses = [r["status"] for r in answer["results"]]
            assert statuses.count("accepted") == case.valid, answer
            assert statuses.count("invalid") == case.invalid, answer
            bad = [r for r in answer["results"] if r["status"] == "invalid"]
            assert all(r["reason"] for r in bad)
            if case.says:
                assert any(case.says in r["reason"] for r in bad), bad

    asyncio.run(body())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_portal_records_door_never_fails_on_bytes(tmp_path: Path, raw: bytes) -> None:
    async def body() -> None:
        async with gateway(tmp_path) as (client, _):
            for path in ("/v1/dvcqg/dossiers", "/v1/events"):
                response = await post(client, path, raw, key=STP_KEY)
                assert response.status < 500, (path, await response.text())

    asyncio.run(body())
