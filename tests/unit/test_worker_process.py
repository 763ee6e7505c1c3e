"""`ioc worker` started by `ioc.devstack.worker.WorkerProcess` (for `ioc up`, the tests and the benchmarks)
dies with the process that started it, even when that process is SIGKILLed: it runs under the devstack
watchdog like the local Kafka and InfluxDB. No broker is needed: a worker whose broker does not answer
keeps running (retrying), which is exactly what an orphan would do."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.test_devstack_watchdog import alive, wait_dead

PARENT = textwrap.dedent(
    """
    import json, sys, time, pathlib
    from ioc.devstack.worker import WorkerProcess
    log = pathlib.Path(sys.argv[1])
    env = {"IOC_KAFKA_BOOTSTRAP": "127.0.0.1:9", "IOC_APP_ID": "orphan-test", "IOC_DATA_DIR": str(log.parent)}
    worker = WorkerProcess(env, log, "orphan-test").start()
    while worker.pid is None:
        time.sleep(0.01)
    print(json.dumps({"worker": worker.pid, "watchdog": worker.managed.pid}), flush=True)
    time.sleep(300)
    """
)


def test_a_worker_dies_with_the_process_that_started_it_even_by_sigkill(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "worker.log")],
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert parent.stdout is not None
        info = json.loads(parent.stdout.readline())
        assert alive(info["worker"])
        command = Path(f"/proc/{info['worker']}/cmdline").read_bytes().split(b"\0")
        assert b"ioc.cli" in command and b"worker" in command  # `pid` is the worker's own, for profilers
        parent.kill()
        parent.wait(5)
        assert wait_dead(info["worker"], 45), "the worker outlived the process that started it"
        assert wait_dead(info["watchdog"], 10)
    finally:
        parent.kill()
        parent.wait()
