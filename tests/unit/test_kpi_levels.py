"""KPIs at three levels (agency, centre, province): the identities that hold for an agency hold for a
centre and for the whole, a centre is the sum of its agencies and the whole the sum of its centres."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CATALOG, at, chaos_events, dossier_story, event, parse, ts
from test_kpi import numeric_leaves

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog, load_catalog
from dossiers.index766 import COVERED, Index766, Tally, build_index
from dossiers.index766 import Row as Row766
from dossiers.periods import month_of
from dossiers.replay import Replay
from dossiers.report_ii06a import Window

CAL = WorkingCalendar()
PROVINCE = load_catalog(Path(__file__).resolve().parents[2] / "dossiers" / "data" / "province.yaml")
START, END = at(2025, 11, 1), at(2026, 2, 28)
as_of_instants = st.integers(ts(START), ts(END + timedelta(days=120)))

SAMPLED = [PROVINCE.agency_by_code[c] for c in
           ("STP", "SYT", "CNVPDKDD_TP", "21211_TP", "21211_DC", "21025_XH", "21548_DC", "23293_TP")]
"""Agencies of five centres of the province sample: the provincial centre, a xã, a phường (with a dropped
procedure), the đặc khu (with an added one) and a phường of the former Kon Tum."""


@st.composite
def partitioned(draw: st.DrawFn) -> Catalog:
    """The 19 agencies of the single-centre sample spread over 1 to 4 centres in any way."""
    k = draw(st.integers(1, 4))
    n = len(CATALOG.agencies)
    where = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    groups = [[a for a, i in zip(CATALOG.agencies, where, strict=True) if i == c] for c in range(k)]
    groups = [g for g in groups if g]
    return Catalog.model_validate({
        "province": {"code": "51", "name": "Tỉnh thử nghiệm"},
        "centres": [{"code": f"C{n}", "name": f"Trung tâm {n}", "level": "province" if n == 0 else "commune",
                     "agencies": [a.model_dump(mode="json", exclude={"centre"}) for a in group]}
                    for n, group in enumerate(groups)],
    })


def _stories(draw: st.DrawFn, agencies: list[Any], max_dossiers: int = 20) -> list[list[dict[str, Any]]]:
    n = draw(st.integers(0, max_dossiers))
    stories = [draw(dossier_story(dossier=f"D-{i:04d}", agencies=agencies, start=START, end=END))
               for i in range(n)]
    chaos = draw(st.integers(0, 3))  # arbitrary event sets too (results without receipt, two endings...)
    return stories + [draw(chaos_events(dossier=f"X-{i}", start=START, end=END, max_size=8))
                      for i in range(chaos)]


@st.composite
def province_history(draw: st.DrawFn) -> tuple[Catalog, list[list[dict[str, Any]]]]:
    if draw(st.booleans()):
        return PROVINCE, _stories(draw, SAMPLED)
    catalog = draw(partitioned())
    return catalog, _stories(draw, list(catalog.agencies))


def _report(catalog: Catalog, stories: list[list[dict[str, Any]]], as_of: int) -> dict[str, Any]:
    run = Replay(catalog, CAL, as_of)
    for story in stories:
        for item in parse(story):
            run.feed(item)
    return run.report()


def _check_block(name: str, block: dict[str, Any]) -> None:
    counted = block["open"]["total"] + block["resolved"]["total"] + block["refused"] + block["withdrawn"]
    assert block["received"] == counted, name
    resolved, opened = block["resolved"], block["open"]
    assert resolved["total"] == resolved["early"] + resolved["on_time"] + resolved["late"], name
    assert opened["total"] == opened["within"] + opened["due_soon"] + opened["overdue"], name
    assert opened["paused"] <= opened["within"], name
    assert sum(block["channels"].values()) <= block["received"], name


def _summed(blocks: list[dict[str, Any]]) -> dict[str, int]:
    leaves = [numeric_leaves(b) for b in blocks]
    return {key: sum(leaf[key] for leaf in leaves) for key in numeric_leaves(blocks[0])} if leaves else {}


@settings(max_examples=120, deadline=None)
@given(province_history(), as_of_instants)
def test_identities_hold_at_every_level(history: tuple[Catalog, list[list[dict[str, Any]]]],
                                        as_of: int) -> None:
    catalog, stories = history
    report = _report(catalog, stories, as_of)
    assert list(report["centres"]) == [c.code for c in catalog.centres]
    for code, entry in report["centres"].items():
        block = {k: v for k, v in entry.items() if k != "agencies"}
        _check_block(code, block)
        # a centre's agencies are its catalog agencies, each the same block as at the top level
        assert set(entry["agencies"]) == {a.code for a in catalog.agencies_of(code)}
        assert all(entry["agencies"][a] == report["agencies"][a] for a in entry["agencies"])
        # a centre is the sum of its agencies, count by count
        assert numeric_leaves(block) == _summed(list(entry["agencies"].values())), code
    _check_block("province", report["centre"])
    # the province is the sum of its centres, and of its agencies
    centres = [{k: v for k, v in e.items() if k != "agencies"} for e in report["centres"].values()]
    assert numeric_leaves(report["centre"]) == _summed(centres)
    assert numeric_leaves(report["centre"]) == _summed(list(report["agencies"].values()))


@settings(max_examples=40, deadline=None)
@given(st.lists(dossier_story(start=START, end=END), max_size=10), as_of_instants)
def test_a_single_centre_has_one_centre_block_equal_to_the_total(
    stories: list[list[dict[str, Any]]], as_of: int
) -> None:
    """The single-centre output is what it was, plus `centres` with the one centre and all its agencies."""
    stories = [[{**raw, "dossier": f"S-{i}"} for raw in story] for i, story in enumerate(stories)]
    report = _report(CATALOG, stories, as_of)
    assert list(report) == ["as_of", "events", "dossiers", "centre", "centres", "agencies"]
    (code, entry), = report["centres"].items()
    assert code == CATALOG.centre.code
    assert entry.pop("agencies") == report["agencies"]
    assert entry == report["centre"]


# -- the 766 index at three levels (issue 17: per agency, per centre, per province) --------------------------
def _index(catalog: Catalog, stories: list[list[dict[str, Any]]], as_of: int) -> Index766:
    run = Replay(catalog, CAL, as_of)
    for story in stories:
        for item in parse(story):
            run.feed(item)
    period = month_of(CAL.local_date(as_of))
    return build_index(run.states.values(), catalog, CAL, period, Window.of(period, CAL, as_of))


def _tally_sum(rows: list[Row766]) -> dict[str, float]:
    total = Tally()
    for row in rows:
        total.add(row.tally)
    return total.as_dict()


@settings(max_examples=80, deadline=None)
@given(province_history(), as_of_instants)
def test_the_766_index_at_every_level(history: tuple[Catalog, list[list[dict[str, Any]]]],
                                      as_of: int) -> None:
    """A centre's tallies are its agencies' summed, the whole's its centres'; every level's rates and points
    come from its own sums (never an average of rates), and the JSON has the three levels."""
    catalog, stories = history
    index = _index(catalog, stories, as_of)
    rows = {row.key: row for row in index.rows}
    assert [c.key for c in index.centres] == [c.code for c in catalog.centres]
    for centre in index.centres:
        members = index.members[centre.key]
        assert members == tuple(a.code for a in catalog.agencies_of(centre.key))
        assert centre.tally.as_dict() == pytest.approx(_tally_sum([rows[a] for a in members]))
        assert sorted(centre.sync_delays) == sorted(d for a in members for d in rows[a].sync_delays)
        assert centre.indicators() == Row766("x", "x", centre.tally).indicators()
        points, out_of = centre.score()
        assert 0 <= points <= out_of <= COVERED
    assert index.total.tally.as_dict() == pytest.approx(_tally_sum(index.centres))
    assert index.total.tally.as_dict() == pytest.approx(_tally_sum(index.rows))
    whole = catalog.province if catalog.is_province else catalog.centre
    assert whole is not None and (index.total.key, index.total.label) == (whole.code, whole.name)
    document = index.as_dict()
    assert [c["key"] for c in document["centres"]] == [c.code for c in catalog.centres]
    assert [c["agencies"] for c in document["centres"]] == [list(index.members[c.key]) for c in index.centres]
    assert document["centre"]["key"] == whole.code


def partitioned_two() -> Catalog:
    """A province of two centres: C0 (provincial, agency Z) and C1 (a commune, agencies A and B)."""
    procedure = [{"code": "1.000001", "name": "Thủ tục", "field": "Lĩnh vực", "processing": 5}]
    return Catalog.model_validate({
        "province": {"code": "51", "name": "Tỉnh thử nghiệm"},
        "centres": [
            {"code": "C0", "name": "Trung tâm tỉnh", "level": "province",
             "agencies": [{"code": "Z", "name": "Sở Z", "procedures": procedure}]},
            {"code": "C1", "name": "Trung tâm xã", "level": "commune",
             "agencies": [{"code": code, "name": f"Bộ phận {code}", "procedures": procedure}
                          for code in ("A", "B")]},
        ],
    })


def test_a_centre_rate_is_taken_on_its_sums_not_averaged() -> None:
    """Two agencies of one commune centre, 1 of 1 and 0 of 3 synced: the centre's 1.4 is 1/4, not 1/2."""
    catalog = partitioned_two()
    received = [("A", "D1", True), ("B", "D2", False), ("B", "D3", False), ("B", "D4", False)]
    stories = []
    for agency, dossier, synced in received:
        story = [event("received", at(2026, 3, 16, 9), dossier=dossier, agency=agency, procedure="1.000001",
                       channel="counter")]
        if synced:
            story.append(event("synced", at(2026, 3, 16, 10), dossier=dossier, agency=agency))
        stories.append(story)
    index = _index(catalog, stories, ts(at(2026, 3, 20)))
    rates = {row.key: row.indicators()["1.4"].rate for row in [*index.rows, *index.centres, index.total]}
    assert rates == {"A": 1.0, "B": 0.0, "Z": None, "C1": 0.25, "C0": None, "51": 0.25}
