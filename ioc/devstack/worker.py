"""Run `ioc worker` as a child process: for `ioc up`, the tests and the benchmarks (dev tooling).

A Faust worker owns its event loop and signal handlers, so each worker is its own process (which
is also how production scales: more processes, more partitions each). The worker runs under the same
watchdog as the local Kafka and InfluxDB (`ioc.devstack.proc.ManagedProcess`, `watchdog.py`): in its own
process session, so that stopping it never signals the parent and SIGKILL reaches the whole group for
fault tests; and stopped when the process that started it dies, even by SIGKILL (a killed test run or
`ioc up` used to leave its workers consuming, holding a core, until someone noticed).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ioc.devstack.proc import ManagedProcess, StartupError
from streams.worker import READY_LINE


class WorkerProcess:
    """One `ioc worker` child process with its environment and log file."""

    def __init__(self, env: Mapping[str, str], log_path: Path, name: str = "worker",
                 command: Sequence[str] | None = None):
        """`command`: another way to start the same worker (a benchmark's variant); `ioc worker` by
        default."""
        self.env = {**os.environ, **env}
        self.env.setdefault("IOC_LOG_LEVEL", "INFO")
        self.log_path = log_path
        self.name = name
        self.managed = ManagedProcess(
            command or [sys.executable, "-m", "ioc.cli", "worker"], name=name, log_path=log_path,
            env=self.env, stop_timeout=30.0,
        )  # fmt: skip

    def start(self) -> WorkerProcess:
        self.managed.start()
        return self

    def log_text(self) -> str:
        return self.managed.log_since_start()

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Block until the worker consumes; returns the seconds it took. Raises (RuntimeError) with the
        log tail if it exits first or is not ready in time (then it is killed)."""
        started = time.monotonic()
        try:
            self.managed.wait_ready(lambda text: READY_LINE in text, timeout=timeout, what="consuming",
                                    interval=0.2)
        except StartupError as exc:
            raise RuntimeError(str(exc)) from exc
        return time.monotonic() - started

    @property
    def pid(self) -> int | None:
        """The worker's own pid (the watchdog's child): for profilers and CPU readings."""
        return self.managed.server_pid

    @property
    def running(self) -> bool:
        return self.managed.running

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Faust shuts down cleanly: flushes, leaves the group), then SIGKILL."""
        self.managed.stop(timeout)

    def kill(self) -> None:
        """SIGKILL the whole process session: a crash, for fault tests."""
        self.managed.kill()
