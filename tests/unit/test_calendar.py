"""The working-time calendar (docs/domain.md, section 2): working days, office hours, working-time arithmetic.

Expected values are worked out by hand from the Vietnamese calendar; the properties check the
calendar against an oracle built directly on the `holidays` package, not on `WorkingCalendar`.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ICT, at, calendar_dates, local, ts

from dossiers.calendar import FIXED_OFFSETS, FIXED_OFFSETS_LIMIT, WorkingCalendar, to_timestamp
from dossiers.catalog import CalendarConfig, OfficeHours

VN = holidays.country_holidays("VN", years=range(2019, 2042))

# A centre with its own days: closed on the 13th of every month (whatever weekday), open on the first
# Saturday of every quarter and on two public holidays.
EXTRA_OFF = tuple(date(y, m, 13) for y in range(2020, 2038) for m in range(1, 13))


def first_saturday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(5 - first.weekday()) % 7)


EXTRA_ON = (
    *(first_saturday(y, m) for y in range(2020, 2038) for m in (1, 4, 7, 10)),
    date(2030, 9, 2),
    date(2026, 2, 18),
)


def oracle_working(day: date, extra_off: tuple[date, ...] = (), extra_on: tuple[date, ...] = ()) -> bool:
    """Independent of WorkingCalendar: weekdays and make-up Saturdays, minus holidays and days off."""
    if day in extra_on:
        return True
    if day in extra_off:
        return False
    if day in VN:  # public holidays, Tết, substituted days off ("Day off (substituted from ...)")
        return False
    if day.weekday() >= 5:
        return day in VN.weekend_workdays  # make-up working Saturdays (làm bù)
    return True


OFFICE = ((time(7), time(11, 30)), (time(13, 30), time(17)))


def oracle_in_office(
    moment: datetime, extra_off: tuple[date, ...] = (), extra_on: tuple[date, ...] = ()
) -> bool:
    """Is the second starting at `moment` (local) a working second?"""
    clock = moment.astimezone(ICT).time()
    return oracle_working(moment.astimezone(ICT).date(), extra_off, extra_on) and any(
        a <= clock < b for a, b in OFFICE
    )


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar()


CAL = WorkingCalendar()
CONFIGURED = WorkingCalendar(CalendarConfig(extra_days_off=EXTRA_OFF, extra_working_days=EXTRA_ON))
CALENDARS = {"default": (CAL, (), ()), "configured": (CONFIGURED, EXTRA_OFF, EXTRA_ON)}
DAY = 8 * 3600  # 07:00-11:30 (4.5 h) + 13:30-17:00 (3.5 h)


# --- the oracle and the calendar agree on the special days ---------------------------------------------


def test_a_working_day_is_eight_office_hours(cal: WorkingCalendar) -> None:
    assert cal.day_seconds == DAY


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        (date(2026, 2, 13), True, "Friday before Tết"),
        (date(2026, 2, 16), False, "Tết: 29 tháng Chạp"),
        (date(2026, 2, 17), False, "Tết: mùng 1"),
        (date(2026, 2, 20), False, "Tết: mùng 4"),
        (date(2026, 2, 21), False, "Saturday"),
        (date(2026, 2, 23), True, "first Monday after Tết"),
        (date(2026, 4, 27), False, "Hùng Kings observed (26 April is a Sunday)"),
        (date(2026, 8, 22), True, "make-up Saturday for 31 August"),
        (date(2026, 8, 29), False, "an ordinary Saturday"),
        (date(2026, 8, 31), False, "substituted day off (from 22 August)"),
        (date(2026, 9, 1), False, "National Day"),
        (date(2026, 9, 2), False, "National Day"),
        (date(2025, 4, 26), True, "make-up Saturday for 2 May 2025"),
        (date(2025, 5, 2), False, "substituted day off (from 26 April 2025)"),
    ],
)
def test_vietnamese_working_days(cal: WorkingCalendar, day: date, working: bool, why: str) -> None:
    assert cal.is_working_day(day) is working, why
    assert oracle_working(day) is working, why


def test_configured_days_override_the_national_calendar() -> None:
    assert CAL.is_working_day(date(2026, 3, 13)) is True  # a Friday
    assert CONFIGURED.is_working_day(date(2026, 3, 13)) is False
    assert CAL.is_working_day(date(2026, 4, 4)) is False  # first Saturday of Q2
    assert CONFIGURED.is_working_day(date(2026, 4, 4)) is True
    assert CONFIGURED.is_working_day(date(2026, 2, 18)) is True  # a Tết day the centre opens


# --- hypothesis properties ---------------------------------------------------------------------------------

calendars = st.sampled_from(sorted(CALENDARS))


@settings(max_examples=300, deadline=None)
@given(name=calendars, day=calendar_dates(), n=st.integers(0, 300))
def test_adding_working_days_never_lands_on_a_day_off(name: str, day: date, n: int) -> None:
    cal, off, on = CALENDARS[name]
    due = cal.add_working_days(day, n)
    assert oracle_working(due, off, on), (day, n, due)
    assert due not in off or due in on
    if due.weekday() >= 5:
        assert due in VN.weekend_workdays or due in on
    assert due not in VN or due in on
    assert due >= day
    # and it is the Nth: exactly n working days in (day, due] for n >= 1, and none in [day, due) for n == 0
    between = [day + timedelta(days=k) for k in range(1, (due - day).days + 1)]
    if n >= 1:
        assert sum(oracle_working(d, off, on) for d in between) == n
    else:
        assert not any(oracle_working(day + timedelta(days=k), off, on) for k in range((due - day).days))


@settings(max_examples=300, deadline=None)
@given(name=calendars, day=calendar_dates(), n=st.integers(0, 300))
def test_working_days_between_inverts_add_working_days(name: str, day: date, n: int) -> None:
    """working_days_between counts the half-open range [start, end).

    If `due = add_working_days(day, n)` with n >= 1, [day, due) holds the n - 1 working days strictly
    between day and due, plus `day` itself when it is a working day: n - 1 + is_working_day(day).
    Shifting both ends by one day, (day, due] holds exactly n. For n == 0, due is `day` (working) or the
    next working day, so [day, due) holds none.
    """
    cal, _, _ = CALENDARS[name]
    due = cal.add_working_days(day, n)
    one = timedelta(days=1)
    if n == 0:
        assert cal.working_days_between(day, due) == 0
    else:
        assert cal.working_days_between(day, due) == n - 1 + int(cal.is_working_day(day))
        assert cal.working_days_between(day + one, due + one) == n


@settings(max_examples=200, deadline=None)
@given(name=calendars, a=calendar_dates(), b=calendar_dates(date(2020, 1, 1), date(2021, 12, 31)))
def test_working_days_between_counts_the_oracle(name: str, a: date, b: date) -> None:
    cal, off, on = CALENDARS[name]
    end = a + timedelta(days=(b - date(2020, 1, 1)).days % 400)
    expected = sum(oracle_working(a + timedelta(days=k), off, on) for k in range((end - a).days))
    assert cal.working_days_between(a, end) == expected


instants_2020_2035 = st.integers(ts(at(2020, 1, 1)), ts(at(2035, 12, 31, 23, 59, 59)))


@settings(max_examples=400, deadline=None)
@given(name=calendars, t=instants_2020_2035)
def test_from_work_of_to_work_is_at_or_before(name: str, t: int) -> None:
    cal, _, _ = CALENDARS[name]
    w = cal.to_work(t)
    back = cal.from_work(w)
    assert back <= t
    assert cal.to_work(back) == w  # no working second between back and t


@settings(max_examples=400, deadline=None)
@given(name=calendars, t=instants_2020_2035)
def test_to_work_of_from_work_is_identity_and_earliest(name: str, t: int) -> None:
    cal, _, _ = CALENDARS[name]
    w = cal.to_work(t) + 1  # any reachable amount of working seconds in 2020-2035
    moment = cal.from_work(w)
    assert cal.to_work(moment) == w
    assert cal.to_work(moment - 1) == w - 1  # the earliest such instant


@settings(max_examples=400, deadline=None)
@given(name=calendars, t=instants_2020_2035, gap=st.integers(0, 40 * 86400))
def test_to_work_is_monotonic(name: str, t: int, gap: int) -> None:
    cal, _, _ = CALENDARS[name]
    assert cal.to_work(t) <= cal.to_work(t + gap)


@settings(max_examples=500, deadline=None)
@given(name=calendars, t=instants_2020_2035, snap=st.booleans())
def test_to_work_ticks_exactly_during_office_hours(name: str, t: int, snap: bool) -> None:
    """to_work advances by one per second inside office hours of working days and by zero outside."""
    cal, off, on = CALENDARS[name]
    if snap:  # land on the interesting seconds: period edges
        moment = local(t)
        edge = [
            time(6, 59, 59),
            time(7),
            time(11, 29, 59),
            time(11, 30),
            time(13, 29, 59),
            time(13, 30),
            time(16, 59, 59),
            time(17),
        ][t % 8]
        t = ts(datetime.combine(moment.date(), edge, ICT))
    step = cal.to_work(t + 1) - cal.to_work(t)
    assert step == int(oracle_in_office(local(t), off, on))


@settings(max_examples=300, deadline=None)
@given(name=calendars, t=instants_2020_2035)
def test_next_opening(name: str, t: int) -> None:
    cal, off, on = CALENDARS[name]
    opening = cal.next_opening(t)
    assert opening >= t
    assert oracle_in_office(local(opening), off, on)
    assert cal.to_work(opening) == cal.to_work(t)  # no working time in between
    if oracle_in_office(local(t), off, on):
        assert opening == t
    else:
        assert local(opening).time() in (time(7), time(13, 30))


# --- worked examples ----------------------------------------------------------------------------------------


def due(cal: WorkingCalendar, received: datetime, days: float) -> datetime:
    """Due instant of `days` working days from `received` (what the SLA clock computes)."""
    return local(cal.from_work(cal.to_work(ts(received)) + round(days * cal.day_seconds)))


def test_tet_2026(cal: WorkingCalendar) -> None:
    """Received Thursday 12 Feb 2026 09:00 with 5 working days.

    12 Feb 09:00 -> 13 Feb 09:00 is working day 1; 14-15 Feb are the weekend, 16-20 Feb Tết (29 tháng
    Chạp to mùng 4) and 21-22 Feb the weekend again; then 23 Feb (2), 24 Feb (3), 25 Feb (4), 26 Feb (5).
    Due Thursday 26 Feb 2026 09:00, two calendar weeks later.
    """
    assert due(cal, at(2026, 2, 12, 9), 5) == at(2026, 2, 26, 9)
    assert cal.add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)
    assert cal.working_days_between(date(2026, 2, 14), date(2026, 2, 23)) == 0
    # the same dossier without Tết (a week earlier) takes one calendar week
    assert due(cal, at(2026, 2, 5, 9), 5) == at(2026, 2, 12, 9)


def test_make_up_saturday_22_august_2026(cal: WorkingCalendar) -> None:
    """`holidays` VN: Saturday 22 Aug 2026 is worked in exchange for Monday 31 Aug off (then 1-2 Sep)."""
    assert cal.is_working_day(date(2026, 8, 22)) is True
    assert cal.is_working_day(date(2026, 8, 31)) is False
    # Received Thursday 20 Aug 09:00, 3 working days: 21 Aug (1), Saturday 22 Aug (2), Monday 24 Aug (3).
    # Without the make-up Saturday it would be Tuesday 25 Aug.
    assert due(cal, at(2026, 8, 20, 9), 3) == at(2026, 8, 24, 9)
    # A dossier received on the make-up Saturday itself starts at once: 10:00 + 1 day = Monday 24 Aug 10:00.
    assert due(cal, at(2026, 8, 22, 10), 1) == at(2026, 8, 24, 10)
    # Received Friday 28 Aug 09:00, 2 working days: 31 Aug (day off for 22 Aug), 1-2 Sep (National Day)
    # are off, so Thursday 3 Sep (1), Friday 4 Sep (2).
    assert due(cal, at(2026, 8, 28, 9), 2) == at(2026, 9, 4, 9)
    assert cal.working_days_between(date(2026, 8, 22), date(2026, 9, 3)) == 6  # 22, 24-28 Aug


def test_extra_day_off_pushes_the_due_date() -> None:
    """Received Monday 2 Mar 2026 09:00, 2 working days: Wednesday 4 Mar 09:00 normally.

    With Tuesday 3 Mar declared off by the province, Wednesday 4 Mar is day 1 and Thursday 5 Mar day 2.
    """
    closed = WorkingCalendar(CalendarConfig(extra_days_off=(date(2026, 3, 3),)))
    assert due(CAL, at(2026, 3, 2, 9), 2) == at(2026, 3, 4, 9)
    assert due(closed, at(2026, 3, 2, 9), 2) == at(2026, 3, 5, 9)
    assert closed.next_opening(ts(at(2026, 3, 3, 9))) == ts(at(2026, 3, 4, 7))


def test_extra_working_saturday_pulls_the_due_date() -> None:
    """Received Thursday 5 Mar 2026 09:00, 2 working days: Friday 6 (1), Monday 9 Mar (2) normally.

    With Saturday 7 Mar opened by the province: Friday 6 (1), Saturday 7 Mar 09:00 (2).
    """
    open_saturday = WorkingCalendar(CalendarConfig(extra_working_days=(date(2026, 3, 7),)))
    assert due(CAL, at(2026, 3, 5, 9), 2) == at(2026, 3, 9, 9)
    assert due(open_saturday, at(2026, 3, 5, 9), 2) == at(2026, 3, 7, 9)


def test_other_office_hours() -> None:
    """A centre open 08:00-12:00 and 13:00-17:00 (8 h as well): received 12:30 starts at 13:00.

    One day = Monday 13:00-17:00 (4 h) + Tuesday 08:00-12:00 (4 h): due Tuesday 12:00.
    """
    hours = OfficeHours(periods=((time(8), time(12)), (time(13), time(17))))
    other = WorkingCalendar(CalendarConfig(office_hours=hours))
    assert other.day_seconds == DAY
    assert other.next_opening(ts(at(2026, 3, 2, 12, 30))) == ts(at(2026, 3, 2, 13))
    assert due(other, at(2026, 3, 2, 12, 30), 1) == at(2026, 3, 3, 12)
    assert due(other, at(2026, 3, 2, 7, 30), 0.5) == at(2026, 3, 2, 12)  # 4 h: 08:00-12:00


def test_received_saturday_night_starts_monday_morning(cal: WorkingCalendar) -> None:
    """Online submission Saturday 7 Mar 2026 22:00: the clock starts Monday 9 Mar 07:00.

    One working day (8 office hours) from Monday 07:00 is 07:00-11:30 (4.5 h) + 13:30-17:00 (3.5 h):
    due Monday 9 Mar 17:00, the earliest instant at which the 8 hours have passed (not Tuesday 07:00).
    """
    saturday_night = at(2026, 3, 7, 22)
    assert cal.next_opening(ts(saturday_night)) == ts(at(2026, 3, 9, 7))
    assert cal.to_work(ts(saturday_night)) == cal.to_work(ts(at(2026, 3, 9, 7)))
    assert due(cal, saturday_night, 1) == at(2026, 3, 9, 17)
    assert due(cal, at(2026, 3, 9, 7), 1) == at(2026, 3, 9, 17)
    assert due(cal, saturday_night, 2) == at(2026, 3, 10, 17)


def test_received_at_lunch_starts_at_1330(cal: WorkingCalendar) -> None:
    """Received Monday 2 Mar 2026 12:00 (lunch break): the clock starts at 13:30.

    One working day is 8 office hours: Monday 13:30-17:00 (3.5 h) + Tuesday 07:00-11:30 (4.5 h), so the
    due time is Tuesday 11:30, the earliest instant at which 8 hours have passed (Tuesday 13:30 is the
    same amount of working time, after the lunch break; the calendar always picks the earliest).
    Received at 13:00 the same day is no different: the clock also starts at 13:30.
    """
    assert cal.next_opening(ts(at(2026, 3, 2, 12))) == ts(at(2026, 3, 2, 13, 30))
    assert due(cal, at(2026, 3, 2, 12), 1) == at(2026, 3, 3, 11, 30)
    assert due(cal, at(2026, 3, 2, 13), 1) == due(cal, at(2026, 3, 2, 13, 30), 1)
    # 1.5 days = 12 h: Monday 3.5 h, Tuesday 8 h (11.5 h), then Wednesday 07:00-07:30 (0.5 h)
    assert due(cal, at(2026, 3, 2, 12), 1.5) == at(2026, 3, 4, 7, 30)

    # 11:30:00 is already closed; 11:29:59 is the last working second of the morning
    assert cal.next_opening(ts(at(2026, 3, 2, 11, 30))) == ts(at(2026, 3, 2, 13, 30))
    assert cal.next_opening(ts(at(2026, 3, 2, 11, 29, 59))) == ts(at(2026, 3, 2, 11, 29, 59))
    # before opening, and after closing (Friday 17:00 -> Monday 07:00)
    assert cal.next_opening(ts(at(2026, 3, 2, 6))) == ts(at(2026, 3, 2, 7))
    assert cal.next_opening(ts(at(2026, 3, 6, 17))) == ts(at(2026, 3, 9, 7))


def test_half_day_and_hour_arithmetic(cal: WorkingCalendar) -> None:
    """Received Monday 2 Mar 2026 10:00 + 4 working hours: 10:00-11:30 (1.5 h), 13:30-16:00 (2.5 h)."""
    start = cal.to_work(ts(at(2026, 3, 2, 10)))
    assert local(cal.from_work(start + 4 * 3600)) == at(2026, 3, 2, 16)
    assert local(cal.from_work(start + 90 * 60)) == at(2026, 3, 2, 11, 30)  # lands on the close, not 13:30


def test_add_working_days_zero_and_off_days(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2026, 3, 2), 0) == date(2026, 3, 2)
    assert cal.add_working_days(date(2026, 2, 14), 0) == date(2026, 2, 23)  # Sat before Tết -> after Tết
    assert cal.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 23)
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 3, 2), -1)


def test_calendar_extends_past_its_last_year() -> None:
    short = WorkingCalendar(first_year=2026, last_year=2026)
    assert short.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)  # 31 Dec, (1 Jan off), 4, 5 Jan
    moment = at(2027, 3, 1, 9)
    assert short.from_work(short.to_work(ts(moment))) == ts(moment)


def test_instants_before_the_calendar_origin_count_nothing() -> None:
    """A typo such as 2001 instead of 2026 must not crash a replay or a worker: 0 seconds elapsed."""
    early = ts(at(2001, 3, 2, 9))
    assert CAL.to_work(early) == 0
    assert CAL.to_work(early) <= CAL.to_work(ts(at(2015, 1, 5, 9)))


@settings(max_examples=400, deadline=None)
@given(name=calendars, work=st.integers(-86_400, 30 * 260 * 8 * 3600))
def test_working_time_points_by_division_are_the_tables_bisection(name: str, work: int) -> None:
    """`from_work` and `end_of_day` find a point's day by a division (every working day lasts
    `day_seconds`); the cumulative table, bisected, is the definition they must still agree with, also
    past the last year built (the table grows)."""
    cal, _, _ = CALENDARS[name]
    expected_end = 0 if work <= 0 else None
    if work > 0:
        while cal._cum[-1] < work:  # what `from_work` does before it looks
            cal._extend_to(cal._last_built + timedelta(days=366))
        idx = bisect_left(cal._cum, work) - 1
        expected_end = cal._cum[idx + 1]
        first_period = cal._periods[0]
        offset = work - cal._cum[idx]
        if offset <= first_period[1] - first_period[0]:
            assert cal.from_work(work) == cal._midnight[idx] + first_period[0] + offset
        assert cal.from_work(work) >= cal._midnight[idx]
        assert cal.from_work(work) < cal._midnight[idx + 1]
    assert cal.end_of_day(work) == expected_end


# --- days, for deadlines counted in days (the `day` rule of the SLA clock) -----------------------------


@settings(max_examples=400, deadline=None)
@given(name=calendars, t=instants_2020_2035)
def test_receipt_day_close_is_the_close_of_the_oracles_receipt_day(name: str, t: int) -> None:
    """The receipt day is the local date while the office has not closed on a working day, else the
    next working day; its close is that day's 17:00."""
    cal, off, on = CALENDARS[name]
    moment = local(t)
    day = moment.date()
    if not oracle_working(day, off, on) or moment.time() >= time(17, 0):
        day += timedelta(days=1)
        while not oracle_working(day, off, on):
            day += timedelta(days=1)
    close = cal.receipt_day_close(t)
    assert cal.from_work(close) == ts(datetime.combine(day, time(17, 0), ICT))
    assert cal.end_of_day(close) == close  # a close is its own end of day


