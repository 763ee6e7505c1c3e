"""Our cached line-protocol builder must write exactly what influxdb-client's Point writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from streams.lines import FieldValue, line

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


@given(agency=special, kind=special, channel=st.none() | special, field=st.none() | special, dossier=special,
       ts=st.integers(0, 2**32), centre=st.none() | special)
def test_the_event_line_equals_the_generic_line_and_point(
    agency: str, kind: str, channel: str | None, field: str | None, dossier: str, ts: int, centre: str | None
) -> None:
    """`event_point` builds its line from a cached head: the same bytes as `line` (and so as Point)."""
    from streams.lines import event_point, stamp

    centres = {agency: centre} if centre is not None else None
    tags = (("agency", agency), ("type", kind), ("channel", channel or "unknown"),
            ("field", field or "unknown"), *((("centre", centre),) if centre else ()))
    expected = line("events", tags, {"n": 1, "dossier": dossier}, stamp(ts, dossier))
    assert event_point(agency, kind, channel, field, dossier, ts, centres) == expected
    point = Point("events").time(stamp(ts, dossier), WritePrecision.NS)
    for key, value in tags:
        point.tag(key, value)
    point.field("n", 1).field("dossier", dossier)
    assert expected == point.to_line_protocol()


@given(agency=special, kind=st.sampled_from(["overdue", "due_soon"]), dossier=special,
       procedure=st.none() | special, is_open=st.booleans(), late=st.integers(0, 10**9),
       due=st.integers(0, 2**32), at=st.integers(0, 2**32))
def test_the_deadline_line_equals_the_generic_line(
    agency: str, kind: str, dossier: str, procedure: str | None, is_open: bool, late: int, due: int, at: int
) -> None:
    from streams.lines import deadline_point, stamp
    from streams.processor import DeadlineMark

    mark = DeadlineMark(kind, dossier, agency, procedure, due, is_open, late, at)
    fields: dict[str, FieldValue] = {"dossier": dossier, "procedure": procedure or "",
                                     "open": 1 if is_open else 0, "late_seconds": late, "changed_at": at}
    expected = line("deadlines", (("agency", agency), ("kind", kind)), fields, stamp(due, dossier))
    assert deadline_point(mark) == expected
