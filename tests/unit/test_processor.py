"""The worker's per-record and per-tick logic, without Kafka: counters, timers, alerts, dead letters."""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dossiers.alerts import alert_id
from dossiers.calendar import WorkingCalendar
from dossiers.replay import Replay
from dossiers.wire import AGENCY_HEADER
from streams.processor import Processor
from tests.support.catalogs import fast_catalog
from tests.support.events import VN, event, received
from tests.support.processing import SavingProcessor, commit

T0 = int(datetime(2026, 3, 3, 9, 0, tzinfo=VN).timestamp())  # a Tuesday, office hours
CATALOG = fast_catalog()
CALENDAR = WorkingCalendar(CATALOG.calendar)


def raw(body: dict[str, object]) -> bytes:
    return json.dumps(body).encode()


def processor() -> Processor:
    """Saves every outcome at once: these tests check what is computed, not when it is saved."""
    return SavingProcessor(CATALOG, CALENDAR, {})


def open_counts(proc: Processor, partition: int = 0) -> dict[str, int]:
    snap = proc.views[partition].counters.snapshot(CATALOG, CALENDAR.local_date(T0))
    block = snap.agencies["STP"]
    return {
        "within": block.within,
        "due_soon": block.due_soon,
        "overdue": block.overdue,
        "late": block.late,
        "on_time": block.on_time + block.early,
        "received": block.received,
    }


def shuffled_histories(
    rng: random.Random, dossiers: int, window: int, resolved: float, resolve_within: int, rated: float = 0.0
) -> list[dict[str, Any]]:
    """Dossiers received within `window` s of T0, some resolved (and rated), in a random order."""
    events = []
    for i in range(dossiers):
        start = T0 + rng.randrange(0, window)
        events.append(received(f"D{i}", start, procedure=rng.choice(["P.FAST", "P.DAY"])))
        if rng.random() < resolved:
            events.append(event(f"D{i}-z", "resolved", start + rng.randrange(1, resolve_within), f"D{i}"))
        if rated and rng.random() < rated:
            events.append(event(f"D{i}-q", "rated", start + 40, f"D{i}", data={"rating": "satisfied"}))
    rng.shuffle(events)
    return events


def test_a_valid_event_is_applied_and_a_duplicate_counted_once() -> None:
    proc = processor()
    first = proc.handle(0, raw(received("D1", T0)), {}, T0)
    again = proc.handle(0, raw(received("D1", T0)), {}, T0 + 1)
    assert (first.status, again.status) == ("applied", "duplicate")
    assert open_counts(proc)["received"] == 1
    assert first.procedure_field == "Hộ tịch" and first.channel == "online"


def test_invalid_events_are_dead_lettered_with_a_reason_and_change_nothing() -> None:
    proc = processor()
    cases = {
        b"{not json": "json",
        b"\xff\xfe": "encoding",
        raw(received("D1", T0, agency="NOPE")): "unknown_agency",
        raw({**received("D1", T0), "citizen_name": "Nguyễn Văn A"}): "schema",
    }
    for payload, code in cases.items():
        outcome = proc.handle(0, payload, {}, T0)
        assert outcome.status == "dead_letter"
        assert outcome.error is not None and outcome.error.code == code and outcome.error.reason
    assert proc.store == {}


def test_agency_identity_header_must_match_the_event() -> None:
    proc = processor()
    ok = proc.handle(0, raw(received("D1", T0)), {AGENCY_HEADER: b"STP"}, T0)
    bad = proc.handle(0, raw(received("D2", T0)), {AGENCY_HEADER: b"CNVPDKDD_TP"}, T0)
    assert ok.status == "applied"
    assert bad.status == "dead_letter" and bad.error is not None and bad.error.code == "agency_mismatch"


def test_ticks_move_an_open_dossier_through_due_soon_to_overdue_with_one_alert_each() -> None:
    # P.FAST takes 7 working seconds; the due-soon window is capped at half of it (3 s):
    # due soon from T0 + 5, due at T0 + 7, overdue from T0 + 8.
    proc = processor()
    proc.handle(0, raw(received("D1", T0)), {}, T0)
    assert proc.next_due(0) == T0 + 5
    assert proc.tick(0, T0 + 4).alerts == []
    soon = proc.tick(0, T0 + 5)
    assert [a.kind for a in soon.alerts] == ["due_soon"]
    assert open_counts(proc)["due_soon"] == 1
    assert proc.next_due(0) == T0 + 8
    late = proc.tick(0, T0 + 8)
    assert [a.kind for a in late.alerts] == ["overdue"]
    alert = late.alerts[0]
    assert (alert.dossier, alert.agency, alert.procedure, alert.due_at, alert.late_seconds) == (
        "D1",
        "STP",
        "P.FAST",
        T0 + 7,
        1,
    )
    assert alert.alert_id == alert_id("D1", "overdue", T0 + 7)
    assert [(m.kind, m.open) for m in late.deadlines] == [("due_soon", False), ("overdue", True)]
    assert open_counts(proc)["overdue"] == 1 and open_counts(proc)["due_soon"] == 0
    assert proc.tick(0, T0 + 100).alerts == []  # never twice


