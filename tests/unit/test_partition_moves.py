"""A dossier's move in the running figures (`streams.processor.PartitionView.move`) skips the keys both
sides share (`dossiers.kpi.shared_ends`: the same object at the same place, with the same weight for the
766 index) and leaves exactly the sums of subtracting every old key and adding every new one, whether the
keys are the memos' objects or equal copies (a memo started afresh); and the deadline marks a move may
give, built without the named tuple's interpreted constructor."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from streams.processor import DeadlineMark, PartitionView, deadline_mark

FLOOR = "2026-03-02"
Weighted = list[tuple[tuple[str, ...], int]]
_KEYS = [
    ("766", "STP", "in_form", "2026-03-02"), ("766", "STP", "on_time", "2026-03-03"),
    ("766", "STP", "received", "2026-03-01"),  # dated before the floor: never kept
    ("766", "SYT", "in_form", ""), ("ii06a", "STP", "c4", "2026-03-05"),
    ("ii06a", "SYT", "c12", "2026-02-01"), ("ii06a", "STP", "c13", ""),
]
KEY = st.tuples(st.sampled_from(_KEYS), st.booleans()).map(
    lambda pair: tuple(list(pair[0])) if pair[1] else pair[0]
)
WEIGHTED = st.lists(st.tuples(KEY, st.integers(1, 3)), max_size=8)


def _expected_index(before: Weighted, new: Weighted) -> dict[tuple[str, ...], int]:
    sums: Counter[tuple[str, ...]] = Counter()
    for key, weight in before + new:
        if not (key[3] and key[3] < FLOOR):
            sums[key] += weight
    return {k: n for k, n in sums.items() if n}


def _view() -> PartitionView:
    view = PartitionView()
    view.report_floor = FLOOR
    return view


def _split(weighted: Weighted) -> tuple[tuple[tuple[str, ...], ...], tuple[int, ...]]:
    return tuple(k for k, _ in weighted), tuple(w for _, w in weighted)


@given(WEIGHTED, WEIGHTED, WEIGHTED)
def test_the_weighted_index_moves_to_the_sums_of_all_new_keys(before: Weighted, old: Weighted,
                                                              new: Weighted) -> None:
    view = _view()
    for held in (before, old):
        view.move_index((), (), *_split(held))
    view.move_index(*_split(old), *_split(new))
    assert view.index == _expected_index(before, new)


def test_a_key_kept_with_another_weight_is_moved() -> None:
    """The same key object at the same place, its weight changed: not skipped."""
    view = _view()
    key, other = _KEYS[0], _KEYS[1]
    view.move_index((), (), (key, other), (1, 2))
    view.move_index((key, other), (1, 2), (key, other), (3, 2))
    assert view.index == {key: 3, other: 2}
    view.move_index((key, other), (3, 2), (key, other), (3, 1))
    assert view.index == {key: 3, other: 1}


@given(st.lists(KEY, max_size=8), st.lists(KEY, max_size=8), st.lists(KEY, max_size=8))
def test_the_report_moves_to_the_counts_of_all_new_keys(before: list[tuple[str, ...]],
                                                         old: list[tuple[str, ...]],
                                                         new: list[tuple[str, ...]]) -> None:
    view = _view()
    for held in (before, old):
        view.move_report((), tuple(held))
    view.move_report(tuple(old), tuple(new))
    expected: Counter[tuple[str, ...]] = Counter()
    for key in before + new:
        if key[2] in ("c12", "c13"):  # open dossiers' columns: counted undated, whatever their date
            expected[(key[0], key[1], key[2], "")] += 1
        elif key[3] >= FLOOR:
            expected[key] += 1
    assert view.report == {k: n for k, n in expected.items() if n}


@given(st.sampled_from(["overdue", "due_soon"]), st.text(max_size=5), st.none() | st.text(max_size=5),
       st.integers(0, 2**40), st.booleans(), st.integers(-(2**31), 2**31), st.integers(0, 2**40))
def test_a_deadline_mark_built_fast_is_the_named_tuple(kind: str, dossier: str, procedure: str | None,
                                                       due_at: int, opened: bool, late: int, at: int) -> None:
    """`deadline_mark` builds the named tuple without its interpreted `__new__`: the same class, fields,
    equality and text (the benchmark digests its repr)."""
    fast = deadline_mark(kind, dossier, "STP", procedure, due_at, opened, late, at)
    slow = DeadlineMark(kind, dossier, "STP", procedure, due_at, opened, late, at)
    assert type(fast) is DeadlineMark
    assert fast == slow and repr(fast) == repr(slow) and fast._asdict() == slow._asdict()
    assert (fast.kind, fast.due_at, fast.open, fast.at) == (kind, due_at, opened, at)
