"""Read the live KPIs back from InfluxDB (InfluxQL), in the shape `ioc replay --json` prints.

Used by the terminal wall of `ioc up` and by the end-to-end tests that compare the stream with replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dossiers.kpi import CHANNELS, KPI_FIELDS, Block

Query = Callable[[str], list[dict[str, Any]]]
"""Runs one InfluxQL statement, returns rows (dicts with tags and fields)."""


CONSISTENT_SECONDS = 5

LATEST_PER_PARTITION = (
    'SELECT {fields} FROM "live"."kpi" WHERE time > now() - {window} GROUP BY "agency", "partition"'
)


@dataclass
class LiveKpis:
    """Per-agency KPI blocks summed over partitions, and the business instants they describe."""

    agencies: dict[str, Block] = field(default_factory=dict)
    as_of: set[int] = field(default_factory=set)
    partitions: set[str] = field(default_factory=set)

    @property
    def centre(self) -> Block:
        total = Block()
        for block in self.agencies.values():
            total.add(block)
        return total

    @property
    def consistent(self) -> bool:
        """True when every partition's latest snapshot describes nearly the same instant.

        Workers snapshot on their own timers, so two workers' latest points may straddle a second;
        a few seconds apart is one picture as long as no SLA boundary lies in between.
        """
        return bool(self.as_of) and max(self.as_of) - min(self.as_of) <= CONSISTENT_SECONDS


def read_live_kpis(query: Query, window: str = "5m") -> LiveKpis:
    names = [*KPI_FIELDS, *(f"channel_{c}" for c in CHANNELS), "as_of"]
    fields = ", ".join(f'last("{name}") AS "{name}"' for name in names)
    rows = query(LATEST_PER_PARTITION.format(fields=fields, window=window))
    live = LiveKpis()
    for row in rows:
        agency = str(row["agency"])
        block = live.agencies.setdefault(agency, Block())
        for name in KPI_FIELDS:
            setattr(block, name, getattr(block, name) + int(row.get(name) or 0))
        for channel in CHANNELS:
            block.channels[channel] += int(row.get(f"channel_{channel}") or 0)
        if row.get("as_of") is not None:
            live.as_of.add(int(row["as_of"]))
        live.partitions.add(str(row.get("partition")))
    return live