def test_resolving_late_closes_the_overdue_mark_and_raises_resolved_late() -> None:
    proc = processor()
    proc.handle(0, raw(received("D1", T0)), {}, T0)
    proc.tick(0, T0 + 20)
    outcome = proc.handle(0, raw(event("D1-z", "resolved", T0 + 30, "D1")), {}, T0 + 30)
    assert [a.kind for a in outcome.alerts] == ["resolved_late"]
    assert ("overdue", False) in [(m.kind, m.open) for m in outcome.deadlines]
    counts = open_counts(proc)
    assert (counts["overdue"], counts["late"]) == (0, 1)


def test_a_dossier_resolved_in_time_raises_no_alert() -> None:
    proc = processor()
    proc.handle(0, raw(received("D1", T0)), {}, T0)
    outcome = proc.handle(0, raw(event("D1-z", "resolved", T0 + 2, "D1")), {}, T0 + 2)
    assert outcome.alerts == [] and proc.tick(0, T0 + 100).alerts == []
    assert open_counts(proc)["on_time"] == 1


def test_a_tick_touches_only_the_fired_dossiers_not_every_open_one() -> None:
    """Overdue detection cost is independent of the number of open dossiers."""

    class CountingStore(dict[str, bytes]):
        reads = 0

        def get(self, key: str, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
            CountingStore.reads += 1
            return super().get(key, default)

    store = CountingStore()
    proc = SavingProcessor(CATALOG, CALENDAR, store)
    proc.handle(0, raw(received("FAST", T0)), {}, T0)
    for i in range(2000):
        proc.handle(0, raw(received(f"SLOW{i}", T0, procedure="P.DAY")), {}, T0)
    CountingStore.reads = 0
    outcome = proc.tick(0, T0 + 8)
    assert [a.dossier for a in outcome.alerts] == ["FAST"]
    assert CountingStore.reads <= 2


def test_rebuild_from_the_table_gives_the_counters_kept_incrementally() -> None:
    rng = random.Random(7)
    proc = processor()
    events = shuffled_histories(rng, 300, window=600, resolved=0.5, resolve_within=30, rated=0.3)
    now = T0
    for body in events:
        now += 1
        proc.handle(body["dossier"].__len__() % 2, raw(body), {}, now)
        for partition in (0, 1):
            proc.tick(partition, now)
    kept = {p: dict(v.counters.counts) for p, v in proc.views.items()}
    rebuilt = Processor(CATALOG, CALENDAR, proc.store)
    rebuilt.rebuild([0, 1], proc.store.items(), lambda key: len(key) % 2)
    assert {p: dict(v.counters.counts) for p, v in rebuilt.views.items()} == kept
    # the II.06a counters too (some events were ahead of the clock: counted at their receipt)
    forms = {p: dict(v.report) for p, v in proc.views.items()}
    assert {p: dict(v.report) for p, v in rebuilt.views.items()} == forms


def test_stream_counters_equal_replay_at_the_same_instant() -> None:
    rng = random.Random(11)
    proc = processor()
    bodies = []
    for i in range(200):
        start = T0 + rng.randrange(0, 300)
        bodies.append(received(f"D{i}", start, procedure=rng.choice(["P.FAST", "P.DAY"])))
        if rng.random() < 0.6:
            bodies.append(event(f"D{i}-z", "resolved", start + rng.randrange(1, 20), f"D{i}"))
    bodies.sort(key=lambda b: b["occurred_at"])
    now = T0 + 400
    for body in bodies:
        proc.handle(0, raw(body), {}, now)
    proc.tick(0, now)
    replay = Replay(CATALOG, CALENDAR, now)
    for body in reversed(bodies):
        replay.feed_raw(body)
    assert dict(proc.views[0].counters.counts) == dict(replay.counters().counts)


def test_an_event_dated_ahead_of_the_clock_is_dead_lettered() -> None:
    proc = processor()
    soon = proc.handle(0, raw(received("D1", T0 + 600)), {}, T0)  # ten minutes of skew: accepted
    far = proc.handle(0, raw(received("D2", T0 + 2 * 3600)), {}, T0)
    assert soon.status == "applied"
    assert far.status == "dead_letter" and far.error is not None and far.error.code == "future_event"
    assert "ahead of the centre's clock" in far.error.reason


def test_history_older_than_the_backfill_window_updates_state_without_paging() -> None:
    quiet = SavingProcessor(CATALOG, CALENDAR, {}, alert_backfill_seconds=86400)
    old = quiet.handle(0, raw(received("OLD", T0 - 3 * 86400)), {}, T0)
    fresh = quiet.handle(0, raw(received("NEW", T0 - 60)), {}, T0)
    assert old.alerts == [] and [m.kind for m in old.deadlines] == ["overdue"]  # on the wall, not paged
    assert [a.kind for a in fresh.alerts] == ["overdue"]
    assert quiet.tick(0, T0 + 86400).alerts == []  # and it is not paged later either


def test_deferred_writes_reach_the_table_only_on_commit() -> None:
    store: dict[str, bytes] = {}
    proc = Processor(CATALOG, CALENDAR, store)
    outcome = proc.handle(0, raw(received("D1", T0 - 60)), {}, T0)
    assert [a.kind for a in outcome.alerts] == ["overdue"] and store == {}
    commit(proc, outcome)
    assert list(store) == ["D1"] and outcome.writes == [] and proc.staged == {}


def test_staged_states_are_read_before_the_table_until_saved() -> None:
    store: dict[str, bytes] = {}
    proc = Processor(CATALOG, CALENDAR, store)
    first = proc.stage(proc.handle(0, raw(received("D1", T0)), {}, T0))
    again = proc.handle(0, raw(received("D1", T0)), {}, T0 + 1)
    assert again.status == "duplicate" and store == {}  # the staged state knows the record
    second = proc.stage(proc.handle(0, raw(event("D1-z", "resolved", T0 + 5, "D1")), {}, T0 + 5))
    proc.save(first)
    assert "D1" in store and proc.staged  # the older save leaves the newer staged state in place
    assert proc.load("D1") == second[0][1] != store["D1"]
    proc.save(second)
    assert proc.staged == {} and store["D1"] == second[0][1]


def test_rebuild_counts_staged_states_and_drops_those_of_partitions_gone() -> None:
    proc = Processor(CATALOG, CALENDAR, {})
    for name, partition in (("A1", 0), ("B1", 1)):
        proc.stage(proc.handle(partition, raw(received(name, T0)), {}, T0))
    proc.rebuild([0], proc.store.items(), lambda key: 0 if key.startswith("A") else 1)
    assert set(proc.staged) == {"A1"} and proc.views[0].dossiers == 1
    assert open_counts(proc)["received"] == 1


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), saves=st.lists(st.integers(0, 4), min_size=1, max_size=40))
def test_deferring_and_saving_at_any_pace_ends_as_writing_at_once(seed: int, saves: list[int]) -> None:
    """The adapter saves staged states whenever InfluxDB catches up: any pace, same table, same KPIs."""
    rng = random.Random(seed)
    bodies = shuffled_histories(rng, 25, window=120, resolved=0.6, resolve_within=40)
    bodies += rng.sample(bodies, 5)  # duplicates
    direct = processor()
    deferred = Processor(CATALOG, CALENDAR, {})
    waiting: list[list[tuple[str, bytes]]] = []
    now = T0
    for i, body in enumerate(bodies):
        now += rng.randrange(0, 4)
        expected = direct.handle(0, raw(body), {}, now)
        got = deferred.handle(0, raw(body), {}, now)
        assert (got.status, got.alerts) == (expected.status, expected.alerts)
        assert got.deadlines == expected.deadlines
        waiting.append(deferred.stage(got))
        tick_expected, tick_got = direct.tick(0, now), deferred.tick(0, now)
        assert tick_got.alerts == tick_expected.alerts
        waiting.append(deferred.stage(tick_got))
        for _ in range(min(saves[i % len(saves)], len(waiting))):
            deferred.save(waiting.pop(0))
    for writes in waiting:
        deferred.save(writes)
    assert deferred.staged == {} and deferred.store == direct.store
    assert dict(deferred.views[0].counters.counts) == dict(direct.views[0].counters.counts)


def test_a_replayed_record_rewrites_its_state_so_a_lost_changelog_write_is_repaired() -> None:
    """After a crash a record comes again; its state is saved once more (a changelog write lost in the
    crash, while RocksDB kept the local copy, reaches the changelog this time)."""

    writes: list[str] = []

    class CountingStore(dict[str, bytes]):
        def __setitem__(self, key: str, value: bytes) -> None:
            writes.append(key)
            super().__setitem__(key, value)

    store = CountingStore()
    proc = SavingProcessor(CATALOG, CALENDAR, store)
    proc.handle(0, raw(received("D1", T0)), {}, T0)
    saved = store["D1"]
    writes.clear()
    again = proc.handle(0, raw(received("D1", T0)), {}, T0 + 5)
    assert again.status == "duplicate"
    assert writes == ["D1"] and store["D1"] == saved
