"""A large event file streamed through a door, to show its memory stays flat (hostile-input issue).

`python -m tests.support.big_file --megabytes 1024` pipes about 1 GB of JSON lines (valid events of a
bounded set of dossiers, broken lines, overlong lines) into `ioc produce - --dry-run` and `ioc validate -`
and prints lines, seconds and each child's peak RSS. The suite runs it small (test_hostile_doors.py);
scripts/fuzz runs it at 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from tests.support.hostile import good

OVERLONG = b'{"event_id": "' + b"x" * 100_000 + b'"}'


def lines(megabytes: float, dossiers: int = 1000) -> Iterator[bytes]:
    """JSON lines up to `megabytes`: 98% valid receipts of `dossiers` dossiers (repeated ids are
    duplicates), 2% broken JSON, 0.1% over the line limit."""
    budget = int(megabytes * (1 << 20))
    n = 0
    while budget > 0:
        n += 1
        if n % 1000 == 0:
            line = OVERLONG
        elif n % 50 == 0:
            line = b'{"event_id": "broken-' + str(n).encode() + b'", '
        else:
            line = json.dumps(good(n % dossiers)).encode()
        budget -= len(line) + 1
        yield line + b"\n"


@dataclass(frozen=True)
class Run:
    command: str
    megabytes: float
    lines: int
    seconds: float
    peak_rss_mb: float
    stdout: str


def stream(command: list[str], megabytes: float) -> Run:
    """Pipe `lines(megabytes)` into `python -m ioc.cli COMMAND` and measure the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "ioc.cli", *command], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdin is not None and child.stdout is not None
    count = 0
    buffer: list[bytes] = []
    for line in lines(megabytes):
        count += 1
        buffer.append(line)
        if len(buffer) == 2000:
            child.stdin.write(b"".join(buffer))
            buffer.clear()
    child.stdin.write(b"".join(buffer))
    child.stdin.close()
    out = child.stdout.read().decode()
    child.wait()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux; the max over children
    return Run(" ".join(command), megabytes, count, time.monotonic() - started,
               max(peak, before) / 1024, out.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=float, default=1024)
    args = parser.parse_args()
    env_note = os.environ.get("IOC_CATALOG", "the shipped sample")
    print(f"catalog: {env_note}")
    for command in (["produce", "-", "--dry-run"], ["validate", "-"]):
        run = stream(command, args.megabytes)
        print(f"ioc {run.command}: {run.megabytes:,.0f} MB, {run.lines:,} lines in {run.seconds:,.1f} s "
              f"({run.megabytes / run.seconds:,.1f} MB/s), peak RSS {run.peak_rss_mb:,.0f} MB: {run.stdout}")


if __name__ == "__main__":
    main()
