"""The simulator on the province sample: the provincial centre as today, 96 commune centres with many small,
short dossiers, and a few commune centres that fall behind (docs/simulator.md, "A province").

The bands below are the calibration of docs/simulator.md: measured on the week of 2-8 March 2026 (10 working
days of warm-up) for six seeds, with room for the other seeds.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from dossiers.kpi import Snapshot
from dossiers.replay import Replay, replay_lines
from dossiers.sla import processing_work
from ioc.commands.simulate import register
from producers.simulator import Profile, Simulator, warmup_start

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PROVINCE_FILE = Path(__file__).resolve().parents[2] / "dossiers" / "data" / "province.yaml"
PROVINCE = load_catalog(PROVINCE_FILE)
CALENDAR = WorkingCalendar(PROVINCE.calendar)
SINGLE = load_catalog()
PROVINCIAL = PROVINCE.centre.code
COMMUNES = tuple(c.code for c in PROVINCE.centres if c.level == "commune")
WEEK_START, WEEK_END = datetime(2026, 3, 2, tzinfo=TZ), datetime(2026, 3, 9, tzinfo=TZ)
WORKING_DAYS = 5  # Monday 2 - Friday 6 March 2026


def test_a_day_of_the_province_sample_is_valid_and_reaches_every_centre() -> None:
    calendar = WorkingCalendar(PROVINCE.calendar)
    start, end = datetime(2026, 3, 2, tzinfo=TZ), datetime(2026, 3, 3, tzinfo=TZ)
    run = Replay(PROVINCE, calendar, int(end.timestamp()))
    for raw in Simulator(PROVINCE, calendar, 2026, start, end).events():
        run.feed_raw(raw)
    assert run.valid > 0 and not run.invalid
    assert not [s.dossier for s in run.states.values() if s.problems()]
    report = run.report()
    assert all(entry["received"] > 0 for entry in report["centres"].values())
    assert report["centre"]["received"] == sum(entry["received"] for entry in report["centres"].values())


def week_of(catalog: Any, seed: int = 2026) -> tuple[Simulator, list[dict[str, Any]]]:
    simulator = Simulator(catalog, WorkingCalendar(catalog.calendar), seed,
                          warmup_start(CALENDAR, WEEK_START, 10), WEEK_END, emit_from=WEEK_START)
    return simulator, list(simulator.events())


@cache
def province_week() -> tuple[Simulator, tuple[dict[str, Any], ...], Snapshot, int]:
    """The province's week, replayed by `ioc replay`'s function at its last second: (simulator, events,
    snapshot, number of dossiers with a problem)."""
    simulator, events = week_of(PROVINCE)
    lines = (json.dumps(event, ensure_ascii=False) for event in events)
    run = replay_lines(lines, PROVINCE, CALENDAR, int(WEEK_END.timestamp()) - 1)
    assert not run.invalid
    problems = sum(1 for state in run.states.values() if state.problems())
    return simulator, tuple(events), run.snapshot(), problems


def receipts_in_week() -> list[dict[str, Any]]:
    """The `received` events of the week itself (not the warm-up's backfill)."""
    _, events, _, _ = province_week()
    return [e for e in events if e["type"] == "received" and e["occurred_at"] >= "2026-03-02"]


def test_a_province_week_replays_without_a_problem() -> None:
    _, _, snapshot, problems = province_week()
    assert problems == 0
    assert set(snapshot.centres) == {PROVINCIAL, *COMMUNES}


# -- volumes per level ----------------------------------------------------------------------------------


def test_volumes_per_level_are_in_the_calibrated_bands() -> None:
    per_centre: Counter[str] = Counter()
    for event in receipts_in_week():
        centre = PROVINCE.centre_of(event["agency"])
        assert centre is not None
        per_centre[centre.code] += 1
    provincial = per_centre[PROVINCIAL] / WORKING_DAYS
    communes = [per_centre[code] / WORKING_DAYS for code in COMMUNES]
    assert 550 <= provincial <= 750  # today's centre: ~640 a working day
    assert 2_600 <= sum(communes) <= 3_600  # 96 centres, ~3,000 a working day in all
    assert all(8 <= each <= 120 for each in communes), (min(communes), max(communes))
    assert sum(communes) / (sum(communes) + provincial) >= 0.75  # communes handle most dossiers


def test_the_provincial_centre_keeps_todays_profile() -> None:
    """Its agencies' events in the province run are those of the single-centre sample, but for the e-receipt
    numbers (counted over the whole run at emission)."""

    def without_receipt(event: dict[str, Any]) -> dict[str, Any]:
        if event["type"] == "paid":
            event = {**event, "data": {k: v for k, v in event["data"].items() if k != "receipt"}}
        return event

    _, events, _, _ = province_week()
    mine = {a.code for a in PROVINCE.agencies_of(PROVINCIAL)}
    assert mine == {a.code for a in SINGLE.agencies}
    provincial = [without_receipt(e) for e in events if e["agency"] in mine]
    assert provincial == [without_receipt(e) for e in week_of(SINGLE)[1]]


def test_commune_dossiers_are_small_and_short() -> None:
    same_day = short = total = 0
    fields: Counter[str] = Counter()
    for event in receipts_in_week():
        if event["agency"] in {a.code for a in PROVINCE.agencies_of(PROVINCIAL)}:
            continue
        procedure = PROVINCE.procedure(event["agency"], event["procedure"])
        assert procedure is not None
        total += 1
        fields[procedure.field] += 1
        same_day += procedure.unit == "same_day"
        work = processing_work(procedure, CALENDAR)
        short += procedure.unit == "same_day" or work <= 5 * CALENDAR.day_seconds
    assert 0.40 <= same_day / total <= 0.60  # measured ~46 %
    assert short / total >= 0.90  # measured ~93 %: same day to a few working days
    top = [name for name, _ in fields.most_common(2)]
    assert set(top) == {"Hộ tịch", "Chứng thực"}  # civil status and certification dominate


def test_commune_desks_do_not_transfer_to_another_centre() -> None:
    _, events, _, _ = province_week()
    for event in events:
        if event["type"] == "transferred":
            assert PROVINCE.centre_of(event["data"]["to_agency"]) == PROVINCE.centre_of(event["agency"])


# -- the commune centres that fall behind -----------------------------------------------------------------


def test_the_falling_behind_centres_have_a_clearly_worse_on_time_rate_and_pile_up_overdue() -> None:
    simulator, _, snapshot, _ = province_week()
    lagging = simulator.lagging
    assert len(lagging) == 4 and set(lagging) <= set(COMMUNES)
    others = [code for code in COMMUNES if code not in lagging]

    def on_time(codes: list[str] | tuple[str, ...]) -> float:
        good = sum(snapshot.centres[c].month_good for c in codes)
        return good / sum(snapshot.centres[c].month_resolved for c in codes)

    assert on_time(others) >= 0.97  # measured ~99 %
    assert on_time(lagging) <= 0.80  # measured 67-73 % (six seeds)
    assert max(on_time([c]) for c in lagging) < min(on_time([c]) for c in others) - 0.05
    overdue = {code: snapshot.centres[code].overdue for code in COMMUNES}
    assert min(overdue[c] for c in lagging) >= 8  # measured 10-55 (six seeds)
    assert sum(overdue[c] for c in others) / len(others) <= 2  # measured ~0.5


def test_the_falling_behind_centres_can_be_named() -> None:
    chosen = ("21211", "21172")
    simulator = Simulator(PROVINCE, CALENDAR, 2026, WEEK_START, WEEK_END,
                          profile=Profile(lagging_centres=chosen))
    assert simulator.lagging == chosen
    assert Simulator(PROVINCE, CALENDAR, 2026, WEEK_START, WEEK_END,
                     profile=Profile(lagging_count=0)).lagging == ()
    with pytest.raises(ValueError, match="not a commune centre"):
        Simulator(PROVINCE, CALENDAR, 2026, WEEK_START, WEEK_END,
                  profile=Profile(lagging_centres=(PROVINCIAL,)))


def test_a_single_centre_catalog_has_no_commune_model() -> None:
    simulator = Simulator(SINGLE, CALENDAR, 2026, WEEK_START, WEEK_END)
    assert simulator.lagging == () and simulator.centre_volumes == {}
    profile = Profile()
    assert simulator.volumes == {code: float(v) for code, v in profile.daily_volume.items()}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_any_seed_draws_a_few_commune_centres_and_sizes_in_the_band(seed: int) -> None:
    simulator = Simulator(PROVINCE, CALENDAR, seed, WEEK_START, WEEK_END)
    again = Simulator(PROVINCE, CALENDAR, seed, WEEK_START, WEEK_END)
    assert simulator.lagging == again.lagging and simulator.centre_volumes == again.centre_volumes
    assert len(set(simulator.lagging)) == 4 and set(simulator.lagging) <= set(COMMUNES)
    profile = simulator.profile
    low = profile.commune_daily_volume * profile.commune_size_range[0]
    high = profile.commune_daily_volume * profile.commune_size_range[1] * profile.ward_factor
    assert set(simulator.centre_volumes) == set(COMMUNES)
    assert all(low <= v <= high for v in simulator.centre_volumes.values())
    provincial = {a.code for a in PROVINCE.agencies_of(PROVINCIAL)}
    desks = {code: v for code, v in simulator.volumes.items() if code not in provincial}
    assert sum(desks.values()) == pytest.approx(sum(simulator.centre_volumes.values()))


# -- determinism ------------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_province_events_and_another_seed_does_not() -> None:
    start, end = datetime(2026, 3, 2, tzinfo=TZ), datetime(2026, 3, 3, tzinfo=TZ)
    generation = warmup_start(CALENDAR, start, 3)

    def run(seed: int) -> list[dict[str, Any]]:
        return list(Simulator(PROVINCE, CALENDAR, seed, generation, end, emit_from=start).events())

    first = run(2026)
    assert first == run(2026)
    assert first != run(7)


# -- the command ------------------------------------------------------------------------------------------


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, so that the command is invoked by name as under `ioc`."""

    register(app)
    return app


def simulate_cli(tmp_path: Path, name: str, *args: str) -> tuple[int, str, bytes]:
    out = tmp_path / name
    result = CliRunner().invoke(cli_app(), [
        "simulate", "--catalog", str(PROVINCE_FILE), "--start", "2026-03-02", "--days", "1",
        "--warmup-days", "2", "--out", str(out), *args])
    return result.exit_code, result.output, out.read_bytes() if out.exists() else b""


def test_ioc_simulate_runs_the_province_and_names_the_centres_that_fall_behind(tmp_path: Path) -> None:
    code, output, first = simulate_cli(tmp_path, "a.jsonl")
    assert code == 0, output
    drawn = Simulator(PROVINCE, CALENDAR, 2026, WEEK_START, WEEK_END).lagging
    assert f"commune centres falling behind (drawn from seed 2026): {drawn[0]} " in output
    assert "provincial: TTPVHCC_QNG" in output and "falling behind: " + drawn[-1] in output
    assert simulate_cli(tmp_path, "b.jsonl")[2] == first  # same seed, same bytes
    code, output, named = simulate_cli(tmp_path, "c.jsonl", "--lagging", "21211,21172")
    assert code == 0, output
    assert "(given by --lagging): 21211 " in output and named != first
    code, output, _ = simulate_cli(tmp_path, "d.jsonl", "--lagging", "none")
    assert code == 0 and "falling behind: none" in output
    code, output, _ = simulate_cli(tmp_path, "e.jsonl", "--lagging", "STP")
    assert code == 2 and "not a commune centre" in output
