"""A real InfluxDB for tests and local runs, and an InfluxQL client that works against 1.x, 2.x and 3.x.

Why InfluxDB 1.6.7: it is Debian's `influxdb` package (`apt-get install -y influxdb`), so a real engine
starts in well under a second without Docker. Its query language, InfluxQL, is the one every InfluxDB
since 1.8 serves (2.x through DBRP mappings, 3.x natively), so dashboards and alert rules written in
InfluxQL are tested here on the real engine. It lacks `/api/v2/write`, which influxdb-client uses;
`LocalInflux` puts the dev-only `InfluxV2WriteShim` in front of it for that.

* `InfluxDB1`    - influxd on a temp dir and a free port, same process hygiene as the Kafka broker.
* `InfluxQL`     - stdlib-only InfluxQL client: `/query?db=` on 1.x, v1-compat `/query` with
                   `Authorization: Token` on 2.x/3.x.
* `LocalInflux`  - InfluxDB1 + shim + a created database: the object tests and `ioc up` use.
* `RemoteInflux` - the same interface for a real InfluxDB 2.x/3.x given by URL and token.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ioc.devstack.influx_v2_shim import InfluxV2WriteShim
from ioc.devstack.ports import LOOPBACK, free_ports
from ioc.devstack.proc import (
    DevstackError,
    DevstackUnavailable,
    LocalServer,
    ManagedProcess,
    Startable,
    StartupError,
)
from streams.influx import LIVE_RP

__all__ = [
    "LIVE_RP_DDL",
    "InfluxDB1",
    "InfluxEndpoint",
    "InfluxQL",
    "InfluxQLError",
    "InfluxTarget",
    "LocalInflux",
    "RemoteInflux",
    "quote_ident",
    "quote_string",
    "render_influxd_config",
    "unique_name",
]

LIVE_RP_DDL = (
    f'CREATE RETENTION POLICY "{LIVE_RP}" ON {{database}} DURATION 1d REPLICATION 1 SHARD DURATION 1h'
)
"""The retention policy the workers write their snapshots into (`streams.influx.LIVE_RP`): a day, in
shards of an hour, so that the last minute the boards read lies in a small shard and a province's 95
million snapshot points a day expire (docs/influxdb.md, "Volume and retention")."""

INSTALL_INFLUXD = "install it with `apt-get update && apt-get install -y influxdb` (Debian, InfluxDB 1.6.7)"


# -- InfluxQL client ------------------------------------------------------------------------------------
class InfluxQLError(DevstackError):
    """An InfluxQL statement failed (HTTP error, or an `error` in the result)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def quote_ident(name: str) -> str:
    """Double-quote an InfluxQL identifier (database, measurement, tag key)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """Single-quote an InfluxQL string literal (tag values in WHERE)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_READ_ONLY = re.compile(r"^\s*(SELECT|SHOW)\b", re.IGNORECASE)


