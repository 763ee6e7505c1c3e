"""Line protocol on the hot path, with influxdb-client's escaping rules, compiled with the core.

`influxdb_client.Point` builds a line in ~30 us; one per consumed event was a third of the worker's CPU.
Here the escaped "measurement,tags" prefix is cached (tags repeat: agency, type, channel, field) and
only the fields are formatted per event. The escaping rules are InfluxDB's line protocol, written as
influxdb-client 1.x writes them (its own functions are private): the output is byte-identical to
Point's (tests/unit/test_lines.py checks it, special characters included). The per-record lines (an
event, a deadline mark, an alert) are built here too, so that `ioc native build` compiles them with the
batch loop that calls them (`streams.batch`; issue 19).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache

from dossiers.alerts import Alert
from streams.processor import DeadlineMark

FieldValue = int | float | str | bool

NS = 1_000_000_000

_LINE_BREAKS = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ ", **_LINE_BREAKS})
_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", **_LINE_BREAKS})
"""Tag keys, tag values and field keys."""
_STRING = str.maketrans({'"': '\\"', "\\": "\\\\"})
"""String field values, inside double quotes."""


def _escape_key(key: str, table: dict[int, str] = _KEY) -> str:
    return key.translate(table)


def _escape_tag_value(value: str) -> str:
    escaped = value.translate(_KEY)
    # a trailing backslash would escape the separator after it; Point adds a space, as we do
    return escaped + " " if escaped.endswith("\\") else escaped


def escape_string(value: str) -> str:
    # most values (dossier codes) need nothing: two searches cost a fifth of `translate`
    return value.translate(_STRING) if '"' in value or "\\" in value else value


@lru_cache(maxsize=65536)
def prefix(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """'measurement,tag=value,...' with tags sorted by key, as Point writes them."""
    parts = [_escape_key(measurement, _MEASUREMENT)]
    parts.extend(f"{_escape_key(k)}={_escape_tag_value(v)}" for k, v in sorted(tags) if k != "" and v != "")
    return ",".join(parts)


def _field(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return f'"{escape_string(value)}"'


def line(measurement: str, tags: tuple[tuple[str, str], ...], fields: dict[str, FieldValue], ns: int) -> str:
    """One line of line protocol (tags and fields sorted, as Point does), timestamp in nanoseconds."""
    body = ",".join(f"{_escape_key(k)}={_field(v)}" for k, v in sorted(fields.items()))
    return f"{prefix(measurement, tags)} {body} {ns}"


def stamp(ts: int, dossier: str) -> int:
    """Nanosecond timestamp unique per (second, dossier): idempotent overwrites, no collisions."""
    return ts * NS + _offset(dossier)


@lru_cache(maxsize=65536)
def _offset(dossier: str) -> int:
    """A dossier's nanoseconds within the second (a dossier's events and marks come in a few days)."""
    return int.from_bytes(hashlib.blake2b(dossier.encode(), digest_size=4).digest(), "big") % NS


Centres = Mapping[str, str]
"""Agency code -> the code of its centre: what the `centre` tag says (`streams.influx.centres_of`)."""


def centre_tag(centres: Centres | None, agency: str) -> tuple[tuple[str, str], ...]:
    """The `centre` tag of an agency's point; none without a mapping or for a code it does not know."""
    code = centres.get(agency) if centres is not None else None
    return (("centre", code),) if code else ()


def event_point(
    agency: str,
    kind: str,
    channel: str | None,
    field: str | None,
    dossier: str,
    ts: int,
    centres: Centres | None = None,
) -> str:
    """One line per applied event, the same as `line("events", tags, {"n": 1, "dossier": dossier}, ...)`
    (tests/unit/test_lines.py), from a cached head: one per consumed event, it is the worker's
    most frequent line (the generic `line` cost about 6 µs, a tenth of the worker's time per event)."""
    head = _event_head(agency, kind, channel or "unknown", field or "unknown", centre_tag(centres, agency))
    return f'{head}{escape_string(dossier)}",n=1i {stamp(ts, dossier)}'


@lru_cache(maxsize=65536)
def _event_head(agency: str, kind: str, channel: str, field: str, centre: tuple[tuple[str, str], ...]) -> str:
    """`events,<tags> dossier="`: the fields sorted as `line` sorts them (dossier, then n)."""
    tags = (("agency", agency), ("type", kind), ("channel", channel), ("field", field), *centre)
    return f'{prefix("events", tags)} dossier="'


def deadline_point(mark: DeadlineMark) -> str:
    """No `centre` tag: the point is overwritten (open 1 -> 0) days later, and a tag added in between (an
    upgrade, an agency moved to another centre) would make that a second series, leaving the dossier
    listed as overdue for ever. A centre's list filters on its agencies (`grafana.queries`).

    The same line as `line("deadlines", tags, {dossier, procedure, open, late_seconds, changed_at}, ...)`
    (tests/unit/test_lines.py), from a cached head and the fields in `line`'s sorted order."""
    return (
        f'{prefix("deadlines", (("agency", mark.agency), ("kind", mark.kind)))} changed_at={mark.at}i,'
        f'dossier="{escape_string(mark.dossier)}",late_seconds={mark.late_seconds}i,'
        f'open={1 if mark.open else 0}i,procedure="{escape_string(mark.procedure or "")}" '
        f"{stamp(mark.due_at, mark.dossier)}"
    )


def alert_point(alert: Alert, centres: Centres | None = None) -> str:
    return line(
        "alerts",
        (("agency", alert.agency), ("kind", alert.kind), *centre_tag(centres, alert.agency)),
        {
            "dossier": alert.dossier,
            "procedure": alert.procedure or "",
            "late_seconds": alert.late_seconds,
            "alert_id": alert.alert_id,
        },
        stamp(alert.at, alert.dossier),
    )
