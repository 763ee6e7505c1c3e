"""An InfluxQL query target for grafana-foundation-sdk, which ships none for InfluxDB.

The SDK (grafana_foundation_sdk 10.1) has dataquery types for Prometheus, Loki, Elasticsearch and
others, but not for the `influxdb` data source. Its panels accept any `Builder[Dataquery]`, so this
module adds the missing piece the SDK's own way: a `Dataquery` with `to_json`/`from_json`, its builder,
and a runtime registration so that `Dashboard.from_json()` decodes our targets back into this class
(the round-trip the tests rely on). Only the raw-query fields Grafana's InfluxQL backend reads are
modelled (`query`, `rawQuery`, `resultFormat`, `alias`; see pkg/tsdb/influxdb/models/model_parser.go).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dm

INFLUX_TYPE = "influxdb"
ResultFormat = Literal["time_series", "table"]


class InfluxQLQuery(cogvariants.Dataquery):
    """One raw InfluxQL target of a panel (or the model of an alert rule query)."""

    def __init__(
        self,
        ref_id: str = "A",
        query: str = "",
        *,
        alias: str | None = None,
        result_format: ResultFormat = "time_series",
        datasource: dm.DataSourceRef | None = None,
        hide: bool | None = None,
    ) -> None:
        self.ref_id = ref_id
        self.query = query
        self.alias = alias
        self.result_format = result_format
        self.datasource = datasource
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {"refId": self.ref_id}
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        payload["query"] = self.query
        payload["rawQuery"] = True
        payload["resultFormat"] = self.result_format
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        datasource = data.get("datasource")
        return cls(
            ref_id=str(data.get("refId", "A")),
            query=str(data.get("query", "")),
            alias=data.get("alias"),
            result_format=data.get("resultFormat", "time_series"),
            datasource=dm.DataSourceRef.from_json(datasource) if isinstance(datasource, dict) else None,
            hide=data.get("hide"),
        )


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder in the SDK's style: `InfluxQL(query).ref_id("B").alias("Tiếp nhận").table()`."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(query=query)

    def build(self) -> InfluxQLQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self

    def table(self) -> Self:
        self._internal.result_format = "table"
        return self

    def datasource(self, ref: dm.DataSourceRef) -> Self:
        self._internal.datasource = ref
        return self


def register() -> None:
    """Let the SDK decode `influxdb` targets into InfluxQLQuery (idempotent), plus the SDK's own types."""
    from grafana_foundation_sdk.cog.plugins import register_default_plugins

    register_default_plugins()
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=INFLUX_TYPE, from_json_hook=InfluxQLQuery.from_json)
    )
