"""The domain core compiled to C by mypyc (issue 19): the same source, no rule written twice.

`Processor.handle` spends its time in plain Python (attribute reads, tuples, dict lookups) spread over the
calendar, SLA clock, lifecycle, KPI and running-figure modules. mypyc, which ships with mypy and compiles
type-annotated modules, runs those modules about 1.5 times faster with no change to their source
(docs/benchmarks.md, "the core compiled by mypyc"). What it compiles is `MODULES`; everything else, and
every module when nothing was built, runs from source, with the same results.

The compiled extensions sit beside their sources (`dossiers/sla.cpython-311-...so` next to `sla.py`), and
Python imports an extension before a source. So a build records the hash of every source it compiled
(`STAMP`), and `check` refuses to run a compiled module whose source changed since: a stale extension
would otherwise run old rules silently. `ioc` commands and the test suite call `check` before they import
the core; `ioc native build` (run by scripts/setup, scripts/test and scripts/up) rebuilds only when a
source changed, `ioc native clean` goes back to source.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The source tree (in an installed copy: site-packages, where no extension is ever built)."""

MODULES: tuple[str, ...] = (
    "dossiers/calendar.py",
    "dossiers/periods.py",
    "dossiers/lifecycle.py",
    "dossiers/sla.py",
    "dossiers/alerts.py",
    "dossiers/kpi.py",
    "dossiers/counter_keys.py",
    "dossiers/report_ii06a.py",
    "dossiers/index766.py",
    "dossiers/index766_live.py",
    "dossiers/plain_json.py",
    "dossiers/validation.py",
    "streams/processor.py",
    "streams/lines.py",
    "streams/batch.py",
)
"""The hot path of `Processor.handle`, and the worker's loop over a batch with the lines it builds
(`streams.batch`, `streams.lines`): pure and fully annotated. Not here: modules of pydantic models
(`dossiers.events`, `dossiers.catalog`), which mypyc cannot compile as native classes, and the Faust
adapters, whose time is spent in Faust and aiokafka."""

PACKAGES = ("dossiers", "streams")
"""Where compiled modules may be (in an installed copy, `ROOT` is site-packages, whose other packages
have extensions of their own)."""

GROUP = "dossiers.native"
"""mypyc's shared runtime library of the group, `dossiers/native__mypyc.<suffix>`: inside a package, so the
editable install's finder (which maps packages, not top-level modules) finds it from any directory."""

STAMP = Path("dossiers/native__mypyc.json")
"""Relative to the tree: what the extensions in the tree were compiled from (beside the runtime library,
so that an installed copy carries it with the extensions)."""

SUFFIX = sysconfig.get_config_var("EXT_SUFFIX") or ".so"


class StaleBuild(RuntimeError):
    """A compiled module of the tree does not match its source: rebuild (`ioc native build`) or clean."""


@dataclass(frozen=True)
class Status:
    compiled: tuple[str, ...]
    """Modules of `MODULES` with an extension in the tree."""
    stale: tuple[str, ...]
    """Those whose extension was not built from the current source (or with no record of a build)."""

    @property
    def state(self) -> str:
        if self.stale:
            return "stale"
        return "compiled" if self.compiled else "source"


def extension_of(module: str, root: Path = ROOT) -> Path:
    """The extension that Python would import instead of `module` ("dossiers/sla.py")."""
    return root / (module.removesuffix(".py") + SUFFIX)


def runtime_of(root: Path = ROOT) -> Path:
    """The group's shared library, which every compiled module imports."""
    return root / (GROUP.replace(".", "/") + "__mypyc" + SUFFIX)


def fingerprint(root: Path = ROOT) -> dict[str, str]:
    """What the extensions depend on: each module's source hash and the interpreter."""
    found = {module: hashlib.sha256((root / module).read_bytes()).hexdigest() for module in MODULES}
    found["python"] = sys.version
    return found


