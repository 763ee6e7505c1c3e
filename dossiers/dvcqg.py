"""DVCQG dossier records (hồ sơ đồng bộ lên Cổng Dịch vụ công quốc gia) → `dossier-event/1` events.

Provincial one-stop systems already send every dossier's record to the National Public Service Portal
(Cổng DVCQG). A record is a *snapshot* (the dossier as it stands now), sent again whenever it changes,
not an event. This module turns one snapshot into the lifecycle events it implies, as a pure function:

* every event id is derived from the dossier code, the kind of event and its time, so the same record
  sent ten times gives the same ids and the lifecycle (which drops repeated ids) counts it once;
* an event's content depends only on facts that do not change between snapshots of one dossier (the
  receipt, the original appointment, each supplement round), so snapshots arriving in any order give
  the same state through the order-free lifecycle (`dossiers.lifecycle`).

The layout is the one documented in docs/gateway.md ("our documented layout"): field names and the date
format follow the OpenCPS DVCQG integration code and the 766 guide; the status codes are ours, because no
authoritative public list was found. Personal data the record carries (ChuHoSo, Email, SoDienThoai, ...)
is ignored: it is never turned into an event, stored or logged.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import IntEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from dossiers.events import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    SCHEMA_V1,
    Channel,
    Event,
    EventType,
    InvalidEvent,
    Outcome,
    in_contract_years,
    parse_event,
)

ICT = timezone(timedelta(hours=7))
"""Asia/Ho_Chi_Minh (UTC+7, no daylight saving): the zone DVCQG times are written in without an offset."""
ID_PREFIX = "dvcqg-"
_COMPACT = re.compile(r"\d{14}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{8}")


class Status(IntEnum):
    """`TrangThaiHoSo` in our documented layout (docs/gateway.md: the codes are ours, not verified)."""

    SUBMITTED = 1  # Mới đăng ký (nộp trực tuyến, chưa tiếp nhận)
    RECEIVED = 2  # Được tiếp nhận
    REFUSED = 3  # Không được tiếp nhận (từ chối tiếp nhận)
    IN_PROGRESS = 4  # Đang xử lý
    SUPPLEMENT = 5  # Yêu cầu bổ sung
    FINANCIAL_OBLIGATION = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
    WITHDRAWN = 7  # Công dân yêu cầu rút hồ sơ
    STOPPED = 8  # Dừng xử lý
    RESOLVED = 9  # Đã xử lý xong
    RETURNED = 10  # Đã trả kết quả


CHANNELS = {1: Channel.COUNTER, 2: Channel.ONLINE, 3: Channel.POSTAL}
"""`KenhThucHien` (766 guide, item 3.3): 1 trực tiếp (or absent), 2 trực tuyến, 3 bưu chính công ích."""
PAYMENT_RECEIPTS = {1: "DVCQG", 2: "local-gateway"}
"""`DuocThanhToanTrucTuyen`: 1 paid through the DVCQG payment platform, 2 through a ministry's or the
province's own gateway. The record carries no e-receipt number, so the event's receipt names the gateway."""


def parse_time(value: Any) -> datetime | None:
    """A DVCQG time: `yyyyMMddHHmmss` in Vietnam time (OpenCPS), or ISO 8601; "" and null mean none.

    ISO times without an offset and compact times are read as Vietnam time (UTC+7), as the portal does.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            if _COMPACT.fullmatch(text):
                moment = datetime.strptime(text, "%Y%m%d%H%M%S")
            elif _DATE.fullmatch(text):
                moment = datetime.combine(date.fromisoformat(text), time())
            else:
                moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(
                f"{text!r} is not a time: use yyyyMMddHHmmss (Vietnam time) or ISO 8601, e.g. 20260302081500"
            ) from exc
    else:
        raise ValueError("must be a time as text: yyyyMMddHHmmss (Vietnam time) or ISO 8601")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ICT)
    if not in_contract_years(moment):
        raise ValueError(f"year {moment.year} is out of range ({EARLIEST_YEAR}-{LATEST_YEAR})")
    return moment


