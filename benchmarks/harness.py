"""The benchmarks' harness: machine facts, `Figure`, realistic traffic, topics, a local Kafka broker and
InfluxDB, `ioc worker` processes, Prometheus scrapes and throughput series.

Not a library for the product: everything here exists to measure it. Everything the benchmarks take
from the test support and the worker launcher is imported here, and only here:

- `tests.support.stack.create_topic`  (topics, in `new_topic` and `precreate_topics`)
- `ioc.devstack.worker.WorkerProcess`       (`ioc worker` child processes, in `start_worker`)
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dossiers.calendar import WorkingCalendar
from dossiers.catalog import Catalog, load_catalog
from ioc.devstack.influx import InfluxQL
from ioc.devstack.kafka import KafkaBroker
from ioc.devstack.ports import free_port
from ioc.devstack.worker import WorkerProcess
from producers.simulator import Simulator, warmup_start
from tests.support.catalogs import FAST_CATALOG as TEST_FAST_CATALOG
from tests.support.stack import create_topic

ROOT = Path(__file__).resolve().parents[1]
"""The repository: the working directory of every child process (`python -m benchmarks...`)."""
console = Console(stderr=True)
VN = ZoneInfo("Asia/Ho_Chi_Minh")
SIMULATION_FROM = datetime(2025, 1, 2, tzinfo=VN)
"""First emitted day of the benchmark traffic (10 working days of warm-up before it)."""
MORNING = int(datetime(2026, 3, 3, 9, 0, tzinfo=VN).timestamp())
"""A Tuesday 09:00 in business time: office hours, so working-second SLAs run while a test does."""

Record = tuple[bytes, bytes]
"""(key, value) of one Kafka record: dossier code and the event's JSON."""

FAST_CATALOG: dict[str, Any] = {
    **TEST_FAST_CATALOG,
    "centre": {"code": "bench", "name": "Trung tâm đo hiệu năng"},
    "agencies": TEST_FAST_CATALOG["agencies"][:1],  # Sở Tư pháp only
}
"""A catalog whose P.FAST takes 7 working seconds: an SLA transition happens while we watch."""


# -- the machine ------------------------------------------------------------------------------------------
def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    """nproc, CPU model, RAM, Python and the stream libraries' versions."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    return {
        "nproc": str(usable),
        "cpu": model,
        "ram": ram,
        "python": platform.python_version(),
        "faust-streaming": _version("faust-streaming"),
        "aiokafka": _version("aiokafka"),
        "kafka-python": _version("kafka-python"),
        "pydantic": _version("pydantic"),
        "os": f"{platform.system()} {platform.release()}",
        "domain core": core_build(),
    }


def core_build() -> str:
    """How the core's modules were imported: "compiled" (all by mypyc), "source", or "mixed" (a partial
    build, which `ioc native status` calls stale)."""
    import importlib

    from ioc.native import MODULES, SUFFIX

    kinds = {
        str(importlib.import_module(m.removesuffix(".py").replace("/", ".")).__file__).endswith(SUFFIX)
        for m in MODULES
    }
    return "mixed" if len(kinds) > 1 else ("compiled" if kinds == {True} else "source")


def load_average() -> str:
    """`uptime`'s load averages (1, 5, 15 min), recorded with every figure: the machine is shared."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return f"load average: {load_average()}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), 0.0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc/<pid>/task/*/children), for the CPU time of a server that
    runs helpers (`ioc dev influx`: the dev-only write shim and its influxd)."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                queue.extend(int(child) for child in task.read_text().split())
    return tree


def machine_cpu() -> tuple[float, float]:
    """(busy, elapsed) CPU seconds of the whole machine since boot, over all its cores (/proc/stat):
    what every process, the kernel's interrupts included, used and what there was to use."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


BROKER_PIDS: list[int] = []
"""The JVM of the Kafka broker started by `kafka()`, for its CPU time."""


def broker_cpu() -> float | None:
    """CPU seconds of the local broker so far (None when the broker was given with --bootstrap)."""
    return sum(map(cpu_seconds, BROKER_PIDS)) if BROKER_PIDS else None


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc)."""
    fields = Path("/proc/self/statm").read_text().split()
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