class InfluxQL:
    """Minimal InfluxQL over HTTP, stdlib only, so any test or script can check stored data.

    Works against InfluxDB 1.x (`/query?db=`) and the v1-compatible `/query` of 2.x and 3.x, where
    `token` is sent as `Authorization: Token ...` (and `database` is the bucket / database name).
    SELECT/SHOW go as GET, everything else as a form POST, as 1.x requires.
    """

    def __init__(
        self, url: str, database: str | None = None, token: str | None = None, timeout: float = 30.0
    ):
        self.url = url.rstrip("/")
        self.database = database
        self.token = token
        self.timeout = timeout

    def raw(self, q: str, *, database: str | None = None, epoch: str | None = None) -> dict[str, Any]:
        """The decoded JSON of one /query call; raises InfluxQLError on any statement error."""
        params: dict[str, str] = {"q": q}
        db = database if database is not None else self.database
        if db:
            params["db"] = db
        if epoch:
            params["epoch"] = epoch
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        encoded = urllib.parse.urlencode(params)
        if _READ_ONLY.match(q):
            req = urllib.request.Request(f"{self.url}/query?{encoded}", headers=headers, method="GET")
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            req = urllib.request.Request(
                f"{self.url}/query", data=encoded.encode(), headers=headers, method="POST"
            )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            raise InfluxQLError(f"HTTP {exc.code} for {q!r}: {detail}", status=exc.code) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise InfluxQLError(f"cannot reach {self.url}: {exc}") from exc
        try:
            data: dict[str, Any] = json.loads(body)
        except ValueError as exc:
            raise InfluxQLError(f"non-JSON answer to {q!r}: {body[:200]!r}") from exc
        if "error" in data:
            raise InfluxQLError(f"{q!r}: {data['error']}")
        for result in data.get("results", []):
            if "error" in result:
                raise InfluxQLError(f"{q!r}: {result['error']}")
        return data

    def series(
        self, q: str, *, database: str | None = None, epoch: str | None = None
    ) -> list[dict[str, Any]]:
        """Every series of every statement: dicts with `name`, `tags` (maybe empty), `columns`, `values`."""
        out: list[dict[str, Any]] = []
        for result in self.raw(q, database=database, epoch=epoch).get("results", []):
            out.extend(result.get("series", []))
        return out

    def query(self, q: str, *, database: str | None = None, epoch: str | None = None) -> list[dict[str, Any]]:
        """Rows as dicts: the series' tags (from GROUP BY) merged with column -> value.

        The measurement name is under the key `_measurement` when it is not also a column.
        """
        rows: list[dict[str, Any]] = []
        for s in self.series(q, database=database, epoch=epoch):
            base: dict[str, Any] = {"_measurement": s.get("name")}
            base.update(s.get("tags") or {})
            for values in s.get("values") or []:
                rows.append({**base, **dict(zip(s["columns"], values, strict=False))})
        return rows

    def create_database(self, name: str) -> None:
        """CREATE DATABASE and its `live` retention policy (`LIVE_RP_DDL`), both idempotent on 1.x; on
        2.x/3.x create the buckets `<name>` and `<name>/live` with their own API instead."""
        self.raw(f"CREATE DATABASE {quote_ident(name)}", database="")
        self.raw(LIVE_RP_DDL.format(database=quote_ident(name)), database="")

    def drop_database(self, name: str) -> None:
        self.raw(f"DROP DATABASE {quote_ident(name)}", database="")

    def ping(self) -> bool:
        """True when GET /ping answers 2xx (with the token, which InfluxDB 3 may require)."""
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        try:
            req = urllib.request.Request(f"{self.url}/ping", headers=headers)
            with urllib.request.urlopen(req, timeout=2.0) as resp:
                return 200 <= int(resp.status) < 300
        except (urllib.error.URLError, OSError):
            return False


# -- influxd 1.x ----------------------------------------------------------------------------------------
def render_influxd_config(base: Path | str, *, http_port: int, rpc_port: int, log_level: str = "warn") -> str:
    """influxd 1.x config: everything under `base`, HTTP and RPC on loopback only, every listener
    that is not needed (graphite, collectd, opentsdb, udp, ifql, pprof) off, no _internal monitor
    database, no usage reporting. Pure, for unit tests."""
    b = Path(base)
    return f"""# written by ioc.devstack.influx for a local test/dev InfluxDB 1.x
reporting-disabled = true
reporting-enabled = false
bind-address = "{LOOPBACK}:{rpc_port}"

[meta]
  dir = "{b / "meta"}"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "{b / "data"}"
  wal-dir = "{b / "wal"}"
  index-version = "inmem"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]
  write-timeout = "10s"

[retention]
  enabled = true

[shard-precreation]
  enabled = true

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "{LOOPBACK}:{http_port}"
  auth-enabled = false
  log-enabled = false
  suppress-write-log = true
  pprof-enabled = false
  https-enabled = false
  unix-socket-enabled = false

[logging]
  format = "logfmt"
  level = "{log_level}"
  suppress-logo = true

[ifql]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false

[continuous_queries]
  enabled = true
  log-enabled = false
"""


def influxd_binary() -> str:
    """$IOC_INFLUXD, else `influxd` on PATH (Debian installs /usr/bin/influxd)."""
    env = os.environ.get("IOC_INFLUXD")
    found = env or shutil.which("influxd")
    if not found or not Path(found).exists():
        raise DevstackUnavailable(f"InfluxDB 1.x server `influxd` not found: {INSTALL_INFLUXD}")
    return found


