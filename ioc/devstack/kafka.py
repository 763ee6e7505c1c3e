"""A real Apache Kafka 3.9.1 broker (single-node KRaft) for tests and local runs, without Docker.

Why this way: no Kafka broker ships as a Debian or PyPI package, but the broker's jars are on Maven
Central and this project's machines have Java 17 and Maven. So `ensure_jars()` resolves the runtime
classpath once into a cache, and `KafkaBroker` formats KRaft storage and runs `kafka.Kafka` on free
loopback ports, under the watchdog so that no JVM outlives the test run that started it.

Why 3.9.1: Kafka 4.x rejects CreateTopics v1, which faust-streaming sends with older aiokafka; 3.9.1
accepts every client version. The same version is used in docker-compose.yml.

Command line: `ioc dev fetch` pre-resolves the jars (scripts/setup runs it); `ioc dev kafka` runs a
broker until Ctrl-C.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path

from ioc.devstack.ports import LOOPBACK, free_ports
from ioc.devstack.proc import (
    DevstackError,
    DevstackUnavailable,
    LocalServer,
    ManagedProcess,
    StartupError,
    tail,
)

__all__ = [
    "KAFKA_VERSION",
    "KafkaBroker",
    "cache_root",
    "ensure_jars",
    "jars_dir",
    "new_cluster_id",
    "render_server_properties",
]

KAFKA_VERSION = "3.9.1"
READY_LINE = "Kafka Server started"
MARKER = ".complete"
# A jar whose presence proves the broker itself was resolved (checked with the marker).
BROKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"

# Dev/test defaults on top of server.properties.template (extra_properties win). After a crash (kill())
# the restarted broker cannot register until the old registration's session expires: 9 s by default.
DEV_PROPERTIES: dict[str, str] = {
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "2500",
    # topics auto-created by a producer before the worker creates them keep their history, like the
    # events topic the worker creates (retention.ms=-1, streams/topics.py): reports replay it (reports.md)
    "log.retention.ms": "-1",
}

INSTALL_JAVA = "install Java 17+: `apt-get install -y openjdk-17-jre-headless` (Debian)"
INSTALL_MAVEN = "install Maven: `apt-get install -y maven` (Debian)"


# -- jar cache ------------------------------------------------------------------------------------------
def cache_root() -> Path:
    """Root of ioc-monitor's caches: $IOC_CACHE_DIR, else $XDG_CACHE_HOME/ioc-monitor, else
    ~/.cache/ioc-monitor."""
    env = os.environ.get("IOC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ioc-monitor"


def jars_dir() -> Path:
    """Where the broker's jars live: $IOC_KAFKA_LIBS (an existing dir, e.g. a tarball's libs/, used as
    is) or <cache_root>/kafka-3.9.1/libs."""
    env = os.environ.get("IOC_KAFKA_LIBS")
    if env:
        return Path(env).expanduser()
    return cache_root() / f"kafka-{KAFKA_VERSION}" / "libs"


def _resource(name: str) -> Path:
    """Absolute path of a file shipped in ioc/devstack/kafka/ (package data)."""
    path = Path(str(resources.files("ioc.devstack").joinpath("kafka", name)))
    if not path.is_file():
        raise DevstackError(f"package data file missing: {path} (reinstall ioc-monitor)")
    return path


def _jars_complete(libs: Path) -> bool:
    return (libs / MARKER).is_file() and (libs / BROKER_JAR).is_file()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock, so two processes (e.g. parallel test runs) never resolve at the same time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ensure_jars(*, quiet: bool = True) -> Path:
    """Return the directory of the broker's jars, resolving them from Maven Central the first time.

    The marker file is written only after a complete resolution into a temp dir that is then renamed
    into place, so an interrupted download never looks complete. Maven's own ~/.m2 cache makes a second
    resolution (e.g. with a new IOC_CACHE_DIR) take seconds.
    """
    libs = jars_dir()
    if os.environ.get("IOC_KAFKA_LIBS"):
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise DevstackUnavailable(f"IOC_KAFKA_LIBS={libs} holds no kafka_2.13-*.jar")
        return libs
    if _jars_complete(libs):
        return libs
    with _file_lock(libs.parent / ".resolve.lock"):
        if _jars_complete(libs):  # another process finished while we waited for the lock
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise DevstackUnavailable(f"Maven (mvn) is needed once to fetch Kafka's jars: {INSTALL_MAVEN}")
        work = Path(tempfile.mkdtemp(prefix="resolve-", dir=libs.parent))
        try:
            shutil.copy(_resource("pom.xml"), work / "pom.xml")
            out = work / "libs"
            cmd = [
                mvn,
                "-B",
                "-Dstyle.color=never",
                *(["-q"] if quiet else []),
                "-f",
                str(work / "pom.xml"),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={out}",
            ]
            started = time.monotonic()
            proc = subprocess.run(
                cmd, cwd=work, stdin=subprocess.DEVNULL, capture_output=quiet, text=True, check=False
            )
            if proc.returncode != 0 or not (out / BROKER_JAR).is_file():
                detail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).splitlines()[-30:])
                raise DevstackUnavailable(
                    f"could not resolve Kafka {KAFKA_VERSION}'s jars with Maven (exit {proc.returncode}); "
                    f"Maven Central must be reachable once. Command: {' '.join(cmd)}\n{detail}"
                )
            if libs.exists():  # an incomplete earlier attempt
                shutil.rmtree(libs)
            out.rename(libs)
            (libs / MARKER).write_text(
                f"kafka {KAFKA_VERSION}: {len(list(libs.glob('*.jar')))} jars, "
                f"resolved in {time.monotonic() - started:.1f} s\n"
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return libs


def java_binary() -> str:
    """The `java` to run: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise DevstackUnavailable(f"Java is needed to run the Kafka broker: {INSTALL_JAVA}")
    return java


