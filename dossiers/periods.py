"""Reporting periods (kỳ báo cáo): which local dates a periodic report covers.

Government reports close on a cut-off date (ngày chốt số liệu), not at the end of the calendar month:
a monthly report runs from the 15th of the previous month to the 14th of the report's month; a quarter
from the 15th of the month before the quarter to the 14th of its last month; six months from 15 December
of the previous year to 14 June; nine months to 14 September; a year to 14 December (Decree
09/2019/NĐ-CP Art. 12, as copied in Khánh Hòa Decision 01/2023/QĐ-UBND Art. 4; docs/reports.md).
`calendar=True` gives calendar months, quarters, halves and years instead, for centres that report so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dossiers.calendar import Timestamp, WorkingCalendar

CUTOFF_DAY = 15
"""The first day of a cut-off period; the previous one ends on the 14th."""

_PATTERN = re.compile(r"^(\d{4})(?:-(?:(\d{1,2})|Q([1-4])|H([12])|(9M)))?$", re.IGNORECASE)


class PeriodError(ValueError):
    """A period that cannot be understood; the message says what is expected."""


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates `first`..`last`, both included (kỳ báo cáo: từ ngày ... đến ngày ...)."""

    first: date
    last: date
    name: str | None = None
    """How it was asked for (`2026-04`, `2026-Q2`...), None for explicit dates."""

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError(f"the period ends ({self.last}) before it starts ({self.first})")

    def start(self, tz: ZoneInfo) -> Timestamp:
        """The first instant of the period: local midnight of its first day."""
        return int(datetime.combine(self.first, time(), tzinfo=tz).timestamp())

    def last_instant(self, tz: ZoneInfo) -> Timestamp:
        """The last whole second of the period: 23:59:59 local of its last day."""
        return int(datetime.combine(self.last + timedelta(days=1), time(), tzinfo=tz).timestamp()) - 1

    def months(self) -> list[Period]:
        """The monthly periods of the same convention that make up this one (a cut-off month runs from
        the 15th), for checks that months add up to a year."""
        out: list[Period] = []
        first = self.first
        while first <= self.last:
            nxt = _add_months(first, 1)
            out.append(Period(first, min(nxt - timedelta(days=1), self.last)))
            first = nxt
        return out


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


def _span(year: int, first_month: int, last_month: int, calendar: bool) -> tuple[date, date]:
    """Calendar months first..last of `year`, or their cut-off version (15th of the month before the
    first, to the 14th of the last)."""
    if calendar:
        end = _add_months(date(year, last_month, 1), 1) - timedelta(days=1)
        return date(year, first_month, 1), end
    start = _add_months(date(year, first_month, CUTOFF_DAY), -1)
    return start, date(year, last_month, CUTOFF_DAY - 1)


def parse_period(text: str, calendar: bool = False) -> Period:
    """`2026-04`, `2026-Q2`, `2026-H1`, `2026-H2`, `2026-9M` or `2026`, by the cut-off convention unless
    `calendar`."""
    found = _PATTERN.match(text.strip())
    if not found:
        raise PeriodError(f"{text!r}: expected YYYY-MM, YYYY-Q1..Q4, YYYY-H1, YYYY-H2, YYYY-9M or YYYY")
    year = int(found.group(1))
    month, quarter, half, nine = found.group(2), found.group(3), found.group(4), found.group(5)
    if not 1900 < year < 10000:
        raise PeriodError(f"{text!r}: year {year} is out of range")
    if month is not None:
        number = int(month)
        if not 1 <= number <= 12:
            raise PeriodError(f"{text!r}: month {number} is not 1-12")
        span = _span(year, number, number, calendar)
        name = f"{year}-{number:02d}"
    elif quarter is not None:
        q = int(quarter)
        span = _span(year, 3 * q - 2, 3 * q, calendar)
        name = f"{year}-Q{q}"
    elif half is not None:
        h = int(half)
        span = _span(year, 6 * h - 5, 6 * h, calendar)
        name = f"{year}-H{h}"
    elif nine is not None:
        span = _span(year, 1, 9, calendar)
        name = f"{year}-9M"
    else:
        span = _span(year, 1, 12, calendar)
        name = str(year)
    return Period(span[0], span[1], name)


def month_of(day: date, calendar: bool = False) -> Period:
    """The monthly period that contains `day` (by the cut-off convention, 20 April is in `2026-05`)."""
    if calendar or day.day < CUTOFF_DAY:
        return parse_period(f"{day.year}-{day.month:02d}", calendar)
    following = _add_months(day.replace(day=1), 1)
    return parse_period(f"{following.year}-{following.month:02d}", calendar)


def relative_period(text: str, today: date, calendar: bool = False) -> Period | None:
    """`current` (the month in progress on `today`) and `previous` (the last closed month: the one a
    centre sends after the cut-off); None for any other text."""
    word = text.strip().lower()
    if word not in ("current", "previous"):
        return None
    month = month_of(today, calendar)
    return month if word == "current" else month_of(month.first - timedelta(days=1), calendar)


def period_between(first: date, last: date) -> Period:
    """An explicit period (`--from`/`--to`), both dates included."""
    return Period(first, last)


def delivery_day(period: Period, calendar: WorkingCalendar) -> date:
    """The first working day after the period's last day: when its report is sent (gửi báo cáo)."""
    day = period.last + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day
