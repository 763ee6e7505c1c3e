"""The Decision 766 index (dossiers/index766.py): every measured item on hand-built dossiers.

Period 2026-04 by the cut-off convention: Sun 15 Mar - Tue 14 Apr 2026, no public holiday in it. Procedures
take 10 working days under the `day` rule: received Mon 16 Mar 09:00, due Mon 30 Mar. Office hours are
07:00-11:30 and 13:30-17:00, so a working day is 8 hours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from strategies import at, event

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import parse_catalog
from dossiers.index766 import (
    COVERED,
    GROUPS,
    ITEM,
    NOT_MEASURED,
    TALLY_FIELDS,
    Index766,
    Item,
    Tally,
    build_index,
    sync_health,
)
from dossiers.periods import parse_period
from dossiers.replay import Replay
from dossiers.report_ii06a import Window

CATALOG = parse_catalog("""
centre: {code: TT, name: Trung tâm thử}
agencies:
  - code: STP
    name: Sở Tư pháp
    procedures:
      - {code: P10, name: Cấp phiếu, field: Hộ tịch, processing: 10, has_fee: true,
         requires_written_result: true}
      - {code: FREE, name: Xác nhận, field: Hộ tịch, processing: 10}
  - code: SYT
    name: Sở Y tế
    procedures:
      - {code: P10, name: Cấp phép, field: Y tế, processing: 10, has_fee: true}
