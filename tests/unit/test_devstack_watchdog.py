"""Process hygiene with a stand-in server (`sleep`): clean stop, kill, fail-fast, and no orphan when the
parent dies without cleaning up (SIGKILL). The same mechanism runs the JVM and influxd."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from ioc.devstack.proc import ManagedProcess, StartupError, make_temp_dir, sweep_stale_dirs


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as dead
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def wait_pid(proc: ManagedProcess, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.server_pid is not None:
            return proc.server_pid
        time.sleep(0.02)
    raise AssertionError("no server pid")


def test_stop_is_clean_and_runs_in_own_session(tmp_path: Path) -> None:
    proc = ManagedProcess(["sleep", "300"], name="sleep", log_path=tmp_path / "log")
    proc.start()
    spid = wait_pid(proc)
    assert proc.pid is not None
    assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
    assert os.getpgid(spid) == proc.pid
    proc.stop(timeout=5)
    assert wait_dead(spid, 2) and not proc.running


def test_sigterm_ignored_escalates_to_sigkill(tmp_path: Path) -> None:
    stubborn = [
        sys.executable,
        "-c",
        "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)",
    ]
    proc = ManagedProcess(stubborn, name="stubborn", log_path=tmp_path / "log", stop_timeout=0.5)
    proc.start()
    spid = wait_pid(proc)
    time.sleep(0.3)  # let it install the handler
    started = time.monotonic()
    proc.stop()
    assert time.monotonic() - started < 5
    assert wait_dead(spid, 2)


def test_kill_takes_down_watchdog_and_server(tmp_path: Path) -> None:
    proc = ManagedProcess(["sleep", "300"], name="sleep", log_path=tmp_path / "log")
    proc.start()
    spid = wait_pid(proc)
    wpid = proc.pid
    proc.kill()
    assert wpid is not None
    assert wait_dead(spid, 5) and wait_dead(wpid, 5)


def test_exit_during_startup_fails_fast_with_log_tail(tmp_path: Path) -> None:
    proc = ManagedProcess(
        ["sh", "-c", "echo boom: port taken; exit 3"], name="failing", log_path=tmp_path / "log"
    )
    proc.start()
    started = time.monotonic()
    with pytest.raises(StartupError, match=r"(?s)exited with code 3.*boom: port taken"):
        proc.wait_ready(lambda text: "ready" in text, timeout=30, what="ready")
    assert time.monotonic() - started < 5


def test_ready_line_is_seen(tmp_path: Path) -> None:
    proc = ManagedProcess(
        ["sh", "-c", "sleep 0.2; echo Server started; sleep 300"], name="sh", log_path=tmp_path / "l"
    )
    proc.start()
    proc.wait_ready(lambda text: "Server started" in text, timeout=10, what="line")
    proc.stop(timeout=5)


PARENT = textwrap.dedent(
    """
    import json, sys, time, tempfile, pathlib
    from ioc.devstack.proc import ManagedProcess
    d = pathlib.Path(tempfile.mkdtemp(prefix="ioc-orphan-test-"))
    p = ManagedProcess(["sleep", "300"], name="sleep", log_path=d / "log", remove_on_orphan=d)
    p.start()
    while p.server_pid is None:
        time.sleep(0.01)
    print(json.dumps({"server": p.server_pid, "watchdog": p.pid, "dir": str(d)}), flush=True)
    time.sleep(300)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_parent_death_leaves_no_orphan(sig: signal.Signals) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        info = json.loads(parent.stdout.readline())
        assert alive(info["server"])
        parent.send_signal(sig)  # SIGTERM's default action also skips atexit and finally blocks
        parent.wait(5)
        assert wait_dead(info["server"], 10), "server outlived its parent"
        assert wait_dead(info["watchdog"], 10), "watchdog outlived its parent"
        assert not Path(info["dir"]).exists(), "temp dir not removed"
    finally:
        parent.kill()
        parent.wait()


def test_watchdog_sigkill_takes_server_down_via_pdeathsig(tmp_path: Path) -> None:
    proc = ManagedProcess(["sleep", "300"], name="sleep", log_path=tmp_path / "log")
    proc.start()
    spid = wait_pid(proc)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)  # only the watchdog
    assert wait_dead(spid, 5)
    proc.stop()


def test_stale_temp_dirs_of_dead_owners_are_swept() -> None:
    prefix = f"ioc-sweeptest-{os.getpid()}-"
    code = f"from ioc.devstack.proc import make_temp_dir; print(make_temp_dir({prefix!r}))"

    def made_by_a_process_that_exited() -> Path:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())

    mine = make_temp_dir(prefix)  # owner (this process) alive
    foreign = Path(tempfile.mkdtemp(prefix=prefix))  # no owner file: never touched
    busy = made_by_a_process_that_exited()
    (busy / "server.log.pid").write_text(f"{os.getpid()}\n")  # a server of ours still runs in it
    dead_owner = made_by_a_process_that_exited()
    try:
        assert dead_owner.is_dir()
        assert sweep_stale_dirs(prefix) == [dead_owner]
        assert not dead_owner.exists() and mine.is_dir() and foreign.is_dir() and busy.is_dir()
    finally:
        for d in (dead_owner, mine, foreign, busy):
            shutil.rmtree(d, ignore_errors=True)
