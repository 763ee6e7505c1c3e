"""Jar cache: resolved once, marker only after a complete resolution, one resolver at a time.

A fake `mvn` on PATH stands in for Maven here; the real resolution is exercised by scripts/test and the
integration suite.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from ioc.devstack import kafka
from ioc.devstack.proc import DevstackUnavailable

FAKE_MVN = """#!/bin/sh
# fake mvn: count calls, then copy "jars" into -DoutputDirectory=...
echo call >> "{calls}"
sleep 0.3
[ -f "{fail}" ] && {{ echo "[ERROR] Could not transfer artifact" >&2; exit 1; }}
for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${{a#-DoutputDirectory=}}";; esac; done
mkdir -p "$out" && touch "$out/kafka_2.13-3.9.1.jar" "$out/kafka-clients-3.9.1.jar"
"""


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    mvn = bindir / "mvn"
    mvn.write_text(FAKE_MVN.format(calls=tmp_path / "calls", fail=tmp_path / "fail"))
    mvn.chmod(mvn.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("IOC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("IOC_KAFKA_LIBS", raising=False)
    return tmp_path


def calls(root: Path) -> int:
    path = root / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_resolves_once_and_writes_marker_last(fake_mvn: Path) -> None:
    libs = kafka.ensure_jars()
    assert libs == fake_mvn / "cache" / "kafka-3.9.1" / "libs"
    assert (libs / ".complete").is_file()
    assert (libs / "kafka_2.13-3.9.1.jar").is_file()
    assert kafka.ensure_jars() == libs
    assert calls(fake_mvn) == 1
    assert not list(libs.parent.glob("resolve-*")), "temp work dirs are cleaned up"


def test_concurrent_callers_resolve_once(fake_mvn: Path) -> None:
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(kafka.ensure_jars())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert calls(fake_mvn) == 1


def test_failed_resolution_leaves_no_marker_and_says_why(fake_mvn: Path) -> None:
    (fake_mvn / "fail").touch()
    with pytest.raises(DevstackUnavailable, match="Could not transfer artifact"):
        kafka.ensure_jars()
    libs = kafka.jars_dir()
    assert not (libs / ".complete").exists()
    (fake_mvn / "fail").unlink()
    assert (kafka.ensure_jars() / ".complete").is_file()  # a later run completes it
    assert calls(fake_mvn) == 2


def test_incomplete_cache_without_marker_is_redone(fake_mvn: Path) -> None:
    libs = kafka.jars_dir()
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-3.9.1.jar").touch()  # e.g. an interrupted copy: no marker
    kafka.ensure_jars()
    assert (libs / ".complete").is_file()
    assert calls(fake_mvn) == 1


def test_missing_maven_is_reported_with_install_hint(fake_mvn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_mvn / "empty"))
    with pytest.raises(DevstackUnavailable, match="apt-get install -y maven"):
        kafka.ensure_jars()


def test_kafka_libs_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_KAFKA_LIBS", str(tmp_path))
    with pytest.raises(DevstackUnavailable):
        kafka.ensure_jars()
    (tmp_path / "kafka_2.13-3.9.1.jar").touch()
    assert kafka.ensure_jars() == tmp_path
