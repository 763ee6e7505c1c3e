"""Run `ioc worker` as a child process: for `ioc up`, the tests and the benchmarks (dev tooling).

A Faust worker owns its event loop and signal handlers, so each worker is its own process (which
is also how production scales: more processes, more partitions each). The child gets its own
process session so that stopping it never signals the parent, and SIGKILL is available for fault tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from streams.worker import READY_LINE


class WorkerProcess:
    """One `ioc worker` child process with its environment and log file."""

    def __init__(self, env: Mapping[str, str], log_path: Path, name: str = "worker"):
        self.env = {**os.environ, **env}
        self.env.setdefault("IOC_LOG_LEVEL", "INFO")
        self.log_path = log_path
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._offset = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ioc.cli", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[self._offset :]

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Block until the worker consumes; returns the seconds it took. Raises with the log tail."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if READY_LINE in self.log_text():
                return time.monotonic() - started
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout} s:\n{self.log_text()[-3000:]}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Faust shuts down cleanly: flushes, leaves the group), then SIGKILL."""
        if not self.running or self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process session: a crash, for fault tests."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
