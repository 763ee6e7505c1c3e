"""The Quix Streams peers (issue 19): the same topic on the same broker, consumed by a Quix Streams
application in a child process of the peer's own venv (benchmarks/peers/venv.py), stateless (JSON values,
a count) and stateful (a per-dossier count in RocksDB with its changelog). A user choosing a Python
stream framework would try it; the worker's target is to come within 2x of the stateful figure.
"""

from __future__ import annotations

import os

from benchmarks.harness import Context, Figure, StatusChild
from benchmarks.peers.venv import peer_python

REQUIREMENT = "quixstreams==3.28.0"
MODES = {
    "stateless": "Quix Streams, stateless (json, count)",
    "stateful": "Quix Streams, per-dossier state (RocksDB + changelog)",
}
CHILD = os.path.join(os.path.dirname(os.path.dirname(__file__)), "peers", "quix_child.py")


def measure(ctx: Context, mode: str) -> list[Figure]:
    python = peer_python(REQUIREMENT)
    name = f"quix-{mode}-{os.urandom(4).hex()}"
    child = StatusChild(ctx.work, name)
    child.start([
        str(python), CHILD, "--bootstrap", ctx.bootstrap, "--topic", ctx.topic, "--group", name,
        "--status", str(child.status), "--state-dir", str(ctx.work / name), "--expect", str(ctx.total),
        "--mode", mode,
    ])  # fmt: skip
    figure = child.measure(ctx.total, MODES[mode])
    figure.note += f"; {REQUIREMENT}"
    return [figure]


def run_stateless(ctx: Context) -> list[Figure]:
    return measure(ctx, "stateless")


def run_stateful(ctx: Context) -> list[Figure]:
    return measure(ctx, "stateful")