""")
CAL = WorkingCalendar(CATALOG.calendar)
APRIL = parse_period("2026-04")


def ev(type_: str, dossier: str, when: datetime, n: int = 0, agency: str = "STP",
       **fields: Any) -> dict[str, Any]:
    return event(type_, when, dossier=dossier, agency=agency, event_id=f"{dossier}-{type_}-{n}", **fields)


def rec(dossier: str, when: datetime, channel: str = "counter", procedure: str = "P10",
        agency: str = "STP", digitised: bool | None = None) -> dict[str, Any]:
    data = None if digitised is None else {"digitised": digitised}
    return ev("received", dossier, when, agency=agency, channel=channel, procedure=procedure, data=data)


def result(dossier: str, when: datetime, e_result: bool = False, agency: str = "STP") -> dict[str, Any]:
    return ev("resolved", dossier, when, agency=agency, data={"e_result": e_result})


SCENARIO: dict[str, list[dict[str, Any]]] = {
    "A early, online, synced, digitised, paid online, e-result": [
        rec("A", at(2026, 3, 16, 9), "online", digitised=True), ev("synced", "A", at(2026, 3, 16, 10)),
        ev("paid", "A", at(2026, 3, 16, 11), data={"online": True, "receipt": "BL-1"}),
        result("A", at(2026, 3, 25, 10), e_result=True)],
    "B late, paper result, rated unsatisfied": [
        rec("B", at(2026, 3, 16, 9)), ev("paid", "B", at(2026, 3, 16, 11), data={"online": False}),
        result("B", at(2026, 4, 1, 9)), ev("rated", "B", at(2026, 4, 2, 9), data={"rating": "unsatisfied"})],
    "C second supplement request: late although finished early": [
        rec("C", at(2026, 3, 16, 9)),
        ev("supplement_requested", "C", at(2026, 3, 17, 9), 1),
        ev("supplement_received", "C", at(2026, 3, 18, 9), 1),
        ev("supplement_requested", "C", at(2026, 3, 19, 9), 2),
        ev("supplement_received", "C", at(2026, 3, 20, 9), 2),
        result("C", at(2026, 3, 24, 9))],
    "D awaiting a supplement asked in time, fee-free, online, digitised": [
        rec("D", at(2026, 4, 6, 9), "online", "FREE", digitised=True), ev("synced", "D", at(2026, 4, 8, 9)),
        ev("supplement_requested", "D", at(2026, 4, 7, 9))],
    "E carried over, awaiting a supplement asked after its due date (16 Mar)": [
        rec("E", at(2026, 3, 2, 9)), ev("supplement_requested", "E", at(2026, 3, 18, 9))],
    "F within, complained, digitised but its written result not yet out": [
        rec("F", at(2026, 4, 13, 9), digitised=True), ev("complained", "F", at(2026, 4, 14, 9)),
        ev("complained", "F", at(2026, 4, 14, 10), 2)],
    "G refused at the counter: nowhere": [ev("refused", "G", at(2026, 3, 18, 9), procedure="P10")],
    "H finished before the period: nowhere": [
        rec("H0", at(2026, 3, 2, 9)), result("H0", at(2026, 3, 6, 9))],
    "S SYT: online, e-result (not required), paid at the counter, never synced": [
        rec("S", at(2026, 3, 16, 9), "online", agency="SYT"), result("S", at(2026, 3, 20, 9), agency="SYT"),
        ev("paid", "S", at(2026, 3, 17, 9), agency="SYT", data={"online": False})],
    "T SYT: received, synced only after the period's end": [
        rec("T", at(2026, 4, 10, 9), agency="SYT"), ev("synced", "T", at(2026, 4, 15, 9), agency="SYT")],
}
ALL = [e for events in SCENARIO.values() for e in events]


def index(events: list[dict[str, Any]], period: Any = APRIL) -> Index766:
    window = Window.of(period, CAL)
    run = Replay(CATALOG, CAL, window.end)
    for raw in events:
        assert run.feed_raw(raw) is not None, raw
    return build_index(run.states.values(), CATALOG, CAL, period, window)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return index(ALL).as_dict()


def item(doc: dict[str, Any], code: str, row: str = "STP") -> dict[str, Any]:
    found = doc["centre"] if row == "centre" else next(a for a in doc["agencies"] if a["key"] == row)
    indicators: dict[str, dict[str, Any]] = found["indicators"]
    return indicators[code]


def test_1_4_synced_share_of_dossiers_received_in_the_period(doc: dict[str, Any]) -> None:
    # received in the period: A B C D F (E carried over); synced by the end: A D
    got = item(doc, "1.4")
    assert (got["numerator"], got["denominator"], got["rate"]) == (2, 5, 0.4)
    assert (got["points"], got["max"]) == (2.4, 6)
    syt = item(doc, "1.4", "SYT")  # S never synced, T synced after the end
    assert (syt["numerator"], syt["denominator"], syt["points"]) == (0, 2, 0)


def test_2_1_on_time_with_the_supplement_rules(doc: dict[str, Any]) -> None:
    # column (3): A B C D E F; on time: A (early), D (awaiting, asked in time), F (within)
    got = item(doc, "2.1")
    assert (got["numerator"], got["denominator"], got["rate"], got["points"]) == (3, 6, 0.5, 10.0)
    assert got["second_supplement"] == 1  # C
    assert got["awaiting_supplement"] == 2  # D in time, E late
    assert got["threshold"] is None  # rate x 20: the guide gives no conversion


def test_2_1_one_supplement_request_finished_early_is_on_time() -> None:
    once = [rec("C", at(2026, 3, 16, 9)), ev("supplement_requested", "C", at(2026, 3, 17, 9)),
            ev("supplement_received", "C", at(2026, 3, 18, 9)), result("C", at(2026, 3, 24, 9))]
    got = item(index(once).as_dict(), "2.1")
    assert (got["numerator"], got["denominator"], got["second_supplement"]) == (1, 1, 0)


def test_2_1_a_re_sent_request_before_any_answer_is_one_request() -> None:
    resent = [rec("C", at(2026, 3, 16, 9)), ev("supplement_requested", "C", at(2026, 3, 17, 9), 1),
              ev("supplement_requested", "C", at(2026, 3, 17, 10), 2), result("C", at(2026, 3, 24, 9))]
    got = item(index(resent).as_dict(), "2.1")
    assert (got["numerator"], got["second_supplement"]) == (1, 0)


def test_2_2_average_working_days_without_supplement_time(doc: dict[str, Any]) -> None:
    # A: Mon 16 Mar 09:00 to Wed 25 Mar 10:00 = 7 days + 1 hour = 7.125; B: to Wed 1 Apr 09:00 = 12;
    # C: to Tue 24 Mar 09:00 = 6, less two supplement waits of one day each = 4
    got = item(doc, "2.2")
    assert (got["numerator"], got["denominator"]) == (23.125, 3)
    assert got["rate"] == round(23.125 / 3, 4)
    assert (got["points"], got["max"]) == (None, None)


def test_3_3_online_share_times_the_sync_rate(doc: dict[str, Any]) -> None:
    # online: A (written result, electronic) and D (no written result needed); 2/5 x 1.4's 0.4 = 0.16;
    # threshold 50%: 0.16 x 12 / 0.5 = 3.84
    got = item(doc, "3.3")
    assert (got["numerator"], got["denominator"], got["sync_rate"]) == (2, 5, 0.4)
    assert (got["rate"], got["points"], got["threshold"], got["max_assumed"]) == (0.16, 3.84, 0.5, True)
    assert item(doc, "3.3", "SYT")["rate"] == 0  # online, but nothing synced


def test_3_3_an_online_dossier_with_a_paper_result_is_not_online() -> None:
    paper = [rec("A", at(2026, 3, 16, 9), "online"), ev("synced", "A", at(2026, 3, 16, 10)),
             result("A", at(2026, 3, 20, 9), e_result=False)]
    assert item(index(paper).as_dict(), "3.3")["numerator"] == 0


def test_3_3_full_points_at_the_threshold() -> None:
    half = [rec("A", at(2026, 3, 16, 9), "online", "FREE"), ev("synced", "A", at(2026, 3, 16, 10)),
            rec("B", at(2026, 3, 16, 9), "counter", "FREE"), ev("synced", "B", at(2026, 3, 16, 10))]
    got = item(index(half).as_dict(), "3.3")
    assert (got["rate"], got["points"]) == (0.5, 12)


def test_3_6_fee_free_procedures_leave_the_denominator(doc: dict[str, Any]) -> None:
    # fee-bearing and received in the period: A B C F (D is FREE); paid online: A
    got = item(doc, "3.6")
    assert (got["numerator"], got["denominator"], got["rate"], got["points"]) == (1, 4, 0.25, 2.5)
    only_free = [rec("D", at(2026, 4, 6, 9), "online", "FREE"),
                 ev("paid", "D", at(2026, 4, 6, 10), data={"online": True, "receipt": "BL-9"})]
    none = item(index(only_free).as_dict(), "3.6")
    assert (none["denominator"], none["rate"], none["points"]) == (0, None, None)  # N/A, not 0


def test_4_1_electronic_results_of_written_result_procedures(doc: dict[str, Any]) -> None:
    # resolved in the period, written result wanted: A (electronic), B, C
    got = item(doc, "4.1")
    assert (got["numerator"], got["denominator"], got["points"]) == (1, 3, 2.0)
    assert item(doc, "4.1", "SYT")["rate"] is None  # SYT's procedure wants no written result


def test_4_2_digitised_and_an_e_result_where_one_is_required(doc: dict[str, Any]) -> None:
    # digitised A (with its e-result) and D (no written result); F is digitised but waits for its result
    got = item(doc, "4.2")
    assert (got["numerator"], got["denominator"], got["rate"], got["points"]) == (2, 5, 0.4, 2.0)


def test_5_4_satisfaction_less_overdue_and_complaints(doc: dict[str, Any]) -> None:
    # overdue by 2.1: B C E; complaint or dislike: B (rated unsatisfied), F (two complaints, one dossier)
    got = item(doc, "5.4")
    assert (got["overdue"], got["complaint_or_dislike"]) == (3, 2)
    assert (got["numerator"], got["denominator"]) == (1, 6)
    assert got["points"] == round(1 / 6 * 6 / 0.9, 4)


def test_5_4_never_below_zero() -> None:
    bad = [rec("B", at(2026, 3, 2, 9)), ev("complained", "B", at(2026, 3, 20, 9))]  # overdue and complained
    got = item(index(bad).as_dict(), "5.4")
    assert (got["rate"], got["points"]) == (0, 0)


def test_the_centre_sums_counts_not_rates(doc: dict[str, Any]) -> None:
    got = item(doc, "1.4", "centre")
    assert (got["numerator"], got["denominator"]) == (2, 7)
    assert item(doc, "2.1", "centre")["denominator"] == 8


def test_total_says_what_it_covers_and_leaves_n_a_out(doc: dict[str, Any]) -> None:
    assert sum(GROUPS.values()) == 100
    assert doc["covers"] == {"points": COVERED, "of": 100}
    assert COVERED == 64
    assert COVERED + sum(p or 0 for _, p, _ in NOT_MEASURED) == 100
    syt = next(a for a in doc["agencies"] if a["key"] == "SYT")
    assert syt["total"]["max"] == COVERED - 6  # 4.1 is N/A for SYT
    stp = next(a for a in doc["agencies"] if a["key"] == "STP")
    expected = 2.4 + 10 + 3.84 + 2.5 + 2 + 2 + 1 / 6 * 6 / 0.9
    assert stp["total"]["points"] == pytest.approx(expected, abs=1e-3)
    assert stp["total"]["lost"] == pytest.approx(COVERED - expected, abs=1e-3)


@pytest.mark.parametrize(("rate", "points"), [(0.0, 0.0), (0.4, 5.0), (0.8, 10.0), (0.95, 10.0), (1.0, 10.0)])
def test_points_full_at_the_threshold_else_proportional(rate: float, points: float) -> None:
    assert Item("x", "digital", 10, threshold=0.8).points(rate) == pytest.approx(points)
    assert ITEM["2.1"].points(0.5) == 10


def test_sync_health_delays_from_receipt_to_the_first_sync(doc: dict[str, Any]) -> None:
    # STP: A synced 1 hour after receipt, D 48 hours after; SYT: nothing synced in the period
    stp = next(a for a in doc["agencies"] if a["key"] == "STP")["sync_health"]
    assert stp == {"received": 5, "synced": 2, "delay_median_hours": 24.5, "delay_p95_hours": 48.0,
                   "synced_within_hours": {"1": 1, "4": 1, "24": 1, "72": 2}}
    syt = next(a for a in doc["agencies"] if a["key"] == "SYT")["sync_health"]
    assert syt == {"received": 2, "synced": 0, "delay_median_hours": None, "delay_p95_hours": None,
                   "synced_within_hours": {"1": 0, "4": 0, "24": 0, "72": 0}}
    assert doc["centre"]["sync_health"]["synced"] == 2


def test_sync_health_p95_is_the_nearest_rank() -> None:
    hours = [h * 3600 for h in range(1, 21)]  # 1..20 hours: the 19th of 20 is the 95th percentile
    assert sync_health(hours, 25) == {"received": 25, "synced": 20, "delay_median_hours": 10.5,
                                      "delay_p95_hours": 19.0,
                                      "synced_within_hours": {"1": 1, "4": 4, "24": 20, "72": 20}}


def test_the_three_items_losing_most(doc: dict[str, Any]) -> None:
    # STP loses 2.1: 10, 3.3: 8.16, 3.6: 7.5, 5.4: 4.89, 1.4: 3.6, 4.1: 4, 4.2: 2
    assert next(a for a in doc["agencies"] if a["key"] == "STP")["losing_most"] == ["2.1", "3.3", "3.6"]
    perfect = [rec("A", at(2026, 3, 16, 9), "online", "FREE", digitised=True),
               ev("synced", "A", at(2026, 3, 16, 10)), result("A", at(2026, 3, 20, 9))]
    assert index(perfect).as_dict()["centre"]["losing_most"] == []


def test_a_tally_is_built_from_its_fields_by_name_with_zero_defaults() -> None:
    """`Tally.__init__` is written out (mypyc compiles it; the generated one runs interpreted): it takes
    exactly the dataclass's fields, by name, each 0 by default."""
    empty = Tally()
    assert all(getattr(empty, name) == 0 for name in TALLY_FIELDS)
    for i, name in enumerate(TALLY_FIELDS):
        one = Tally(**{name: i + 1})
        assert one.as_dict() == {other: (i + 1 if other == name else 0) for other in TALLY_FIELDS}
    with pytest.raises(TypeError):
        Tally(**{"not_a_field": 1})
