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
