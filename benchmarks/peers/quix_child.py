"""The Quix Streams peer, run by `benchmarks.phases.quix` with the python of the peer's own venv.

Standalone on purpose: it imports only the standard library and quixstreams (ioc-monitor is not
installed in that venv), so the peer never enters the product's environment. Two modes, as the issue
measured them: `stateless` (JSON values, a count) and `stateful` (a per-dossier count kept in Quix's
RocksDB state with its changelog topic, at-least-once checkpoints). Progress goes to --status as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def main() -> None:
    p = argparse.ArgumentParser()
    for name in ("--bootstrap", "--topic", "--group", "--status", "--state-dir"):
        p.add_argument(name, required=True)
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--mode", choices=("stateless", "stateful"), required=True)
    args = p.parse_args()

    from quixstreams import Application, __version__

    status = Path(args.status)
    seen: dict[str, Any] = {"count": 0, "version": __version__}
    marks = {int(args.expect * q): q for q in (0.1, 0.9)}
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel="WARNING",
    )
    topic = app.topic(args.topic, key_deserializer="str", value_deserializer="json")
    sdf = app.dataframe(topic)

    def write(final: bool = False) -> None:
        tmp = status.with_suffix(".tmp")
        tmp.write_text(json.dumps({**seen, "final": final}))
        tmp.replace(status)

    def progress() -> None:
        n = seen["count"] = seen["count"] + 1
        if n == 1:
            seen["first"], seen["cpu_first"] = time.time(), time.process_time()
        if n in marks:
            seen[f"t{marks[n]}"] = time.time()
        if n % 5000 == 0 or n == args.expect:
            seen["last"], seen["cpu_last"] = time.time(), time.process_time()
            write(final=n == args.expect)
            if n == args.expect:
                app.stop()

    if args.mode == "stateful":

        def count(value: dict[str, Any], state: Any) -> None:
            state.set("events", state.get("events", 0) + 1)
            progress()

        sdf.update(count, stateful=True)
    else:
        sdf.update(lambda value: progress())
    app.run()


if __name__ == "__main__":
    main()
