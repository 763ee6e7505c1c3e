"""Contract v1 read by msgspec (đọc nhanh sự kiện): the stream's fast path, with pydantic as the judge.

`dossiers.events` (pydantic) is the contract: its schema, its error messages, the models the SDK and the
gateway hand out. Validating one event there costs about 4.5 µs, the largest single step of the worker's
path outside the core (issue 19). msgspec decodes the same bytes into the structs below in about 1.5 µs.

The fast path only ever says "yes, and here are the values" or "not sure": `read_fast` (in
`dossiers.validation`, compiled with the core) returns None for
anything it does not accept, and the caller then asks pydantic, which accepts or says what is wrong.
So msgspec never refuses an event and never words an error. What must hold, and what
tests/unit/test_fast_events.py checks with hypothesis, is the other direction: whatever `read_fast`
accepts, pydantic accepts too, with equal values. Where the two libraries could differ, the structs are
stricter (a code may not start or end with white space, which pydantic would strip; a date-only
`due_at` goes to pydantic) and the rules msgspec cannot state (the years, an online payment's receipt)
are checked after decoding.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from msgspec import Meta, Struct

from dossiers.events import (
    Channel,
    EventType,
    Outcome,
    Rating,
)

Code = Annotated[str, Meta(min_length=1, max_length=64)]
"""Checked again after decoding: no white space at either end (pydantic strips it, and the two would
read different values; a `pattern` here cost 1.5 µs per event in calls back into `re`)."""
Aware = Annotated[datetime, Meta(tz=True)]
Reason = Annotated[str, Meta(max_length=200)]


class _Data(Struct, frozen=True, forbid_unknown_fields=True):
    """Types that carry no type-specific fields (`NoData`)."""


class ReceivedFacts(_Data, frozen=True, forbid_unknown_fields=True):
    digitised: bool | None = None


class TransferredFacts(_Data, frozen=True, forbid_unknown_fields=True):
    to_agency: Code | None = None


class PausedFacts(_Data, frozen=True, forbid_unknown_fields=True):
    reason: Reason | None = None


class ExtendedFacts(_Data, frozen=True, forbid_unknown_fields=True):
    new_due_at: Aware
    reason: Reason | None = None


class ResolvedFacts(_Data, frozen=True, forbid_unknown_fields=True):
    outcome: Outcome = Outcome.APPROVED
    e_result: bool | None = None


class RatedFacts(_Data, frozen=True, forbid_unknown_fields=True):
    rating: Rating


class PaidFacts(_Data, frozen=True, forbid_unknown_fields=True):
    online: bool
    receipt: Annotated[str, Meta(max_length=64)] | None = None
    amount_vnd: Annotated[int, Meta(ge=0)] | None = None


class _Base(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, tag_field="type"):
    """The fields every type carries; `type` is the tag, read back as the class's `EventType`."""

    type: ClassVar[EventType]
    event_id: Annotated[str, Meta(min_length=1, max_length=64)]
    schema: Literal["dossier-event/1"]
    occurred_at: Aware
    dossier: Code
    agency: Code
    procedure: Code | None = None
    channel: Channel | None = None
    due_at: Aware | None = None
    """An instant only: a date alone (`"2026-03-05"`) is left to pydantic, which reads both."""


class _NoData(_Base, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The types that carry no fields of their own (`data`: absent, null or `{}`)."""

    data: _Data | None = None


class FastReceived(_Base, frozen=True, forbid_unknown_fields=True, kw_only=True, tag="received"):
    type: ClassVar[EventType] = EventType.RECEIVED
    procedure: Code
    channel: Channel
    data: ReceivedFacts | None = None


class FastRefused(_NoData, frozen=True, tag="refused"):
    type: ClassVar[EventType] = EventType.REFUSED


class FastTransferred(_Base, frozen=True, forbid_unknown_fields=True, kw_only=True, tag="transferred"):
    type: ClassVar[EventType] = EventType.TRANSFERRED
    data: TransferredFacts | None = None


class FastSupplementRequested(_NoData, frozen=True, tag="supplement_requested"):
    type: ClassVar[EventType] = EventType.SUPPLEMENT_REQUESTED


class FastSupplementReceived(_NoData, frozen=True, tag="supplement_received"):
    type: ClassVar[EventType] = EventType.SUPPLEMENT_RECEIVED


class FastPaused(_Base, frozen=True, forbid_unknown_fields=True, kw_only=True, tag="paused"):
    type: ClassVar[EventType] = EventType.PAUSED
    data: PausedFacts | None = None


class FastResumed(_NoData, frozen=True, tag="resumed"):
    type: ClassVar[EventType] = EventType.RESUMED


class FastExtended(_Base, frozen=True, forbid_unknown_fields=True, kw_only=True, tag="extended"):
    type: ClassVar[EventType] = EventType.EXTENDED
    data: ExtendedFacts


class FastResolved(_Base, frozen=True, forbid_unknown_fields=True, kw_only=True, tag="resolved"):
    type: ClassVar[EventType] = EventType.RESOLVED
    data: ResolvedFacts | None = None


class FastReturned(_NoData, frozen=True, tag="returned"):
    type: ClassVar[EventType] = EventType.RETURNED


class FastWithdrawn(_NoData, frozen=True, tag="withdrawn"):
    type: ClassVar[EventType] = EventType.WITHDRAWN


class FastRated(_Base, frozen=True, forbid_unknown_fields=True, kw_only=True, tag="rated"):
    type: ClassVar[EventType] = EventType.RATED
    data: RatedFacts


class FastPaid(_Base, frozen=True, forbid_unknown_fields=True, kw_only=True, tag="paid"):
    type: ClassVar[EventType] = EventType.PAID
    data: PaidFacts


class FastSynced(_NoData, frozen=True, tag="synced"):
    type: ClassVar[EventType] = EventType.SYNCED


class FastComplained(_NoData, frozen=True, tag="complained"):
    type: ClassVar[EventType] = EventType.COMPLAINED


FastEvent = (
    FastReceived | FastRefused | FastTransferred | FastSupplementRequested | FastSupplementReceived
    | FastPaused | FastResumed | FastExtended | FastResolved | FastReturned | FastWithdrawn | FastRated
    | FastPaid | FastSynced | FastComplained
)
