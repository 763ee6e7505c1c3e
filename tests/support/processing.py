"""Driving the production `Processor` where nothing has to wait between staging and saving.

The worker stages an outcome's table writes at once and saves them when the outcome's alerts are
delivered and its InfluxDB lines written (`streams.checkpoint.Checkpoint`). Tests that only check what
the processor computes have nothing to wait for: they save at once, with the production methods.
"""

from __future__ import annotations

from collections.abc import Mapping

from dossiers.calendar import Timestamp
from streams.processor import Outcome, Processor


def commit(processor: Processor, outcome: Outcome) -> Outcome:
    """Stage and save an outcome's writes at once (what the checkpoint does once InfluxDB caught up)."""
    processor.save(processor.stage(outcome))
    return outcome


class SavingProcessor(Processor):
    """The production `Processor` with every outcome saved as soon as it is made.

    Only the driving differs: `handle` and `tick` are the production ones, followed by `commit`.
    """

    def handle(self, partition: int, raw: bytes, headers: Mapping[str, bytes], now: Timestamp) -> Outcome:
        return commit(self, super().handle(partition, raw, headers, now))

    def tick(self, partition: int, now: Timestamp) -> Outcome:
        return commit(self, super().tick(partition, now))
