"""The `ioc` command as a user meets it: version, help, refused combinations, what the image lists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ioc import cli

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ioc.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **env}, cwd=ROOT, timeout=120)


def _commands(help_text: str) -> set[str]:
    """Command names in the boxes of a typer --help page."""
    return set(re.findall(r"^│ ([a-z][a-z-]+) +\S", help_text, re.M))


def test_version_prints_the_installed_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ioc-monitor {cli.package_version()}"
    assert re.fullmatch(r"ioc-monitor \d+\.\d+\.\d+.*", result.stdout.strip())


def test_development_commands_are_left_out_where_they_cannot_run() -> None:
    everything = _commands(_run("--help").stdout)
    image = _commands(_run("--help", IOC_DEV_COMMANDS="0").stdout)
    assert {"up", "dev", "produce", "worker", "notify", "replay"} <= everything
    assert everything - image == {"up", "dev", "native"}


def test_the_image_lists_only_what_it_can_run() -> None:
    """The Dockerfile installs the extras its commands need and hides the local-stack commands."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    extras = re.search(r'pip install "\.\[([a-z,]+)\]"', dockerfile)
    assert extras is not None
    assert {"grafana", "librdkafka", "rocksdb", "gateway"} <= set(extras.group(1).split(","))
    assert re.search(r"IOC_DEV_COMMANDS=0\b", dockerfile)


def test_no_simulator_with_speed_is_refused() -> None:
    cli._mount()
    result = CliRunner().invoke(cli.app, ["up", "--no-simulator", "--speed", "60"])
    assert result.exit_code == 2
    assert "--speed" in result.output and "real time" in " ".join(result.output.split())


@pytest.mark.parametrize("command", ["produce", "simulate", "validate", "replay", "up", "worker", "notify",
                                     "gateway"])
def test_catalog_option_reads_ioc_catalog(command: str) -> None:
    """Every command that reads the catalog takes --catalog with IOC_CATALOG, shown the same way."""
    page = " ".join(_run(command, "--help").stdout.split())
    assert "--catalog" in page and "IOC_CATALOG" in page, page[:2000]
