"""The HTTP gateway without a broker: the real app, the real SDK and its real SQLite spool (the broker
address answers nothing, so every accepted event is acknowledged by the spool). Keys, limits, results,
start-up, overload, metrics, OpenAPI, key rotation and HTTPS.

The broker side: tests/integration/test_gateway_kafka.py."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from dossiers.catalog import load_catalog
from dossiers.events import InvalidEvent
from dossiers.validation import validate_event
from producers.gateway.app import Gateway, create_app, split_body
from producers.gateway.keys import KeyFileError, KeyStore, hash_key, new_key, parse_keys
from producers.gateway.service import serve, tls_context
from producers.gateway.settings import GatewaySettings
from producers.sdk import EventProducer
from producers.spool import _decode_headers
from tests.support.events import received

CATALOG = load_catalog()
STP_KEY = new_key()
SYT_KEY = new_key()
NOWHERE = "127.0.0.1:9"  # discard port: nothing answers Kafka there


def write_keys(path: Path, *pairs: tuple[str, str]) -> None:
    path.write_text("# agency  hash\n" + "".join(f"{a} {hash_key(k)} issued-in-test\n" for a, k in pairs))


def stp_event(n: int, agency: str = "STP") -> dict[str, Any]:
    return received(f"D-{agency}-{n}", 1_772_413_200 + n, procedure="2.000488", agency=agency)


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(coro())


@asynccontextmanager
async def gateway(tmp_path: Path, start: bool = True, **overrides: Any) -> AsyncIterator[
        tuple[TestClient[Any, Any], Gateway]]:
    keys = tmp_path / "keys.txt"
    if not keys.exists():
        write_keys(keys, ("STP", STP_KEY), ("SYT", SYT_KEY))
    settings = GatewaySettings(gateway_keys=keys, kafka_bootstrap=NOWHERE,
                               gateway_spool=tmp_path / "spool.sqlite", **overrides)
    registry = CollectorRegistry()
    gw = Gateway(settings, KeyStore(keys, check_every=0.0), CATALOG, registry)
    client = TestClient(TestServer(create_app(gw)))
    await client.start_server()
    producer = None
    if start:
        producer = gw.producer = EventProducer(NOWHERE, spool=settings.gateway_spool, catalog=CATALOG,
                                               registry=registry, connect_timeout_s=0.3)
    try:
        yield client, gw
    finally:
        await client.close()
        if producer is not None:
            producer.close(1.0)


def post(client: TestClient[Any, Any], path: str, body: bytes | str, key: str | None = STP_KEY,
         **headers: str) -> Any:
    if key is not None:
        headers["X-API-Key"] = key
    return client.post(path, data=body, headers=headers)


def spooled(tmp_path: Path) -> list[dict[str, Any]]:
    """What the spool file holds, read beside the producer that owns (and locks) it."""
    with sqlite3.connect(f"file:{tmp_path / 'spool.sqlite'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT value, headers FROM spool ORDER BY id").fetchall()
    return [{"headers": dict(_decode_headers(h)), **json.loads(v)} for v, h in rows]


def test_accepted_events_are_in_the_spool_before_the_answer(tmp_path: Path) -> None:
    async def body() -> None:
        async with gateway(tmp_path) as (client, _):
            events = [stp_event(n) for n in range(5)]
            response = await post(client, "/v1/events", json.dumps(events))
            assert response.status == 200
            answer = await response.json()
            assert answer["accepted"] == 5 and answer["invalid"] == 0
            assert [r["status"] for r in answer["results"]] == ["accepted"] * 5
            stored = spooled(tmp_path)
            assert [e["event_id"] for e in stored] == [e["event_id"] for e in events]
            assert all(e["headers"]["ioc-agency"] == b"STP" for e in stored)  # the key's agency
    run(body)


def test_json_lines_and_the_same_messages_as_ioc_validate(tmp_path: Path) -> None:
    bad_field = {**stp_event(2), "colour": "blue"}
    lines = [json.dumps(stp_event(1)), "{broken", json.dumps(bad_field), "[]",
             '{"event_id": "a", "event_id": "b"}']
    expected = []
    for line in lines[1:]:
        try:
            validate_event(line, CATALOG)
        except InvalidEvent as exc:
            expected.append(exc.reason)

    async def body() -> None:
        async with gateway(tmp_path) as (client, _):
            response = await post(client, "/v1/events", "\n".join(lines) + "\n",
                                  **{"Content-Type": "application/x-ndjson"})
            answer = await response.json()
            assert response.status == 200
            assert [r["status"] for r in answer["results"]] == ["accepted"] + ["invalid"] * 4
            assert [r["reason"] for r in answer["results"][1:]] == expected
            # an array gives the same reasons for the same faults
            array = f'[{json.dumps(bad_field)}, [], {{"event_id": "a", "event_id": "b"}}]'
            answer = await (await post(client, "/v1/events", array)).json()
            assert [r["reason"] for r in answer["results"]] == expected[1:]
    run(body)


def test_catalog_errors_and_duplicates(tmp_path: Path) -> None:
    async def body() -> None:
        async with gateway(tmp_path) as (client, _):
            unknown = received("D-x", 1_772_413_200, procedure="9.999999", agency="STP")
            events = [stp_event(1), stp_event(1), unknown]
            answer = await (await post(client, "/v1/events", json.dumps(events))).json()
            assert [r["status"] for r in answer["results"]] == ["accepted", "duplicate", "invalid"]
            reason = answer["results"][2]["reason"]
            assert "procedure: '9.999999' is not a procedure of agency 'STP'" in reason
            again = await (await post(client, "/v1/events", json.dumps([stp_event(1)]))).json()
            assert again["results"][0]["status"] == "duplicate"  # acknowledged before: known
            assert len(spooled(tmp_path)) == 1
    run(body)


def test_keys_401_and_another_agencys_events_403(tmp_path: Path) -> None:
    async def body() -> None:
        async with gateway(tmp_path) as (client, _):
            payload = json.dumps([stp_event(1)])
            assert (await post(client, "/v1/events", payload, key=None)).status == 401
            assert (await post(client, "/v1/events", payload, key="ioc_wrong")).status == 401
            bearer = await client.post("/v1/events", data=payload,
                                       headers={"Authorization": f"Bearer {STP_KEY}"})
            assert bearer.status == 200
            mixed = json.dumps([stp_event(2), stp_event(3, agency="SYT")])
            response = await post(client, "/v1/events", mixed, key=STP_KEY)
            assert response.status == 403
            assert (await response.json())["indexes"] == [1]
            assert len(spooled(tmp_path)) == 1  # nothing of the refused request
    run(body)


def test_oversize_and_malformed_bodies(tmp_path: Path) -> None:
    async def body() -> None:
        async with gateway(tmp_path, gateway_max_body_bytes=4096) as (client, _):
            big = json.dumps([stp_event(n) for n in range(40)])
            assert len(big) > 4096
            response = await post(client, "/v1/events", big)
            assert response.status == 413
            assert "4096-byte limit" in (await response.json())["error"]
            response = await post(client, "/v1/events", "[{")
            assert response.status == 400
            assert (await response.json())["error"].startswith("body: not a JSON array")
            assert spooled(tmp_path) == []
    run(body)


def test_503_while_starting_and_429_when_the_spool_is_behind(tmp_path: Path) -> None:
    async def body() -> None:
        async with gateway(tmp_path, start=False) as (client, _):
            response = await post(client, "/v1/events", json.dumps([stp_event(1)]))
            assert response.status == 503 and response.headers["Retry-After"] == "2"
            assert (await client.get("/readyz")).status == 503
            assert (await client.get("/healthz")).status == 200
        async with gateway(tmp_path, gateway_max_spool=3) as (client, _):
            ok = await post(client, "/v1/events", json.dumps([stp_event(n) for n in range(3)]))
            assert ok.status == 200
            response = await post(client, "/v1/events", json.dumps([stp_event(9)]))
            assert response.status == 429 and response.headers["Retry-After"] == "2"
            assert (await client.get("/readyz")).status == 503
    run(body)


def test_metrics_and_openapi(tmp_path: Path) -> None:
    async def body() -> None:
        async with gateway(tmp_path) as (client, _):
            await post(client, "/v1/events", json.dumps([stp_event(1), {"x": 1}]))
            await post(client, "/v1/events", "[]", key="nope")
            text = await (await client.get("/metrics")).text()
            assert 'ioc_gateway_events_total{agency="STP",outcome="accepted",route="/v1/events"} 1.0' in text
            assert 'ioc_gateway_events_total{agency="STP",outcome="invalid",route="/v1/events"} 1.0' in text
            assert ('ioc_gateway_requests_total{agency="unauthenticated",route="/v1/events",status="401"}'
                    in text)
            assert 'ioc_gateway_request_seconds_bucket{agency="STP"' in text
            assert STP_KEY not in text
            document = await (await client.get("/openapi.json")).json()
            assert document["openapi"].startswith("3.")
            assert set(document["paths"]) >= {"/v1/events", "/v1/dvcqg/dossiers", "/healthz", "/readyz"}
            assert "Event" in document["components"]["schemas"]
    run(body)


def test_dvcqg_records(tmp_path: Path) -> None:
    record = {"MaHoSo": "H48-1", "MaTTHC": "2.000488", "NgayTiepNhan": "20260302081500",
              "NgayHenTra": "20260316170000", "TrangThaiHoSo": "9", "NgayKetThucXuLy": "20260310100000",
              "KenhThucHien": "2", "ChuHoSo": "Nguyễn Văn A"}

    async def body() -> None:
        async with gateway(tmp_path) as (client, _):
            answer = await (await post(client, "/v1/dvcqg/dossiers",
                                       json.dumps([record, {"MaHoSo": "H48-2"}]))).json()
            assert answer["results"][0] == {"index": 0, "dossier": "H48-1", "status": "accepted", "events": 2,
                                            "new_events": 2}
            assert answer["results"][1]["status"] == "invalid"
            assert "MaTTHC: is required" in answer["results"][1]["reason"]
            again = await (await post(client, "/v1/dvcqg/dossiers", json.dumps(record) + "\n")).json()
            assert again["results"][0]["status"] == "duplicate"
            stored = spooled(tmp_path)
            assert [e["type"] for e in stored] == ["received", "resolved"]
            assert all(e["agency"] == "STP" for e in stored)
            assert "Nguyễn" not in json.dumps(stored, default=str)
    run(body)


def test_keys_file_rotation_without_restart(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    write_keys(keys, ("STP", STP_KEY))
    store = KeyStore(keys, check_every=0.0)
    assert store.agency(STP_KEY) == "STP" and store.agency(SYT_KEY) is None
    rotated = new_key()
    time.sleep(0.01)
    write_keys(keys, ("STP", rotated), ("SYT", SYT_KEY))
    os.utime(keys, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert store.agency(rotated) == "STP" and store.agency(SYT_KEY) == "SYT"
    assert store.agency(STP_KEY) is None  # the old key stopped working
    keys.write_text("STP not-a-hash\n")  # a broken file keeps the keys in force
    os.utime(keys, ns=(time.time_ns() + 2 * 10**9, time.time_ns() + 2 * 10**9))
    assert store.agency(rotated) == "STP"
    with pytest.raises(KeyFileError, match="line 1"):
        parse_keys("STP not-a-hash\n")
    with pytest.raises(KeyFileError, match="two agencies"):
        parse_keys(f"STP {hash_key('k')}\nSYT {hash_key('k')}\n")
    assert STP_KEY not in keys.read_text()


def test_split_body_shapes() -> None:
    assert list(split_body(b'{"a": 1}\n\n{"b": 2}')) == [{"a": 1}, {"b": 2}]
    with pytest.raises(InvalidEvent):
        list(split_body(b"[1, 2"))


def test_https_with_a_certificate_authority_made_here(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    keys = tmp_path / "keys.txt"
    write_keys(keys, ("STP", STP_KEY))
    settings = GatewaySettings(gateway_keys=keys, kafka_bootstrap=NOWHERE, gateway_port=0,
                               gateway_spool=tmp_path / "spool.sqlite", gateway_tls_cert=chain,
                               gateway_tls_key=key)
    assert tls_context(chain, key) is not None

    async def body() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings.model_copy(update={"gateway_port": port}), CATALOG, stop))
        client_ctx = ssl.create_default_context()
        ca.configure_trust(client_ctx)
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(100):
                    try:
                        async with session.get(f"https://127.0.0.1:{port}/healthz", ssl=client_ctx) as r:
                            assert r.status == 200
                            break
                    except aiohttp.ClientConnectorError:
                        await asyncio.sleep(0.1)
                else:
                    pytest.fail("the HTTPS gateway never answered")
                with pytest.raises(aiohttp.ClientConnectorCertificateError):  # not trusted without the CA
                    await session.get(f"https://127.0.0.1:{port}/healthz", ssl=ssl.create_default_context())
        finally:
            stop.set()
            await task
    run(body)


def test_ioc_gateway_key_prints_a_key_once_and_only_its_hash_for_the_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ioc import cli
    cli._mount()
    result = CliRunner().invoke(cli.app, ["gateway", "key", "STP"])
    assert result.exit_code == 0, result.output
    key = result.output.splitlines()[0].rsplit(" ", 1)[1]
    line = result.output.splitlines()[1].removeprefix("keys file line: ")
    assert key.startswith("ioc_") and key not in line
    keys = tmp_path / "keys.txt"
    keys.write_text(line + "\n")
    assert KeyStore(keys).agency(key) == "STP"


def test_ioc_up_local_gateway_keys_work_and_only_hashes_are_read(tmp_path: Path) -> None:
    """`ioc up --gateway PORT` runs this helper: a key per agency, printed, kept owner-only."""
    from ioc.up import LocalGateway

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gateway = LocalGateway(tmp_path, NOWHERE, port, CATALOG, None).start()
    try:
        assert set(gateway.keys) == {agency.code for agency in CATALOG.agencies}
        assert oct(gateway.local_keys.stat().st_mode & 0o777) == "0o600"
        assert gateway.keys["STP"] not in (tmp_path / "gateway-keys.txt").read_text()
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline:
            try:
                status = requests.post(f"{gateway.url}/v1/events", data=json.dumps([stp_event(1)]),
                                       headers={"X-API-Key": gateway.keys["STP"]}, timeout=5).status_code
            except requests.ConnectionError:
                status = 0
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200
    finally:
        gateway.stop()
