"""Sync health per dossier: a received dossier not synced to the national portal within the centre's delay
raises one `sync_late` alert at the deadline, even when no event comes, and never again."""

from __future__ import annotations

import json
from typing import Any

from strategies import CATALOG, at, event, ts

from dossiers.alerts import Alert
from dossiers.calendar import WorkingCalendar
from dossiers.index766 import sync_due
from dossiers.lifecycle import DossierState, apply
from dossiers.validation import validate_event
from streams.processor import Processor
from tests.support.processing import SavingProcessor

CAL = WorkingCalendar(CATALOG.calendar)
AGENCY = CATALOG.agency_by_code["STP"]
PROCEDURE = AGENCY.procedures[0].code
FOUR_HOURS = 4 * 3600
MONDAY_9 = at(2026, 3, 2, 9)
DUE = ts(at(2026, 3, 2, 15))  # 09:00-11:30 and 13:30-15:00: four working hours


def body(type_: str, when: Any, n: int, dossier: str = "Y-1", **fields: Any) -> bytes:
    raw = event(type_, when, dossier=dossier, agency=AGENCY.code, event_id=f"{dossier}-{n}", **fields)
    return json.dumps(raw, default=str).encode()


def received(dossier: str = "Y-1") -> bytes:
    return body("received", MONDAY_9, 0, dossier, procedure=PROCEDURE, channel="counter")


def processor() -> SavingProcessor:
    return SavingProcessor(CATALOG, CAL, {}, max_future_seconds=None, sync_late_seconds=FOUR_HOURS)


def sync_alerts(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.kind == "sync_late"]


def test_the_deadline_counts_working_hours_from_the_receipt() -> None:
    state = DossierState("Y-1")
    apply(state, validate_event(received(), CATALOG))
    assert sync_due(state, CAL, FOUR_HOURS) == DUE
    apply(state, validate_event(body("synced", at(2026, 3, 3, 8), 1), CATALOG))
    assert sync_due(state, CAL, FOUR_HOURS) is None


def test_an_unsynced_dossier_raises_one_alert_at_the_deadline_without_any_event() -> None:
    p = processor()
    assert sync_alerts(p.handle(0, received(), {}, ts(MONDAY_9) + 60).alerts) == []
    assert p.next_due(0) == DUE
    assert sync_alerts(p.tick(0, DUE - 1).alerts) == []
    (alert,) = sync_alerts(p.tick(0, DUE + 30).alerts)
    assert (alert.dossier, alert.agency, alert.due_at, alert.procedure) == ("Y-1", "STP", DUE, PROCEDURE)
    assert alert.late_seconds == 30
    assert Alert.from_json(alert.to_json()) == alert, "the contract carries the new kind"
    later = p.handle(0, body("transferred", at(2026, 3, 2, 16), 2), {}, DUE + 3600)
    assert sync_alerts(later.alerts) == [], "once per dossier"
    assert sync_alerts(p.tick(0, DUE + 7200).alerts) == []


def test_a_dossier_synced_in_time_raises_nothing() -> None:
    p = processor()
    p.handle(0, received(), {}, ts(MONDAY_9) + 60)
    p.handle(0, body("synced", at(2026, 3, 2, 10), 1), {}, ts(at(2026, 3, 2, 10)))
    assert sync_alerts(p.tick(0, DUE + 60).alerts) == []


def test_a_backfill_older_than_the_alert_horizon_is_quiet() -> None:
    p = SavingProcessor(CATALOG, CAL, {}, alert_backfill_seconds=86400, max_future_seconds=None,
                        sync_late_seconds=FOUR_HOURS)
    assert sync_alerts(p.handle(0, received(), {}, ts(at(2026, 3, 10, 9))).alerts) == []


def test_off_unless_the_centre_sets_a_delay() -> None:
    p = SavingProcessor(CATALOG, CAL, {}, max_future_seconds=None)
    p.handle(0, received(), {}, ts(MONDAY_9) + 60)
    assert sync_alerts(p.tick(0, DUE + 86400).alerts) == []


def test_the_timer_survives_a_rebuild_from_the_table() -> None:
    p = processor()
    p.handle(0, received(), {}, ts(MONDAY_9) + 60)
    again = Processor(CATALOG, CAL, p.store, max_future_seconds=None, sync_late_seconds=FOUR_HOURS)
    again.rebuild([0], p.store.items(), lambda key: 0)
    assert again.next_due(0) == DUE
    assert len(sync_alerts(again.tick(0, DUE + 1).alerts)) == 1


def test_turned_away_at_the_counter_is_not_a_received_dossier_to_sync() -> None:
    p = processor()
    p.handle(0, received(), {}, ts(MONDAY_9) + 60)
    refused = p.handle(0, body("refused", at(2026, 3, 2, 9, 30), 1), {}, ts(MONDAY_9) + 1800)
    assert refused.status == "applied", refused.error
    assert sync_alerts(p.tick(0, DUE + 60).alerts) == []
