"""Our cached line-protocol builder must write exactly what influxdb-client's Point writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from streams.lines import line

text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


@given(tag=text, value=text, name=text, number=st.integers(-(2**62), 2**62), ns=st.integers(0, 2**62))
def test_line_equals_point(tag: str, value: str, name: str, number: int, ns: int) -> None:
    tags = (("agency", "Sở Tư pháp, số 1"), ("zone", value), (tag, "x=y z"))
    fields = {"n": number, "dossier": name, "rate": 0.25, "ok": True}
    point = Point("kpi lines").time(ns, WritePrecision.NS)
    for key, tag_value in tags:
        point.tag(key, tag_value)
    for key, field_value in fields.items():
        point.field(key, field_value)
    assert line("kpi lines", tags, fields, ns) == point.to_line_protocol()


special = st.text(
    alphabet=st.sampled_from([",", "=", " ", '"', "\\", "\n", "\t", "\r", "a", "ư"]), min_size=1, max_size=12
)


@given(measurement=special, key=special, value=special, name=special, text_value=special)
def test_line_escapes_every_special_character_as_point_does(
    measurement: str, key: str, value: str, name: str, text_value: str
) -> None:
    """The escaping is ours (influxdb-client's functions are private): separators, quotes, backslashes
    and line breaks in every position must come out as Point writes them."""
    tags = ((key, value), ("agency", "STP"))
    fields = {name: text_value, "n": 1}
    point = Point(measurement).time(7, WritePrecision.NS)
    for tag_key, tag_value in tags:
        point.tag(tag_key, tag_value)
    for field_key, field_value in fields.items():
        point.field(field_key, field_value)
    assert line(measurement, tags, fields, 7) == point.to_line_protocol()
