"""The daily `i766` copy the worker keeps in the default retention policy for the 766 trend
(`streams.influx.trend_lines`): stamped at the local midnight of the snapshot's day, the line otherwise
unchanged, only `i766` lines."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from streams.influx import NS, trend_lines

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@given(st.integers(min_value=1_500_000_000, max_value=2_500_000_000))
def test_the_copy_is_stamped_at_the_local_midnight_of_the_snapshot(stamped: int) -> None:
    lines = [f"kpi,agency=A,partition=0 overdue=1i {stamped * NS}",
             f"i766,agency=A,partition=0 received=3i,period_from=\"2026-11-15\" {stamped * NS}",
             f"ii06a,agency=A,partition=0 c3=1i {stamped * NS}"]
    (copy,) = trend_lines(lines, stamped, VN)
    body, stamp = copy.rsplit(" ", 1)
    assert body == lines[1].rsplit(" ", 1)[0]
    day = datetime.fromtimestamp(int(stamp) // NS, VN)
    assert int(stamp) % NS == 0 and (day.hour, day.minute, day.second) == (0, 0, 0)
    assert day.date() == datetime.fromtimestamp(stamped, VN).date()
    assert 0 <= stamped - int(stamp) // NS < 86400


def test_every_snapshot_of_a_day_lands_on_the_same_point() -> None:
    """Same series, same time: each snapshot overwrites the day's point, the last one stays."""
    morning = int(datetime(2026, 12, 4, 0, 0, 1, tzinfo=VN).timestamp())
    evening = int(datetime(2026, 12, 4, 23, 59, 59, tzinfo=VN).timestamp())
    first = trend_lines([f"i766,agency=A received=1i {morning * NS}"], morning, VN)
    last = trend_lines([f"i766,agency=A received=9i {evening * NS}"], evening, VN)
    assert first[0].rsplit(" ", 1)[1] == last[0].rsplit(" ", 1)[1]
    next_day = trend_lines([f"i766,agency=A received=9i {(evening + 2) * NS}"], evening + 2, VN)
    assert int(next_day[0].rsplit(" ", 1)[1]) - int(last[0].rsplit(" ", 1)[1]) == 86400 * NS
