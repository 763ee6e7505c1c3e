"""The terminal wall of `ioc up` (ioc/wall.py) for a province: the province page (totals, the provincial
centre, the ten commune centres that fall behind most, against the target their mix should reach), a
single centre's page with `--centre`, and the target a group of agencies should reach."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from dossiers.alerts import Alert, alert_id
from dossiers.catalog import load_catalog
from dossiers.kpi import Block, expected_on_time
from ioc import cli
from ioc.readback import LiveKpis
from ioc.wall import WORST_COMMUNES, centre_rows, render, worst_first

PROVINCE = load_catalog(Path(__file__).resolve().parents[2] / "dossiers" / "data" / "province.yaml")
NOW = datetime(2026, 3, 4, 10, 0)


def text_of(renderable: object) -> str:
    console = Console(record=True, width=220, color_system=None)
    console.print(renderable)
    return console.export_text()


def live_with(overdue: dict[str, int], resolved: dict[str, tuple[int, int]] | None = None) -> LiveKpis:
    """Every agency of the province with 5 received; `overdue` per agency; `resolved` (good, total)."""
    agencies = {}
    for agency in PROVINCE.agencies:
        good, total = (resolved or {}).get(agency.code, (0, 0))
        agencies[agency.code] = Block(received=5, overdue=overdue.get(agency.code, 0), month_good=good,
                                      month_resolved=total)
    return LiveKpis(agencies, {0}, {"0"})


def commune_desk(centre: str) -> str:
    return PROVINCE.agencies_of(centre)[0].code


def test_the_province_page_ranks_commune_centres_worst_first_and_lists_ten() -> None:
    communes = [c.code for c in PROVINCE.centres if c.code != PROVINCE.centre.code]
    bad, worse, under = communes[40], communes[7], communes[60]
    live = live_with({commune_desk(bad): 2, commune_desk(worse): 9, "STP": 1},
                     {commune_desk(under): (1, 2)})  # 50 % against a commune's ~99 %
    out = text_of(render(PROVINCE, live, [], NOW))
    assert PROVINCE.province is not None and f"Toàn {PROVINCE.province.name}" in out
    lines = out.splitlines()

    def line_of(code: str) -> int:
        return next(i for i, line in enumerate(lines) if f"({code})" in line)

    assert line_of(PROVINCE.centre.code) < line_of(worse) < line_of(bad) < line_of(under)
    listed = [c for c in communes if any(f"({c})" in line for line in lines)]
    assert len(listed) == WORST_COMMUNES
    assert f"3/{len(communes)} có hồ sơ quá hạn hoặc dưới mục tiêu" in " ".join(out.split())
    # the province's totals are every agency's
    assert live.centre.overdue == 12 and live.centre.received == 5 * len(PROVINCE.agencies)


def test_rows_sum_their_agencies_and_rank_by_overdue_then_gap() -> None:
    live = live_with({}, {a.code: (9, 10) for a in PROVINCE.agencies})
    rows = {r.centre.code: r for r in centre_rows(PROVINCE, live)}
    assert list(rows) == [c.code for c in PROVINCE.centres]
    for code, row in rows.items():
        members = PROVINCE.agencies_of(code)
        assert row.block.received == 5 * len(members) and row.block.month_resolved == 10 * len(members)
        assert row.rate == 0.9 and row.target is not None and row.gap == pytest.approx(row.target - 0.9)
    ranked = worst_first(list(rows.values()))
    gaps = [r.gap for r in ranked]
    assert gaps == sorted(gaps, reverse=True)  # nobody overdue: the furthest under target first


def test_one_centre_with_centre_shows_only_its_agencies_and_alerts() -> None:
    centre = next(c for c in PROVINCE.centres if c.code != PROVINCE.centre.code)
    mine, other = commune_desk(centre.code), "STP"
    alerts = [Alert(alert_id(d, "overdue", 1), "overdue", d, agency, None, None, 1, 2, 1, None)
              for d, agency in (("MINE-1", mine), ("OTHER-1", other))]
    live = live_with({mine: 3, other: 4})
    out = text_of(render(PROVINCE, live, alerts, NOW, centre=centre.code))
    assert centre.name in out and "MINE-1" in out and "OTHER-1" not in out
    assert all(f"({a.code})" in out for a in PROVINCE.agencies_of(centre.code))
    assert "(STP)" not in out
    single = text_of(render(PROVINCE, live, alerts, NOW, centre=PROVINCE.centre.code))
    assert "(STP)" in single and f"({mine})" not in single


def test_ioc_up_refuses_an_unknown_centre() -> None:
    cli._mount()
    result = CliRunner().invoke(cli.app, ["up", "--catalog", str(PROVINCE_PATH), "--centre", "NOPE"])
    assert result.exit_code == 2
    assert "no centre 'NOPE'" in " ".join(result.output.split())


PROVINCE_PATH = Path(__file__).resolve().parents[2] / "dossiers" / "data" / "province.yaml"


def test_expected_on_time_weights_each_target_by_the_dossiers_resolved() -> None:
    land, dept = Block(month_resolved=30), Block(month_resolved=10)
    assert expected_on_time([(land, 0.8), (dept, 0.99)]) == pytest.approx((30 * 0.8 + 10 * 0.99) / 40)
    assert expected_on_time([(Block(), 0.8), (Block(), 0.99)]) == pytest.approx(0.895)
    assert expected_on_time([]) is None


@given(st.lists(st.tuples(st.integers(0, 1000), st.floats(0.5, 1.0)), min_size=1, max_size=8))
def test_expected_on_time_lies_between_the_targets(members: list[tuple[int, float]]) -> None:
    value = expected_on_time([(Block(month_resolved=n), t) for n, t in members])
    assert value is not None
    targets = [t for _, t in members]
    assert min(targets) - 1e-6 <= value <= max(targets) + 1e-6
