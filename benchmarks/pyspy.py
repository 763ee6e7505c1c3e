"""py-spy for the stream benchmarks: attach to a process, summarise its raw profile by library and
function (shares of the samples that held the GIL: CPU time, not waits)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import console


def py_spy() -> str | None:
    """The py-spy binary when installed (`pip install py-spy`); None otherwise."""
    from shutil import which

    return which("py-spy")


GROUPS: tuple[tuple[str, str], ...] = (
    ("/faust/", "faust"),
    ("/mode/", "mode"),
    ("/aiokafka/", "aiokafka"),
    ("/kafka/", "kafka-python"),
    ("/influxdb_client/", "influxdb-client"),
    ("/urllib3/", "urllib3"),
    ("/prometheus_client/", "prometheus_client"),
    ("/pydantic", "pydantic"),
    ("/streams/", "streams (ours)"),
    ("/dossiers/", "dossiers (ours)"),
    ("/asyncio/", "asyncio"),
    ("json/", "json (stdlib)"),
    ("/venusian/", "venusian"),
    ("/opentracing/", "opentracing"),
    ("/logging/", "logging"),
    ("/threading.py", "threading"),
)


def frame_group(frame: str) -> str:
    """The library a py-spy frame `func (path:line)` belongs to."""
    for needle, group in GROUPS:
        if needle in frame:
            return group
    if "(<" in frame or "(" not in frame:
        return "native/builtin"
    return "other"


@dataclass
class Profile:
    """A summarised py-spy raw profile: self time per library, top self and inclusive functions."""

    samples: int
    by_group: list[tuple[str, float]]
    top_self: list[tuple[str, float]]
    top_inclusive: list[tuple[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "by_group": self.by_group,
            "top_self": self.top_self,
            "top_inclusive": self.top_inclusive,
        }


def _short(frame: str) -> str:
    match = re.match(r"(.*) \((.*):(\d+)\)$", frame)
    if not match:
        return frame
    func, path = match.group(1), match.group(2)
    parts = Path(path).parts
    for anchor in ("site-packages", "main", "python3.11"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1 :]
            break
    return f"{func} ({'/'.join(parts[-2:])})"


def summarise_raw(path: Path, top: int = 40) -> Profile:
    """Read py-spy's `--format raw` output (one `root;...;leaf count` line per stack)."""
    groups: dict[str, int] = {}
    leaves: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf = frames[-1]
        group = frame_group(leaf)
        groups[group] = groups.get(group, 0) + count
        leaves[_short(leaf)] = leaves.get(_short(leaf), 0) + count
        for name in {_short(f) for f in frames}:
            inclusive[name] = inclusive.get(name, 0) + count
    if not total:
        return Profile(0, [], [], [])

    def share(items: dict[str, int]) -> list[tuple[str, float]]:
        return sorted(((k, v / total) for k, v in items.items()), key=lambda kv: -kv[1])

    interesting = [kv for kv in share(inclusive) if kv[1] < 0.9]
    return Profile(total, share(groups), share(leaves)[:top], interesting[:top])


def record_py_spy(pid: int, seconds: float, out: Path) -> Profile | None:
    """Attach py-spy to `pid` for `seconds` (only samples holding the GIL: CPU time, not waits)."""
    binary = py_spy()
    if binary is None:
        return None
    cmd = [
        binary,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(seconds))),
        "--rate",
        "200",
        "--gil",
        "--nonblocking",
        "--full-filenames",
        "--format",
        "raw",
        "--output",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=seconds + 60)
    if proc.returncode != 0 or not out.is_file():
        console.print(f"[yellow]py-spy failed ({proc.returncode}): {proc.stderr.strip()[-500:]}[/yellow]")
        return None
    return summarise_raw(out)
