"""`ioc grafana push` against a recording stub: a real HTTP server on loopback (http.server in a thread)
that answers the few Grafana API routes push uses, remembers what was created, and records every
request. It is not a Grafana: it checks the calls and payloads grafana-client sends, not Grafana's
reaction to them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from grafana_client.api import GrafanaApi
from typer.testing import CliRunner

from dossiers.catalog import load_catalog
from grafana import alert_rules as rules
from grafana.push import push
from ioc.cli import _mount, app

ENV = {
    "INFLUX_URL": "http://influxdb:8086",
    "INFLUX_DB": "ioc",
    "INFLUX_TOKEN": "s3cret",
    "PROMETHEUS_URL": "http://prometheus:9090",
}
TOKEN = "glsa_test_token"


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    authorization: str | None


@dataclass
class RecordingStub:
    """State of the stub: which resources exist (GET answers 200) and every request seen."""

    requests: list[Recorded] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)
    contact_points: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def calls(self, method: str, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]


CREATES = {  # POST path -> the GET path that then exists, from the body
    "/api/folders": lambda b: f"/api/folders/{b['uid']}",
    "/api/datasources": lambda b: f"/api/datasources/uid/{b['uid']}",
    "/api/v1/provisioning/alert-rules": lambda b: f"/api/v1/provisioning/alert-rules/{b['uid']}",
    "/api/v1/provisioning/mute-timings": lambda b: f"/api/v1/provisioning/mute-timings/{b['name']}",
}


def handler_for(state: RecordingStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append(Recorded(self.command, self.path, body, self.headers.get("Authorization")))
            return body

        def do_GET(self) -> None:
            self._record()
            if self.path == "/api/v1/provisioning/contact-points":
                self._answer(200, state.contact_points)
            elif self.path in state.existing:
                self._answer(200, {"uid": self.path.rsplit("/", 1)[-1]})
            else:
                self._answer(404, {"message": "not found"})

        def do_POST(self) -> None:
            body = self._record()
            if self.path in CREATES:
                state.existing.add(CREATES[self.path](body))
            if self.path == "/api/v1/provisioning/contact-points":
                state.contact_points.append(body)
            self._answer(200, {"status": "success"})

        def do_PUT(self) -> None:
            self._record()
            self._answer(200, {"status": "success"})

    return Handler


@pytest.fixture
def stub() -> Iterator[RecordingStub]:
    state = RecordingStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_first_push_creates_everything(stub: RecordingStub) -> None:
    catalog = load_catalog()
    report = push(GrafanaApi.from_url(stub.url, credential=TOKEN), catalog, env=ENV)

    assert all(r.authorization == f"Bearer {TOKEN}" for r in stub.requests)
    assert [r.body for r in stub.calls("POST", "/api/folders")] == [{"title": "IOC", "uid": "ioc"}]

    sources = {r.body["uid"]: r.body for r in stub.calls("POST", "/api/datasources")}
    assert set(sources) == {"ioc-influxdb", "ioc-prometheus"}
    assert sources["ioc-influxdb"]["url"] == "http://influxdb:8086"
    assert sources["ioc-influxdb"]["jsonData"]["dbName"] == "ioc"
    assert sources["ioc-influxdb"]["secureJsonData"]["httpHeaderValue1"] == "Token s3cret"

    boards = [r.body for r in stub.calls("POST", "/api/dashboards/db")]
    uids = sorted(b["dashboard"]["uid"] for b in boards)
    assert uids == ["ioc-766", "ioc-agency", "ioc-ii06a", "ioc-pipeline", "ioc-wall"]
    assert all(
        b["folderUid"] == "ioc" and b["overwrite"] is True and b["dashboard"]["id"] is None for b in boards
    )

    mutes = stub.calls("POST", "/api/v1/provisioning/mute-timings")
    assert [m.body["name"] for m in mutes] == [rules.OFFICE_MUTE] and "orgId" not in mutes[0].body

    points = stub.calls("POST", "/api/v1/provisioning/contact-points")
    expected_receivers = sum(len(p["receivers"]) for p in rules.contact_points(catalog))
    assert len(points) == expected_receivers
    assert {p.body["name"] for p in points} == {p["name"] for p in rules.contact_points(catalog)}

    (policy,) = stub.calls("PUT", "/api/v1/provisioning/policies")
    assert policy.body["receiver"] == rules.DIRECTOR and "orgId" not in policy.body
    assert len(policy.body["routes"]) == len(catalog.agencies) + 1
    # contact points and mute timings exist before the policy tree that names them
    order = [r.path for r in stub.requests]
    assert order.index("/api/v1/provisioning/policies") > max(
        i
        for i, p in enumerate(order)
        if p.startswith(("/api/v1/provisioning/contact-points", "/api/v1/provisioning/mute-timings"))
    )

    created_rules = [r.body for r in stub.calls("POST", "/api/v1/provisioning/alert-rules")]
    assert len(created_rules) == 5 + 3 * len(catalog.agencies)
    for rule in created_rules:
        assert (
            rule["folderUID"] == "ioc" and rule["ruleGroup"] in rules.GROUP_INTERVALS and rule["orgID"] == 1
        )
    groups = {
        r.path.rsplit("/", 1)[-1]: r.body for r in stub.calls("PUT", "/api/v1/provisioning/folder/ioc/")
    }
    assert {g: b["interval"] for g, b in groups.items()} == {
        "ioc-sla": 60,
        "ioc-im-lang": 300,
        "ioc-dong-bo": 300,
        "ioc-pipeline": 60,
    }
    assert sum(len(b["rules"]) for b in groups.values()) == len(created_rules)
    assert len(report.created) == 1 + 2 + 1 + expected_receivers + len(created_rules)


def test_second_push_only_updates(stub: RecordingStub) -> None:
    catalog = load_catalog()
    api = GrafanaApi.from_url(stub.url, credential=TOKEN)
    push(api, catalog, env=ENV)
    stub.requests.clear()
    report = push(api, catalog, env=ENV)
    assert report.created == []
    assert not [r for r in stub.requests if r.method == "POST" and r.path != "/api/dashboards/db"]
    assert len(stub.calls("PUT", "/api/datasources/uid/")) == 2
    assert len(stub.calls("PUT", "/api/v1/provisioning/alert-rules/")) == 5 + 3 * len(catalog.agencies)
    uids = {r.path.rsplit("/", 1)[-1] for r in stub.calls("PUT", "/api/v1/provisioning/contact-points/")}
    assert uids == {rec["uid"] for p in rules.contact_points(catalog) for rec in p["receivers"]}


def test_push_needs_the_datasource_environment(stub: RecordingStub) -> None:
    env = {k: v for k, v in ENV.items() if k != "INFLUX_TOKEN"}
    with pytest.raises(SystemExit, match="INFLUX_TOKEN"):
        push(GrafanaApi.from_url(stub.url, credential=TOKEN), load_catalog(), env=env)


def test_cli_push_with_skips(stub: RecordingStub) -> None:
    _mount()
    result = CliRunner().invoke(
        app, ["grafana", "push", "--url", stub.url, "--token", TOKEN, "--skip-datasources", "--skip-alerting"]
    )
    assert result.exit_code == 0, result.output
    assert not stub.calls("POST", "/api/datasources") and not stub.calls("GET", "/api/v1/")
    assert len(stub.calls("POST", "/api/dashboards/db")) == 5  # the five boards
    assert "created folder IOC" in result.output