# -- figures ----------------------------------------------------------------------------------------------
@dataclass
class Figure:
    """One measured figure, with the load average when it was taken."""

    name: str
    value: float
    unit: str
    note: str = ""
    cpu_us: float | None = None
    """CPU time per event of the consuming process (µs): less sensitive to the machine's load."""
    broker_us: float | None = None
    """CPU time per event of the local Kafka broker (µs) during the same window."""
    load: str = field(default_factory=load_average)
    phase: str = ""
    """The phase module that measured it (`benchmarks.phases.<phase>`); set by the runner."""
    details: dict[str, Any] = field(default_factory=dict)
    """Everything else the phase measured (memory rows, latency percentiles, profiles...)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "note": self.note,
            "cpu_us": self.cpu_us,
            "broker_us": self.broker_us,
            "load": self.load,
            "phase": self.phase,
            "details": self.details,
        }


@dataclass
class Series:
    """(monotonic seconds, cumulative count) samples of a consumer's progress."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    """CPU seconds used by the followed processes at each sample (when known)."""
    broker: list[float] = field(default_factory=list)
    """CPU seconds used by the local Kafka broker at each sample (when it was started here)."""

    def add(self, at: float, count: float, cpu: float | None = None, broker: float | None = None) -> None:
        self.samples.append((at, count))
        if cpu is not None:
            self.cpu.append(cpu)
        if broker is not None:
            self.broker.append(broker)

    def cpu_per_event(self, total: int, of: str = "cpu") -> float | None:
        """CPU µs per event between the start of consumption and the sample that reached `total`,
        of the followed processes (`cpu`) or of the broker (`broker`)."""
        return self.per_event(self.cpu if of == "cpu" else self.broker, total)

    def window(self, total: int) -> tuple[int, int] | None:
        """Indices of the samples from the start of consumption to the one that reached `total`."""
        start = next(
            (i for i, (a, b) in enumerate(zip(self.samples, self.samples[1:], strict=False)) if b[1] > a[1]),
            None,
        )
        end = next((i for i, (_, value) in enumerate(self.samples) if value >= total), None)
        return None if start is None or end is None or end <= start else (start, end)

    def per_event(self, counter: Sequence[float], total: int) -> float | None:
        """µs per event of `counter` (seconds read at each sample) over `window(total)`."""
        span = self.window(total) if len(counter) == len(self.samples) else None
        if span is None:
            return None
        start, end = span
        events = self.samples[end][1] - self.samples[start][1]
        return (counter[end] - counter[start]) / events * 1e6 if events else None

    def time_to_reach(self, count: float) -> float | None:
        """Interpolated instant the count reached `count` (None if it never did)."""
        previous: tuple[float, float] | None = None
        for at, value in self.samples:
            if value >= count:
                if previous is None or value == previous[1]:
                    return at
                fraction = (count - previous[1]) / (value - previous[1])
                return previous[0] + fraction * (at - previous[0])
            previous = (at, value)
        return None

    def first_moving(self) -> float | None:
        """The last sample before the count started to rise (the start of consumption)."""
        for (at, value), (_, after) in zip(self.samples, self.samples[1:], strict=False):
            if after > value:
                return at
        return None

    def rates(self, total: int) -> tuple[float, float]:
        """(first-to-last events/s, steady events/s between 10% and 90% of `total`)."""
        start, end = self.first_moving(), self.time_to_reach(total)
        low, high = self.time_to_reach(0.1 * total), self.time_to_reach(0.9 * total)
        overall = total / (end - start) if start is not None and end is not None and end > start else 0.0
        steady = 0.8 * total / (high - low) if low is not None and high is not None and high > low else 0.0
        return overall, steady


# -- progress ---------------------------------------------------------------------------------------------
def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


