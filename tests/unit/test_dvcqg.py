"""DVCQG dossier records → lifecycle events: every status, supplement rounds, a rescheduled appointment,
bad records, and the property that matters: any order and any repetition of a dossier's snapshots gives
the same replay."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CATALOG, ICT

from dossiers.calendar import WorkingCalendar
from dossiers.dvcqg import (
    ID_PREFIX,
    DossierRecord,
    InvalidRecord,
    Status,
    event_id,
    parse_record,
    parse_time,
    translate,
)
from dossiers.events import EventType
from dossiers.lifecycle import Status as LifeStatus
from dossiers.replay import Replay
from dossiers.validation import check_against_catalog

CAL = WorkingCalendar()
PROC = "2.000488"  # Sở Tư pháp: Phiếu lý lịch tư pháp (sample catalog), counter/online/postal


def record(code: str = "000.00.15.H48-260302-0001", status: int = 4, **fields: Any) -> dict[str, Any]:
    """A record as OpenCPS-style systems send it: compact Vietnam times, codes as strings, personal data."""
    body: dict[str, Any] = {
        "MaHoSo": code,
        "MaTTHC": PROC,
        "TenTTHC": "Cấp Phiếu lý lịch tư pháp",
        "ChuHoSo": "Nguyễn Văn A",
        "Email": "a@example.vn",
        "SoDienThoai": "0900000000",
        "NgayTiepNhan": "20260302081500",
        "NgayHenTra": "20260316170000",
        "TrangThaiHoSo": str(status),
        "KenhThucHien": "2",
        "NgayTra": "",
        "NgayKetThucXuLy": "",
        "DanhSachHoSoBoSung": [],
        "DanhSachLePhi": [],
    }
    body.update(fields)
    return body


def kinds(events: list[Any]) -> list[str]:
    return [e.type.value for e in events]


def test_compact_and_iso_times_are_vietnam_time() -> None:
    assert parse_time("20260302081500") == datetime(2026, 3, 2, 8, 15, tzinfo=ICT)
    assert parse_time("2026-03-02T08:15:00") == datetime(2026, 3, 2, 8, 15, tzinfo=ICT)
    assert parse_time("2026-03-02T01:15:00+00:00") == datetime(2026, 3, 2, 8, 15, tzinfo=ICT)
    assert parse_time("") is None and parse_time(None) is None


@pytest.mark.parametrize(("status", "extra", "expected"), [
    (1, {}, []),
    (2, {}, ["received"]),
    (3, {"NgayTuChoi": "20260302090000"}, ["refused"]),
    (4, {}, ["received"]),
    (5, {"DanhSachHoSoBoSung": [{"NgayBoSung": "20260303100000"}]}, ["received", "supplement_requested"]),
    (6, {}, ["received"]),
    (7, {"NgayKetThucXuLy": "20260304100000"}, ["received", "withdrawn"]),
    (8, {"NgayKetThucXuLy": "20260304100000"}, ["received", "resolved"]),
    (9, {"NgayKetThucXuLy": "20260310100000"}, ["received", "resolved"]),
    (10, {"NgayKetThucXuLy": "20260310100000", "NgayTra": "20260311090000"},
     ["received", "resolved", "returned"]),
])
def test_every_status(status: int, extra: dict[str, Any], expected: list[str]) -> None:
    events = translate(record(status=status, **extra), "STP")
    assert kinds(events) == expected
    for event in events:
        check_against_catalog(event, CATALOG)  # the implied events pass the catalog like any other
        assert event.agency == "STP" and event.dossier == "000.00.15.H48-260302-0001"
        assert event.event_id.startswith(ID_PREFIX) and len(event.event_id) <= 64
    if status == 8:
        assert events[1].data.outcome.value == "denied"  # type: ignore[union-attr]
    if status == 9:
        assert events[1].data.outcome.value == "approved"  # type: ignore[union-attr]


def test_received_carries_procedure_channel_and_appointment() -> None:
    (received,) = translate(record(status=2), "STP")
    assert received.procedure == PROC
    assert received.channel is not None and received.channel.value == "online"
    assert received.due_at == datetime(2026, 3, 16, 17, tzinfo=ICT)
    assert received.occurred_at == datetime(2026, 3, 2, 8, 15, tzinfo=ICT)
    assert translate(record(status=2, KenhThucHien=None), "STP")[0].channel.value == "counter"  # type: ignore[union-attr]
    assert translate(record(status=2, KenhThucHien="3"), "STP")[0].channel.value == "postal"  # type: ignore[union-attr]


def test_personal_data_never_reaches_an_event() -> None:
    text = "".join(e.to_json() for e in translate(record(status=10, NgayKetThucXuLy="20260310100000",
                                                               NgayTra="20260311090000"), "STP"))
    assert "Nguyễn" not in text and "example.vn" not in text and "0900000000" not in text


def test_ids_are_deterministic_and_differ_by_kind_time_and_dossier() -> None:
    t = datetime(2026, 3, 2, 8, 15, tzinfo=ICT)
    assert event_id("A", "received", t) == event_id("A", "received", t.astimezone(ICT))
    ids = {event_id("A", "received", t), event_id("B", "received", t), event_id("A", "refused", t),
           event_id("A", "received", t + timedelta(seconds=1))}
    assert len(ids) == 4
    first = [e.event_id for e in translate(record(status=9, NgayKetThucXuLy="20260310100000"), "STP")]
    again = [e.event_id for e in translate(record(status=9, NgayKetThucXuLy="20260310100000"), "STP")]
    assert first == again


def test_supplement_rounds_pause_the_clock_and_keep_the_original_appointment() -> None:
    rounds = [
        {"NgayBoSung": "20260303100000", "NgayTiepNhanBoSung": "20260305090000",
         "NgayHenTraTruoc": "20260316170000", "NgayHenTraMoi": "20260318170000"},
        {"NgayBoSung": "20260309100000", "NgayTiepNhanBoSung": "",
         "NgayHenTraTruoc": "20260318170000", "NgayHenTraMoi": ""},
    ]
    events = translate(record(status=5, NgayHenTra="20260318170000", DanhSachHoSoBoSung=rounds), "STP")
    assert kinds(events) == ["received", "supplement_requested", "supplement_received",
                             "supplement_requested"]
    assert events[0].due_at == datetime(2026, 3, 16, 17, tzinfo=ICT)  # the appointment before round 1
    run = Replay(CATALOG, CAL, int(datetime(2026, 3, 12, tzinfo=ICT).timestamp()))
    for event in events:
        run.feed(event)
    state = run.states["000.00.15.H48-260302-0001"]
    assert len(state.pauses) == 3 and state.status is LifeStatus.OPEN


def test_a_rescheduled_appointment_is_one_extension() -> None:
    base = {"NgayHenTraBanDau": "20260316170000", "NgayHenTra": "20260320170000"}
    events = translate(record(status=4, **base), "STP")
    assert kinds(events) == ["received", "extended"]
    assert events[0].due_at == datetime(2026, 3, 16, 17, tzinfo=ICT)
    assert events[1].data.new_due_at == datetime(2026, 3, 20, 17, tzinfo=ICT)  # type: ignore[union-attr]
    later = translate(record(status=9, NgayKetThucXuLy="20260319100000", **base), "STP")
    assert {e.event_id for e in events} <= {e.event_id for e in later}
    run = Replay(CATALOG, CAL, int(datetime(2026, 3, 25, tzinfo=ICT).timestamp()))
    for event in [*later, *events]:
        run.feed(event)
    state = run.states["000.00.15.H48-260302-0001"]
    assert state.extensions == 1 and state.problems() == []
    # no extension when the new appointment is the one a supplement round gave
    moved = translate(record(status=4, NgayHenTraBanDau="20260316170000", NgayHenTra="20260318170000",
                             DanhSachHoSoBoSung=[{"NgayBoSung": "20260303100000",
                                                  "NgayTiepNhanBoSung": "20260305090000",
                                                  "NgayHenTraMoi": "20260318170000"}]), "STP")
    assert EventType.EXTENDED not in [e.type for e in moved]


def test_online_payment() -> None:
    events = translate(record(status=4, DuocThanhToanTrucTuyen="1"), "STP")
    assert kinds(events) == ["received", "paid"]
    assert events[1].data.online and events[1].data.receipt == "DVCQG"  # type: ignore[union-attr]
    assert kinds(translate(record(status=4, DuocThanhToanTrucTuyen="0"), "STP")) == ["received"]


@pytest.mark.parametrize(("body", "message"), [
    ({"MaHoSo": "X"}, "MaTTHC: is required"),
    (record(TrangThaiHoSo="42"), "TrangThaiHoSo: Input should be 1, 2"),
    (record(TrangThaiHoSo=""), "TrangThaiHoSo"),
    (record(NgayTiepNhan="02/03/2026"), "NgayTiepNhan: '02/03/2026' is not a time"),
    (record(NgayTiepNhan="99990302081500"), "NgayTiepNhan: year 9999 is out of range"),
    (record(KenhThucHien="7"), "KenhThucHien: must be 1 (trực tiếp)"),
    (record(DuocThanhToanTrucTuyen="5"), "DuocThanhToanTrucTuyen: must be 0"),
    (record(MaHoSo=""), "MaHoSo: String should have at least 1 character"),
    (record(DanhSachHoSoBoSung="none"), "DanhSachHoSoBoSung: Input should be a valid list"),
])
def test_bad_records_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_record(body)
    assert message in caught.value.reason


@pytest.mark.parametrize(("body", "message"), [
    (record(status=4, NgayTiepNhan=""), "NgayTiepNhan: is required when TrangThaiHoSo is 4"),
    (record(status=9), "NgayKetThucXuLy: is required when TrangThaiHoSo is 9"),
    (record(status=10, NgayKetThucXuLy="20260310100000"), "NgayTra: is required when TrangThaiHoSo is 10"),
    (record(status=3, NgayTiepNhan=""), "NgayTuChoi: is required"),
    (record(status=5, DanhSachHoSoBoSung=[{"NgayTiepNhanBoSung": "20260305090000"}]),
     "DanhSachHoSoBoSung.1.NgayBoSung: is required"),
    (record(status=5, DanhSachHoSoBoSung=[{"NgayBoSung": "20260305090000",
                                           "NgayTiepNhanBoSung": "20260303090000"}]),
     "DanhSachHoSoBoSung.1.NgayTiepNhanBoSung: is before its NgayBoSung"),
    (record(status=4, MaHoSo="x" * 65), "MaHoSo"),
])
def test_records_missing_what_their_status_needs(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        translate(body, "STP")
    assert message in caught.value.reason


# -- the property: snapshots of a dossier's life, in any order, any number of times -------------------

def life(code: str, received: datetime, steps: int, rescheduled: bool, paid: bool) -> list[dict[str, Any]]:
    """The snapshots one dossier's system would sync as it moves on: one record per status change."""
    def t(hours: float) -> str:
        return (received + timedelta(hours=hours)).strftime("%Y%m%d%H%M%S")
    due, new_due = t(24 * 10), t(24 * 14)
    rounds_1 = [{"NgayBoSung": t(5), "NgayHenTraTruoc": due}]
    rounds_2 = [{**rounds_1[0], "NgayTiepNhanBoSung": t(30), "NgayHenTraMoi": t(24 * 11)}]
    common: dict[str, Any] = {"NgayHenTra": due, "DuocThanhToanTrucTuyen": "1" if paid else "0"}
    after = {"NgayHenTra": t(24 * 11), "DanhSachHoSoBoSung": rounds_2}
    if rescheduled:
        after = {**after, "NgayHenTraBanDau": due, "NgayHenTra": new_due}
    story = [
        record(code, 2, NgayTiepNhan=t(0), **common),
        record(code, 5, NgayTiepNhan=t(0), **{**common, "DanhSachHoSoBoSung": rounds_1}),
        record(code, 4, NgayTiepNhan=t(0), **{**common, **after}),
        record(code, 9, NgayTiepNhan=t(0), NgayKetThucXuLy=t(24 * 12), **{**common, **after}),
        record(code, 10, NgayTiepNhan=t(0), NgayKetThucXuLy=t(24 * 12), NgayTra=t(24 * 13),
               **{**common, **after}),
    ]
    return story[: steps + 1]