@settings(max_examples=400, deadline=None)
@given(name=calendars, t=instants_2020_2035)
def test_end_of_day_is_the_close_of_the_working_day_of_a_point(name: str, t: int) -> None:
    cal, off, on = CALENDARS[name]
    w = cal.to_work(t) + 1  # a point inside a working day
    end = cal.from_work(cal.end_of_day(w))
    assert local(end).time() == time(17, 0)
    assert oracle_working(local(end).date(), off, on)
    assert local(end).date() == local(cal.from_work(w)).date()


def test_day_helpers(cal: WorkingCalendar) -> None:
    sat = ts(at(2026, 3, 7, 10))
    assert cal.closing(sat) == ts(at(2026, 3, 7, 17))  # on a day off too: the date's closing time
    assert cal.close_of(date(2026, 3, 7)) == ts(at(2026, 3, 7, 17))
    assert cal.second_of_day(ts(at(2026, 3, 2, 15, 0, 1))) == 15 * 3600 + 1
    assert not cal.working_at(sat) and cal.working_at(ts(at(2026, 3, 9, 3)))
    assert not cal.working_at(ts(at(2026, 2, 17, 9)))  # mùng 1 Tết 2026
    assert cal.working_at(ts(at(2026, 8, 22, 9)))  # the make-up Saturday


