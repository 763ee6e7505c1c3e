"""Process hygiene shared by the Kafka and InfluxDB launchers.

Why a class of its own: both servers need the same guarantees (own process session, output to a log
file, fail fast with the log tail when the server exits during startup, SIGTERM then SIGKILL on stop,
and no orphan when the Python process that started them dies without cleaning up). The last point is
handled by `watchdog.py`, which runs each server as its child; see there for the mechanism.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from ioc.devstack import watchdog

__all__ = [
    "DevstackError",
    "DevstackUnavailable",
    "ManagedProcess",
    "StartupError",
    "env_flag",
    "make_temp_dir",
    "pid_alive",
    "sweep_stale_dirs",
]


class DevstackError(RuntimeError):
    """Base class for errors of the local development stack."""


class DevstackUnavailable(DevstackError):
    """A prerequisite (a binary, Java, the jars) is missing; the message says how to install it."""


class StartupError(DevstackError):
    """The server was found but did not become ready; the message carries the log tail."""


def env_flag(name: str) -> bool:
    """True for the usual spellings of a set boolean environment variable (CI=true, CI=1, ...)."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def tail(path: Path, lines: int = 40) -> str:
    """Last lines of a log file ('' when it does not exist), for error messages."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a killed process not yet reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[-1][:1] not in ("Z", "X")


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until `pid_alive(pid)` is false; True if it went in time."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _start_time(pid: int) -> str | None:
    """Kernel start time of `pid` (field 22 of /proc/PID/stat): with the pid, identifies a process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


OWNER_FILE = ".ioc-owner"


def make_temp_dir(prefix: str) -> Path:
    """A temp dir that names its owner (this process), after sweeping dirs of dead owners.

    Why: the watchdog deletes a temp dir when its owner dies while the server runs; a dir whose server
    was already stopped or killed when the owner died (e.g. pytest SIGKILLed during a fault test) is
    removed here, by the next launcher in any process.
    """
    sweep_stale_dirs(prefix)
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
    return path


def sweep_stale_dirs(prefix: str) -> list[Path]:
    """Remove temp dirs made by `make_temp_dir(prefix)` whose owner is gone and where no server of
    ours still runs; dirs without an owner file are never touched."""
    removed: list[Path] = []
    for path in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            pid_text, start = (path / OWNER_FILE).read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if _start_time(pid) == start:
            continue  # owner alive
        busy = False
        for pidfile in path.glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                busy = busy or pid_alive(int(pidfile.read_text().strip()))
        if not busy:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


_LIVE: set[ManagedProcess] = set()
_LIVE_LOCK = threading.Lock()
_ATEXIT_REGISTERED = False


