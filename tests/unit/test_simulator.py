"""The centre simulator (producers/simulator.py) and `ioc simulate` without a broker.

What the wall and the alerts rely on: valid events in time order, reproducible runs, arrivals only
when the centre is open, the calibrated on-time and satisfaction rates, and the demo scenarios.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time as wall_time
from collections import Counter
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from dossiers.clock import BusinessClock
from dossiers.replay import Replay, replay_lines
from dossiers.validation import validate_event
from ioc.commands.simulate import register
from producers.pacing import run_simulation
from producers.simulator import (
    Backlog,
    ScenarioError,
    Silent,
    Simulator,
    parse_scenario,
    warmup_start,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CATALOG = load_catalog()
CALENDAR = WorkingCalendar(CATALOG.calendar)
KIND = {a.code: a.kind for a in CATALOG.agencies}
RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")
OPEN, CLOSE = 7 * 3600, 17 * 3600


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def simulate(start: datetime, end: datetime, seed: int = 2026, warmup: int = 0,
             **kwargs: Any) -> list[dict[str, Any]]:
    generation = warmup_start(CALENDAR, start, warmup)
    return list(Simulator(CATALOG, CALENDAR, seed, generation, end, emit_from=start, **kwargs).events())


def in_office_hours(moment: datetime) -> bool:
    """Inside 07:00-11:30 or 13:30-17:00 (the closing second included: a result at 17:00:00 counts)."""
    second = moment.hour * 3600 + moment.minute * 60 + moment.second
    return any(a <= second <= b for a, b in ((7 * 3600, 11 * 3600 + 1800), (13 * 3600 + 1800, 17 * 3600)))


@cache
def week() -> tuple[dict[str, Any], ...]:
    """Monday 2 - Sunday 8 March 2026, with two weeks of warm-up (shared by several tests)."""
    return tuple(simulate(at(2026, 3, 2), at(2026, 3, 9), warmup=10))


@cache
def month_report() -> dict[str, Any]:
    """March 2026 with 30 working days of warm-up, replayed at its last second (the month block = March)."""
    end = at(2026, 4, 1)
    simulator = Simulator(CATALOG, CALENDAR, 2026, warmup_start(CALENDAR, at(2026, 3, 2), 30), end,
                          emit_from=at(2026, 3, 2))
    lines = (json.dumps(e, ensure_ascii=False) for e in simulator.events())
    run = replay_lines(lines, CATALOG, CALENDAR, ts(end) - 1)
    assert not run.invalid
    snapshot = run.snapshot()
    good: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    for code, block in snapshot.agencies.items():
        good[KIND[code]] += block.month_good
        resolved[KIND[code]] += block.month_resolved
    return {"on_time": {kind: good[kind] / resolved[kind] for kind in resolved}, "resolved": resolved,
            "centre": snapshot.centre.as_dict(), "stats": simulator.stats,
            "problems": sum(1 for s in run.states.values() if s.problems())}


# -- determinism ------------------------------------------------------------------------------------------


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, so that the command is invoked by name as under `ioc`."""

    register(app)
    return app


