"""The daily `i766` copy the worker keeps in the default retention policy for the 766 trend
(`streams.influx.trend_lines`): stamped at the local midnight of the snapshot's day, the line otherwise
unchanged, only `i766` and `i766_sum` lines; and the `i766_sum` point itself (a partition's counts summed
over its agencies)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from streams.influx import trend_lines
from streams.lines import NS

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@given(st.integers(min_value=1_500_000_000, max_value=2_500_000_000))
def test_the_copy_is_stamped_at_the_local_midnight_of_the_snapshot(stamped: int) -> None:
    lines = [f"kpi,agency=A,partition=0 overdue=1i {stamped * NS}",
             f"i766,agency=A,partition=0 received=3i,period_from=\"2026-11-15\" {stamped * NS}",
             f"ii06a,agency=A,partition=0 c3=1i {stamped * NS}"]
    lines.append(f"i766_sum,partition=0 received=3i {stamped * NS}")
    copy, total = trend_lines(lines, stamped, VN)
    assert total.rsplit(" ", 1) == [lines[3].rsplit(" ", 1)[0], copy.rsplit(" ", 1)[1]]
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


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 10_000),
                          st.floats(0, 1e6, allow_nan=False)), min_size=1, max_size=8),
       st.integers(0, 11))
def test_the_partition_sum_adds_every_agency_count(counts: list[tuple[int, int, float]],
                                                   partition: int) -> None:
    """`i766_sum` (what the whole catalog's trend reads) carries the index's total: the sum of the
    partition's `i766` points, field by field, with `working_days` a float and the counts integers."""
    from dossiers.index766 import Index766, Tally
    from dossiers.index766 import Row as Row766
    from dossiers.periods import Period
    from dossiers.report_ii06a import Window
    from grafana.queries import I766_FIELDS as I766_COUNT_FIELDS
    from streams.influx import i766_points
    from tests.support.scores import total_of

    rows = [Row766(f"A{i}", f"Agency {i}", Tally(received=r, synced=min(s, r), working_days=w),
                   sync_within={24: min(s, r)})
            for i, (r, s, w) in enumerate(counts)]
    total = total_of("TT", "TT", rows)  # the index's total, as the core sums it (`index_of`)
    period = Period(datetime(2026, 11, 15).date(), datetime(2026, 12, 14).date())
    index = Index766(period, Window(0, 0), rows, total)
    lines = i766_points(index, partition, 1_800_000_000, 1_800_000_000)
    assert len(lines) == len(rows) + 1
    total = lines[-1]
    assert total.startswith(f"i766_sum,partition={partition} ")
    assert f"received={sum(r for r, _, _ in counts)}i" in total
    assert f"synced={sum(min(s, r) for r, s, _ in counts)}i" in total
    assert f"synced_24h={sum(min(s, r) for r, s, _ in counts)}i" in total
    assert "period_from" not in total and "tt=" not in total
    value = float(total.split("working_days=", 1)[1].split(",", 1)[0].split(" ", 1)[0])
    assert abs(value - sum(w for _, _, w in counts)) <= 1e-6 * max(1.0, value)
    assert all(f"{name}=" in total for name in I766_COUNT_FIELDS)