def _pinged(client: InfluxQL, _log_text: str) -> bool:
    return client.ping()


class InfluxDB1(LocalServer):
    """Debian's `influxd` (1.6.7) on a temp dir and free loopback ports, under the watchdog.

    Ports are picked once and kept across stop()/start(), so clients can reconnect after a fault test.
    """

    dir_prefix = "ioc-influxd-"

    def __init__(
        self,
        *,
        data_dir: Path | str | None = None,
        port: int | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        log_level: str = "warn",
    ) -> None:
        self._owns_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._fixed_port = port is not None
        self.port = port
        self.rpc_port: int | None = None
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.log_level = log_level
        self._proc: ManagedProcess | None = None
        self.startup_seconds: float | None = None
        """Wall time of the last start(), from launch until /ping answered."""

    @property
    def url(self) -> str:
        if self.port is None:
            raise DevstackError("InfluxDB1 has no port yet: call start() first")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._dir() / "influxd.log"

    @property
    def config_path(self) -> Path:
        return self._dir() / "influxd.conf"

    def ql(self, database: str | None = None) -> InfluxQL:
        return InfluxQL(self.url, database)

    def start(self) -> InfluxDB1:
        if self.running:
            return self
        binary = influxd_binary()
        started = time.monotonic()
        attempts = 1 if (self._fixed_port or self.rpc_port is not None) else 3
        for attempt in range(attempts):
            if self.port is None or self.rpc_port is None:
                ports = free_ports(2)
                self.port = self.port if self._fixed_port else ports[0]
                self.rpc_port = ports[1]
            assert self.port is not None
            self.config_path.write_text(
                render_influxd_config(
                    self._dir(), http_port=self.port, rpc_port=self.rpc_port, log_level=self.log_level
                )
            )
            self._proc = ManagedProcess(
                [binary, "run", "-config", str(self.config_path)],
                name="InfluxDB 1.x (influxd)",
                log_path=self.log_path,
                cwd=self._dir(),
                env={**os.environ, "INFLUXDB_REPORTING_DISABLED": "true"},
                remove_on_orphan=self.data_dir if self._owns_dir else None,
                stop_timeout=self.stop_timeout,
            )
            self._proc.start()
            client = InfluxQL(self.url)
            try:
                self._proc.wait_ready(
                    functools.partial(_pinged, client),
                    timeout=self.startup_timeout,
                    what=f"GET {self.url}/ping",
                    interval=0.02,
                )
                break
            except StartupError as exc:
                self._proc = None
                if "address already in use" not in str(exc).lower() or attempt == attempts - 1:
                    raise
                self.rpc_port = None
                if not self._fixed_port:
                    self.port = None
        self.startup_seconds = time.monotonic() - started
        return self


# -- what tests and `ioc up` use ------------------------------------------------------------------------
class InfluxTarget(Protocol):
    """What the `influx` / `influx_db` fixtures give: enough for influxdb-client and for InfluxQL checks."""

    url: str  # for influxdb-client (v2 write API)
    query_url: str  # for InfluxQL (/query)
    token: str
    org: str
    bucket: str

    @property
    def database(self) -> str: ...

    def query(self, q: str, *, epoch: str | None = None) -> list[dict[str, Any]]: ...


