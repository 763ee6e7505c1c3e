"""`ioc worker` with its domain core taken out: a **named fake**, for the stream benchmark only.

    python -m benchmarks.hollow_worker     # as `ioc worker`, same environment (IOC_* settings)

What a 20,000-events/s worker can afford for its domain core depends on what everything else costs:
Faust's fetch and hand-over, the checkpoint (alerts, InfluxDB lines, changelog writes, acknowledgements,
commits), the sink's thread, the ticks and snapshots (with nothing to fire or count here). This worker
keeps all of that and replaces only `streams.batch.handle_records` (the core, its lines and its staging)
by a stand-in that does the least a batch must: each record's value is kept as its dossier's state (one
changelog record per dossier per batch, as the real worker writes), one InfluxDB line per record of the
size of the real worker's throughput point (one per applied event), each record counted as applied. No
validation, no SLA clock, no KPI: its rate is the ceiling of the real worker on the same machine, and its
CPU per event is the part of the real worker's that a faster core cannot remove
(`benchmarks.phases.pipeline.run_hollow`).

Not a worker to run: the states it writes are the raw events, which the real worker cannot read, and the
processor's views stay empty (no KPI, no alert).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from streams.batch import Handled, Record
from streams.lines import Centres


def hollow_records(processor: object, partition: int, records: Sequence[Record], now: int,
                   centres: Centres | None) -> Handled:
    """The stand-in for `streams.batch.handle_records`: states, one line per record, counts; no domain."""
    out = Handled()
    writes, lines = out.writes, out.lines
    for record in records:
        dossier = (record.key or b"").decode()
        writes[dossier] = record.value or b""
        # the size of a throughput point (`streams.lines.event_point`), one point per record
        lines.append(f'events,agency=HOLLOW,partition={partition},type=hollow dossier="{dossier}",n=1i '
                     f"{now}{record.offset % 1_000_000_000:09d}")
    out.seen[("hollow", "-", "applied")] = len(records)
    return out


def main() -> None:
    import streams.worker
    from ioc.cli import main as cli

    streams.worker.handle_records = hollow_records  # type: ignore[attr-defined]  # what on_records calls
    sys.argv = ["ioc", "worker"]
    cli()


if __name__ == "__main__":
    main()
