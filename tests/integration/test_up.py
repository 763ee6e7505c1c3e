"""`ioc up` as a person runs it: in a real terminal (tmux), watched on screen, stopped with Ctrl-C."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dossiers.catalog import load_catalog

pytestmark = pytest.mark.slow


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def processes_mentioning(marker: str) -> list[str]:
    """Command lines of live processes that mention `marker` (the state dir of this run)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if marker in cmdline or marker.encode() in environ:
            found.append(f"{pid}: {cmdline[:160]}")
    return found


def agency_rows(screen: str, labels: dict[str, str]) -> dict[str, int]:
    """Received count per agency code, read off the wall's rows: "│ Tư pháp (STP)  │  297 │ ..."."""
    rows = {}
    for code in labels:
        match = re.search(rf"\({re.escape(code)}\)\s*│\s*(\d+)\s*│", screen)
        if match:
            rows[code] = int(match.group(1))
    return rows


def test_ioc_up_shows_every_agency_and_an_alert_then_stops_cleanly(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (scripts/test installs it: apt-get install -y tmux)")
    catalog = load_catalog()
    labels = {a.code: a.label for a in catalog.agencies}
    state = tmp_path / f"up-{uuid.uuid4().hex[:6]}"
    session = f"ioc-up-{uuid.uuid4().hex[:6]}"
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "60", "-c", str(Path.cwd()))
    tmux("set-option", "-t", session, "remain-on-exit", "on")  # keep the last screen after exit
    tmux(
        "send-keys",
        "-t",
        session,
        f"exec {sys.executable} -m ioc.cli up --speed 3600 --state-dir {state}",
        "Enter",
    )
    screen = ""
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            screen = tmux("capture-pane", "-p", "-t", session)
            rows = agency_rows(screen, labels)
            alerts = re.findall(r"(QUÁ HẠN|SẮP ĐẾN HẠN|ĐÃ GIẢI QUYẾT QUÁ HẠN)\s+\S", screen)
            if len(rows) == len(labels) and all(n > 0 for n in rows.values()) and alerts:
                break
            time.sleep(2)
        else:
            pytest.fail(f"the wall never showed all 19 agencies with dossiers and an alert:\n{screen}")
        assert "Cảnh báo mới nhất" in screen and catalog.centre.name in screen
        tmux("send-keys", "-t", session, "C-c")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "Stopped." not in tmux("capture-pane", "-p", "-t", session):
            time.sleep(1)
        assert "Stopped." in tmux("capture-pane", "-p", "-t", session), tmux(
            "capture-pane", "-p", "-t", session
        )
        time.sleep(2)
        left = processes_mentioning(str(state))
        assert not left, f"processes left behind after Ctrl-C: {left}"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
