"""The running figures' counter keys, built once per day and agency (khóa bộ đếm).

The running form II.06a and the running 766 index (`dossiers.report_ii06a.live_keys`,
`dossiers.index766_live.live_keys`) count each dossier under keys `(figure, agency, field, local day)`. The
same few keys come back for every dossier of an agency received or finished on a day: building them anew
for each event cost a tuple per key and the garbage collections they set off (issue 19). Here they are
built on first use and shared: equal to a key built afresh, and the same object each time, so the held
entries of many dossiers point to one key and comparisons of old and new keys meet the same strings.

The memo keeps the most recent `days` local days (64: the running counters keep only the reporting month
and the one before it, `streams.processor.PartitionView`), so its size is bounded by days x agencies x
fields whatever the stream.
"""

from __future__ import annotations

from typing import Final, final

Key = tuple[str, ...]
"""(figure, agency, field, local date or ""): one counter of a running figure (as
`dossiers.report_ii06a.LiveKey`)."""

MEMO_DAYS: Final = 64
"""Local days a `CounterKeys` keeps (the day first seen dropped first)."""


def new_key(*items: str) -> Key:
    """A key built once, as one object (here and in `dossiers.kpi.AgencyKeys`). Not a tuple display in place:
    compiled, mypyc keeps a tuple of fixed length unboxed and boxes it anew for each place it goes (the
    memo, the caller), which the caller would see as a copy (tests/unit/test_counter_keys.py)."""
    return items


@final
class DayKeys:
    """The keys of one agency on one local day, for one figure, each built on first use."""

    def __init__(self, figure: str, agency: str, day: str) -> None:
        self.figure = figure
        self.agency = agency
        self.day = day
        self.keys: dict[str, Key] = {}

    def key(self, name: str) -> Key:
        """The key of field `name`: the same object at every call."""
        key = self.keys.get(name)
        if key is None:
            key = self.keys[name] = new_key(self.figure, self.agency, name, self.day)
        return key


@final
class CounterKeys:
    """The `DayKeys` of one figure ("ii06a", "766"), for the most recent `days` days seen."""

    def __init__(self, figure: str, days: int = MEMO_DAYS) -> None:
        if days < 1:
            raise ValueError("CounterKeys: days must be at least 1")
        self.figure = figure
        self.days = days
        self.by_day: dict[str, dict[str, DayKeys]] = {}

    def of(self, agency: str, day: str) -> DayKeys:
        """The keys of `agency` on `day` ("" for the undated ones)."""
        agencies = self.by_day.get(day)
        if agencies is None:
            if len(self.by_day) >= self.days:  # the first inserted: the day seen first
                del self.by_day[next(iter(self.by_day))]
            agencies = self.by_day[day] = {}
        keys = agencies.get(agency)
        if keys is None:
            keys = agencies[agency] = DayKeys(self.figure, agency, day)
        return keys