def run_cli(tmp_path: Path, name: str, *args: str) -> bytes:
    out = tmp_path / name
    result = CliRunner().invoke(cli_app(), ["simulate", "--start", "2026-03-02", "--days", "2",
                                            "--warmup-days", "5", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_same_seed_gives_byte_identical_json_lines_and_another_seed_does_not(tmp_path: Path) -> None:
    first = run_cli(tmp_path, "a.jsonl")
    again = run_cli(tmp_path, "b.jsonl")
    other = run_cli(tmp_path, "c.jsonl", "--seed", "7")
    assert first == again
    assert first != other
    assert len(first.splitlines()) > 1000


def test_a_longer_run_extends_a_shorter_one() -> None:
    """Arrivals and plans do not depend on `end`: cutting later only adds events at the end."""
    short = simulate(at(2026, 3, 2), at(2026, 3, 4), warmup=3)
    longer = simulate(at(2026, 3, 2), at(2026, 3, 6), warmup=3)
    assert longer[:len(short)] == short and len(longer) > len(short)


def test_the_planner_time_arithmetic_is_the_calendars() -> None:
    simulator = Simulator(CATALOG, CALENDAR, 1, at(2026, 3, 2), at(2026, 3, 3))
    rng = random.Random(3)
    base = CALENDAR.to_work(ts(at(2025, 12, 1)))
    for i in range(20_000):
        work = base + rng.randrange(0, CALENDAR.day_seconds * 400)
        if i % 3 == 0:
            work -= work % CALENDAR.day_seconds  # day boundaries: the close of the previous working day
        if i % 7 == 0:
            work -= work % CALENDAR.day_seconds - 4 * 3600 - 1800  # the lunch break boundary
        assert simulator._from_work(work) == CALENDAR.from_work(work)


# -- the events themselves ---------------------------------------------------------------------------------


def test_every_event_is_valid_contract_v1_in_time_order_with_unique_ids() -> None:
    events = week()
    instants = []
    for raw in events:
        event = validate_event(raw, CATALOG)
        assert raw["schema"] == "dossier-event/1"
        assert RFC3339_SECONDS.match(raw["occurred_at"]), raw["occurred_at"]
        assert raw["event_id"].startswith(raw["dossier"] + "-")
        instants.append(event.occurred_at)
    assert instants == sorted(instants)
    assert len({e["event_id"] for e in events}) == len(events)
    assert set(Counter(e["type"] for e in events)) == {
        "received", "refused", "transferred", "supplement_requested", "supplement_received", "paused",
        "resumed", "extended", "resolved", "returned", "withdrawn", "rated", "paid"}


def test_dossier_codes_are_national_style_with_a_daily_sequence_per_agency() -> None:
    # dossiers received from the start on (earlier ones closed before the start are left out)
    codes = [e["dossier"] for e in week() if e["type"] == "received" and e["occurred_at"] >= "2026-03-02"]
    assert all(re.fullmatch(r"000\.00\.\d\d\.H48-\d{6}-\d{4}", code) for code in codes)
    per_prefix_day: dict[str, list[int]] = {}
    for code in codes:
        prefix, sequence = code.rsplit("-", 1)
        per_prefix_day.setdefault(prefix, []).append(int(sequence))
    for numbers in per_prefix_day.values():  # received in order: 1, 2, 3, ... each day
        assert numbers == list(range(1, len(numbers) + 1))


def test_replay_finds_no_problem_and_every_dossier_has_its_received() -> None:
    events = week()
    run = Replay(CATALOG, CALENDAR, ts(at(2026, 3, 9)))
    for raw in events:
        run.feed_raw(raw)
    assert not run.invalid
    assert not [s.dossier for s in run.states.values() if s.problems()]
    first_of: dict[str, str] = {}
    for raw in events:
        first_of.setdefault(raw["dossier"], raw["type"])
    assert set(first_of.values()) == {"received"}


def test_warm_up_leaves_open_dossiers_at_the_start_and_backfills_their_history() -> None:
    start = at(2026, 3, 2, 7)
    events = week()
    before = [e for e in events if e["occurred_at"] < start.isoformat()]
    assert before, "the backfill of dossiers still open at the start"
    run = Replay(CATALOG, CALENDAR, ts(start))
    for raw in before:
        run.feed_raw(raw)
    report = run.report()
    assert report["centre"]["open"]["total"] > 1000
    # dossiers entirely over before the start are left out: a backfilled one is open or has a later event
    later = {e["dossier"] for e in events if e["occurred_at"] >= start.isoformat()}
    for dossier, state in run.states.items():
        assert state.status.value == "open" or dossier in later


def test_arrivals_only_in_office_hours_on_working_days_tet_2026() -> None:
    events = simulate(at(2026, 2, 9), at(2026, 3, 2))
    received = [datetime.fromisoformat(e["occurred_at"]) for e in events if e["type"] == "received"]
    days = Counter(moment.date() for moment in received)
    assert all(CALENDAR.is_working_day(day) for day in days)
    for off in (16, 17, 18, 19, 20):  # Tết Bính Ngọ
        assert days[date(2026, 2, off)] == 0
    assert days[date(2026, 2, 13)] > 300 and days[date(2026, 2, 23)] > 300
    assert all(OPEN <= m.hour * 3600 + m.minute * 60 + m.second < CLOSE for m in received)
    assert all(in_office_hours(m) for m in received)
    resolved = [datetime.fromisoformat(e["occurred_at"]) for e in events if e["type"] == "resolved"]
    assert resolved and all(in_office_hours(m) and CALENDAR.is_working_day(m.date()) for m in resolved)


def test_a_make_up_saturday_gets_arrivals_and_the_days_off_for_it_none() -> None:
    events = simulate(at(2026, 8, 20), at(2026, 9, 4))
    days = Counter(datetime.fromisoformat(e["occurred_at"]).date() for e in events if e["type"] == "received")
    assert days[date(2026, 8, 22)] > 100  # Saturday worked in exchange for Monday 31 August
    assert days[date(2026, 8, 23)] == 0
    for off in (date(2026, 8, 31), date(2026, 9, 1), date(2026, 9, 2)):
        assert days[off] == 0


def test_morning_and_monday_peaks() -> None:
    received = [datetime.fromisoformat(e["occurred_at"]) for e in week()
                if e["type"] == "received" and e["occurred_at"] >= "2026-03-02"]
    hours = Counter(m.hour for m in received)
    assert hours[9] > 2 * hours[16] and hours[8] > hours[14]
    weekdays = Counter(m.weekday() for m in received)
    assert weekdays[0] > 1.15 * weekdays[2]


def test_channels_follow_each_procedure_and_phone_only_where_allowed() -> None:
    received = [e for e in week() if e["type"] == "received"]
    for raw in received:
        procedure = CATALOG.procedure(raw["agency"], raw["procedure"])
        assert procedure is not None and raw["channel"] in procedure.channels
    channels = Counter(e["channel"] for e in received)
    assert 0.40 <= channels["online"] / len(received) <= 0.60
    assert 0.01 <= channels["postal"] / len(received) <= 0.06
    phone = {(e["agency"], e["procedure"]) for e in received if e["channel"] == "phone"}
    allowed = {(a.code, p.code) for a in CATALOG.agencies for p in a.procedures if "phone" in p.channels}
    assert phone and phone <= allowed


def test_all_19_agencies_receive_dossiers_over_a_week_the_busiest_first() -> None:
    received = Counter(e["agency"] for e in week() if e["type"] == "received")
    assert set(received) == {a.code for a in CATALOG.agencies} and len(received) == 19
    busiest = {code for code, _ in received.most_common(3)}
    assert busiest == {"CNVPDKDD_TP", "CAT", "BHXH"}


def test_lifecycle_details_pauses_payments_ratings() -> None:
    events = week()
    paused = [e for e in events if e["type"] == "paused"]
    assert paused and all(e["agency"] == "CNVPDKDD_TP" and e["data"]["reason"] for e in paused)
    extended = [e for e in events if e["type"] == "extended"]
    assert extended and all(e["data"]["new_due_at"] > e["occurred_at"] for e in extended)
    paid = [e for e in events if e["type"] == "paid"]
    online = [e for e in paid if e["data"]["online"]]
    assert all(re.fullmatch(r"BL-2026-\d{6}", e["data"]["receipt"]) for e in online)
    assert len({e["data"]["receipt"] for e in online}) == len(online)
    assert not any("receipt" in e["data"] for e in paid if not e["data"]["online"])
    channel = {e["dossier"]: e["channel"] for e in events if e["type"] == "received"}
    share = {c: sum(channel[e["dossier"]] == c and e["data"]["online"] for e in paid)
             / max(1, sum(channel[e["dossier"]] == c for e in paid)) for c in ("online", "counter")}
    assert share["online"] > 0.8 > 0.3 > share["counter"]
    assert not any(e["agency"] == "BHXH" for e in paid)  # social insurance procedures are free


# -- calibration --------------------------------------------------------------------------------------------


def test_calibration_over_a_month_on_time_by_agency_kind_and_satisfaction() -> None:
    report = month_report()
    on_time = report["on_time"]
    assert report["resolved"]["department"] > 4000 and report["resolved"]["land"] > 2000
    assert 0.97 <= on_time["department"] <= 1.0
    assert 0.97 <= on_time["other"] <= 1.0
    assert 0.72 <= on_time["land"] <= 0.88
    centre = report["centre"]
    assert 0.99 <= centre["satisfaction_rate"] <= 1.0
    assert 0.30 <= centre["rated"] / report["stats"].by_type["returned"] <= 0.60
    by_type, received = report["stats"].by_type, report["stats"].by_type["received"]
    assert 0.005 <= by_type["refused"] / received <= 0.025
    assert 0.001 <= by_type["withdrawn"] / received <= 0.01
    assert 0.05 <= by_type["supplement_requested"] / received <= 0.10
    assert report["problems"] == 0


# -- scenarios ---------------------------------------------------------------------------------------------


def test_parse_scenario() -> None:
    day = date(2026, 3, 2)
    assert parse_scenario("silent:CAT@10:30", CATALOG, CALENDAR, day) == Silent(
        "CAT", ts(at(2026, 3, 2, 10, 30)))
    assert parse_scenario("backlog:SKHDT", CATALOG, CALENDAR, day) == Backlog("SKHDT")
    assert parse_scenario("silent:STP@2026-03-03T09:00:00+07:00", CATALOG, CALENDAR, day) == Silent(
        "STP", ts(at(2026, 3, 3, 9)))
    for bad in ("silent", "noisy:CAT", "silent:NOPE", "backlog:CAT@25:99", "silent:CAT@soon"):
        with pytest.raises(ScenarioError):
            parse_scenario(bad, CATALOG, CALENDAR, day)


def test_silent_agency_sends_nothing_from_the_given_time() -> None:
    cut = at(2026, 3, 3, 10, 30)
    events = simulate(at(2026, 3, 2), at(2026, 3, 6), warmup=5, scenarios=[Silent("CAT", ts(cut))])
    cat = [datetime.fromisoformat(e["occurred_at"]) for e in events if e["agency"] == "CAT"]
    assert cat and max(cat) < cut
    others = [datetime.fromisoformat(e["occurred_at"]) for e in events if e["agency"] == "BHXH"]
    assert max(others) > cut + timedelta(days=2)

    def without_cat(stream: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The other agencies' events, e-receipt numbers aside (they are counted centre-wide)."""
        kept = []
        for raw in stream:
            if raw["agency"] != "CAT":
                data = {k: v for k, v in raw.get("data", {}).items() if k != "receipt"}
                kept.append({**raw, "data": data})
        return kept

    assert without_cat(events) == without_cat(simulate(at(2026, 3, 2), at(2026, 3, 6), warmup=5))


def test_backlog_agency_ends_with_many_more_overdue_dossiers() -> None:
    start, end = at(2026, 3, 2, 7), at(2026, 3, 14)

    def overdue(*scenarios: Backlog) -> int:
        run = Replay(CATALOG, CALENDAR, ts(end))
        for raw in simulate(start, end, warmup=10, scenarios=list(scenarios)):
            run.feed_raw(raw)
        return int(run.report()["agencies"]["SKHDT"]["open"]["overdue"])

    baseline, backlog = overdue(), overdue(Backlog("SKHDT"))
    assert backlog >= max(20, 5 * baseline), (baseline, backlog)


# -- run_simulation ------------------------------------------------------------------------------------------


def test_run_simulation_paces_on_the_business_clock() -> None:
    # 07:00-07:06 at 1,200 business seconds per wall second: about 0.3 s of wall time
    simulator = Simulator(CATALOG, CALENDAR, 1, at(2026, 3, 2, 7), at(2026, 3, 2, 7, 6))
    sent: list[dict[str, Any]] = []
    started = wall_time.monotonic()
    summary = run_simulation(simulator, sent.append, speed=1200)
    elapsed = wall_time.monotonic() - started
    assert summary.events == len(sent) > 10 and not summary.stopped
    assert 0.15 <= elapsed <= 3.0
    assert summary.by_type["received"] == summary.dossiers


def test_run_simulation_stops_on_the_event_and_sends_to_an_object_with_send() -> None:
    class Sink:
        def __init__(self) -> None:
            self.events: list[dict[str, Any]] = []

        def send(self, event: dict[str, Any]) -> None:
            self.events.append(event)
            if len(self.events) == 50:
                stop.set()

    stop = threading.Event()
    sink = Sink()
    summary = run_simulation(Simulator(CATALOG, CALENDAR, 1, at(2026, 3, 2), at(2026, 3, 3)), sink, stop=stop)
    assert summary.stopped and summary.events == len(sink.events) == 50


def test_run_simulation_in_a_thread_waits_and_stops_promptly() -> None:
    # real speed, business time one minute before the first arrival: the stop must end the wait at once
    simulator = Simulator(CATALOG, CALENDAR, 1, at(2026, 3, 2, 7), at(2026, 3, 2, 8))
    clock = BusinessClock(origin=ts(at(2026, 3, 2, 6, 59)), wall_origin=wall_time.time(), speed=1.0)
    stop = threading.Event()
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(run_simulation(simulator, lambda e: None,
                                                                          clock=clock, stop=stop)))
    thread.start()
    wall_time.sleep(0.2)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and result[0].events == 0 and result[0].stopped


def test_cli_reports_a_bad_scenario(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app(), ["simulate", "--start", "2026-03-02", "--scenario", "silent:NOPE",
                                            "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2 and "NOPE" in result.output
