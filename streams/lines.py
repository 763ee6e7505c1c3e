"""Line protocol on the hot path, with influxdb-client's escaping rules.

`influxdb_client.Point` builds a line in ~30 us; one per consumed event was a third of the worker's CPU.
Here the escaped "measurement,tags" prefix is cached (tags repeat: agency, type, channel, field) and
only the fields are formatted per event. The escaping rules are InfluxDB's line protocol, written as
influxdb-client 1.x writes them (its own functions are private): the output is byte-identical to
Point's (tests/unit/test_lines.py checks it, special characters included).
"""

from __future__ import annotations

from functools import lru_cache

FieldValue = int | float | str | bool

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
    return value.translate(_STRING)


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
