"""Dev-only compatibility shim: InfluxDB 2.x `/api/v2/write` in front of an InfluxDB 1.x engine.

This is a dev-only compatibility shim, not a product component. Production runs InfluxDB 2.x/3.x, which
serve `/api/v2/write` themselves. On the project's machines the real engine available without Docker is
Debian's InfluxDB 1.6.7, which lacks that endpoint (it came in 1.8), while `influxdb-client` only
speaks the v2 API. The shim lets the real client write to the real engine in tests and in the local
`ioc up` run:

    POST /api/v2/write?org=O&bucket=B[/RP]&precision=P   ->   POST /write?db=B[&rp=RP]&precision=p
        P: ns|us|ms|s  ->  p: n|u|ms|s ; the line-protocol body passes through unchanged
        (a gzip Content-Encoding is decoded first); org and the token are ignored.
    GET/POST /query, GET/HEAD /ping, POST /write           ->   passed through as they are
    GET /health, GET /ready                                ->   synthesized 2.x-style JSON

Upstream status codes, bodies and InfluxDB headers are returned as they are, so a 4xx/5xx from influxd
reaches the client (and its retries are real). When influxd cannot be reached the shim answers 503
(which influxdb-client retries), with a JSON body that says so.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["PRECISIONS", "InfluxV2WriteShim", "ShimError", "map_precision", "v1_write_target"]

# InfluxDB 2.x precision names -> InfluxDB 1.x /write precision names.
PRECISIONS: dict[str, str] = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}

# Headers of the upstream answer that are passed back to the client.
_PASS_HEADERS = (
    "Content-Type",
    "X-Influxdb-Error",
    "X-Influxdb-Version",
    "X-Influxdb-Build",
    "Request-Id",
    "X-Request-Id",
    "Retry-After",
)


class ShimError(ValueError):
    """A request the shim cannot map; answered with HTTP 400 and a 2.x-style JSON error."""


def map_precision(precision: str | None) -> str:
    """2.x write precision (ns, us, ms, s; default ns) -> 1.x /write precision (n, u, ms, s)."""
    p = "ns" if precision in (None, "") else precision
    assert p is not None
    try:
        return PRECISIONS[p]
    except KeyError:
        raise ShimError(f"invalid precision {precision!r}: expected one of ns, us, ms, s") from None


def v1_write_target(query: Mapping[str, list[str]]) -> str:
    """Path+query of the 1.x write for the parsed query string of a 2.x write.

    `bucket` is the database; a `db/rp` bucket (2.x's DBRP naming) selects a retention policy.
    """
    bucket = (query.get("bucket") or [""])[0]
    if not bucket:
        raise ShimError("bucket is required")
    db, _, rp = bucket.partition("/")
    precision = query.get("precision") or [""]
    params = {"db": db, "precision": map_precision(precision[0])}
    if rp:
        params["rp"] = rp
    return "/write?" + urllib.parse.urlencode(params)


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as influxdb-client (urllib3) pools connections
    server: _ShimServer

    # -- routing ----------------------------------------------------------------------------------------
    def do_POST(self) -> None:
        path, _, qs = self.path.partition("?")
        try:
            body = self._read_body()
        except ShimError as exc:
            self._send(400, _error_body("invalid", str(exc)))
            return
        if path == "/api/v2/write":
            try:
                target = v1_write_target(urllib.parse.parse_qs(qs, keep_blank_values=True))
            except ShimError as exc:
                self._send(400, _error_body("invalid", str(exc)))
                return
            self._forward("POST", target, body, {"Content-Type": "text/plain; charset=utf-8"})
        elif path in ("/write", "/query"):
            headers = {"Content-Type": self.headers.get("Content-Type", "application/x-www-form-urlencoded")}
            self._forward("POST", self.path, body, headers)
        else:
            self._not_found(path)

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path in ("/query", "/ping"):
            self._forward("GET", self.path, None, {})
        elif path == "/health":
            self._health()
        elif path == "/ready":
            status, _, _ = self._upstream("GET", "/ping", None, {})
            up = status is not None and status < 300
            body = {
                "status": "ready" if up else "unavailable",
                "started": self.server.started_iso,
                "up": f"{time.monotonic() - self.server.started:.0f}s",
            }
            self._send(200 if up else 503, json.dumps(body).encode(), "application/json; charset=utf-8")
        else:
            self._not_found(path)

    def do_HEAD(self) -> None:
        if self.path.partition("?")[0] == "/ping":
            self._forward("HEAD", self.path, None, {})
        else:
            self._send(404, b"")

    # -- helpers ----------------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "identity").lower()
        if encoding == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as exc:
                raise ShimError(f"bad gzip body: {exc}") from exc
        elif encoding not in ("", "identity"):
            raise ShimError(f"unsupported Content-Encoding {encoding!r}")
        return body

    def _upstream(
        self, method: str, target: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int | None, list[tuple[str, str]], bytes]:
        """One request to influxd; (None, [], message) when it cannot be reached."""
        up = self.server.upstream
        conn = http.client.HTTPConnection(
            up.hostname or "127.0.0.1", up.port or 8086, timeout=self.server.timeout_s
        )
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheaders(), data
        except (OSError, http.client.HTTPException) as exc:
            return None, [], str(exc).encode()
        finally:
            conn.close()

    def _forward(self, method: str, target: str, body: bytes | None, headers: Mapping[str, str]) -> None:
        status, up_headers, data = self._upstream(method, target, body, headers)
        if status is None:
            msg = (
                f"dev-only InfluxDB v2 shim: upstream InfluxDB 1.x at {self.server.upstream_url} "
                f"is unreachable: {data.decode(errors='replace')}"
            )
            self._send(503, _error_body("unavailable", msg))
            return
        passed = {k: v for k, v in up_headers if k.lower() in {h.lower() for h in _PASS_HEADERS}}
        content_type = passed.pop("Content-Type", passed.pop("content-type", ""))
        self._send(status, b"" if method == "HEAD" else data, content_type or None, passed)

    def _health(self) -> None:
        status, headers, _ = self._upstream("GET", "/ping", None, {})
        version = {k.lower(): v for k, v in headers}.get("x-influxdb-version", "")
        ok = status is not None and status < 300
        body: dict[str, object] = {
            "name": "influxdb",
            "message": "ready for queries and writes (dev-only v2 shim over InfluxDB 1.x)"
            if ok
            else f"upstream InfluxDB 1.x at {self.server.upstream_url} not answering",
            "status": "pass" if ok else "fail",
            "checks": [],
            "version": version,
            "commit": "",
        }
        self._send(200 if ok else 503, json.dumps(body).encode(), "application/json; charset=utf-8")

    def _not_found(self, path: str) -> None:
        self._send(
            404,
            _error_body(
                "not found",
                f"path not found: {path} (dev-only shim: serves /api/v2/write, /query, /write, /ping, "
                "/health)",
            ),
        )

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None = "application/json; charset=utf-8",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type and body:
            self.send_header("Content-Type", content_type)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _ShimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # restart on the same port right after stop()

    def __init__(self, addr: tuple[str, int], upstream_url: str, timeout_s: float, verbose: bool) -> None:
        super().__init__(addr, _Handler)
        self.upstream_url = upstream_url.rstrip("/")
        self.upstream = urllib.parse.urlsplit(self.upstream_url)
        self.timeout_s = timeout_s
        self.verbose = verbose
        self.started = time.monotonic()
        self.started_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._conns_lock:
            self._conns.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop kept-alive client connections too, so a stopped shim looks like a server that is down."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:  # otherwise a client that hung up (e.g. during stop()) is not worth a traceback
            super().handle_error(request, client_address)


class InfluxV2WriteShim:
    """Dev-only compatibility shim (see the module docstring): a threaded HTTP server on a loopback port
    that lets influxdb-client's v2 write API reach an InfluxDB 1.x at `upstream_url`.

    `port=0` picks a free port on the first start(); stop()/start() reuse it.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 30.0,
        verbose: bool = False,
    ) -> None:
        self.upstream_url = upstream_url
        self.host = host
        self.port = port
        self.timeout = timeout
        self.verbose = verbose
        self._server: _ShimServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> InfluxV2WriteShim:
        if self._server is not None:
            return self
        self._server = _ShimServer((self.host, self.port), self.upstream_url, self.timeout, self.verbose)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"influx-v2-shim:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (clients then get connection refused) and close the socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> InfluxV2WriteShim:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
