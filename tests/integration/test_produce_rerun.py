"""`ioc produce` run again over a file it partly sent: nothing counted twice, no alert twice, bad lines
reported each time and never sent (the hostile-input issue), on the real broker, worker and InfluxDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import load_catalog
from producers.simulator import Simulator, warmup_start
from tests.support.events import VN
from tests.support.hostile import corpus
from tests.support.pipeline import (
    EVENING,
    Pipeline,
    assert_same_kpis,
    expected_alert_ids,
    metric,
    replay_of,
    settle,
)


def produce(pipeline: Pipeline, path: Path, spool: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": pipeline.bootstrap, "IOC_EVENTS_TOPIC": pipeline.topic}
    return subprocess.run([sys.executable, "-m", "ioc.cli", "produce", str(path), "--spool", str(spool)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_a_partly_sent_file_sent_again_counts_and_alerts_once(pipeline: Pipeline, tmp_path: Path) -> None:
    catalog = load_catalog()
    calendar = WorkingCalendar(catalog.calendar)
    start = datetime(2026, 3, 23, tzinfo=VN)
    simulator = Simulator(catalog, calendar, seed=11, start=warmup_start(calendar, start, 5), end=EVENING,
                          emit_from=start)
    events = [json.dumps(e, ensure_ascii=False).encode() for e in simulator.events()]
    hostile = next(case for case in corpus() if case.name == "invalid_utf8").data.splitlines()[1]
    bad_lines = [hostile, b"{broken", b"[]"]
    lines = [*events[:100], *bad_lines, *events[100:]]
    whole = tmp_path / "export.jsonl"
    whole.write_bytes(b"\n".join(lines) + b"\n")
    part = tmp_path / "export-part.jsonl"  # the first run stopped after 40% of the file
    part.write_bytes(b"\n".join(lines[: int(len(lines) * 0.4)]) + b"\n")
    sent_first = int(len(lines) * 0.4) - len(bad_lines)

    worker = pipeline.worker("w1")
    worker.wait_ready()
    first = produce(pipeline, part, tmp_path / "spool.sqlite")
    second = produce(pipeline, whole, tmp_path / "spool.sqlite")
    for run in (first, second):
        assert run.returncode == 1, run.stderr  # the bad lines, every time
        assert "Traceback" not in run.stderr
        assert [f"line {n}" for n in (101, 102, 103)] == [
            line.split(":")[0] for line in run.stderr.splitlines() if line.startswith("line ")]
    assert f"sent {sent_first}, spooled 0, invalid 3" in first.stdout
    assert f"sent {len(events)}, spooled 0, invalid 3" in second.stdout

    records = [(None, value) for value in events]
    live = settle(pipeline, expected_received=replay_of(records, catalog, EVENING).snapshot().centre.received)
    assert_same_kpis(live, replay_of(records, catalog, max(live.as_of)))
    assert metric(worker, "ioc_events_total", 'result="duplicate"') == sent_first
    assert metric(worker, "ioc_dead_letters_total") == 0  # bad lines never left the command
    alerts = [json.loads(m.value) for m in pipeline.read_topic("IOC_ALERTS_TOPIC")]
    ids = [a["alert_id"] for a in alerts]
    assert len(ids) == len(set(ids))  # the supervisors' view: each alert once
    assert set(ids) == expected_alert_ids(records, catalog, EVENING)