class InfluxEndpoint:
    """One bucket/database on some InfluxDB: connection settings plus an InfluxQL helper."""

    def __init__(
        self, *, url: str, query_url: str, token: str, org: str, bucket: str, query_token: str | None = None
    ) -> None:
        self.url = url
        self.query_url = query_url
        self.token = token
        self.org = org
        self.bucket = bucket
        self.ql = InfluxQL(query_url, bucket, query_token)

    @property
    def database(self) -> str:
        return self.bucket

    def query(self, q: str, *, epoch: str | None = None) -> list[dict[str, Any]]:
        return self.ql.query(q, epoch=epoch)

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `influxdb_client.InfluxDBClient(**kwargs)`."""
        return {"url": self.url, "token": self.token, "org": self.org}

    def __repr__(self) -> str:
        return f"InfluxEndpoint(url={self.url!r}, bucket={self.bucket!r})"


def unique_name(prefix: str = "t") -> str:
    """A database/bucket/topic name no other test uses: prefix + 10 hex chars."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class LocalInflux(InfluxEndpoint, Startable):
    """InfluxDB 1.6.7 + the dev-only v2 write shim + a created database, as one object.

    `url` is the shim (give it to influxdb-client: `/api/v2/write` works), `query_url` is influxd
    itself (InfluxQL). `token` is any string (1.x runs without auth), `org` is ignored by the shim.
    `stop()`/`start()` take both down and up again on the same ports, for fault tests: a writer then
    sees connection refused, as with a real outage.
    """

    def __init__(
        self,
        *,
        database: str = "ioc",
        org: str = "ioc",
        token: str = "dev-token-not-checked",
        data_dir: Path | str | None = None,
        port: int | None = None,
        shim_port: int | None = None,
    ) -> None:
        self.engine = InfluxDB1(data_dir=data_dir, port=port)
        self.shim: InfluxV2WriteShim | None = None
        self._shim_port = shim_port
        super().__init__(url="", query_url="", token=token, org=org, bucket=database)
        self.startup_seconds: float | None = None
        """Wall time of the last start(): influxd ready + shim listening + database created."""

    def start(self) -> LocalInflux:
        started = time.monotonic()
        self.engine.start()
        if self.shim is None:
            self.shim = InfluxV2WriteShim(self.engine.url, port=self._shim_port or 0)
        self.shim.start()
        self._shim_port = self.shim.port
        self.url = self.shim.url
        self.query_url = self.engine.url
        self.ql = InfluxQL(self.query_url, self.bucket)
        self.ql.create_database(self.bucket)
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop the shim and influxd (data and ports are kept for start())."""
        if self.shim is not None:
            self.shim.stop()
        self.engine.stop()

    def kill(self) -> None:
        """SIGKILL influxd and stop the shim: a crash."""
        if self.shim is not None:
            self.shim.stop()
        self.engine.kill()

    @property
    def running(self) -> bool:
        return self.engine.running and self.shim is not None and self.shim.running

    def create_database(self, name: str) -> None:
        self.ql.create_database(name)

    def endpoint(self, bucket: str | None = None) -> InfluxEndpoint:
        """A view on a (new, created) database of this server; a fresh unique name by default."""
        name = bucket or unique_name("t")
        self.create_database(name)
        return InfluxEndpoint(
            url=self.url, query_url=self.query_url, token=self.token, org=self.org, bucket=name
        )

    def close(self) -> None:
        self.stop()
        self.engine.close()

    def __repr__(self) -> str:
        return f"LocalInflux(url={self.url!r}, query_url={self.query_url!r}, bucket={self.bucket!r})"


class RemoteInflux(InfluxEndpoint):
    """A real InfluxDB 2.x/3.x given by URL and token: the same interface as LocalInflux, minus
    start/stop. InfluxQL goes to its v1-compatible /query with the token."""

    startup_seconds: float | None = None

    def __init__(self, *, url: str, token: str, org: str, bucket: str) -> None:
        super().__init__(url=url, query_url=url, token=token, org=org, bucket=bucket, query_token=token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RemoteInflux | None:
        """From IOC_TEST_INFLUX_URL/_TOKEN (+ _ORG, default "ioc"; _BUCKET, default "ioc_test"),
        or None when URL or token is unset."""
        e = os.environ if env is None else env
        url, token = e.get("IOC_TEST_INFLUX_URL"), e.get("IOC_TEST_INFLUX_TOKEN")
        if not url or not token:
            return None
        return cls(
            url=url,
            token=token,
            org=e.get("IOC_TEST_INFLUX_ORG", "ioc"),
            bucket=e.get("IOC_TEST_INFLUX_BUCKET", "ioc_test"),
        )

    def endpoint(self, bucket: str | None = None) -> InfluxEndpoint:
        """The configured bucket (creating buckets on 2.x/3.x needs rights tests should not assume)."""
        return InfluxEndpoint(
            url=self.url,
            query_url=self.query_url,
            token=self.token,
            org=self.org,
            bucket=bucket or self.bucket,
            query_token=self.token,
        )

    def __repr__(self) -> str:
        return f"RemoteInflux(url={self.url!r}, bucket={self.bucket!r})"
