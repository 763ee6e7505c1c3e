"""The dev-only v2 write shim against a recording stand-in for influxd: precision mapping, bodies passed
through unchanged, gzip, upstream errors returned faithfully, 503 when influxd is down, /health."""

# influxdb-client is only partly typed:
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import gzip
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from ioc.devstack import influx_v2_shim
from ioc.devstack.influx_v2_shim import InfluxV2WriteShim, ShimError, map_precision, v1_write_target
from ioc.devstack.ports import free_port


def test_module_says_it_is_a_dev_only_shim() -> None:
    assert influx_v2_shim.__doc__ is not None
    assert influx_v2_shim.__doc__.startswith("Dev-only compatibility shim")
    assert "dev-only compatibility shim" in (InfluxV2WriteShim.__doc__ or "").lower()


@pytest.mark.parametrize(
    "v2,v1", [("ns", "n"), ("us", "u"), ("ms", "ms"), ("s", "s"), (None, "n"), ("", "n")]
)
def test_precision_mapping(v2: str | None, v1: str) -> None:
    assert map_precision(v2) == v1


@pytest.mark.parametrize("bad", ["n", "u", "h", "m", "NS", "seconds"])
def test_unknown_precision_is_rejected(bad: str) -> None:
    with pytest.raises(ShimError):
        map_precision(bad)


def test_write_target() -> None:
    assert (
        v1_write_target({"bucket": ["ioc"], "org": ["x"], "precision": ["ms"]})
        == "/write?db=ioc&precision=ms"
    )
    assert v1_write_target({"bucket": ["ioc/autogen"]}) == "/write?db=ioc&precision=n&rp=autogen"
    assert v1_write_target({"bucket": ["Sở dữ liệu"], "precision": ["s"]}) == (
        "/write?db=S%E1%BB%9F+d%E1%BB%AF+li%E1%BB%87u&precision=s"
    )
    with pytest.raises(ShimError):
        v1_write_target({"org": ["x"]})


class FakeInfluxd(BaseHTTPRequestHandler):
    """Records requests; answers like influxd 1.x (204, or 400 with a JSON error for 'bad' bodies)."""

    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[dict[str, Any]]] = []

    def _record(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        self.requests.append(
            {"method": self.command, "path": self.path, "body": body, "headers": dict(self.headers)}
        )
        return body

    def _reply(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("X-Influxdb-Version", "1.6.7~fake")
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self._record()
        if self.path.startswith("/write"):
            if b"bad" in body:
                self.send_response(400)
                err = b'{"error":"unable to parse \'bad\': missing fields"}\n'
                self.send_header("X-Influxdb-Error", "unable to parse 'bad': missing fields")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(err)))
                self.end_headers()
                self.wfile.write(err)
            elif b"boom" in body:
                self._reply(500, b'{"error":"engine exploded"}')
            else:
                self._reply(204)
        else:
            self._reply(200, b'{"results":[{"statement_id":0}]}')

    def do_GET(self) -> None:
        self._record()
        if self.path.startswith("/ping"):
            self._reply(204)
        else:
            self._reply(200, b'{"results":[{"statement_id":0,"series":[]}]}')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    FakeInfluxd.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeInfluxd)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def shim(upstream: str) -> Iterator[InfluxV2WriteShim]:
    with InfluxV2WriteShim(upstream) as s:
        yield s


def call(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None, method: str | None = None
) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


LINES = "dossier,agency=Sở\\ Tư\\ pháp,field=Đất\\ đai received=1i 1700000000000\n".encode()


@pytest.mark.parametrize("precision,expected", [("ns", "n"), ("us", "u"), ("ms", "ms"), ("s", "s")])
def test_write_is_mapped_and_body_passes_unchanged(
    shim: InfluxV2WriteShim, precision: str, expected: str
) -> None:
    status, _, _ = call(
        f"{shim.url}/api/v2/write?org=ioc&bucket=ioc&precision={precision}",
        data=LINES,
        headers={"Authorization": "Token x", "Content-Type": "text/plain"},
    )
    assert status == 204
    (req,) = FakeInfluxd.requests
    assert req["method"] == "POST"
    assert req["path"] == f"/write?db=ioc&precision={expected}"
    assert req["body"] == LINES
    assert "Authorization" not in req["headers"]


