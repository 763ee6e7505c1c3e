"""Tiny supervisor that ties a dev server's life to the Python process that started it.

Why: a test run that is killed with SIGKILL (or crashes, or loses its terminal) runs no cleanup code,
and a JVM or influxd left behind holds ports, memory and temp dirs until someone notices. So each server
runs as the child of this watchdog, which is started by `ioc.devstack.proc.ManagedProcess` as

    python -I watchdog.py --parent-pid P --parent-fd F --pidfile FILE [--remove-on-orphan DIR] -- argv...

The watchdog stops the server when any of these happens:
  * the read end `F` of a pipe reaches EOF: the parent held the only write end, so it is gone;
  * its parent pid changes (reparented to init or a subreaper: the parent died even if a forked
    grandchild still holds the pipe);
  * it gets SIGTERM/SIGINT/SIGHUP (forwarded to the server as SIGTERM: a clean stop).
The server itself gets PR_SET_PDEATHSIG=SIGKILL, so it dies too if the watchdog is SIGKILLed.

Stdlib only and runnable by path (`-I`, no package import) so it works from any working directory.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from types import FrameType

PR_SET_PDEATHSIG = 1


def _log(message: str) -> None:
    print(f"[ioc-watchdog {os.getpid()}] {message}", file=sys.stderr, flush=True)


def _die_with_parent(expected_parent: int) -> None:
    """preexec_fn for the server: SIGKILL it when the watchdog dies (set before exec, kept across it)."""
    libc_name = ctypes.util.find_library("c") or "libc.so.6"
    libc = ctypes.CDLL(libc_name, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != expected_parent:  # the watchdog died before prctl took effect
        os._exit(1)


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ioc-watchdog")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--parent-fd", type=int, default=-1)
    parser.add_argument("--pidfile", default="")
    parser.add_argument("--grace", type=float, default=15.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("--remove-on-orphan", default="", help="directory to delete when orphaned")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command: list[str] = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    if os.getppid() != args.parent_pid:
        _log("parent already gone; not starting")
        return 1

    me = os.getpid()
    child = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: _die_with_parent(me),  # single-threaded here, so preexec_fn is safe
    )
    if args.pidfile:
        tmp = args.pidfile + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{child.pid}\n")
        os.replace(tmp, args.pidfile)

    stopping_since: list[float] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if not stopping_since:
            stopping_since.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, request_stop)

    orphaned = False
    fds = [args.parent_fd] if args.parent_fd >= 0 else []
    while True:
        rc = child.poll()
        if rc is not None:
            break
        if not orphaned:
            try:
                readable, _, _ = select.select(fds, [], [], 0.25)
            except InterruptedError:  # pragma: no cover - PEP 475 retries select itself
                readable = []
            pipe_closed = False
            if readable:
                try:
                    pipe_closed = os.read(args.parent_fd, 64) == b""
                except OSError:
                    pipe_closed = True
                if pipe_closed:
                    fds = []
            if pipe_closed or os.getppid() != args.parent_pid:
                orphaned = True
                _log(f"parent {args.parent_pid} is gone: stopping pid {child.pid}")
                request_stop(signal.SIGTERM, None)
        else:
            time.sleep(0.1)
        if stopping_since and time.monotonic() - stopping_since[0] > args.grace:
            _log(f"pid {child.pid} ignored SIGTERM for {args.grace:.0f} s: SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            stopping_since[0] = float("inf")

    if orphaned and args.remove_on_orphan:
        shutil.rmtree(args.remove_on_orphan, ignore_errors=True)
    if args.pidfile:
        with contextlib.suppress(OSError):
            os.unlink(args.pidfile)
    return _exit_code(rc)


if __name__ == "__main__":
    sys.exit(main())