@st.composite
def deliveries(draw: st.DrawFn) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 4))):
        start = datetime(2026, 3, 2, 8, tzinfo=ICT) + timedelta(hours=draw(st.integers(0, 24 * 20)))
        records += life(f"H48-{n}", start, draw(st.integers(0, 4)), draw(st.booleans()), draw(st.booleans()))
    return records


def replay(records: list[dict[str, Any]]) -> tuple[str, dict[str, bytes]]:
    run = Replay(CATALOG, CAL, int(datetime(2026, 5, 1, tzinfo=ICT).timestamp()))
    for body in records:
        for event in translate(body, "STP"):
            run.feed(event)
    report = run.report()
    report["events"].pop("duplicates")  # repetitions are expected to differ; nothing else may
    report["events"].pop("valid")
    return json.dumps(report, sort_keys=True), {k: s.facts() for k, s in run.states.items()}


@settings(max_examples=60, deadline=None)
@given(records=deliveries(), data=st.data())
def test_any_order_and_any_repetition_give_the_same_replay(records: list[dict[str, Any]],
                                                           data: st.DataObject) -> None:
    # the reference: every snapshot once, in the order the system sent them
    expected = replay(records)
    repeated = records + data.draw(st.lists(st.sampled_from(records), max_size=len(records) * 3))
    shuffled = data.draw(st.permutations(repeated))
    assert replay(shuffled) == expected
    # and the last snapshot of each dossier alone implies everything the earlier ones did
    last: dict[str, dict[str, Any]] = {}
    for body in records:
        last[body["MaHoSo"]] = body
    assert replay(list(last.values())) == expected


def test_the_record_model_ignores_unknown_fields_but_keeps_its_own() -> None:
    parsed = DossierRecord.model_validate(record(status=4))
    assert parsed.TrangThaiHoSo is Status.IN_PROGRESS
    assert not hasattr(parsed, "ChuHoSo")