# -- traffic ----------------------------------------------------------------------------------------------
def dump(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Traffic:
    """Pre-serialised simulated events in time order, and the business instant just after the last."""

    records: list[Record]
    now: int
    catalog: Catalog
    calendar: WorkingCalendar

    @property
    def mean_size(self) -> float:
        return sum(len(v) for _, v in self.records) / max(1, len(self.records))


def simulated_events(
    n: int, seed: int = 7, catalog: Catalog | None = None, years: int = 4
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The simulator's first `n` events (business instant, event) from SIMULATION_FROM, after 10 working
    days of warm-up (so the first events already find open dossiers): realistic types, agencies and
    lifecycles, generated as they are consumed (10 million fit in no list). Fewer than `n` when `years`
    of the centre's traffic hold fewer (the sample centre: about 750,000 events a year)."""
    catalog = catalog or load_catalog(None)
    calendar = WorkingCalendar(catalog.calendar)
    end = int(SIMULATION_FROM.timestamp()) + years * 365 * 86400
    simulator = Simulator(
        catalog,
        calendar,
        seed=seed,
        start=warmup_start(calendar, SIMULATION_FROM, 10),
        end=end,
        emit_from=SIMULATION_FROM,
    )
    return itertools.islice(simulator.timed_events(), n)


def simulated_traffic(
    n: int, seed: int = 7, label: str = "simulating events", catalog_path: Path | None = None
) -> Traffic:
    """`n` events of the simulator (`simulated_events`), pre-serialised, with the business instant just
    after the last. The 19-agency sample catalog, or `catalog_path` (e.g. the province,
    dossiers/data/province.yaml)."""
    catalog = load_catalog(catalog_path)
    calendar = WorkingCalendar(catalog.calendar)
    records: list[Record] = []
    last = 0
    with progress() as bar:
        task = bar.add_task(label, total=n)
        for ts, event in simulated_events(n, seed, catalog):
            records.append((event["dossier"].encode(), dump(event)))
            last = ts
            if len(records) % 10_000 == 0:
                bar.update(task, completed=len(records))
        bar.update(task, completed=len(records))
    return Traffic(records, last + 1, catalog, calendar)


def received_event(
    dossier: str, ts: int, procedure: str = "P.DAY", agency: str = "STP", channel: str = "online"
) -> dict[str, Any]:
    """A contract v1 `received` event (used where the benchmark needs dossiers due at a known time)."""
    return {
        "event_id": uuid.uuid4().hex,
        "schema": "dossier-event/1",
        "type": "received",
        "occurred_at": datetime.fromtimestamp(ts, VN).isoformat(timespec="seconds"),
        "dossier": dossier,
        "agency": agency,
        "procedure": procedure,
        "channel": channel,
    }


# -- Kafka ------------------------------------------------------------------------------------------------
def new_topic(bootstrap: str, prefix: str, partitions: int, configs: dict[str, str] | None = None) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, name, partitions, configs=configs)
    return name


def produce(bootstrap: str, topic: str, records: Sequence[Record], label: str = "producing") -> float:
    """Send pre-serialised records (uncompressed, batched, acks=all); returns the seconds it took."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024, max_request_size=4 << 20
    )
    started = time.perf_counter()
    try:
        with progress() as bar:
            task = bar.add_task(label, total=len(records))
            for i, (key, value) in enumerate(records, start=1):
                producer.send(topic, key=key, value=value)
                if i % 10_000 == 0:
                    bar.update(task, completed=i)
            producer.flush(120)
            bar.update(task, completed=len(records))
    finally:
        producer.close(30)
    return time.perf_counter() - started


COMPOSE_BROKER = ROOT / "deploy" / "kafka-sasl" / "server.properties"
"""The broker's configuration as compose runs it: the benchmarks' broker takes its group settings."""


def compose_group_properties() -> dict[str, str]:
    """The compose broker's consumer-group settings (`group.*`, e.g. the initial rebalance delay that lets
    workers started together join in one rebalance), for a benchmark's broker to behave as it does; the
    devstack's test defaults (delay 0, for quick tests) would otherwise make a group started with two
    workers rebalance as soon as the first one joins."""
    found: dict[str, str] = {}
    for line in COMPOSE_BROKER.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().startswith("group.") and not key.lstrip().startswith("#"):
            found[key.strip()] = value.strip()
    return found


@contextlib.contextmanager
def kafka(bootstrap: str | None, partitions: int) -> Iterator[str]:
    """The given bootstrap, or a local KafkaBroker started (and stopped) here, with the compose broker's
    group settings (`compose_group_properties`)."""
    if bootstrap:
        yield bootstrap
        return
    with console.status("starting a local Kafka broker"):
        broker = KafkaBroker(partitions=partitions, extra_properties=compose_group_properties()).start()
    console.print(f"broker: {broker.bootstrap} (started in {broker.startup_seconds:.1f} s)")
    if broker.pid is not None:
        BROKER_PIDS.append(broker.pid)
    try:
        yield broker.bootstrap
    finally:
        BROKER_PIDS.clear()
        broker.close()


# -- InfluxDB in its own process --------------------------------------------------------------------------
class InfluxProcess:
    """`ioc dev influx` (influxd 1.x + the dev-only v2 write shim) as a child process.

    Why a child: the shim is Python; in this process it would compete with the measurements for the
    GIL. As a server of its own it behaves like the InfluxDB a worker writes to in production.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.query_url = ""

    def start(self, timeout: float = 60.0) -> InfluxProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ioc.cli", "dev", "influx"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            if "Ctrl-C stops it." in text:
                shim = re.search(r"influxdb-client url .*?: (\S+)", text)
                ql = re.search(r"InfluxQL / Grafana url .*?: (\S+)", text)
                if shim is None or ql is None:
                    raise RuntimeError(f"cannot read the InfluxDB URLs from:\n{text}")
                self.url, self.query_url = shim.group(1), ql.group(1)
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"`ioc dev influx` exited:\n{text[-3000:]}")
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"`ioc dev influx` not ready after {timeout} s")

    def database(self, prefix: str = "bench") -> tuple[str, InfluxQL]:
        """A new database and an InfluxQL client on it."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        InfluxQL(self.query_url).create_database(name)
        return name, InfluxQL(self.query_url, name)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # its Ctrl-C path stops influxd and the shim
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def __enter__(self) -> InfluxProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- workers ----------------------------------------------------------------------------------------------
def worker_env(
    bootstrap: str,
    partitions: int,
    influx: InfluxProcess | None = None,
    database: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """Environment of one `ioc worker` on fresh topics and a fresh consumer group."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        "IOC_KAFKA_BOOTSTRAP": bootstrap,
        "IOC_EVENTS_TOPIC": f"events-{suffix}",
        "IOC_DLQ_TOPIC": f"dlq-{suffix}",
        "IOC_ALERTS_TOPIC": f"alerts-{suffix}",
        "IOC_TICKS_TOPIC": f"ticks-{suffix}",
        "IOC_APP_ID": f"ioc-bench-{suffix}",
        "IOC_PARTITIONS": str(partitions),
        "IOC_LOG_LEVEL": "INFO",
    }
    if influx is not None and database is not None:
        env.update(
            {
                "IOC_INFLUX_URL": influx.url,
                "IOC_INFLUX_TOKEN": "bench",
                "IOC_INFLUX_ORG": "ioc",
                "IOC_INFLUX_BUCKET": database,
            }
        )
    env.update(extra)
    return env