def _code_number(value: Any) -> Any:
    """Codes arrive as numbers or digit strings ("2"); "" and null mean absent."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.isdigit():
            return int(text)
    return value


Time = Annotated[datetime | None, BeforeValidator(parse_time)]
CodeNumber = Annotated[int | None, BeforeValidator(_code_number)]
Text = Annotated[str, Field(min_length=1, max_length=64)]


class SupplementRound(BaseModel):
    """One round of `DanhSachHoSoBoSung` (yêu cầu bổ sung hồ sơ)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    NgayBoSung: Time = None
    """When the supplement was requested."""
    NgayTiepNhanBoSung: Time = None
    """When the citizen's supplement was received (absent while still waiting)."""
    NgayHenTraTruoc: Time = None
    """The appointment before this round."""
    NgayHenTraMoi: Time = None
    """The appointment after this round."""


class DossierRecord(BaseModel):
    """One dossier record in our documented DVCQG layout (docs/gateway.md). Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    MaHoSo: Text
    MaTTHC: Text
    NgayTiepNhan: Time = None
    NgayHenTra: Time = None
    NgayHenTraBanDau: Time = None
    """Our addition: the original appointment when `NgayHenTra` was rescheduled (gia hạn)."""
    NgayKetThucXuLy: Time = None
    NgayTra: Time = None
    NgayTuChoi: Time = None
    TrangThaiHoSo: Annotated[Status, BeforeValidator(_code_number)]
    KenhThucHien: CodeNumber = None
    DuocThanhToanTrucTuyen: CodeNumber = None
    DanhSachHoSoBoSung: list[SupplementRound] | None = Field(default=None, max_length=50)

    @field_validator("KenhThucHien")
    @classmethod
    def _known_channel(cls, value: int | None) -> int | None:
        if value is not None and value not in CHANNELS:
            raise ValueError("must be 1 (trực tiếp), 2 (trực tuyến) or 3 (bưu chính công ích)")
        return value

    @field_validator("DuocThanhToanTrucTuyen")
    @classmethod
    def _known_payment(cls, value: int | None) -> int | None:
        if value is not None and value not in (0, *PAYMENT_RECEIPTS):
            raise ValueError("must be 0 (not paid online), 1 (DVCQG) or 2 (local payment gateway)")
        return value


class InvalidRecord(ValueError):
    """A record that cannot be translated; `reason` names the field, for the integrator who sent it."""

    def __init__(self, reason: str, code: str = "invalid_record") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def event_id(dossier: str, kind: str, moment: datetime) -> str:
    """The deterministic id of one implied event: the same dossier, kind and instant give the same id."""
    instant = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.blake2b(f"{dossier}\x1f{kind}\x1f{instant}".encode(), digest_size=16).hexdigest()
    return ID_PREFIX + digest


def parse_record(body: dict[str, Any]) -> DossierRecord:
    """Validate one record; `InvalidRecord` names every wrong field."""
    try:
        return DossierRecord.model_validate(body)
    except ValidationError as exc:
        parts = []
        for item in exc.errors(include_url=False):
            field = ".".join(str(p) for p in item["loc"]) or "record"
            message = "is required" if item["type"] == "missing" else item["msg"]
            parts.append(f"{field}: {message.removeprefix('Value error, ')}")
        raise InvalidRecord("; ".join(parts)) from exc


def _need(value: datetime | None, name: str, status: Status) -> datetime:
    if value is None:
        raise InvalidRecord(
            f"{name}: is required when TrangThaiHoSo is {int(status)} ({status.name.lower()})")
    return value


def translate(record: DossierRecord | dict[str, Any], agency: str) -> list[Event]:
    """The `dossier-event/1` events one record implies, for the agency that sent it (pure, deterministic).

    Raises `InvalidRecord` when a field the status needs is missing or the implied events break the
    contract (with the event contract's own field-naming message).
    """
    rec = record if isinstance(record, DossierRecord) else parse_record(record)
    status = rec.TrangThaiHoSo
    code = rec.MaHoSo.strip()
    bodies: list[dict[str, Any]] = []

    def emit(kind: EventType, moment: datetime, tag: str | None = None, **fields: Any) -> None:
        bodies.append({
            "event_id": event_id(code, tag or kind.value, moment),
            "schema": SCHEMA_V1,
            "type": kind.value,
            "occurred_at": moment.isoformat(),
            "dossier": code,
            "agency": agency,
            "procedure": rec.MaTTHC.strip(),
            **fields,
        })

    if status is Status.SUBMITTED:
        return []  # submitted online, not yet received: nothing counts until the receipt
    if status is Status.REFUSED:
        when = rec.NgayTuChoi or rec.NgayKetThucXuLy or rec.NgayTiepNhan
        emit(EventType.REFUSED, _need(when, "NgayTuChoi", status))
        return _parse_all(bodies)

    received_at = _need(rec.NgayTiepNhan, "NgayTiepNhan", status)
    rounds = sorted(rec.DanhSachHoSoBoSung or [], key=lambda r: (r.NgayBoSung is None, r.NgayBoSung))
    before = [r.NgayHenTraTruoc for r in rounds if r.NgayHenTraTruoc is not None]
    # The original appointment is what every snapshot agrees on: the record's own statement of it, else
    # the appointment before the first supplement round, else the current one.
    original = rec.NgayHenTraBanDau or (before[0] if before else rec.NgayHenTra)
    channel = CHANNELS[rec.KenhThucHien or 1]
    received: dict[str, Any] = {"channel": channel.value}
    if original is not None:
        received["due_at"] = original.isoformat()
    emit(EventType.RECEIVED, received_at, **received)

    moved_by_rounds = {r.NgayHenTraMoi for r in rounds if r.NgayHenTraMoi is not None}
    if (rec.NgayHenTraBanDau is not None and rec.NgayHenTra is not None
            and rec.NgayHenTra != rec.NgayHenTraBanDau and rec.NgayHenTra not in moved_by_rounds):
        # a rescheduled appointment (văn bản xin lỗi và hẹn lại): the record does not say when the letter
        # was sent, so the event is dated at the original appointment (deterministic, before the new one)
        emit(EventType.EXTENDED, min(rec.NgayHenTraBanDau, rec.NgayHenTra),
             tag=f"extended:{rec.NgayHenTra.astimezone(UTC).isoformat()}",
             data={"new_due_at": rec.NgayHenTra.isoformat()})

    for number, round_ in enumerate(rounds, start=1):
        asked = round_.NgayBoSung
        if asked is None:
            raise InvalidRecord(
                f"DanhSachHoSoBoSung.{number}.NgayBoSung: is required (when was it requested?)")
        emit(EventType.SUPPLEMENT_REQUESTED, asked)
        if round_.NgayTiepNhanBoSung is not None:
            if round_.NgayTiepNhanBoSung < asked:
                raise InvalidRecord(
                    f"DanhSachHoSoBoSung.{number}.NgayTiepNhanBoSung: is before its NgayBoSung")
            emit(EventType.SUPPLEMENT_RECEIVED, round_.NgayTiepNhanBoSung)

    if rec.DuocThanhToanTrucTuyen in PAYMENT_RECEIPTS:
        # the record carries no payment time: the fee is paid with the submission, so it is dated there
        emit(EventType.PAID, received_at,
             data={"online": True, "receipt": PAYMENT_RECEIPTS[rec.DuocThanhToanTrucTuyen]})

    if status is Status.WITHDRAWN:
        emit(EventType.WITHDRAWN, _need(rec.NgayKetThucXuLy, "NgayKetThucXuLy", status))
    elif status in (Status.STOPPED, Status.RESOLVED, Status.RETURNED):
        outcome = Outcome.DENIED if status is Status.STOPPED else Outcome.APPROVED
        emit(EventType.RESOLVED, _need(rec.NgayKetThucXuLy, "NgayKetThucXuLy", status),
             tag=f"resolved:{outcome.value}", data={"outcome": outcome.value})
        if status is Status.RETURNED:
            emit(EventType.RETURNED, _need(rec.NgayTra, "NgayTra", status))
    return _parse_all(bodies)


def _parse_all(bodies: list[dict[str, Any]]) -> list[Event]:
    events = []
    for body in bodies:
        try:
            events.append(parse_event(body))
        except InvalidEvent as exc:
            raise InvalidRecord(f"implied {body['type']} event: {exc.reason}", exc.code) from exc
    return events