def test_gzip_body_is_decoded(shim: InfluxV2WriteShim) -> None:
    status, _, _ = call(
        f"{shim.url}/api/v2/write?bucket=ioc", data=gzip.compress(LINES), headers={"Content-Encoding": "gzip"}
    )
    assert status == 204
    assert FakeInfluxd.requests[0]["body"] == LINES


def test_upstream_4xx_and_5xx_are_returned_faithfully(shim: InfluxV2WriteShim) -> None:
    status, body, headers = call(f"{shim.url}/api/v2/write?bucket=ioc", data=b"bad line")
    assert status == 400
    assert body == b'{"error":"unable to parse \'bad\': missing fields"}\n'
    assert headers["X-Influxdb-Error"] == "unable to parse 'bad': missing fields"
    assert headers["Content-Type"] == "application/json"
    status, body, _ = call(f"{shim.url}/api/v2/write?bucket=ioc", data=b"boom x=1")
    assert (status, body) == (500, b'{"error":"engine exploded"}')


def test_bad_requests_get_v2_style_errors(shim: InfluxV2WriteShim) -> None:
    status, body, _ = call(f"{shim.url}/api/v2/write?bucket=ioc&precision=h", data=LINES)
    assert status == 400 and json.loads(body)["code"] == "invalid"
    status, body, _ = call(f"{shim.url}/api/v2/write?org=ioc", data=LINES)
    assert status == 400 and "bucket" in json.loads(body)["message"]
    status, body, _ = call(
        f"{shim.url}/api/v2/write?bucket=ioc", data=b"not gzip", headers={"Content-Encoding": "gzip"}
    )
    assert status == 400
    status, body, _ = call(f"{shim.url}/api/v2/query?org=ioc", data=b"{}")
    assert status == 404 and "dev-only shim" in json.loads(body)["message"]
    assert FakeInfluxd.requests == []


def test_query_ping_and_health_pass_through(shim: InfluxV2WriteShim) -> None:
    status, body, _ = call(f"{shim.url}/query?db=ioc&q=SHOW+MEASUREMENTS")
    assert status == 200 and json.loads(body)["results"][0]["statement_id"] == 0
    status, _, _ = call(
        f"{shim.url}/query",
        data=b"q=CREATE+DATABASE+x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert FakeInfluxd.requests[1]["body"] == b"q=CREATE+DATABASE+x"
    status, _, headers = call(f"{shim.url}/ping")
    assert status == 204 and headers["X-Influxdb-Version"] == "1.6.7~fake"
    status, body, _ = call(f"{shim.url}/health")
    health = json.loads(body)
    assert status == 200 and health["status"] == "pass" and health["version"] == "1.6.7~fake"


def test_unreachable_upstream_is_503_and_health_fails() -> None:
    with InfluxV2WriteShim(f"http://127.0.0.1:{free_port()}") as shim:
        status, body, _ = call(f"{shim.url}/api/v2/write?bucket=ioc", data=LINES)
        assert status == 503 and "unreachable" in json.loads(body)["message"]
        status, body, _ = call(f"{shim.url}/health")
        assert status == 503 and json.loads(body)["status"] == "fail"


def test_stop_refuses_connections_and_start_reuses_the_port(upstream: str) -> None:
    shim = InfluxV2WriteShim(upstream).start()
    url = shim.url
    shim.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/ping", timeout=2)
    shim.start()
    try:
        assert shim.url == url
        assert call(f"{url}/ping")[0] == 204
    finally:
        shim.stop()


def test_real_influxdb_client_talks_to_the_shim(shim: InfluxV2WriteShim) -> None:
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write.point import Point
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException

    with InfluxDBClient(url=shim.url, token="t", org="ioc", enable_gzip=True) as client:
        assert client.ping()
        write = client.write_api(write_options=SYNCHRONOUS)
        write.write("ioc", record=Point("dossier").tag("agency", "Sở Tư pháp").field("n", 1))
        assert FakeInfluxd.requests[-1]["path"] == "/write?db=ioc&precision=n"
        assert FakeInfluxd.requests[-1]["body"] == "dossier,agency=Sở\\ Tư\\ pháp n=1i".encode()
        write.write("ioc", record="m,k=v x=1 1700000000", write_precision="s")
        assert FakeInfluxd.requests[-1]["path"] == "/write?db=ioc&precision=s"
        assert FakeInfluxd.requests[-1]["body"] == b"m,k=v x=1 1700000000"
        with pytest.raises(ApiException) as info:
            write.write("ioc", record="bad")
        assert info.value.status == 400