def java_release(java: str) -> tuple[str, int] | None:
    """(runtime version string, feature version) from the JDK's `release` file, None if unknown."""
    release = Path(os.path.realpath(java)).parent.parent / "release"
    try:
        text = release.read_text()
    except OSError:
        return None
    m = re.search(r'^JAVA_RUNTIME_VERSION="([^"]+)"', text, re.M) or re.search(
        r'^JAVA_VERSION="([^"]+)"', text, re.M
    )
    if not m:
        return None
    feature = re.match(r"(?:1\.)?(\d+)", m.group(1))
    return (m.group(1), int(feature.group(1))) if feature else None


def class_data_archive(java: str, libs: Path) -> tuple[Path, bool] | None:
    """AppCDS archive of the broker's classes: (path, exists). Why: it cuts the JVM's class loading,
    a large part of the broker's startup. The first broker writes it at exit
    (-XX:ArchiveClassesAtExit, JDK 13+), later ones map it (-XX:SharedArchiveFile). Keyed by the exact
    JVM build and the jar directory; a stale or broken archive is ignored by the JVM (-Xshare:auto).
    IOC_KAFKA_CDS=0 disables it.
    """
    if os.environ.get("IOC_KAFKA_CDS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return None
    release = java_release(java)
    if release is None or release[1] < 13:
        return None
    folder = cache_root() / f"kafka-{KAFKA_VERSION}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    jvm = re.sub(r"[^A-Za-z0-9_-]", "_", release[0])
    where = hashlib.sha1(str(libs.resolve()).encode()).hexdigest()[:8]
    path = folder / f"broker-cds-{jvm}-{where}.jsa"
    for stale in folder.glob("broker-cds-*.tmp"):  # left by JVMs that were stopped by the watchdog
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > 3600:
                stale.unlink()
    return path, path.is_file() and path.stat().st_size > 0


# -- configuration --------------------------------------------------------------------------------------
def new_cluster_id() -> str:
    """A KRaft cluster id: 22-char base64url of a uuid4, never starting with '-' (the tool rejects it)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cid.startswith("-"):
            return cid


def render_server_properties(
    template: str,
    *,
    port: int,
    controller_port: int,
    data_dir: Path | str,
    partitions: int,
    extra: Mapping[str, str] | None = None,
) -> str:
    """Fill the template, set num.partitions, then apply `extra` (replacing a key in place, or
    appending it). Pure, for unit tests."""
    text = template.format(port=port, controller_port=controller_port, data_dir=data_dir)
    overrides: dict[str, str] = {"num.partitions": str(partitions), **(extra or {})}
    lines = text.splitlines()
    for key, value in overrides.items():
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", key):
            raise ValueError(f"invalid Kafka property name: {key!r}")
        if "\n" in value:
            raise ValueError(f"newline in the value of {key}")
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i, line in enumerate(lines):
            if pattern.match(line):
                lines[i] = f"{key}={value}"
                break
        else:
            lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


# -- the broker -----------------------------------------------------------------------------------------
class KafkaBroker(LocalServer):
    """A single-node KRaft broker+controller on 127.0.0.1, in its own process session.

    `data_dir` is the broker's working dir: it holds `kraft/` (log.dirs), `cluster.id` (kept so a
    restart reuses the formatted storage), `server.properties` and `broker.log`. A temporary one is
    created (and removed by `close()`/`__exit__`, or by the watchdog when the parent dies) by default.
    Ports are picked once and kept across `restart()`.
    """

    dir_prefix = "ioc-kafka-"

    def __init__(
        self,
        *,
        partitions: int = 6,
        data_dir: Path | str | None = None,
        extra_properties: Mapping[str, str] | None = None,
        heap: str = "512m",
        port: int | None = None,
        controller_port: int | None = None,
        startup_timeout: float = 120.0,
        stop_timeout: float = 20.0,
        jvm_options: list[str] | None = None,
        format_args: Sequence[str] | None = None,
    ) -> None:
        self.partitions = partitions
        self.extra_properties = dict(extra_properties or {})
        self.heap = heap
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.jvm_options = list(jvm_options or [])
        self.format_args = list(format_args or [])
        """Extra arguments of `StorageTool format`, e.g. `--add-scram 'SCRAM-SHA-256=[name=..,password=..]'`
        (ioc.devstack.kafka_sasl); used only when the storage is formatted (first start)."""
        self._owns_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._fixed_ports = port is not None or controller_port is not None
        self.port = port
        self.controller_port = controller_port
        self._proc: ManagedProcess | None = None
        self.startup_seconds: float | None = None
        """Wall time of the last start(), from launch to the readiness line (formatting included)."""
        self.format_seconds: float | None = None
        self._cds_pending: tuple[Path, Path] | None = None

    # -- public API -----------------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        """ "127.0.0.1:PORT" for bootstrap_servers."""
        if self.port is None:
            raise DevstackError("KafkaBroker has no port yet: call start() first")
        return f"{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._dir() / "broker.log"

    @property
    def properties_path(self) -> Path:
        return self._dir() / "server.properties"

    def start(self) -> KafkaBroker:
        """Resolve jars (cached), format storage if needed, launch and wait for readiness."""
        if self.running:
            return self
        java = java_binary()
        libs = ensure_jars()
        started = time.monotonic()
        attempts = 1 if (self._fixed_ports or self.port is not None) else 3
        for attempt in range(attempts):
            if self.port is None or self.controller_port is None:
                self.port, self.controller_port = free_ports(2)
            self._write_config()
            self._format(java, libs)
            try:
                self._launch(java, libs)
                break
            except StartupError as exc:
                in_use = "Address already in use" in str(exc) or "BindException" in str(exc)
                if not in_use or attempt == attempts - 1:
                    raise
                self.port = self.controller_port = None  # someone took a port: pick new ones
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Clean shutdown (SIGTERM, SIGKILL after stop_timeout); data dir and ports are kept."""
        if self._proc is not None:
            super().stop()
            self._adopt_class_archive()

    def _adopt_class_archive(self) -> None:
        """Move the AppCDS archive the JVM wrote at exit into place (atomic; last writer wins)."""
        pending, self._cds_pending = self._cds_pending, None
        if pending is None:
            return
        tmp, final = pending
        try:
            if tmp.is_file() and tmp.stat().st_size > 0 and READY_LINE in self._proc_log_text():
                os.replace(tmp, final)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _proc_log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the broker (a crash, for fault tests); `start()` afterwards recovers the logs."""
        super().kill()
        if self._cds_pending is not None:  # no archive from a killed JVM
            with contextlib.suppress(OSError):
                self._cds_pending[0].unlink()
            self._cds_pending = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"KafkaBroker({self.port and self.bootstrap}, {state}, dir={self.data_dir})"

    # -- internals ------------------------------------------------------------------------------------
    def _cluster_id(self) -> str:
        path = self._dir() / "cluster.id"
        if path.is_file():
            cid = path.read_text().strip()
            if cid:
                return cid
        cid = new_cluster_id()
        path.write_text(cid + "\n")
        return cid

    def _write_config(self) -> None:
        assert self.port is not None and self.controller_port is not None
        template = _resource("server.properties.template").read_text()
        text = render_server_properties(
            template,
            port=self.port,
            controller_port=self.controller_port,
            data_dir=self._dir() / "kraft",
            partitions=self.partitions,
            extra={**DEV_PROPERTIES, **self.extra_properties},
        )
        self.properties_path.write_text(text)

    def _format(self, java: str, libs: Path) -> None:
        """kafka.tools.StorageTool format, skipped when the log dir is already formatted (restart)."""
        if (self._dir() / "kraft" / "meta.properties").is_file():
            return
        started = time.monotonic()
        log = self._dir() / "format.log"
        cmd = [
            java,
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Xshare:auto",
            f"-Dlog4j.configuration=file:{_resource('log4j.properties')}",
            "-cp",
            f"{libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self._cluster_id(),
            "-c",
            str(self.properties_path),
            "--ignore-formatted",
            *self.format_args,
        ]
        with log.open("wb") as fh:
            try:
                rc = subprocess.run(
                    cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, timeout=120
                ).returncode
            except subprocess.TimeoutExpired as exc:
                raise StartupError(f"formatting KRaft storage timed out; see {log}") from exc
        if rc != 0:
            raise StartupError(f"formatting KRaft storage failed (exit {rc}):\n{tail(log)}")
        self.format_seconds = time.monotonic() - started

    def _launch(self, java: str, libs: Path) -> None:
        logs = self._dir() / "logs"
        logs.mkdir(exist_ok=True)
        cds: list[str] = []
        self._cds_pending = None
        archive = class_data_archive(java, libs)
        if archive is not None:
            path, exists = archive
            if exists:
                cds = [f"-XX:SharedArchiveFile={path}"]
            else:  # written by this JVM at a clean exit, then moved into place by stop()
                tmp = path.with_name(f"{path.stem}-{os.getpid()}-{id(self)}.tmp")
                self._cds_pending = (tmp, path)
                cds = [f"-XX:ArchiveClassesAtExit={tmp}"]
        cmd = [
            java,
            *cds,
            f"-Xms{_min_heap(self.heap)}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:-UsePerfData",
            "-Djava.awt.headless=true",
            "-Djava.net.preferIPv4Stack=true",
            f"-Dkafka.logs.dir={logs}",
            f"-Dlog4j.configuration=file:{_resource('log4j.properties')}",
            *self.jvm_options,
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(self.properties_path),
        ]
        self._proc = ManagedProcess(
            cmd,
            name=f"Kafka {KAFKA_VERSION} broker",
            log_path=self.log_path,
            cwd=self._dir(),
            remove_on_orphan=self.data_dir if self._owns_dir else None,
            stop_timeout=self.stop_timeout,
        )
        self._proc.start()
        try:
            self._proc.wait_ready(
                lambda text: READY_LINE in text,
                timeout=self.startup_timeout,
                what=f"the line {READY_LINE!r}",
            )
        except StartupError:
            self._proc = None
            if self._cds_pending is not None:  # a JVM that failed to start leaves no archive
                with contextlib.suppress(OSError):
                    self._cds_pending[0].unlink()
                self._cds_pending = None
            raise


def _min_heap(heap: str) -> str:
    """-Xms: a quarter of -Xmx (at least 64m), so idle brokers in tests stay small."""
    m = re.fullmatch(r"(\d+)([mMgG])", heap)
    if not m:
        return heap
    mb = int(m.group(1)) * (1024 if m.group(2).lower() == "g" else 1)
    return f"{max(64, mb // 4)}m"
