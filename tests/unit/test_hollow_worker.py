"""The stream benchmark's worker without its domain core (`benchmarks.hollow_worker`, a named fake): it must
do what a batch of the real worker must do at the least, or its rate would not bound the real worker's."""

from __future__ import annotations

from benchmarks.batch import FakeRecord
from benchmarks.hollow_worker import hollow_records


def test_each_dossier_written_once_with_its_last_value_one_line_per_record_every_record_counted() -> None:
    records = [
        FakeRecord(2, 10, b"D-1", b"first"),
        FakeRecord(2, 11, b"D-2", b"only"),
        FakeRecord(2, 12, b"D-1", b"last"),
    ]
    done = hollow_records(None, 2, records, 1_800_000_000, None)
    assert done.writes == {"D-1": b"last", "D-2": b"only"}
    assert len(done.lines) == 3
    stamps = [line.rsplit(" ", 1)[1] for line in done.lines]
    assert len(set(stamps)) == 3 and all(s.startswith("1800000000") and len(s) == 19 for s in stamps)
    assert ['dossier="D-1"' in line for line in done.lines] == [True, False, True]
    assert sum(done.seen.values()) == 3 and not done.refused and not done.alerts