def _recorded(root: Path) -> dict[str, str]:
    try:
        found = json.loads((root / STAMP).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _extensions(root: Path) -> list[Path]:
    """Every extension in the core's packages, listed or not (a module dropped from `MODULES` must not
    leave an old extension behind)."""
    return sorted(path for package in PACKAGES for path in (root / package).glob(f"*{SUFFIX}"))


def status(root: Path = ROOT) -> Status:
    """Which modules run compiled, and which of those are stale."""
    extensions = _extensions(root)
    if not extensions:
        return Status((), ())
    compiled = tuple(m for m in MODULES if extension_of(m, root).exists())
    recorded = _recorded(root)
    if not recorded:
        return Status(compiled, compiled or ("(no record of a build)",))
    listed = {extension_of(m, root) for m in MODULES} | {runtime_of(root)}
    unlisted = [str(p.relative_to(root)) for p in extensions if p not in listed]
    try:
        current = fingerprint(root)
    except OSError:
        current = {}
    changed = [m for m in compiled if recorded.get(m) != current.get(m)]
    if recorded.get("python") != current.get("python"):
        changed = list(compiled)
    # a partial build mixes compiled classes with their source twins: refused like a stale one
    missing = [f"{m} (no extension)" for m in MODULES if m not in compiled]
    if not runtime_of(root).exists():
        missing.append(f"{runtime_of(root).relative_to(root)} (missing)")
    return Status(compiled, tuple(changed + unlisted + missing))


def check(root: Path = ROOT) -> Status:
    """Raise `StaleBuild` when a compiled module of the tree was not built from its current source."""
    found = status(root)
    if found.stale:
        raise StaleBuild(
            f"the compiled domain core is stale ({', '.join(found.stale)} changed since it was built): "
            "run `ioc native build` (or `ioc native clean` to run from source)"
        )
    return found


def refuse_stale(program: str) -> None:
    """Exit (status 2) with `check`'s reason, prefixed by `program`, when the tree's compiled core is
    stale: what a command or a benchmark does before it imports the core."""
    try:
        check()
    except StaleBuild as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def clean(root: Path = ROOT) -> list[Path]:
    """Remove every extension of the core and the record of the build: the tree runs from source."""
    removed = _extensions(root)
    for path in removed:
        path.unlink()
    (root / STAMP).unlink(missing_ok=True)
    return removed


_SETUP = """
import sys
from setuptools import setup
from mypyc.build import mypycify
modules, group, target, lib, temp = sys.argv[1].split(","), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
setup(name=group, ext_modules=mypycify(modules, opt_level="3", group_name=group, target_dir=target),
      script_args=["build_ext", "--build-lib", lib, "--build-temp", temp], zip_safe=False)
"""


def build(root: Path = ROOT, force: bool = False, quiet: bool = True) -> bool:
    """Compile `MODULES` unless the tree already holds extensions built from the same sources (returns
    whether it compiled). The extensions are built aside and moved in by rename, so a process running
    the old ones keeps them intact. Raises `subprocess.CalledProcessError` when mypyc or the C compiler
    fails (the tree is left as it was)."""
    from importlib.metadata import version

    wanted = {**fingerprint(root), "mypy": version("mypy")}
    state = status(root)
    complete = state.state == "compiled" and len(state.compiled) == len(MODULES)
    if not force and complete and _recorded(root) == wanted:
        return False
    work = root / "build" / "native"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as out:
        lib = Path(out) / "lib"
        subprocess.run(
            [sys.executable, "-c", _SETUP, ",".join(MODULES), GROUP, str(work / "c"), str(lib),
             str(work / "temp")],
            cwd=root, check=True, stdout=subprocess.DEVNULL if quiet else None,
            stderr=subprocess.PIPE if quiet else None, text=True,
        )
        built = sorted(lib.rglob(f"*{SUFFIX}"))
        expected = {extension_of(m, lib) for m in MODULES}
        missing = expected - set(built)
        if missing:
            raise RuntimeError(f"mypyc did not produce {sorted(str(p) for p in missing)}")
        clean(root)
        for path in built:
            os.replace(path, root / path.relative_to(lib))
    (root / STAMP).write_text(json.dumps(wanted, indent=1, sort_keys=True))
    return True
