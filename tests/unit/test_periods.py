"""Reporting periods: the 15th-to-14th cut-off convention (Decree 09/2019/NĐ-CP Art. 12) and calendar ones."""

from __future__ import annotations

import itertools
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from dossiers.periods import Period, PeriodError, month_of, parse_period, period_between, relative_period

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.mark.parametrize(("text", "first", "last"), [
    ("2026-04", date(2026, 3, 15), date(2026, 4, 14)),
    ("2026-01", date(2025, 12, 15), date(2026, 1, 14)),
    ("2026-12", date(2026, 11, 15), date(2026, 12, 14)),
    ("2026-Q1", date(2025, 12, 15), date(2026, 3, 14)),
    ("2026-Q2", date(2026, 3, 15), date(2026, 6, 14)),
    ("2026-q4", date(2026, 9, 15), date(2026, 12, 14)),
    ("2026-H1", date(2025, 12, 15), date(2026, 6, 14)),
    ("2026-H2", date(2026, 6, 15), date(2026, 12, 14)),
    ("2026-9M", date(2025, 12, 15), date(2026, 9, 14)),
    ("2026", date(2025, 12, 15), date(2026, 12, 14)),
])
def test_cut_off_convention(text: str, first: date, last: date) -> None:
    period = parse_period(text)
    assert (period.first, period.last) == (first, last)


@pytest.mark.parametrize(("text", "first", "last"), [
    ("2026-04", date(2026, 4, 1), date(2026, 4, 30)),
    ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
    ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
    ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
    ("2026-H1", date(2026, 1, 1), date(2026, 6, 30)),
    ("2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
    ("2026-9M", date(2026, 1, 1), date(2026, 9, 30)),
    ("2026", date(2026, 1, 1), date(2026, 12, 31)),
])
def test_calendar_periods(text: str, first: date, last: date) -> None:
    period = parse_period(text, calendar=True)
    assert (period.first, period.last) == (first, last)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-Q5", "2026-H3", "26-04", "2026/04", "",
                                  "april"])
def test_bad_periods_say_what_is_expected(text: str) -> None:
    with pytest.raises(PeriodError, match=r"expected|not 1-12|out of range"):
        parse_period(text)


def test_explicit_dates_and_order() -> None:
    assert period_between(date(2026, 3, 1), date(2026, 3, 1)).last == date(2026, 3, 1)
    with pytest.raises(PeriodError, match="before it starts"):
        period_between(date(2026, 3, 2), date(2026, 3, 1))


def test_instants_are_local_midnight_and_the_last_second() -> None:
    period = parse_period("2026-04")
    assert period.start(TZ) == 1773507600  # 2026-03-15T00:00:00+07:00
    assert period.last_instant(TZ) == 1776186000 - 1  # 2026-04-15T00:00:00+07:00 minus one second


@pytest.mark.parametrize("calendar", [False, True])
def test_months_tile_the_year(calendar: bool) -> None:
    year = parse_period("2026", calendar=calendar)
    months = year.months()
    assert len(months) == 12
    assert months[0].first == year.first and months[-1].last == year.last
    for before, after in itertools.pairwise(months):
        assert (after.first - before.last).days == 1
    assert [(m.first, m.last) for m in months] == [
        (parse_period(f"2026-{n:02d}", calendar).first, parse_period(f"2026-{n:02d}", calendar).last)
        for n in range(1, 13)
    ]
    assert Period(year.first, year.last) == Period(year.first, year.last)


@pytest.mark.parametrize(("today", "calendar", "current", "previous"), [
    (date(2026, 4, 14), False, "2026-04", "2026-03"),
    (date(2026, 4, 15), False, "2026-05", "2026-04"),  # the day after the cut-off: April is closed
    (date(2026, 12, 20), False, "2027-01", "2026-12"),
    (date(2026, 1, 3), False, "2026-01", "2025-12"),
    (date(2026, 4, 15), True, "2026-04", "2026-03"),
    (date(2026, 1, 31), True, "2026-01", "2025-12"),
])
def test_current_and_previous_months(today: date, calendar: bool, current: str, previous: str) -> None:
    assert relative_period("current", today, calendar) == parse_period(current, calendar)
    assert relative_period("Previous", today, calendar) == parse_period(previous, calendar)
    assert month_of(today, calendar).first <= today <= month_of(today, calendar).last
    assert relative_period("2026-04", today, calendar) is None
