"""The core's factories of named tuples (`new_clock`, `new_due`, `new_contribution`, `new_window`; issue 19)
build what the class itself builds: the same type, fields, equality, hash and repr, compiled or not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dossiers.kpi import Contribution, new_contribution
from dossiers.report_ii06a import Window, new_window
from dossiers.sla import Clock, Due, Timeliness, new_clock, new_due

instants = st.integers(min_value=0, max_value=5_000_000_000)
maybe_instants = st.none() | instants
clocks = st.tuples(st.none() | st.sampled_from(Timeliness), maybe_instants, st.booleans(), maybe_instants,
                   st.integers(min_value=0, max_value=10**9), maybe_instants)
keys = st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)).map(tuple), max_size=4).map(tuple)

CASES: list[tuple[type[Any], Callable[..., Any], Any]] = [
    (Clock, new_clock, clocks),
    (Due, new_due, st.tuples(st.integers(min_value=0, max_value=10**9), maybe_instants, st.booleans())),
    (Contribution, new_contribution, st.tuples(keys, clocks.map(lambda fields: Clock(*fields)))),
    (Window, new_window, st.tuples(instants, instants)),
]


@pytest.mark.parametrize(("cls", "factory", "fields"), CASES, ids=[case[0].__name__ for case in CASES])
def test_a_factory_builds_what_its_class_builds(
    cls: type[Any], factory: Callable[..., Any], fields: Any
) -> None:
    @given(fields)
    def check(values: tuple[Any, ...]) -> None:
        made, expected = factory(*values), cls(*values)
        assert type(made) is cls
        assert made == expected and hash(made) == hash(expected) and repr(made) == repr(expected)
        assert made._asdict() == expected._asdict()

    check()
