"""The core's value objects (issue 19): `new_window` builds what `Window`, a named tuple, builds, and the
plain classes mypyc compiles (`Clock`, `Due`, `Contribution`) behave as the named tuples they replaced
did: equal exactly when their fields are equal, with equal hashes, and a repr that names every field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dossiers.kpi import Contribution
from dossiers.report_ii06a import Window, new_window
from dossiers.sla import Clock, Due, Timeliness

instants = st.integers(min_value=0, max_value=5_000_000_000)
maybe_instants = st.none() | instants
clocks = st.tuples(st.none() | st.sampled_from(Timeliness), maybe_instants, st.booleans(), maybe_instants,
                   st.integers(min_value=0, max_value=10**9), maybe_instants)
dues = st.tuples(st.integers(min_value=0, max_value=10**9), maybe_instants, st.booleans())
keys = st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)).map(tuple), max_size=4).map(tuple)
contributions = st.tuples(keys, clocks.map(lambda fields: Clock(*fields)))

CASES: list[tuple[type[Any], Callable[..., Any], Any]] = [
    (Window, new_window, st.tuples(instants, instants)),
]
VALUES: list[tuple[type[Any], Any, tuple[str, ...]]] = [
    (Clock, clocks, ("timeliness", "due_at", "paused", "due_soon_at", "late_seconds", "next_change_at")),
    (Due, dues, ("work", "at", "by_date")),
    (Contribution, contributions, ("keys", "clock")),
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

    check()


@pytest.mark.parametrize(("cls", "fields", "names"), VALUES, ids=[case[0].__name__ for case in VALUES])
def test_a_value_class_is_equal_exactly_when_its_fields_are(
    cls: type[Any], fields: Any, names: tuple[str, ...]
) -> None:
    @given(fields, fields)
    def check(one: tuple[Any, ...], other: tuple[Any, ...]) -> None:
        a, b = cls(*one), cls(*other)
        assert tuple(getattr(a, name) for name in names) == one
        assert (a == b) is (one == other) and (a != b) is (one != other)
        again = cls(*one)
        assert again == a and (again != a) is False and hash(again) == hash(a)
        if one == other:
            assert hash(a) == hash(b)
        named = ", ".join(f"{n}={v!r}" for n, v in zip(names, one, strict=True))
        assert repr(a) == f"{cls.__name__}({named})"
        assert a != one  # a value object, no longer a tuple

    check()