def _stop_all_at_exit() -> None:
    """atexit hook: stop every server this interpreter still runs (normal exit without teardown)."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.stop(timeout=10.0)


class ManagedProcess:
    """One server process, run under the watchdog in a new session, with its output in `log_path`.

    `pid` is the watchdog's (it leads the process group), `server_pid` the server's own pid.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        remove_on_orphan: Path | None = None,
        stop_timeout: float = 20.0,
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.remove_on_orphan = remove_on_orphan
        self.stop_timeout = stop_timeout
        self.pidfile = log_path.with_name(log_path.name + ".pid")
        self._popen: subprocess.Popen[bytes] | None = None
        self._pipe_w: int | None = None
        self._log_offset = 0

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the watchdog (which spawns the server); returns at once, see `wait_ready`."""
        global _ATEXIT_REGISTERED
        if self.running:
            raise DevstackError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        read_fd, write_fd = os.pipe()  # both non-inheritable; pass_fds hands only read_fd to the child
        cmd = [
            sys.executable,
            "-I",
            watchdog.__file__,
            "--parent-pid",
            str(os.getpid()),
            "--parent-fd",
            str(read_fd),
            "--pidfile",
            str(self.pidfile),
            "--grace",
            str(self.stop_timeout),
        ]
        if self.remove_on_orphan is not None:
            cmd += ["--remove-on-orphan", str(self.remove_on_orphan)]
        cmd += ["--", *self.argv]
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            try:
                self._popen = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=self.env,
                    pass_fds=(read_fd,),
                    start_new_session=True,
                )
            except BaseException:
                os.close(write_fd)
                raise
            finally:
                os.close(read_fd)
        self._pipe_w = write_fd
        with _LIVE_LOCK:
            _LIVE.add(self)
            if not _ATEXIT_REGISTERED:
                atexit.register(_stop_all_at_exit)
                _ATEXIT_REGISTERED = True

    def wait_ready(
        self,
        ready: Callable[[str], bool],
        *,
        timeout: float,
        what: str,
        interval: float = 0.05,
    ) -> None:
        """Poll until `ready(new_log_text)` is true; raise StartupError (with the log tail) when the
        server exits first or `timeout` passes. `new_log_text` is the log written since `start`."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_since_start()
            if ready(text):
                return
            if not self.running:
                rc = self.returncode
                self._cleanup_handles()
                raise StartupError(
                    f"{self.name} exited with code {rc} before {what}.\n"
                    f"--- last lines of {self.log_path} ---\n{tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise StartupError(
                    f"{self.name} not ready after {timeout:.0f} s (waiting for {what}); killed it.\n"
                    f"--- last lines of {self.log_path} ---\n{tail(self.log_path)}"
                )
            time.sleep(interval)

    def log_since_start(self) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(self._log_offset)
                return fh.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_matches(self, pattern: str) -> bool:
        return re.search(pattern, self.log_since_start()) is not None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def server_pid(self) -> int | None:
        """The server's pid (child of the watchdog), once the watchdog has written it."""
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM (a clean shutdown), then SIGKILL to the whole group after `timeout` seconds."""
        if self._popen is None:
            return None
        timeout = self.stop_timeout if timeout is None else timeout
        if self._popen.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._popen.send_signal(signal.SIGTERM)  # the watchdog forwards it to the server
            try:
                self._popen.wait(timeout=timeout + 2.0)
            except subprocess.TimeoutExpired:
                self._killpg()
        rc = self._popen.wait()
        self._cleanup_handles()
        return rc

    def kill(self) -> None:
        """SIGKILL the watchdog and the server at once: a crash, for fault tests. Returns once the
        server is gone (a big JVM takes a moment to die), so a new one can take its ports and locks."""
        if self._popen is None:
            return
        server = self.server_pid
        self._killpg()
        self._popen.wait()
        self._cleanup_handles()
        if server is not None:
            wait_gone(server, timeout=15.0)

    def _killpg(self) -> None:
        # Only while the watchdog is not reaped: until then its pid (= the group id) cannot be reused.
        if self._popen is not None and self._popen.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._popen.pid, signal.SIGKILL)

    def _cleanup_handles(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        if self._pipe_w is not None:
            with contextlib.suppress(OSError):
                os.close(self._pipe_w)
            self._pipe_w = None
        with _LIVE_LOCK:
            _LIVE.discard(self)


class Startable:
    """`with` support for what starts and closes: start on entry (closing what a failed start left),
    close on exit."""

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class LocalServer(Startable):
    """What a local server (the Kafka broker, influxd) shares: its child process, its data dir, and
    the lifecycle around them. A subclass sets `dir_prefix` and implements `start` and `stop`."""

    dir_prefix = "ioc-server-"
    data_dir: Path | None
    _owns_dir: bool
    _proc: ManagedProcess | None

    def stop(self) -> None:
        """Clean shutdown (SIGTERM, SIGKILL after the stop timeout); data dir and ports are kept."""
        if self._proc is not None:
            self._proc.stop()
            self._proc = None

    def kill(self) -> None:
        """SIGKILL the server (a crash, for fault tests); `start()` afterwards recovers its data."""
        if self._proc is not None:
            self._proc.kill()
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.running

    @property
    def pid(self) -> int | None:
        """The server's pid (None when not running)."""
        return self._proc.server_pid if self._proc is not None and self._proc.running else None

    @property
    def watchdog_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.running else None

    def restart(self) -> None:
        """stop() then start() on the same data dir and ports."""
        self.stop()
        self.start()

    def close(self) -> None:
        """stop(), and remove the data dir if it is a temporary one we created."""
        self.stop()
        if self._owns_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def _dir(self) -> Path:
        if self.data_dir is None:
            self.data_dir = make_temp_dir(self.dir_prefix)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir
