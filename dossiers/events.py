"""Event contract v1: one dossier lifecycle event (sự kiện hồ sơ TTHC) per Kafka record.

The field names are the public API for agency integrators, so error messages name the field and
say what is wrong in plain words: an integrator must be able to fix a payload from the message alone.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from dossiers.plain_json import plain_object

SCHEMA_V1 = "dossier-event/1"
MAX_EVENT_BYTES = 16 * 1024
"""An event is a few hundred bytes; anything this large is a mistake or an attack."""


class EventType(StrEnum):
    """The lifecycle steps of a dossier (hồ sơ) in the one-stop shop."""

    RECEIVED = "received"  # tiếp nhận
    REFUSED = "refused"  # từ chối tiếp nhận
    TRANSFERRED = "transferred"  # chuyển xử lý
    SUPPLEMENT_REQUESTED = "supplement_requested"  # yêu cầu bổ sung
    SUPPLEMENT_RECEIVED = "supplement_received"  # nhận bổ sung
    PAUSED = "paused"  # tạm dừng
    RESUMED = "resumed"  # tiếp tục
    EXTENDED = "extended"  # gia hạn (phiếu xin lỗi và hẹn lại)
    RESOLVED = "resolved"  # có kết quả
    RETURNED = "returned"  # trả kết quả
    WITHDRAWN = "withdrawn"  # rút hồ sơ
    RATED = "rated"  # đánh giá
    PAID = "paid"  # thanh toán
    SYNCED = "synced"  # đồng bộ lên Cổng Dịch vụ công quốc gia (occurred_at: when the portal took it)
    COMPLAINED = "complained"  # phản ánh, kiến nghị (PAKN) about the dossier


class Channel(StrEnum):
    """How the citizen submitted the dossier (kênh tiếp nhận)."""

    COUNTER = "counter"
    ONLINE = "online"
    POSTAL = "postal"
    PHONE = "phone"


class Rating(StrEnum):
    """Citizen satisfaction (mức độ hài lòng)."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"


class Outcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"


EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
"""Dates outside these years are typing errors (0001, 9999), not dossiers; the calendar is built
year by year, so they are refused here instead of costing the stream seconds and memory."""


def in_contract_years(moment: date) -> bool:
    """Whether a date or an instant falls within the years the contract takes."""
    return EARLIEST_YEAR <= moment.year <= LATEST_YEAR


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a time-zone offset, e.g. 2026-03-02T08:15:00+07:00")
    if not in_contract_years(value):
        raise ValueError(f"year {value.year} is out of range ({EARLIEST_YEAR}-{LATEST_YEAR})")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_offset)]
_AWARE: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _appointment(value: Any) -> date:
    """An appointment (ngày hẹn trả): an instant with an offset, or a date alone ("2026-03-05").

    A date alone is what many receipts (giấy tiếp nhận và hẹn trả kết quả) carry: the SLA clock then
    classifies the result by date. Anything else must be an instant with an offset, as before.
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _DATE_ONLY.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"not a valid date ({exc})") from exc
    else:
        try:
            return _AWARE.validate_python(value)
        except ValidationError as exc:
            item = exc.errors(include_url=False)[0]
            raise ValueError(_FRIENDLY.get(item["type"], item["msg"]).removeprefix("Value error, ")) from exc
    if not in_contract_years(day):
        raise ValueError(f"year {day.year} is out of range ({EARLIEST_YEAR}-{LATEST_YEAR})")
    return day


def _wire_appointment(value: date) -> str:
    """A date as "2026-03-05"; an instant exactly as every other time of the contract."""
    return _AWARE.dump_python(value, mode="json") if isinstance(value, datetime) else value.isoformat()


Appointment = Annotated[
    datetime | date,
    PlainValidator(_appointment),
    PlainSerializer(lambda value: _wire_appointment(value), return_type=str, when_used="json"),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"},
                              {"type": "string", "format": "date"}]}),
]
"""`due_at`: an instant with an offset, or a date alone (classified by date)."""
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoData(_Data):
    """Types that carry no type-specific fields."""


class ReceivedData(_Data):
    digitised: bool | None = None
    """The components were digitised at receipt (số hóa thành phần hồ sơ): the 766 index item 4.2."""


class TransferredData(_Data):
    to_agency: Code | None = None


class PausedData(_Data):
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class ExtendedData(_Data):
    new_due_at: AwareDatetime
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class ResolvedData(_Data):
    outcome: Outcome = Outcome.APPROVED
    e_result: bool | None = None
    """The result was issued as an electronic result (kết quả điện tử): the 766 index items 3.3, 4.1, 4.2."""


class RatedData(_Data):
    rating: Rating


class PaidData(_Data):
    online: bool
    receipt: Annotated[str, StringConstraints(max_length=64)] | None = None
    amount_vnd: Annotated[int, Field(ge=0)] | None = None


class _EventBase(BaseModel):
    """Fields every event type carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    schema_: Literal["dossier-event/1"] = Field(alias="schema")
    occurred_at: AwareDatetime
    dossier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    agency: Code
    procedure: Code | None = None
    channel: Channel | None = None
    due_at: Appointment | None = None

    def to_json(self) -> str:
        """The canonical wire form (by alias, no nulls)."""
        return self.model_dump_json(by_alias=True, exclude_none=True)


class Received(_EventBase):
    type: Literal[EventType.RECEIVED]
    procedure: Code
    channel: Channel
    data: ReceivedData | None = None


class Refused(_EventBase):
    type: Literal[EventType.REFUSED]
    data: NoData | None = None


class Transferred(_EventBase):
    type: Literal[EventType.TRANSFERRED]
    data: TransferredData | None = None


class SupplementRequested(_EventBase):
    type: Literal[EventType.SUPPLEMENT_REQUESTED]
    data: NoData | None = None


class SupplementReceived(_EventBase):
    type: Literal[EventType.SUPPLEMENT_RECEIVED]
    data: NoData | None = None


class Paused(_EventBase):
    type: Literal[EventType.PAUSED]
    data: PausedData | None = None


class Resumed(_EventBase):
    type: Literal[EventType.RESUMED]
    data: NoData | None = None


class Extended(_EventBase):
    type: Literal[EventType.EXTENDED]
    data: ExtendedData


class Resolved(_EventBase):
    type: Literal[EventType.RESOLVED]
    data: ResolvedData | None = None


class Returned(_EventBase):
    type: Literal[EventType.RETURNED]
    data: NoData | None = None


class Withdrawn(_EventBase):
    type: Literal[EventType.WITHDRAWN]
    data: NoData | None = None


class Rated(_EventBase):
    type: Literal[EventType.RATED]
    data: RatedData


class Paid(_EventBase):
    type: Literal[EventType.PAID]
    data: PaidData

    @model_validator(mode="after")
    def _online_needs_receipt(self) -> Paid:
        if self.data.online and not self.data.receipt:
            raise ValueError("data.receipt: an online payment must carry its e-receipt number")
        return self


class Synced(_EventBase):
    """The dossier reached the National Public Service Portal (Cổng DVCQG); sent again on later syncs."""

    type: Literal[EventType.SYNCED]
    data: NoData | None = None


class Complained(_EventBase):
    """A complaint or petition about the dossier (phản ánh, kiến nghị); each one is its own event."""

    type: Literal[EventType.COMPLAINED]
    data: NoData | None = None


Event = Annotated[
    Received
    | Refused
    | Transferred
    | SupplementRequested
    | SupplementReceived
    | Paused
    | Resumed
    | Extended
    | Resolved
    | Returned
    | Withdrawn
    | Rated
    | Paid
    | Synced
    | Complained,
    Field(discriminator="type"),
]
"""Any v1 event; `type` selects the model."""

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class EventRecord(Protocol):
    """What the core reads of an event: a model of this module, or its msgspec twin that the stream reads
    faster (`dossiers.fast_events`, issue 19). `data` is the type's own fields (`ReceivedData`,
    `ExtendedData`...), or None where the type allows it; the core reads it after testing `type`."""

    @property
    def event_id(self) -> str: ...
    @property
    def type(self) -> EventType: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def dossier(self) -> str: ...
    @property
    def agency(self) -> str: ...
    @property
    def procedure(self) -> str | None: ...
    @property
    def channel(self) -> Channel | None: ...
    @property
    def due_at(self) -> datetime | date | None: ...
    @property
    def data(self) -> Any: ...


class InvalidEvent(ValueError):
    """An event that breaks the contract; `reason` is meant for the integrator who sent it."""

    def __init__(self, reason: str, code: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


_FRIENDLY = {
    "extra_forbidden": "is not a field of the contract (personal data and unknown fields are refused)",
    "missing": "is required",
    "union_tag_invalid": "is not a known event type",
    "union_tag_not_found": "is required (the event type)",
    "literal_error": "has a value the contract does not allow",
}


def _describe(error: ValidationError) -> str:
    parts: list[str] = []
    for item in error.errors(include_url=False):
        loc = [str(p) for p in item["loc"]]
        # drop the discriminator tag pydantic inserts (e.g. "received") from the location
        if loc and loc[0] in EventType._value2member_map_:
            loc = loc[1:]
        loc = [p for p in loc if p not in {"NoData", "ReceivedData", "function-after"}]
        field = ".".join(loc) or "event"
        if field == "schema_":
            field = "schema"
        message = _FRIENDLY.get(item["type"], item["msg"])
        if item["type"] == "union_tag_invalid":
            message = f"{message}; expected one of: {', '.join(t.value for t in EventType)}"
        if item["type"] == "literal_error" and field == "schema":
            message = f'must be "{SCHEMA_V1}"'
        message = message.removeprefix("Value error, ")
        if item["type"] in {"union_tag_invalid", "union_tag_not_found"}:
            field = "type"
        if field == "event" and re.match(r"^[a-z_.]+: ", message):
            parts.append(message)  # a model-level rule that names its own field
        else:
            parts.append(f"{field}: {message}")
    return "; ".join(parts)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads` keeps the last of two equal keys; an event that says two things is refused instead."""
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidEvent(f"{key}: given twice in one object (which one is meant?)", "json")
            seen.add(key)
    return body


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)
def decode_object(raw: bytes | str) -> dict[str, Any]:
    """One JSON object from the wire or a file line, or `InvalidEvent` saying what is wrong with the bytes.

    Every door (the stream, `ioc validate`, `ioc replay`, `ioc produce`) reads through here, so a line
    that is not UTF-8, too large, nested too deep, has a key twice or is not an object gets the same
    reason everywhere.
    """
    if isinstance(raw, bytes) and len(raw) <= MAX_EVENT_BYTES:
        plain = plain_object(raw)
        if plain is not None:
            return plain
    return _decode_slowly(raw)


def _decode_slowly(raw: bytes | str) -> dict[str, Any]:
    """`decode_object` with the standard decoder: any JSON, and the reason when it is not acceptable."""
    if isinstance(raw, str):
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError as exc:  # text read with surrogateescape: the bytes were not UTF-8
            raise InvalidEvent(
                f"event: not UTF-8 text (undecodable byte at character {exc.start}): save the file as UTF-8",
                "encoding",
            ) from exc
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event: {len(raw)} bytes is over the {MAX_EVENT_BYTES}-byte limit", "too_large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent(
            f"event: not UTF-8 text ({exc.reason} at byte {exc.start}): save the file as UTF-8", "encoding"
        ) from exc
    try:
        body = _DECODER.decode(text)  # json.loads(text, object_pairs_hook=...) with one decoder for all
    except json.JSONDecodeError as exc:
        raise InvalidEvent(
            f"event: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", "json"
        ) from exc
    except InvalidEvent:  # a key given twice (the hook's own reason), not "a number too long"
        raise
    except RecursionError as exc:  # 5,000 nested brackets fit in 16 KiB
        raise InvalidEvent("event: JSON nested too deeply (an event is two levels deep)", "json") from exc
    except ValueError as exc:  # a number of more than 4,300 digits
        raise InvalidEvent(f"event: a number in the JSON is too long ({exc})", "json") from exc
    if not isinstance(body, dict):
        raise InvalidEvent("event: must be a JSON object", "not_object")
    return body


def parse_event(raw: bytes | str | dict[str, Any]) -> Event:
    """Validate one event from the wire (bytes or text of a JSON object) or from a dict.

    Raises InvalidEvent whose reason names the field and what is wrong with it.
    """
    body = decode_object(raw) if isinstance(raw, bytes | str) else raw
    if not isinstance(body, dict):
        raise InvalidEvent("event: must be a JSON object", "not_object")
    try:
        return _ADAPTER.validate_python(body)
    except ValidationError as exc:
        raise InvalidEvent(_describe(exc), "schema") from exc


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of contract v1 (what `ioc schema` prints)."""
    schema = _ADAPTER.json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://ioc-monitor.example/schemas/dossier-event-1.json"
    schema["title"] = "dossier-event/1"
    schema["description"] = "One lifecycle event of an administrative-procedure dossier (hồ sơ TTHC)."
    return schema
