"""Working-time calendar (lịch làm việc): Vietnamese working days and office hours.

Working days come from the `holidays` package (country VN: lunar Tết, Hùng Kings, substituted days off
and the make-up working Saturdays that go with them), plus the centre's own extra days off and extra
working days. On top of that this module keeps a cumulative table of *working seconds*, so that
"instant -> working seconds elapsed" and its inverse are O(log n) and the SLA clock is plain integer
arithmetic: adding N working days is adding N x (office seconds per day).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final
from zoneinfo import ZoneInfo

import holidays

from dossiers.catalog import CalendarConfig

Timestamp = int
"""Seconds since the Unix epoch (UTC). The core uses plain ints: cheap to store and compare."""

WorkSeconds = int
"""Working seconds elapsed since the calendar's origin (midnight, 1 January of its first year)."""


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


class WorkingCalendar:
    """Working days and office hours of one centre, with working-time arithmetic."""

    def __init__(self, config: CalendarConfig | None = None, first_year: int = 2015, last_year: int = 2040):
        self.config = config or CalendarConfig()
        # read by the SLA clock at every evaluation: plain attributes, not reads of the pydantic model
        # through its `__getattr__` hook (issue 19); the model is frozen
        self.day_mode: bool = self.config.deadline_mode == "day"
        """Deadlines counted in days (`CalendarConfig.deadline_mode` "day")."""
        self.same_day_cutoff: time | None = self.config.same_day_cutoff
        self.due_soon_work: int = round(self.config.due_soon_hours * 3600)
        """`CalendarConfig.due_soon_hours` in working seconds."""
        self.tz = ZoneInfo(self.config.timezone)
        self._periods = [(_seconds(a), _seconds(b)) for a, b in self.config.office_hours.periods]
        self.day_seconds: int = sum(b - a for a, b in self._periods)
        """Office seconds in one working day: the length of one 'working day' of processing time."""
        self.close_second: int = self._periods[-1][1]
        """Seconds after local midnight at which the office closes (17:00 by default)."""
        self._close_of: dict[date, Timestamp] = {}
        self.due_memo: dict[tuple[object, ...], tuple[WorkSeconds, Timestamp | None, bool]] = {}
        """`dossiers.sla.due` of dossiers without pauses, by what it reads (receipt, appointment, the
        procedure's period): kept with the calendar because it depends on it. Bounded by `sla.due`."""
        self.work_memo: dict[int, tuple[object, object]] = {}
        """`dossiers.sla.terms_of` by the procedure's `id`, with the procedure itself (held, so its `id`
        cannot be another object's while it is here). Bounded by `sla.terms_of`."""
        self._extra_off = frozenset(self.config.extra_days_off)
        self._extra_on = frozenset(self.config.extra_working_days)
        self._first = date(first_year, 1, 1)
        self._first_ordinal = self._first.toordinal()
        self._cum: list[int] = [0]
        self._working: list[int] = []
        """Index of each working day, in order: the day holding a point of working time is found by a
        division and this list (`from_work`), not by bisecting `_cum` (about 2,000 instructions of int
        comparisons each; issue 19). Every working day lasts `day_seconds`, so `_cum` is a multiple of it."""
        self._midnight: list[int] = [self._midnight_of(self._first)]
        """UTC instant of local midnight of each built day (and of the day after): instants map to days
        by a division or a bisection (`_day_of`), without building a datetime on the hot path."""
        self._origin: int = self._midnight[0]
        self._built_end: int = self._midnight[0]
        """`_midnight`'s first and last items as plain attributes: `_day_of` compares every instant with both
        (several times per event), and a list's item is a boxed int to read and unbox (issue 19)."""
        self._uniform = True
        """Every built day lasts 86,400 s (no daylight-saving change, as in Vietnam since 1975): an
        instant's day is then a division, not a bisection (a few per event; issue 19)."""
        self._iso: list[str] = []
        self._last_built = self._first - timedelta(days=1)
        self._holidays = holidays.country_holidays("VN", years=range(first_year, last_year + 1))
        self._extend_to(date(last_year, 12, 31))

    # -- working days ---------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Monday-Friday and make-up Saturdays, minus public holidays and substituted days off."""
        if day in self._extra_on:
            return True
        if day in self._extra_off:
            return False
        return bool(self._holidays.is_working_day(day))

    def _extend_to(self, day: date) -> None:
        if day < self._first:
            raise ValueError(f"{day} is before the calendar's first year {self._first.year}")
        while self._last_built < day:
            nxt = self._last_built + timedelta(days=1)
            if nxt.year not in self._holidays.years:
                # the stubs do not list HolidayBase as an argument; update() takes any mapping
                self._holidays.update(holidays.country_holidays("VN", years=nxt.year))  # type: ignore[arg-type]
            length = self.day_seconds if self.is_working_day(nxt) else 0
            if length:
                self._working.append(len(self._cum) - 1)
            self._cum.append(self._cum[-1] + length)
            self._midnight.append(self._midnight_of(nxt + timedelta(days=1)))
            self._built_end = self._midnight[-1]
            self._uniform = self._uniform and self._midnight[-1] - self._midnight[-2] == 86400
            self._iso.append(nxt.isoformat())
            self._last_built = nxt

    def _midnight_of(self, day: date) -> int:
        return int(datetime.combine(day, time(), tzinfo=self.tz).timestamp())

    def _day_of(self, ts: Timestamp) -> int:
        """Index of the local day containing `ts` (-1 before the origin)."""
        while ts >= self._built_end:
            self._extend_to(self._last_built + timedelta(days=366))
        origin = self._origin
        if ts < origin:
            return -1
        if self._uniform:
            return (ts - origin) // 86400
        return bisect_right(self._midnight, ts) - 1

    def _regular(self, idx: int) -> bool:
        """A 24-hour day (no daylight-saving change): local seconds = seconds since midnight."""
        return self._uniform or self._midnight[idx + 1] - self._midnight[idx] == 86400

    def _midnight_at(self, idx: int) -> int:
        """`_midnight[idx]`, by arithmetic when every day lasts 86,400 s (no boxed item to read)."""
        return self._origin + idx * 86400 if self._uniform else self._midnight[idx]

    def _index(self, day: date) -> int:
        self._extend_to(day)
        return (day - self._first).days

    # -- instants <-> working seconds -----------------------------------------------------------

    def local(self, ts: Timestamp) -> datetime:
        return datetime.fromtimestamp(ts, self.tz)

    def local_date(self, ts: Timestamp) -> date:
        idx = self._day_of(ts)
        return self._first + timedelta(days=idx) if idx >= 0 else self.local(ts).date()

    def day_number(self, ts: Timestamp) -> int:
        """The local date of `ts` as its ordinal (`date.toordinal`): days compared without building a `date`
        and its `timedelta` (`dossiers.sla.clock` compares two per result; issue 19)."""
        idx = self._day_of(ts)
        return self._first_ordinal + idx if idx >= 0 else self.local(ts).date().toordinal()

    def day_key(self, ts: Timestamp) -> str:
        """The local date of `ts` as ISO text (cached: KPI counters are keyed by it)."""
        idx = self._day_of(ts)
        return self._iso[idx] if idx >= 0 else self.local(ts).date().isoformat()

    def to_work(self, ts: Timestamp) -> WorkSeconds:
        """Working seconds elapsed from the origin to the instant `ts` (clamped to office hours).

        Before the origin nothing has elapsed: 0 (an event dated years too early must not crash a run).
        """
        idx = self._day_of(ts)
        if idx < 0:
            return 0
        if self._cum[idx + 1] == self._cum[idx]:
            return self._cum[idx]
        if self._regular(idx):
            second = ts - self._midnight_at(idx)
        else:
            moment = self.local(ts)
            second = moment.hour * 3600 + moment.minute * 60 + moment.second
        within = 0
        for start, end in self._periods:
            if second <= start:
                break
            within += min(second, end) - start
        return self._cum[idx] + within

    def from_work(self, work: WorkSeconds) -> Timestamp:
        """The earliest instant at which `work` working seconds have elapsed.

        Earliest, so that a deadline of exactly N working days lands at the close of the Nth day
        (Friday 17:00), not at the next opening (Monday 07:00).
        """
        if work <= 0:
            return self._to_ts(self._first, self._periods[0][0])
        while self._cum[-1] < work:
            self._extend_to(self._last_built + timedelta(days=366))
        before = (work - 1) // self.day_seconds  # working days wholly before the point
        idx = self._working[before]  # cum[idx] < work <= cum[idx + 1]
        offset = work - before * self.day_seconds
        for start, end in self._periods:
            if offset <= end - start:
                if self._regular(idx):
                    return self._midnight_at(idx) + start + offset
                return self._to_ts(self._first + timedelta(days=idx), start + offset)
            offset -= end - start
        raise AssertionError("offset beyond the day's office hours")  # pragma: no cover

    def _to_ts(self, day: date, second: int) -> Timestamp:
        naive = datetime.combine(day, time()) + timedelta(seconds=second)
        return int(naive.replace(tzinfo=self.tz).timestamp())

    # -- days (for deadlines counted in days, Civil Code 2015 Art. 147-148) -----------------------

    def end_of_day(self, work: WorkSeconds) -> WorkSeconds:
        """The close of the working day in which the point `work` falls (a point at a close stays there).

        Working days all have `day_seconds`, so their closes are exactly the multiples of it (the day
        boundaries of the cumulative table): a division, no date arithmetic.
        """
        if work <= 0:
            return 0
        return -(-work // self.day_seconds) * self.day_seconds

    def receipt_day_close(self, ts: Timestamp) -> WorkSeconds:
        """The close of the day a receipt at `ts` counts on: that day if it is a working day and the
        office has not closed yet (before opening and the lunch break included), else the next working
        day (received at night, on a weekend or holiday)."""
        return self.end_of_day(self.to_work(ts) + 1)

    def closing(self, ts: Timestamp) -> Timestamp:
        """Closing time (office hours' end) on the local date of `ts`, working day or not."""
        idx = self._day_of(ts)
        if idx >= 0 and self._regular(idx):
            return self._midnight_at(idx) + self.close_second
        return self.close_of(self.local_date(ts))

    def close_of(self, day: date) -> Timestamp:
        """Closing time on `day` (cached: date-only appointments are read on every evaluation)."""
        found = self._close_of.get(day)
        if found is None:
            found = self._close_of[day] = self._to_ts(day, self.close_second)
        return found

    def second_of_day(self, ts: Timestamp) -> int:
        """Seconds since local midnight (for cut-off times such as 15:00)."""
        idx = self._day_of(ts)
        if idx >= 0 and self._regular(idx):
            return ts - self._midnight_at(idx)
        moment = self.local(ts)
        return moment.hour * 3600 + moment.minute * 60 + moment.second

    def working_at(self, ts: Timestamp) -> bool:
        """Whether the local date of `ts` is a working day (from the cumulative table, no lookup)."""
        idx = self._day_of(ts)
        if idx < 0:
            return self.is_working_day(self.local_date(ts))
        return self._cum[idx + 1] > self._cum[idx]

    # -- conveniences ---------------------------------------------------------------------------

    def add_working_days(self, day: date, n: int) -> date:
        """The Nth working day after `day` (N = 0: `day` itself, or the next working day if it is off)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        idx = self._index(day)
        target = (self._cum[idx + 1] + (n - 1) * self.day_seconds if n > 0 else self._cum[idx]) + 1
        while self._cum[-1] < target:
            self._extend_to(self._last_built + timedelta(days=366))
        return self._first + timedelta(days=self._working[(target - 1) // self.day_seconds])

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in the half-open range [start, end)."""
        return (self._cum[self._index(end)] - self._cum[self._index(start)]) // self.day_seconds

    def next_opening(self, ts: Timestamp) -> Timestamp:
        """`ts` itself during office hours, else when the counter next opens."""
        work = self.to_work(ts)
        if self.to_work(ts + 1) > work:
            return ts
        return self.from_work(work + 1) - 1


_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_TIMEZONE: Final = timezone
"""`datetime.timezone` as a compiled static (an imported name is read from the module's dict at each use)."""


FIXED_OFFSETS: Final[dict[timezone, tuple[int, int]]] = {}
"""A fixed-offset zone's offset as (seconds, microseconds), by zone (`to_timestamp`): a `datetime.timezone`'s
offset does not depend on the instant, and msgspec gives every event's instants one."""
FIXED_OFFSETS_LIMIT: Final = 1024
"""Zones in `FIXED_OFFSETS` before it is emptied (offsets on the wire come in whole minutes: a few dozen)."""


def to_timestamp(moment: datetime) -> Timestamp:
    """An aware datetime to whole epoch seconds: `int(moment.timestamp())`, from the fields and one
    offset (the event's instant, once per record: `timestamp()` subtracts two aware datetimes, which
    asks for offsets and builds timedeltas, 2-4 % of the core; issue 19). Truncated toward zero, as `int`
    truncates the float. A `datetime.timezone`'s offset is read once per zone (`FIXED_OFFSETS`):
    `utcoffset()` calls the zone's method by name, about 1,650 instructions, 1.6 % of the core."""
    zone = moment.tzinfo
    if type(zone) is _TIMEZONE:
        known = FIXED_OFFSETS.get(zone)
        if known is None:
            fixed = zone.utcoffset(None)
            if len(FIXED_OFFSETS) >= FIXED_OFFSETS_LIMIT:
                FIXED_OFFSETS.clear()
            known = FIXED_OFFSETS[zone] = (fixed.days * 86400 + fixed.seconds, fixed.microseconds)
        offset_seconds, offset_micro = known
    else:
        offset = moment.utcoffset()
        if offset is None:
            raise ValueError("to_timestamp needs an aware datetime")
        offset_seconds, offset_micro = offset.days * 86400 + offset.seconds, offset.microseconds
    seconds = ((moment.toordinal() - _EPOCH_ORDINAL) * 86400 + moment.hour * 3600 + moment.minute * 60
               + moment.second - offset_seconds)
    micro = moment.microsecond - offset_micro
    if micro >= 0:
        return seconds if seconds >= 0 or micro == 0 else seconds + 1
    return seconds - 1 if seconds > 0 else seconds


def from_timestamp(ts: Timestamp) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
