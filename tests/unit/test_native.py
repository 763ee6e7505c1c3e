"""The compiled domain core (`ioc.native`): refused when stale, built for real, the source's results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ioc import native

REPO = native.ROOT
CI = os.environ.get("CI", "").lower() == "true"
NOT_COPIED = shutil.ignore_patterns(".git", "build", ".*cache", ".hypothesis", "*.so", "native__mypyc.json")


def _tree(tmp_path: Path) -> Path:
    """The core's sources alone, in a tree of their own."""
    for module in native.MODULES:
        target = tmp_path / module
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / module, target)
    return tmp_path


def _fake_build(root: Path) -> None:
    """Extension files with a record of their build: `status` reads names and hashes, never the files."""
    for module in native.MODULES:
        native.extension_of(module, root).write_bytes(b"not a real extension")
    native.runtime_of(root).write_bytes(b"not a real extension")
    (root / native.STAMP).write_text(json.dumps(native.fingerprint(root)))


def test_every_compiled_module_is_in_a_package_searched_for_extensions() -> None:
    """`status` looks for extensions in `PACKAGES` only (an installed copy's root is site-packages)."""
    assert {module.split("/")[0] for module in native.MODULES} <= set(native.PACKAGES)
    assert native.runtime_of().parent.name in native.PACKAGES


def test_a_tree_without_extensions_runs_from_source(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert native.status(root).state == "source"
    native.check(root)


def test_extensions_built_from_the_current_sources_run(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    found = native.check(root)
    assert found.state == "compiled"
    assert found.compiled == native.MODULES


def test_a_source_changed_since_the_build_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    with (root / "dossiers/sla.py").open("a") as source:
        source.write("\n# a changed rule\n")
    found = native.status(root)
    assert found.state == "stale"
    assert found.stale == ("dossiers/sla.py",)
    with pytest.raises(native.StaleBuild, match=r"dossiers/sla\.py changed since it was built"):
        native.check(root)


def test_extensions_with_no_record_of_their_build_are_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    (root / native.STAMP).unlink()
    assert native.status(root).stale == native.MODULES


def test_an_extension_of_a_module_no_longer_compiled_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    leftover = root / ("dossiers/events" + native.SUFFIX)
    leftover.write_bytes(b"left by an older build")
    assert native.status(root).stale == (str(leftover.relative_to(root)),)


def test_a_partial_build_is_refused(tmp_path: Path) -> None:
    """Compiled modules beside a source one would mix compiled classes with their source twins."""
    root = _tree(tmp_path)
    _fake_build(root)
    native.extension_of("dossiers/kpi.py", root).unlink()
    native.runtime_of(root).unlink()
    assert native.status(root).stale == ("dossiers/kpi.py (no extension)", "dossiers/native__mypyc"
                                         + native.SUFFIX + " (missing)")


def test_another_interpreter_s_build_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    recorded = json.loads((root / native.STAMP).read_text())
    (root / native.STAMP).write_text(json.dumps({**recorded, "python": "3.11.0 (another build)"}))
    assert native.status(root).stale == native.MODULES


def test_clean_goes_back_to_source(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _fake_build(root)
    assert len(native.clean(root)) == len(native.MODULES) + 1
    assert native.status(root).state == "source"
    assert not (root / native.STAMP).exists()


def test_the_ioc_command_refuses_a_stale_core_and_native_status_says_why(tmp_path: Path) -> None:
    """Against a copy of the whole tree, so the repository's own build is never touched."""
    root = tmp_path / "tree"
    shutil.copytree(REPO, root, ignore=NOT_COPIED)
    _fake_build(root)
    with (root / "dossiers/kpi.py").open("a") as source:
        source.write("\n")
    env = {**os.environ, "PYTHONPATH": str(root)}
    worker = subprocess.run([sys.executable, "-m", "ioc.cli", "worker", "--help"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 2
    assert "dossiers/kpi.py changed since it was built" in worker.stderr
    shown = subprocess.run([sys.executable, "-m", "ioc.cli", "native", "status"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)
    assert (shown.returncode, shown.stdout.strip()) == (1, "stale")
    bench = subprocess.run([sys.executable, "-m", "benchmarks.core", "--help"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)
    assert bench.returncode == 2
    assert "benchmarks: the compiled domain core is stale" in bench.stderr


def _digest(root: Path) -> tuple[str, str]:
    """(the core's build as imported, the digest of every result) of 4,000 simulated events with ticks."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.core", "--events", "4000", "--rounds", "1", "--clock", "event",
         "--digest", "--json"],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=600,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["core"], result["digest"]


def test_the_compiled_core_gives_exactly_the_source_core_s_results(tmp_path: Path) -> None:
    """Every outcome, alert, deadline mark, written state, counter and the rebuild from the table: the
    compiled tree and a copy of it without the extensions must agree digest for digest."""
    if native.status().state != "compiled":
        if CI:
            pytest.fail("CI=true: the domain core was not compiled (scripts/setup runs `ioc native build`)")
        pytest.skip("the domain core is not compiled here (run `ioc native build`)")
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=NOT_COPIED)
    compiled_build, compiled_digest = _digest(REPO)
    source_build, source_digest = _digest(source)
    assert (compiled_build, source_build) == ("compiled", "source")
    assert compiled_digest == source_digest


@pytest.mark.skipif(shutil.which("cc") is None and not CI, reason="no C compiler here")
def test_a_build_compiles_every_module_and_a_second_one_has_nothing_to_do(tmp_path: Path) -> None:
    """A real mypyc build (about 40 s) into a copy of the tree, then the copy's core imported from it."""
    root = tmp_path / "tree"
    shutil.copytree(REPO, root, ignore=NOT_COPIED)
    native.clean(root)
    assert native.build(root) is True
    assert native.check(root).compiled == native.MODULES
    assert native.build(root) is False  # up to date: nothing compiled
    imported = subprocess.run(
        [sys.executable, "-c", "import streams.processor, dossiers.sla; "
         "print(streams.processor.__file__); print(dossiers.sla.__file__)"],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=120,
        check=True,
    )
    # mypyc names a grouped module's __file__ oddly ("tree/dossiers/dossiers/sla..."): the tree and the
    # extension's name are what count
    files = [Path(line) for line in imported.stdout.split()]
    assert [f.name for f in files] == [native.extension_of("streams/processor.py", root).name,
                                       native.extension_of("dossiers/sla.py", root).name]
    assert all(f.is_relative_to(root) for f in files)
