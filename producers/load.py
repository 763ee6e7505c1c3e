"""Loading an event file (nạp tệp sự kiện): every record of a JSON-lines or CSV file to one sink.

`ioc produce` is this loop plus options and output. The sink is the producer SDK's `send` (validate,
then Kafka or the spool) or, for a dry run, `check_event` (validate only). A record that cannot be read
or that breaks the contract is kept with its line number and reason; the rest go on, so a broken export
is reported whole, not up to its first bad line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dossiers.events import InvalidEvent
from producers.files import SourceLine


@dataclass(slots=True)
class LoadResult:
    """How a file went: records handed to the sink, and the bad lines with their reasons."""

    valid: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)


def load_records(
    records: Iterable[SourceLine],
    send: Callable[[dict[str, Any]], object],
    on_line: Callable[[int], None] | None = None,
) -> LoadResult:
    """Hand each readable record to `send`; an `InvalidEvent` from it marks the line invalid."""
    result = LoadResult()
    for item in records:
        if on_line is not None:
            on_line(item.line)
        if item.record is None:
            result.invalid.append((item.line, item.error or "unreadable"))
            continue
        try:
            send(item.record)
        except InvalidEvent as exc:
            result.invalid.append((item.line, exc.reason))
            continue
        result.valid += 1
    return result
