"""Every workaround of a faust-streaming gap, in one place, with the version it was written for.

Three patches of Faust's internals (docs/faults.md, bugs 5 and 6; docs/architecture.md):
- `seek_uncommitted_to_earliest`: partitions without a committed offset restart from their earliest
  offset after a rebalance (records were skipped);
- `hold_flow_while_seeking`: the consumer's flow is stopped while Faust seeks to the committed offsets
  (records fetched during the seek were cleared unprocessed);
- `use_raw_changelog`: the table's changelog topic is rebuilt with the raw serializers, through the
  private `Collection._new_changelog_topic`.

They were written against faust-streaming 0.15.3 and are proven by the two-worker and slow-seek tests
(tests/integration/test_stream_pipeline.py) and the fault tests. `check_faust` runs at start-up: a
version outside `TESTED_FAUST` is a loud warning (re-run those tests, then widen the range), a missing
internal is an error (the patch cannot be applied, and running without it loses records).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

log = logging.getLogger(__name__)

TESTED_FAUST = ((0, 15, 3), (0, 15, 3))
"""The faust-streaming versions (lowest, highest, inclusive) the workarounds were tested with."""

CONSUMER_INTERNALS = (
    "seek_to_committed",
    "perform_seek",
    "stop_flow",
    "resume_flow",
    "flow_active",
    "earliest_offsets",
    "seek",
)
"""What the consumer patches call or replace; all but `seek` and `earliest_offsets` are Faust internals."""


def _parse(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _shown(release: tuple[int, ...]) -> str:
    return ".".join(map(str, release))


def faust_version_problem(installed: str | None) -> str | None:
    """Why the installed faust-streaming is not one the workarounds were tested with, or None."""
    low, high = TESTED_FAUST
    tested = _shown(low) if low == high else f"{_shown(low)} to {_shown(high)}"
    if installed is None:
        return f"faust-streaming is not installed as a package; the workarounds were tested with {tested}"
    if low <= _parse(installed) <= high:
        return None
    return (
        f"faust-streaming {installed} is installed, but the workarounds in streams/faust_compat.py were "
        f"tested with {tested} only: they patch Faust's internals. Run the two-worker, slow-seek and "
        "fault tests (tests/integration/test_stream_pipeline.py, test_faults.py) on this version, then "
        "widen TESTED_FAUST or remove the workarounds it no longer needs"
    )


def check_faust(installed: str | None = None) -> None:
    """At start-up: a loud warning when faust-streaming is outside the tested range."""
    if installed is None:
        try:
            installed = version("faust-streaming")
        except PackageNotFoundError:
            installed = None
    problem = faust_version_problem(installed)
    if problem is not None:
        log.warning("UNTESTED FAUST VERSION: %s", problem)


def _require(target: Any, names: tuple[str, ...], what: str) -> None:
    missing = [name for name in names if not hasattr(target, name)]
    if missing:
        raise RuntimeError(
            f"this faust-streaming has no {', '.join(missing)} on its {what}: the workarounds in "
            "streams/faust_compat.py cannot be applied, and without them records are lost on a rebalance"
        )


def seek_uncommitted_to_earliest(consumer: Any, topics: set[str]) -> None:
    """Work around a faust-streaming (0.15.3) record loss on a rebalance, found by the two-worker test.

    After a rebalance Faust seeks every assigned partition to its committed offset and discards the
    records it had fetched before. aiokafka's seek skips a partition with no committed offset (or
    offset 0), which so stays at the position of those discarded records, and Faust's memory of the
    last offset read then drops what it does re-read: records are never processed. Seeking such a
    partition of `topics` to its earliest offset makes it restart like any other; records read again
    are duplicates, which the processor recognises.
    """
    _require(consumer, CONSUMER_INTERNALS, "consumer")
    original = consumer.seek_to_committed

    async def seek_to_committed() -> Mapping[Any, int]:
        committed = dict(await original())
        fresh = [tp for tp, offset in committed.items() if tp.topic in topics and not offset]
        if fresh:
            earliest = await consumer.earliest_offsets(*fresh)
            for tp in fresh:
                offset = int(earliest.get(tp) or 0)
                await consumer.seek(tp, offset)
                committed[tp] = offset
            log.info("no committed offset: %d partition(s) read from their earliest offset", len(fresh))
        return committed

    consumer.seek_to_committed = seek_to_committed


def hold_flow_while_seeking(consumer: Any) -> None:
    """Work around a faust-streaming (0.15.3) record loss after recovery (docs/faults.md, bug 6).

    When recovery ends Faust resumes the stream partitions, seeks them to their committed offsets,
    then resumes the flow, which clears the agents' queues. Its fetcher keeps running during the seek:
    records fetched from the new positions before the queues are cleared are dropped with them, yet
    the consumer has moved past them, so they are never processed. Stopping the flow for the seek
    closes that window: every caller of `perform_seek` resumes the flow after it (or, in `getmany`,
    calls it with the flow already stopped). What was fetched before the seek is read again.
    """
    _require(consumer, CONSUMER_INTERNALS, "consumer")
    original = consumer.perform_seek

    async def perform_seek() -> None:
        was_active = consumer.flow_active
        consumer.stop_flow()
        try:
            await original()
        except BaseException:
            if was_active:
                consumer.resume_flow()
            raise

    consumer.perform_seek = perform_seek


def use_raw_changelog(table: Any) -> None:
    """Store the table's values as the raw bytes they are, in the table and in its changelog.

    Faust derives a table's serializers from its types ("json" even for bytes, which it would store as
    their repr). The state is compact bytes already: use "raw", and rebuild the changelog topic (created
    by `app.Table` with the json serializers) so that recovery decodes what was written. Faust has no
    public way to do this; `_new_changelog_topic` is the method `app.Table` itself calls.
    """
    _require(table, ("_new_changelog_topic",), "table")
    table.key_serializer = table.value_serializer = "raw"
    table.changelog_topic = table._new_changelog_topic()


def patch_consumer(consumer: Any, topics: set[str]) -> None:
    """Both consumer workarounds; `topics` are the ones the agent reads (events and ticks)."""
    seek_uncommitted_to_earliest(consumer, topics)
    hold_flow_while_seeking(consumer)