def precreate_topics(env: dict[str, str]) -> None:
    """Create a worker's topics (as streams/topics.py would) and wait until every partition has a leader.

    Why: `ensure_topics` describes the topics right after creating them, and on a busy machine the
    broker can still answer with no partitions for the new ticks topic, which stops the worker
    ("must have the same number of partitions"). Topics that exist already are left alone.
    """
    from kafka import KafkaAdminClient

    bootstrap, partitions = env["IOC_KAFKA_BOOTSTRAP"], int(env["IOC_PARTITIONS"])
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ioc-bench")
    try:
        existing = set(admin.list_topics())
        for name, configs in (
            ("IOC_EVENTS_TOPIC", None),
            ("IOC_DLQ_TOPIC", None),
            ("IOC_ALERTS_TOPIC", None),
            ("IOC_TICKS_TOPIC", {"retention.ms": "3600000"}),
        ):
            topic = env[name]
            if topic not in existing:
                create_topic(bootstrap, topic, partitions, configs=configs, admin=admin)
    finally:
        admin.close()


def scrape(port: int, name: str, label: str = "") -> float:
    """Sum of a Prometheus metric's samples (optionally only those whose line contains `label`)."""
    url = f"http://127.0.0.1:{port}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if (line.startswith(name + "{") or line.startswith(name + " ")) and label in line
    )


def consumed(port: int) -> float:
    """Records a worker has consumed from the events topic: processed + dead-lettered."""
    return scrape(port, "ioc_events_total") + scrape(port, "ioc_dead_letters_total")


