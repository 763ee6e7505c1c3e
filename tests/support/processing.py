"""Driving the production `Processor` where nothing has to wait between staging and saving.

The worker stages an outcome's table writes at once and saves them when the outcome's alerts are
delivered and its InfluxDB lines written (`streams.checkpoint.Checkpoint`). Tests that only check what
the processor computes have nothing to wait for: they save at once, with the production methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dossiers.calendar import Timestamp
from streams.processor import Outcome, Processor


def commit(processor: Processor, outcome: Outcome) -> Outcome:
    """Stage and save an outcome's writes at once (what the checkpoint does once InfluxDB caught up)."""
    processor.save(processor.stage(outcome))
    return outcome


class SavingProcessor:
    """The production `Processor` with every outcome saved as soon as it is made.

    Only the driving differs: `handle` and `tick` are the production ones, followed by `commit`; every
    other attribute, read or written, is the processor's. A wrapper, not a subclass: the processor may be
    compiled by mypyc (`ioc.native`), and interpreted classes cannot inherit from compiled ones.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "inner", Processor(*args, **kwargs))

    inner: Processor

    def handle(self, partition: int, raw: bytes, headers: Mapping[str, bytes], now: Timestamp) -> Outcome:
        return commit(self.inner, self.inner.handle(partition, raw, headers, now))

    def tick(self, partition: int, now: Timestamp) -> Outcome:
        return commit(self.inner, self.inner.tick(partition, now))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.inner, name, value)
