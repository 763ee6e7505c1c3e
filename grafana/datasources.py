"""The two data sources of the IOC boards, with fixed UIDs that dashboards and alert rules reference.

InfluxDB is queried with InfluxQL: InfluxDB 1.8+ serves it natively, 2.x through its v1-compatible
`/query` endpoint with a DBRP mapping (the `database` below is the bucket name, and the token goes in
an `Authorization: Token ...` header), 3.x natively. Settings come from environment variables that
Grafana expands in provisioning files, so the committed file holds no address and no secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from grafana_foundation_sdk.models import dashboard as dm

INFLUX_UID = "ioc-influxdb"
PROMETHEUS_UID = "ioc-prometheus"
INFLUX = dm.DataSourceRef(type_val="influxdb", uid=INFLUX_UID)
PROMETHEUS = dm.DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)

ENV_VARS: dict[str, str] = {
    "INFLUX_URL": "InfluxDB base URL, e.g. http://influxdb:8086",
    "INFLUX_DB": "database (1.x) or bucket with a DBRP mapping (2.x), e.g. ioc",
    "INFLUX_TOKEN": "2.x/3.x API token with read access to the bucket (any string on an open 1.x)",
    "PROMETHEUS_URL": "Prometheus base URL, e.g. http://prometheus:9090",
}


def datasources() -> list[dict[str, Any]]:
    """Grafana data source definitions, as the provisioning file and the HTTP API both take them."""
    return [
        {
            "name": "IOC InfluxDB",
            "uid": INFLUX_UID,
            "type": "influxdb",
            "access": "proxy",
            "url": "${INFLUX_URL}",
            "isDefault": True,
            "editable": False,
            "jsonData": {
                "version": "InfluxQL",
                "dbName": "${INFLUX_DB}",
                "httpMode": "GET",
                "timeInterval": "5s",
                "httpHeaderName1": "Authorization",
            },
            "secureJsonData": {"httpHeaderValue1": "Token ${INFLUX_TOKEN}"},
        },
        {
            "name": "IOC Prometheus",
            "uid": PROMETHEUS_UID,
            "type": "prometheus",
            "access": "proxy",
            "url": "${PROMETHEUS_URL}",
            "isDefault": False,
            "editable": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
        },
    ]


def provisioning() -> dict[str, Any]:
    """grafana/provisioning/datasources/datasources.yaml."""
    return {"apiVersion": 1, "datasources": [{**d, "orgId": 1} for d in datasources()]}


_ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def expand(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """Replace `${VAR}` as Grafana does in provisioning files (for `ioc grafana push`, which has no
    Grafana to do it). Raises KeyError naming the first unset variable."""
    environ = os.environ if env is None else env
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise KeyError(name)
            return environ[name]

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, environ) for v in value]
    return value
