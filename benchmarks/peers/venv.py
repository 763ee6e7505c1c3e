"""A peer framework in its own virtual environment, made on first use and kept in the user's cache.

The peers (Quix Streams and its confluent-kafka, rocksdict...) never enter ioc-monitor's environment:
the benchmark runs them with the venv's python on a standalone child script.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from benchmarks.harness import console


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ioc-monitor" / "bench-peers"


def peer_python(requirement: str) -> Path:
    """The python of a venv holding `requirement` (e.g. "quixstreams==3.28.0"), created if missing.
    Raises RuntimeError with pip's output when it cannot be installed (no index reachable...)."""
    home = cache_dir() / requirement.replace("==", "-")
    python = home / "bin" / "python"
    done = home / ".installed"
    if done.is_file():
        return python
    with console.status(f"installing the benchmark peer {requirement} in {home}"):
        venv.EnvBuilder(with_pip=True, clear=True).create(home)
        pip = subprocess.run([str(python), "-m", "pip", "install", "-q", requirement],
                             capture_output=True, text=True, timeout=900)  # fmt: skip
    if pip.returncode != 0:
        raise RuntimeError(f"pip install {requirement} failed:\n{pip.stdout[-2000:]}{pip.stderr[-2000:]}")
    done.write_text(f"{requirement}\n{sys.version}\n")
    return python