class Committed:
    """Records of `topic` whose offsets consumer group `group` has committed: each counted once, however
    many times a rebalance made a worker consume it again (a worker's `consumed` counts those twice)."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        from kafka import KafkaAdminClient

        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-committed")
        self.group, self.topic, self.last = group, topic, 0.0

    def __call__(self) -> float:
        from kafka.errors import KafkaError

        try:
            offsets = self.admin.list_group_offsets(self.group).get(self.group, {})
        except KafkaError:  # the group's coordinator not known yet: no progress to report
            return self.last
        mine = (o.offset for tp, o in offsets.items() if tp.topic == self.topic and o.offset > 0)
        self.last = float(sum(mine))
        return self.last

    def close(self) -> None:
        self.admin.close()


def follow(
    read: Callable[[], float],
    total: int,
    label: str,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 0.2,
    pids: Sequence[int] = (),
) -> Series:
    """Sample `read()` until it reaches `total` (or the timeout, or `alive()` turns false); with
    `pids`, also the CPU time those processes used."""
    series = Series()
    deadline = time.monotonic() + timeout
    with progress() as bar:
        task = bar.add_task(label, total=total)
        while time.monotonic() < deadline:
            try:
                value = read()
            except OSError:
                value = series.samples[-1][1] if series.samples else 0.0
            series.add(time.monotonic(), value, sum(map(cpu_seconds, pids)) if pids else None, broker_cpu())
            bar.update(task, completed=int(value))
            if value >= total or not alive():
                break
            time.sleep(interval)
    return series


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def per_event(start: float | None, end: float | None, events: int) -> float | None:
    """µs per event of a CPU-seconds counter read at the start and at the end of a window."""
    return None if start is None or end is None or not events else (end - start) / events * 1e6


# -- `ioc worker` and child processes ---------------------------------------------------------------------
def start_worker(env: dict[str, str], work: Path, name: str, command: Sequence[str] | None = None
                 ) -> tuple[WorkerProcess, int]:
    """One `ioc worker` on `env`'s topics (created first) with its Prometheus port; returns it started.
    `command`: a variant of the worker started another way (run from the repository's root)."""
    precreate_topics(env)
    port = free_port()
    extra = {"PYTHONPATH": str(ROOT)} if command else {}
    worker = WorkerProcess(
        {**env, **extra, "IOC_METRICS_PORT": str(port), "IOC_DATA_DIR": str(work / name)},
        work / f"{name}.log", name, command,
    )
    return worker.start(), port


def module_command(module: str, *args: str) -> list[str]:
    """`python -m <module> <args>` with this interpreter; run it with `cwd=ROOT`."""
    return [sys.executable, "-m", module, *args]


class StatusChild:
    """A measured child process (a peer's consumer) that writes its progress to a JSON status file:
    `count`, `first`/`last` wall times, `cpu_first`/`cpu_last`, `t0.1`/`t0.9`, and `final` at the end."""

    def __init__(self, work: Path, name: str) -> None:
        self.status = work / f"{name}.json"
        self.log = work / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, cmd: Sequence[str]) -> StatusChild:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                list(cmd), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=ROOT,
            )  # fmt: skip
        return self

    def read(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.status.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def count(self) -> float:
        return float(self.read().get("count", 0))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def measure(self, total: int, name: str, timeout: float = 1200) -> Figure:
        """Follow the child until it has consumed `total` records: the overall and steady rates."""
        try:
            series = follow(self.count, total, name, timeout=timeout, alive=self.alive, interval=0.5)
            data = self.read()
        finally:
            self.stop()
        if not data.get("final"):
            raise RuntimeError(f"{name} did not finish:\n{self.log.read_text()[-3000:]}")
        overall = total / (data["last"] - data["first"])
        steady = 0.8 * total / (data["t0.9"] - data["t0.1"])
        cpu = (data["cpu_last"] - data["cpu_first"]) / (total - 1) * 1e6
        note = f"steady (10-90%): {steady:,.0f}/s"
        broker = series.cpu_per_event(total, "broker")
        return Figure(name, overall, "events/s", note, cpu_us=cpu, broker_us=broker)


# -- what a phase gets ------------------------------------------------------------------------------------
@dataclass
class Context:
    """What a phase's `run(ctx)` gets: the run's options, a scratch directory and, in the Kafka part of
    a run, the traffic, the broker, the topic holding the traffic and InfluxDB."""

    options: argparse.Namespace
    work: Path
    traffic: Traffic | None = None
    bootstrap: str = ""
    topic: str = ""
    influx_process: InfluxProcess | None = None
    errors: list[str] = field(default_factory=list)
    """One line per failed step; the run goes on (one phase must not cost the others)."""

    def attempt(self, name: str, step: Callable[[], list[Figure]]) -> list[Figure]:
        """Run one step; a failure is printed, recorded in `errors`, and gives no figures."""
        try:
            return step()
        except Exception as exc:
            console.print(f"[red]{name} failed: {exc!r}[/red]")
            self.errors.append(f"{name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return []

    @property
    def partitions(self) -> int:
        return int(self.options.partitions)

    @property
    def events(self) -> Traffic:
        if self.traffic is None:
            raise RuntimeError("this phase needs the run's traffic")
        return self.traffic

    @property
    def total(self) -> int:
        return len(self.events.records)

    @property
    def influx(self) -> InfluxProcess:
        if self.influx_process is None:
            raise RuntimeError("this phase needs InfluxDB")
        return self.influx_process

    def traffic_worker_env(self, purpose: str, **extra: str) -> dict[str, str]:
        """A worker's environment on the run's topic and business clock, with its own InfluxDB database."""
        database, _ = self.influx.database(purpose)
        catalog = getattr(self.options, "catalog", None)
        if catalog is not None:
            extra = {"IOC_CATALOG": str(Path(catalog).resolve()), **extra}
        return worker_env(
            self.bootstrap, self.partitions, self.influx, database,
            IOC_EVENTS_TOPIC=self.topic, IOC_CLOCK_ORIGIN=str(self.events.now), **extra,
        )  # fmt: skip
