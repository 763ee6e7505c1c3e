"""`ioc grafana` and `ioc notify` as a user meets them: the grafana commands without the grafana extra say
which extra to install and exit 2 (no traceback); help texts show each variable once, the typer way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dossiers.catalog import load_catalog
from grafana import dashboards, tiles
from grafana.settings import AlertSettings, WallSettings
from ioc.cli import _mount, app

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Block())
sys.argv = ["ioc", *{args!r}]
from ioc.cli import main
main()
"""


def run_without(blocked: set[str], *args: str) -> subprocess.CompletedProcess[str]:
    """`ioc ARGS` in a fresh interpreter where the `blocked` top-level modules cannot be imported."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    code = BLOCKER.format(blocked=sorted(blocked), args=list(args))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(
    ("blocked", "args"),
    [
        ({"grafana_foundation_sdk"}, ["grafana", "build", "--check"]),
        ({"grafana_client"}, ["grafana", "push", "--url", "http://127.0.0.1:9", "--token", "t"]),
        ({"PIL"}, ["grafana", "preview", "--out", "/nonexistent"]),
    ],
)
def test_grafana_commands_without_the_extra_name_the_install_command(
    blocked: set[str], args: list[str]
) -> None:
    result = run_without(blocked, *args)
    assert result.returncode == 2, result.stderr
    assert "needs the grafana extra: pip install 'ioc-monitor[grafana]'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_the_blocker_really_blocks() -> None:
    """The same hook makes a plain import fail: the test above is not passing for another reason."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    code = BLOCKER.split("sys.argv")[0].format(blocked=["PIL"]) + "import PIL\n"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "No module named 'PIL'" in result.stderr


def help_text(*args: str) -> str:
    _mount()
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_notify_help_shows_each_variable_once_and_the_shared_catalog_option() -> None:
    text = help_text("notify")
    for var in ("IOC_KAFKA_BOOTSTRAP", "IOC_CATALOG", "IOC_NOTIFY_DB", "IOC_NOTIFY_FILE"):
        assert f"env var: {var}" in text, var
    assert "(env " not in text
    assert "Catalog YAML of the centre" in text  # ioc.options.CatalogOption's wording


def test_grafana_help_shows_the_one_source_of_defaults() -> None:
    text = help_text("grafana", "build")
    assert f"Default: {AlertSettings().due_soon_threshold}." in text
    assert f"Default: {WallSettings().centre_target}." in text
    assert "env var: IOC_CATALOG" in text
    assert "grafana check" not in help_text("grafana")


def test_the_headline_tiles_are_one_table_shared_by_the_wall_and_the_drill_down() -> None:
    boards = dashboards.dashboards(load_catalog())
    titles = {uid: [p["title"] for p in board["panels"]] for uid, board in boards.items()}
    counts = [tile.title for tile in tiles.COUNT_TILES]
    assert titles["ioc-wall"][: len(counts)] == counts
    assert titles["ioc-agency"][: len(counts)] == counts
    assert titles["ioc-wall"][len(counts) : len(counts) + len(tiles.RATE_TILES)] == [
        t.title for t in tiles.RATE_TILES]
