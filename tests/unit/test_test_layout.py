"""The test tree's own rule: test modules have unique basenames.

tests/ has no __init__.py files (pytest's rootdir-relative imports), so two `test_x.py` in different
folders collide and the whole suite fails to collect — but only when both folders are collected, which the
fast suite (`-m "not integration"` still collects everything) or a single folder may hide. This checks it
directly.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_a_unique_basename() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []
