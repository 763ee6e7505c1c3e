"""`python -m benchmarks.core --instructions` (issue 19): a count that compares two trees where time cannot,
so it must give the same count twice for the same tree, and a different one when the processor does more."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.harness import core_build

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed"),
    pytest.mark.skipif(core_build() != "compiled", reason="counts the compiled core: ioc native build"),
]


def _counting(*extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.core", "--events", "2000", "--instructions", "--json", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _per_event(run: subprocess.Popen[str]) -> int:
    out, err = run.communicate(timeout=280)
    assert run.returncode == 0, err[-2000:]
    return int(json.loads(out.strip().splitlines()[-1])["instructions_per_event"])


def test_the_same_tree_counts_the_same_and_a_cache_turned_off_counts_more() -> None:
    runs = [_counting(), _counting(), _counting("--held-limit", "0")]  # in parallel: about a minute
    first, second, uncached = (_per_event(run) for run in runs)
    assert abs(first - second) <= first * 0.01, (first, second)  # seconds drift by a third here
    # without held contributions every event decodes its state and computes its old figures again
    assert uncached > first * 1.05, (first, uncached)