PARIS = WorkingCalendar(CalendarConfig(timezone="Europe/Paris"), first_year=2024, last_year=2027)
HANOI = WorkingCalendar(first_year=2024, last_year=2027)


@given(st.integers(int(datetime(2023, 12, 30).timestamp()), int(datetime(2028, 1, 2).timestamp())))
def test_an_instants_local_day_by_division_or_by_bisection(instant: int) -> None:
    """Without daylight saving (Vietnam) an instant's day is found by a division; where clocks change
    (a centre configured for Paris, kept as the check) by bisection; both give the local date."""
    assert HANOI._uniform and not PARIS._uniform
    for calendar in (HANOI, PARIS):
        local_day = datetime.fromtimestamp(instant, calendar.tz).date()
        if local_day.year < 2024:
            assert calendar._day_of(instant) == -1
            assert calendar.day_number(instant) == local_day.toordinal()  # before the origin: the slow way
            continue
        assert calendar.local_date(instant) == local_day
        assert calendar.day_key(instant) == local_day.isoformat()
        assert calendar.day_number(instant) == local_day.toordinal()
        # the ends and midnights kept as plain attributes or by arithmetic agree with the table, built on
        idx = calendar._day_of(instant)
        assert (calendar._origin, calendar._built_end) == (calendar._midnight[0], calendar._midnight[-1])
        assert calendar._midnight_at(idx) == calendar._midnight[idx]
        moment = datetime.fromtimestamp(instant, calendar.tz)
        assert calendar.second_of_day(instant) == moment.hour * 3600 + moment.minute * 60 + moment.second


