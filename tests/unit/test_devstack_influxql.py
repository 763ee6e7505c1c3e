"""InfluxQL helper against a stand-in server: GET for reads, form POST for the rest, Token auth for
2.x/3.x v1-compat, rows with tags, errors raised."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from ioc.devstack.influx import InfluxQL, InfluxQLError, RemoteInflux

SERIES = {
    "results": [
        {
            "statement_id": 0,
            "series": [
                {
                    "name": "dossier",
                    "tags": {"agency": "Sở Tư pháp"},
                    "columns": ["time", "n"],
                    "values": [["2024-01-01T00:00:00Z", 3], ["2024-01-02T00:00:00Z", 4]],
                },
                {
                    "name": "dossier",
                    "tags": {"agency": "Sở Y tế"},
                    "columns": ["time", "n"],
                    "values": [["2024-01-01T00:00:00Z", 5]],
                },
            ],
        }
    ]
}


class Fake(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []
    answer: tuple[int, dict[str, Any]] = (200, SERIES)

    def _handle(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        url = urllib.parse.urlsplit(self.path)
        self.seen.append(
            {
                "method": self.command,
                "path": url.path,
                "args": urllib.parse.parse_qs(url.query),
                "form": urllib.parse.parse_qs(body),
                "auth": self.headers.get("Authorization"),
            }
        )
        status, payload = self.answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Fake.seen, Fake.answer = [], (200, SERIES)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_select_is_a_get_with_db_and_rows_carry_tags(server: str) -> None:
    rows = InfluxQL(server, "ioc").query('SELECT n FROM dossier GROUP BY "agency"', epoch="s")
    assert rows == [
        {"_measurement": "dossier", "agency": "Sở Tư pháp", "time": "2024-01-01T00:00:00Z", "n": 3},
        {"_measurement": "dossier", "agency": "Sở Tư pháp", "time": "2024-01-02T00:00:00Z", "n": 4},
        {"_measurement": "dossier", "agency": "Sở Y tế", "time": "2024-01-01T00:00:00Z", "n": 5},
    ]
    (req,) = Fake.seen
    assert req["method"] == "GET" and req["path"] == "/query"
    assert req["args"] == {"q": ['SELECT n FROM dossier GROUP BY "agency"'], "db": ["ioc"], "epoch": ["s"]}
    assert req["auth"] is None


def test_create_database_is_a_form_post(server: str) -> None:
    Fake.answer = (200, {"results": [{"statement_id": 0}]})
    InfluxQL(server).create_database("Sở dữ liệu")
    database, policy = Fake.seen
    for req in (database, policy):
        assert req["method"] == "POST" and req["args"] == {}
    assert database["form"] == {"q": ['CREATE DATABASE "Sở dữ liệu"']}
    ddl = 'CREATE RETENTION POLICY "live" ON "Sở dữ liệu" DURATION 1d REPLICATION 1 SHARD DURATION 1h'
    assert policy["form"] == {"q": [ddl]}


def test_token_is_sent_for_v2_and_v3(server: str) -> None:
    remote = RemoteInflux(url=server, token="s3cr3t", org="o", bucket="b")
    remote.query("SHOW MEASUREMENTS")
    assert Fake.seen[0]["auth"] == "Token s3cr3t"
    assert Fake.seen[0]["args"]["db"] == ["b"]


def test_statement_and_http_errors_raise(server: str) -> None:
    Fake.answer = (200, {"results": [{"statement_id": 0, "error": "database not found: x"}]})
    with pytest.raises(InfluxQLError, match="database not found"):
        InfluxQL(server, "x").query("SELECT * FROM m")
    Fake.answer = (401, {"code": "unauthorized", "message": "unauthorized access"})
    with pytest.raises(InfluxQLError, match="HTTP 401") as info:
        InfluxQL(server, "x", token="bad").query("SELECT * FROM m")
    assert info.value.status == 401


def test_unreachable_server_raises() -> None:
    from ioc.devstack.ports import free_port

    with pytest.raises(InfluxQLError, match="cannot reach"):
        InfluxQL(f"http://127.0.0.1:{free_port()}").query("SHOW DATABASES")
    assert not InfluxQL(f"http://127.0.0.1:{free_port()}").ping()


def test_remote_from_env() -> None:
    assert RemoteInflux.from_env({"IOC_TEST_INFLUX_URL": "http://x"}) is None
    r = RemoteInflux.from_env(
        {"IOC_TEST_INFLUX_URL": "http://x:8086", "IOC_TEST_INFLUX_TOKEN": "t", "IOC_TEST_INFLUX_BUCKET": "b2"}
    )
    assert r is not None
    assert (r.url, r.query_url, r.token, r.org, r.bucket, r.database) == (
        "http://x:8086",
        "http://x:8086",
        "t",
        "ioc",
        "b2",
        "b2",
    )
