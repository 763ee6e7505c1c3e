"""Names on the wire (tên chủ đề và tiêu đề Kafka): the one place topic and header names are spelled.

Producers, workers, the notifier, the access-control rules and the local stack all read these. The topic
names are defaults: every service takes the same `IOC_*_TOPIC` variables to override them.
"""

from __future__ import annotations

from typing import Final

EVENTS_TOPIC: Final = "dossier-events"
"""`dossier-event/1` records from the agencies, key = dossier code."""
DLQ_TOPIC: Final = "dossier-events-dlq"
"""Dead letters: the original bytes of every record the worker refused, with the reason in headers."""
ALERTS_TOPIC: Final = "dossier-alerts"
"""`dossier-alert/1` records from the workers, read by the notifier and the terminal wall."""
TICKS_TOPIC: Final = "ioc-sla-ticks"
"""The workers' internal timer topic, co-partitioned with the events topic."""

AGENCY_HEADER: Final = "ioc-agency"
"""Set by the producer SDK to the producing agency's identity; the worker checks it against `agency`."""
DLQ_REASON_HEADER: Final = "ioc-dlq-reason"
"""On a dead letter: which field is wrong and why, in words."""
DLQ_CODE_HEADER: Final = "ioc-dlq-code"
"""On a dead letter: the machine-readable reason code (`InvalidEvent.code`)."""