_OFFSETS = st.builds(
    timedelta,
    minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
    seconds=st.integers(0, 59),
    microseconds=st.integers(0, 999_999),
)
_ZONES = st.one_of(
    _OFFSETS.map(timezone),
    st.sampled_from(["Asia/Ho_Chi_Minh", "Europe/Paris", "America/St_Johns", "Australia/Lord_Howe"])
    .map(ZoneInfo),
)


@given(st.datetimes(datetime(1900, 1, 1), datetime(2200, 12, 31), timezones=_ZONES))
def test_to_timestamp_is_int_of_timestamp(moment: datetime) -> None:
    """The event's instant from its fields and one offset equals `int(moment.timestamp())`, for any aware
    datetime: fixed offsets with seconds and microseconds, zones with daylight saving and folds, before
    1970 (truncated toward zero, as `int` truncates the float)."""
    assert to_timestamp(moment) == int(moment.timestamp())


def test_to_timestamp_remembers_fixed_offsets_within_a_bound() -> None:
    """`FIXED_OFFSETS` keeps each fixed zone's offset, is emptied when full, and gives the same answers
    before, while and after it is full (zones one microsecond apart: more than the bound)."""
    moment = datetime(2026, 3, 2, 8, 15, 30, 250_000)
    for n in range(FIXED_OFFSETS_LIMIT + 50):
        zone = timezone(timedelta(hours=7, microseconds=n))
        for _ in range(2):  # the second time from the memo
            aware = moment.replace(tzinfo=zone)
            assert to_timestamp(aware) == int(aware.timestamp())
        assert 0 < len(FIXED_OFFSETS) <= FIXED_OFFSETS_LIMIT
        assert FIXED_OFFSETS[zone] == (7 * 3600, n)


def test_to_timestamp_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        to_timestamp(datetime(2026, 3, 2, 8, 15))
