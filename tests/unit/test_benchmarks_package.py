"""The benchmarks package: every phase module imports and exposes `run(ctx)`, the report refreshes only
the text between its markers, and docs/benchmarks.md carries every block the report writes."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from benchmarks.phases import REPORT_PHASES, STREAM_PHASES
from benchmarks.report import DOCS, markers, refresh, refresh_doc
from benchmarks.tables import BLOCKS, stream_blocks

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", STREAM_PHASES + REPORT_PHASES)
def test_each_phase_module_exposes_run(name: str) -> None:
    module = importlib.import_module(f"benchmarks.phases.{name}")
    assert callable(module.run)
    first, *others = inspect.signature(module.run).parameters.values()
    assert first.name == "ctx"
    assert all(p.default is not inspect.Parameter.empty for p in others)  # run(ctx) is enough


def test_no_benchmark_edits_sys_path() -> None:
    for path in (ROOT / "benchmarks").rglob("*.py"):
        assert "sys.path" not in path.read_text(encoding="utf-8"), path


DOC = """# Title

Hand-written prose quoting 1,776 events/s.
<!-- bench:streams:start -->
| old | table |
<!-- bench:streams:end -->
More prose: keep   this spacing.
<!-- bench:memory:start -->
| memory | old |
<!-- bench:memory:end -->
tail without newline"""


def test_refresh_replaces_only_the_named_block(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC, encoding="utf-8")
    refresh_doc(doc, {"streams": "| new | table |\n|---|---|\n"})
    text = doc.read_text(encoding="utf-8")
    start, end = markers("streams")
    assert f"{start}\n| new | table |\n|---|---|\n{end}" in text
    assert "| old | table |" not in text
    before, after = DOC.split("<!-- bench:streams:start -->"), text.split("<!-- bench:streams:start -->")
    assert after[0] == before[0]  # everything before the block, byte for byte
    assert after[1].split(end)[1] == before[1].split(end)[1]  # everything after it, the other block included


def test_refresh_is_idempotent_and_keeps_the_other_blocks() -> None:
    once = refresh(DOC, "memory", "| memory | new |")
    assert refresh(once, "memory", "| memory | new |") == once
    assert "| old | table |" in once and "| memory | old |" not in once


@pytest.mark.parametrize(
    "text",
    [
        "no markers at all",
        "<!-- bench:streams:start -->\nonly a start",
        "<!-- bench:streams:end -->\nx\n<!-- bench:streams:start -->",
        DOC + "\n<!-- bench:streams:start -->\n<!-- bench:streams:end -->",
    ],
)
def test_refresh_refuses_missing_reversed_or_doubled_markers(text: str) -> None:
    with pytest.raises(ValueError):
        refresh(text, "streams", "x")


def test_the_doc_has_every_block_the_report_writes() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in BLOCKS:
        start, end = markers(name)
        assert text.count(start) == 1 and text.count(end) == 1, name
        assert text.index(start) < text.index(end), name


MACHINE = {k: "x" for k in ("nproc", "cpu", "ram", "python", "faust-streaming", "aiokafka", "kafka-python")}


def figure(name: str, phase: str, value: float, **details: object) -> dict[str, object]:
    return {
        "name": name, "value": value, "unit": "events/s", "note": "", "cpu_us": 10.0, "broker_us": None,
        "load": "0.10 0.20 0.30", "phase": phase, "details": details,
    }  # fmt: skip


def test_stream_blocks_render_only_throughput_rows_in_the_streams_table() -> None:
    memory = {
        "open": 1000, "rss_per_dossier": 500.0, "traced_per_dossier": None, "state_bytes_mean": 290.0,
        "state_bytes_p90": 330.0, "rebuild_seconds": 0.1, "tick_seconds_median": 0.005,
        "tick_fired_median": 100, "load": "0.1 0.2 0.3",
    }  # fmt: skip
    streams = {
        "machine": MACHINE, "events": 3000, "partitions": 6, "uptime_start": "a", "uptime_end": "b",
        "ratios": {"pipeline / naive": 0.5}, "errors": [],
        "figures": [
            figure("pure: Processor.handle", "pure", 17702.0),
            figure("memory: 1,000 open dossiers", "memory", 500.0, **memory),
        ],
    }  # fmt: skip
    blocks = stream_blocks(streams, "python -m benchmarks.streams --events 3000")
    assert set(blocks) <= set(BLOCKS)
    assert "| pure: Processor.handle | 17,702 | 10 | — | 0.10 0.20 0.30 |  |" in blocks["streams"]
    assert "memory: 1,000" not in blocks["streams"]
    assert "**0.50×**" in blocks["streams"]
    assert "| 1,000 | 500 | — | 290 (p90 330) | 0.1 | 5.00 | 100 | 50 | 0.1 0.2 0.3 |" in blocks["memory"]
    assert "not measured" in blocks["overdue"] and "not measured" in blocks["streams-cpu"]


def test_paused_counts_only_stills_long_enough_to_be_a_stall_within_the_window() -> None:
    from benchmarks.phases.pipeline import paused

    # a batch every 0.4 s (counter still for one 0.2 s step), then a 2.4 s stall, then a 1.0 s still
    samples = [(0.0, 0), (0.2, 10), (0.4, 10), (0.6, 20), (0.8, 20), (1.0, 30)]
    samples += [(1.0 + 0.2 * i, 30) for i in range(1, 13)] + [(3.8, 40)]
    samples += [(3.8 + 0.2 * i, 40) for i in range(1, 6)] + [(5.2, 50)]
    assert paused(samples, 0.0, 6.0) == pytest.approx(2.4)  # from 1.0 to 3.4, the last still sample
    assert paused(samples, 0.0, 6.0, least=0.1) == pytest.approx(0.2 + 0.2 + 2.4 + 1.0)
    assert paused(samples, 4.0, 6.0) == 0.0  # the stall lies outside the window


def test_cpu_readers_see_this_process_and_the_machine_move() -> None:
    import os
    import subprocess
    import sys

    from benchmarks.harness import cpu_seconds, machine_cpu, process_tree

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        deadline = 50
        while child.pid not in process_tree(os.getpid()) and deadline:
            deadline -= 1
        assert child.pid in process_tree(os.getpid())
        busy, total = machine_cpu()
        mine = cpu_seconds(os.getpid())
        sum(i * i for i in range(2_000_000))  # some CPU of this process
        busy_after, total_after = machine_cpu()
        assert cpu_seconds(os.getpid()) > mine
        assert busy_after > busy and total_after > total and 0 < busy_after <= total_after
    finally:
        child.kill()
        child.wait()


def test_the_benchmarks_broker_takes_the_compose_brokers_group_settings() -> None:
    """The benchmarks' broker groups workers as the compose broker does (its initial rebalance delay: two
    workers started together share the partitions in one rebalance), not as the test broker does (0)."""
    from benchmarks.harness import COMPOSE_BROKER, compose_group_properties

    found = compose_group_properties()
    assert found == {"group.initial.rebalance.delay.ms": "3000"}
    lines = COMPOSE_BROKER.read_text(encoding="utf-8").splitlines()
    assert "group.initial.rebalance.delay.ms=3000" in lines
    assert not any(key.startswith("#") for key in found)


def test_tune_takes_worker_settings_only() -> None:
    import argparse

    from benchmarks.streams import parser, setting

    assert setting("IOC_COMMIT_SECONDS=0.2") == ("IOC_COMMIT_SECONDS", "0.2")
    assert setting("IOC_SINK_BATCH_SIZE=") == ("IOC_SINK_BATCH_SIZE", "")
    for bad in ("COMMIT_SECONDS=1", "IOC_COMMIT_SECONDS"):
        with pytest.raises(argparse.ArgumentTypeError):
            setting(bad)
    options = parser().parse_args(["--tune", "IOC_A=1", "--tune", "IOC_B=2"])
    assert dict(options.tune) == {"IOC_A": "1", "IOC_B": "2"}


def test_the_tail_runs_from_all_consumed_to_all_committed() -> None:
    from benchmarks.harness import Series
    from benchmarks.phases.pipeline import tail

    consumed, committed = Series(), Series()
    for at, done, saved in ((0.0, 0, 0), (1.0, 50, 20), (2.0, 100, 60), (3.0, 100, 100)):
        consumed.add(at, done)
        committed.add(at, saved)
    assert tail(consumed, committed, 100) == 1.0
    assert tail(consumed, committed, 200) is None  # never reached
