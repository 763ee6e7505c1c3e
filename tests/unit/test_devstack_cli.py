"""`ioc dev` is the local stack's only command line, and its help reads like the rest of `ioc`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from ioc.commands import dev
from ioc.devstack.kafka import KAFKA_VERSION

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> dict[str, Any]:
    """The click commands under `ioc dev` (typer builds a click group)."""
    return dict(typer.main.get_command(dev.dev_app).commands)  # type: ignore[attr-defined]


def test_dev_commands_and_their_help() -> None:
    commands = _commands()
    assert set(commands) == {"fetch", "kafka", "influx"}
    assert f"Apache Kafka {KAFKA_VERSION} " in (commands["kafka"].help or "")
    for name, command in commands.items():
        for param in command.params:
            text = getattr(param, "help", None) or ""
            if param.name != "help" and text:
                assert text[0].isupper(), f"ioc dev {name} {param.opts}: {text!r}"
    assert {"--sasl", "--catalog"} <= {opt for p in commands["kafka"].params for opt in p.opts}


def test_ioc_mounts_dev_and_kafka_access() -> None:
    out = subprocess.run([sys.executable, "-m", "ioc.cli", "--help"], capture_output=True, text=True,
                         check=True, env={"COLUMNS": "200", "PATH": "", "PYTHONPATH": str(ROOT)}).stdout
    assert " dev " in out and " kafka-access " in out


def test_no_argparse_command_line_beside_ioc() -> None:
    """Only the watchdog parses argv itself: it is launched by path with `python -I` (stdlib only), the
    internal protocol of ManagedProcess, not a command for people."""
    parsers = set()
    for package in ("ioc", "kafka_access"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names)
                   for node in ast.walk(tree)):
                parsers.add(path.relative_to(ROOT).as_posix())
    assert parsers == {"ioc/devstack/watchdog.py"}
