"""The periodic report form II.06a (dossiers/report_ii06a.py): every column and rule on hand-built dossiers.

Period 2026-04 by the cut-off convention: Sun 15 Mar - Tue 14 Apr 2026 (no public holiday in it). Justice
(STP) procedure 2.000488 takes 10 working days under the sample catalog's `day` rule: received Mon 16 Mar
09:00, due Mon 30 Mar (17, 18, 19, 20, 23, 24, 25, 26, 27, 30 March).
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

import pytest
from strategies import CATALOG, at, event

from dossiers.calendar import WorkingCalendar
from dossiers.periods import parse_period, period_between
from dossiers.replay import Replay
from dossiers.report_ii06a import FORM_COLUMNS, Grouping, Report, Window, build_report, field_key

CALENDAR = WorkingCalendar(CATALOG.calendar)
APRIL = parse_period("2026-04")
P = {"procedure": "2.000488"}


def ev(type_: str, dossier: str, when: datetime, n: int = 0, **fields: Any) -> dict[str, Any]:
    return event(type_, when, dossier=dossier, event_id=f"{dossier}-{type_}-{n}", **fields)


def rec(dossier: str, when: datetime, channel: str = "counter", **fields: Any) -> dict[str, Any]:
    return ev("received", dossier, when, channel=channel, **{**P, **fields})


SCENARIO: dict[str, list[dict[str, Any]]] = {
    # received in the period: (4) online or (5) counter/postal
    "A early": [rec("A", at(2026, 3, 16, 9), "online"), ev("resolved", "A", at(2026, 3, 25, 10))],
    "B on the due date": [rec("B", at(2026, 3, 16, 9)), ev("resolved", "B", at(2026, 3, 30, 16))],
    "C late": [rec("C", at(2026, 3, 16, 9), "postal"), ev("resolved", "C", at(2026, 4, 1, 9))],
    # carried over (6): received 2 Mar (due Mon 16 Mar), not finished before 15 Mar
    "D open, overdue": [rec("D", at(2026, 3, 2, 9))],
    "E finished in the period": [rec("E", at(2026, 3, 10, 9), "online"),
                                 ev("resolved", "E", at(2026, 3, 19, 9))],
    "F finished before": [rec("F", at(2026, 3, 2, 9)), ev("resolved", "F", at(2026, 3, 13, 9))],
    # withdrawals count as finished, by their date
    "G withdrawn early": [rec("G", at(2026, 3, 17, 9)), ev("withdrawn", "G", at(2026, 3, 20, 10))],
    "G2 withdrawn late": [rec("G2", at(2026, 3, 2, 9)), ev("withdrawn", "G2", at(2026, 3, 18, 9))],
    # refused at the counter: outside the form; the one before the period nowhere
    "H refused": [ev("refused", "H", at(2026, 3, 18, 9), **P)],
    "H2 refused before": [ev("refused", "H2", at(2026, 3, 10, 9), **P)],
    # open at the end: awaiting a supplement (within, paused), within, and one whose result comes later
    "I supplement": [rec("I", at(2026, 4, 6, 9), "online"),
                     ev("supplement_requested", "I", at(2026, 4, 7, 9))],
    "J within": [rec("J", at(2026, 4, 13, 9))],
    "K result after the period": [rec("K", at(2026, 4, 13, 9), "online"),
                                  ev("resolved", "K", at(2026, 4, 15, 9))],
    "K2 received after the period": [rec("K2", at(2026, 4, 15, 0, 0, 0))],
    # refused a day after its receipt: received, so in the form, finished by its date; refused on the day of
    # its receipt (the submission logged, then turned away): at the counter, outside the form
    "L refused after receipt": [rec("L", at(2026, 3, 16, 9)), ev("refused", "L", at(2026, 3, 17, 9))],
    "L2 refused on the receipt day": [rec("L2", at(2026, 3, 16, 9)),
                                      ev("refused", "L2", at(2026, 3, 16, 9, 20))],
}
ALL = [e for events in SCENARIO.values() for e in events]


def report(events: list[dict[str, Any]], period: Any = APRIL, as_of: int | None = None,
           by: Grouping = Grouping.AGENCY) -> Report:
    window = Window.of(period, CALENDAR, as_of)
    run = Replay(CATALOG, CALENDAR, window.end)
    for raw in events:
        assert run.feed_raw(raw) is not None, raw
    return build_report(run.states.values(), CATALOG, CALENDAR, period, window, by)


def row(rep: Report, key: str) -> dict[str, int]:
    return next(r.counts.as_dict() for r in rep.rows if r.key == key)


def figures(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


@pytest.mark.parametrize(("name", "expected"), [
    ("A early", {"c3": 1, "c4": 1, "c7": 1, "c8": 1}),
    ("B on the due date", {"c3": 1, "c5": 1, "c7": 1, "c9": 1}),
    ("C late", {"c3": 1, "c5": 1, "c7": 1, "c10": 1}),
    ("D open, overdue", {"c3": 1, "c6": 1, "c11": 1, "c13": 1}),
    ("E finished in the period", {"c3": 1, "c6": 1, "c7": 1, "c8": 1}),
    ("F finished before", {}),
    ("G withdrawn early", {"c3": 1, "c5": 1, "c7": 1, "c8": 1, "withdrawn": 1}),
    ("G2 withdrawn late", {"c3": 1, "c6": 1, "c7": 1, "c10": 1, "withdrawn": 1}),
    ("H refused", {"refused_at_counter": 1}),
    ("H2 refused before", {}),
    ("I supplement", {"c3": 1, "c4": 1, "c11": 1, "c12": 1, "paused": 1}),
    ("J within", {"c3": 1, "c5": 1, "c11": 1, "c12": 1}),
    ("K result after the period", {"c3": 1, "c4": 1, "c11": 1, "c12": 1}),
    ("K2 received after the period", {}),
    ("L refused after receipt", {"c3": 1, "c5": 1, "c7": 1, "c8": 1}),
    ("L2 refused on the receipt day", {"refused_at_counter": 1}),
])
def test_each_dossier_lands_in_its_columns(name: str, expected: dict[str, int]) -> None:
    rep = report(SCENARIO[name])
    assert figures(row(rep, "STP")) == expected
    assert figures(rep.total.as_dict()) == expected


def test_the_whole_scenario_adds_up() -> None:
    stp = row(report(ALL), "STP")
    assert figures(stp) == {"c3": 11, "c4": 3, "c5": 5, "c6": 3, "c7": 7, "c8": 4, "c9": 1, "c10": 2,
                            "c11": 4, "c12": 3, "c13": 1, "refused_at_counter": 2, "withdrawn": 2,
                            "paused": 1}


def test_every_agency_of_the_catalog_has_a_row_and_the_total_is_their_sum() -> None:
    rep = report(ALL)
    assert [r.key for r in rep.rows] == [a.code for a in CATALOG.agencies]
    assert rep.rows[0].label == CATALOG.agencies[0].name
    assert figures(row(rep, "SYT")) == {}
    assert rep.total.as_dict() == row(rep, "STP")


def test_any_order_and_duplicates_give_the_same_report() -> None:
    expected = report(ALL).as_dict()
    rng = random.Random(16)
    for _ in range(5):
        shuffled = ALL + rng.sample(ALL, 8)  # some lines twice
        rng.shuffle(shuffled)
        assert report(shuffled).as_dict() == expected


def test_a_running_period_is_classified_at_its_as_of_instant() -> None:
    """As of Fri 20 Mar 12:00: later events have not happened; D is overdue, C open and within."""
    rep = report(ALL, as_of=int(at(2026, 3, 20, 12).timestamp()))
    assert figures(row(rep, "STP")) == {
        # new: A, B, C, G, L (I, J, K not yet received); carried: D, E, G2
        "c3": 8, "c4": 1, "c5": 4, "c6": 3,
        "c7": 4, "c8": 3, "c10": 1,  # E, G, L early; G2 late
        "c11": 4, "c12": 3, "c13": 1,  # A, B, C within; D overdue
        "refused_at_counter": 2, "withdrawn": 2,
    }


def test_a_result_on_the_last_second_is_in_the_period_and_one_a_second_later_is_not() -> None:
    inside = [rec("Z", at(2026, 4, 1, 9)), ev("resolved", "Z", at(2026, 4, 14, 23, 59, 59))]
    outside = [rec("Z", at(2026, 4, 1, 9)), ev("resolved", "Z", at(2026, 4, 15))]
    assert figures(row(report(inside), "STP"))["c7"] == 1
    assert figures(row(report(outside), "STP"))["c11"] == 1
    fraction = [rec("Z", at(2026, 4, 1, 9)),
                {**ev("resolved", "Z", at(2026, 4, 1)), "occurred_at": "2026-04-14T23:59:59.600+07:00"}]
    assert figures(row(report(fraction), "STP"))["c7"] == 1


def test_open_dossier_due_on_the_last_day_is_overdue_after_closing() -> None:
    """Due Tue 14 Apr (received Tue 31 Mar 09:00): the clock at 23:59:59 says overdue (after 17:00)."""
    rep = report([rec("Y", at(2026, 3, 31, 9))])
    assert figures(row(rep, "STP")) == {"c3": 1, "c5": 1, "c11": 1, "c13": 1}


def test_by_field_uses_the_procedures_field_in_the_catalog() -> None:
    extra = [ev("received", "M", at(2026, 3, 17, 9), procedure="1.004884", channel="counter"),
             ev("resolved", "M", at(2026, 3, 17, 15)),
             ev("refused", "N", at(2026, 3, 17, 9))]  # a refusal naming no procedure
    rep = report(ALL + extra, by=Grouping.FIELD)
    fields_in_catalog = list(dict.fromkeys(p.field for a in CATALOG.agencies for p in a.procedures))
    assert [r.label for r in rep.rows][: len(fields_in_catalog)] == fields_in_catalog
    assert figures(row(rep, "ly-lich-tu-phap"))["c3"] == 11
    assert figures(row(rep, "ho-tich")) == {"c3": 1, "c5": 1, "c7": 1, "c8": 1}
    assert figures(row(rep, "chua-xac-dinh-linh-vuc")) == {"refused_at_counter": 1}
    assert figures(row(rep, "ly-lich-tu-phap"))["refused_at_counter"] == 2
    by_agency = report(ALL + extra)
    assert rep.total == by_agency.total


def test_field_keys_are_ascii() -> None:
    assert field_key("Lý lịch tư pháp") == "ly-lich-tu-phap"
    assert field_key("Đất đai") == "dat-dai"
    assert field_key("Thi đua, khen thưởng") == "thi-dua-khen-thuong"


def test_json_document_shape() -> None:
    doc = report(ALL).as_dict()
    assert doc["form"] == "II.06a"
    assert doc["period"] == {"from": "2026-03-15", "to": "2026-04-14"}
    first = doc["rows"][0]
    assert list(first)[:2] == ["key", "label"]
    assert set(FORM_COLUMNS) | {"refused_at_counter"} <= set(first)
    assert set(doc["total"]) >= set(FORM_COLUMNS) | {"refused_at_counter"}
    json.dumps(doc)


def test_explicit_period() -> None:
    one_day = period_between(at(2026, 3, 16).date(), at(2026, 3, 16).date())
    stp = figures(row(report(ALL, period=one_day), "STP"))
    # received Mon 16 Mar: A (online), B, C, L; carried: D, E, G2 (received 2 and 10 Mar, open on the 16th)
    assert stp == {"c3": 7, "c4": 1, "c5": 3, "c6": 3, "c11": 7, "c12": 5, "c13": 2, "refused_at_counter": 1}
