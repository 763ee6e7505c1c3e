"""The running figures' counter keys built once per day and agency (`dossiers.counter_keys`): equal to keys
built afresh whatever the order of the asks, the same object while the day is kept, and a memo that never
holds more than its days."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dossiers.counter_keys import CounterKeys

AGENCIES = st.sampled_from(["STP", "SXD", "SYT", "UBND_XA_1", ""])
DAYS = st.sampled_from([f"2026-03-{d:02d}" for d in range(1, 12)] + [""])
NAMES = st.sampled_from(["received", "in_form", "c4", "c12", "working_seconds", "synced_24h"])
ASKS = st.lists(st.tuples(AGENCIES, DAYS, NAMES), max_size=200)


@given(ASKS, st.integers(1, 6))
def test_keys_equal_fresh_ones_and_the_memo_stays_bounded(asks: list[tuple[str, str, str]],
                                                        days: int) -> None:
    memo = CounterKeys("766", days)
    for agency, day, name in asks:
        keys = memo.of(agency, day)
        assert keys.key(name) == ("766", agency, name, day)
        assert len(memo.by_day) <= days
        assert day in memo.by_day  # the day just asked is never the one dropped


@given(AGENCIES, DAYS, NAMES)
def test_the_same_objects_while_the_day_is_kept(agency: str, day: str, name: str) -> None:
    memo = CounterKeys("ii06a", 2)
    first = memo.of(agency, day)
    assert memo.of(agency, day) is first
    assert first.key(name) is first.key(name)


def test_the_first_day_seen_is_dropped_first() -> None:
    memo = CounterKeys("766", 2)
    memo.of("STP", "2026-03-01")
    memo.of("STP", "2026-03-02")
    memo.of("SXD", "2026-03-01")  # a day already kept: nothing dropped
    assert list(memo.by_day) == ["2026-03-01", "2026-03-02"]
    again = memo.of("STP", "2026-03-03")
    assert list(memo.by_day) == ["2026-03-02", "2026-03-03"]
    assert again.key("in_form") == ("766", "STP", "in_form", "2026-03-03")
    rebuilt = memo.of("STP", "2026-03-01")  # dropped, then asked again: built anew, equal
    assert rebuilt.key("in_form") == ("766", "STP", "in_form", "2026-03-01")
    assert list(memo.by_day) == ["2026-03-03", "2026-03-01"]


def test_a_memo_keeps_at_least_one_day() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CounterKeys("766", 0)
