"""The simulator on the province sample: it runs, every event is valid, every centre has dossiers.

The simulator is not yet a model of a province (issue 15, later): commune desks get the default volume of
a department. This only checks that it works on a province catalog rather than crashing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from dossiers.replay import Replay
from producers.simulator import Simulator

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PROVINCE = load_catalog(Path(__file__).resolve().parents[2] / "dossiers" / "data" / "province.yaml")


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
