"""What the processor keeps of a dossier's last contribution (`Processor.held`, issue 19) is only a cache:
with it, without it, or with room for one dossier, the outcomes, the views and the table are the same."""

from __future__ import annotations

import gc
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossiers.kpi import EMPTY
from dossiers.lifecycle import DossierState
from streams.processor import NO_KEYS, Outcome, Processor, pack_held, unpack_held
from tests.support.events import event, received
from tests.unit.test_processor import CALENDAR, CATALOG, T0, raw, shuffled_histories


def _views(proc: Processor) -> dict[int, tuple[object, ...]]:
    return {
        p: (dict(v.counters.counts), dict(v.report), dict(v.index), sorted(set(v.due)), v.dossiers)
        for p, v in proc.views.items()
    }


def _seen(outcome: Outcome) -> tuple[object, ...]:
    return (outcome.status, outcome.alerts, outcome.deadlines, list(outcome.writes))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), limit=st.sampled_from([0, 1, 3]), saves=st.integers(0, 3))
def test_the_held_contributions_change_no_result(seed: int, limit: int, saves: int) -> None:
    rng = random.Random(seed)
    bodies = shuffled_histories(rng, 30, window=200, resolved=0.6, resolve_within=60, rated=0.3)
    bodies += rng.sample(bodies, 5)  # duplicates
    cached = Processor(CATALOG, CALENDAR, {})
    bounded = Processor(CATALOG, CALENDAR, {}, held_limit=limit)
    waiting: dict[int, list[list[tuple[str, bytes]]]] = {0: [], 1: []}
    now = T0
    for body in bodies:
        now += rng.randrange(0, 5)
        partition = len(body["dossier"]) % 2
        for proc, queue in ((cached, waiting[0]), (bounded, waiting[1])):
            queue.append(proc.stage(outcome := proc.handle(partition, raw(body), {}, now)))
            assert outcome.writes == []
        for partition in (0, 1):
            ta, tb = cached.tick(partition, now), bounded.tick(partition, now)
            assert _seen(ta) == _seen(tb)
            waiting[0].append(cached.stage(ta))
            waiting[1].append(bounded.stage(tb))
        for proc, queue in ((cached, waiting[0]), (bounded, waiting[1])):
            for _ in range(min(saves, len(queue))):
                proc.save(queue.pop(0))
        assert _views(cached) == _views(bounded)
        assert len(bounded.held) <= limit
    for proc, queue in ((cached, waiting[0]), (bounded, waiting[1])):
        for writes in queue:
            proc.save(writes)
    assert cached.store == bounded.store
    rebuilt = Processor(CATALOG, CALENDAR, {})
    rebuilt.rebuild([0, 1], cached.store.items(), lambda key: len(key) % 2)
    for p, view in rebuilt.views.items():
        view.bound_report(cached.views[p].report_floor)
    # the due heaps differ (the incremental one keeps entries that have fired): compare the rest
    assert {p: v[:3] + v[4:] for p, v in _views(rebuilt).items()} == {
        p: v[:3] + v[4:] for p, v in _views(cached).items()
    }


RESOLVED_D1 = raw(event("D1-z", "resolved", T0 + 30, "D1"))
"""The record that follows `_received_d1`'s receipt in the two tests below."""


def _received_d1() -> tuple[Processor, Processor]:
    """Two processors that have saved D1's receipt: a reference, and one whose held entry a test changes."""
    pair = (Processor(CATALOG, CALENDAR, {}), Processor(CATALOG, CALENDAR, {}))
    for proc in pair:
        proc.save(proc.stage(proc.handle(0, raw(received("D1", T0)), {}, T0)))
    return pair


def _then_resolved(*processors: Processor) -> None:
    for proc in processors:
        proc.save(proc.stage(proc.handle(0, RESOLVED_D1, {}, T0 + 40)))


def test_an_entry_held_for_other_bytes_is_not_used() -> None:
    """Held for a state the table no longer has (it cannot happen without a rebuild, which empties the
    cache): the contribution is recomputed from the loaded state, never taken from the entry."""
    reference, tampered = _received_d1()
    tampered.held["D1"] = pack_held(b"[]", DossierState("D1"), EMPTY, NO_KEYS)
    _then_resolved(reference, tampered)
    assert _views(tampered) == _views(reference)
    assert tampered.held["D1"][0] == tampered.store["D1"]
    assert tampered.store == reference.store


def test_a_state_taken_and_left_changed_by_a_failure_is_not_used_again() -> None:
    """The held state object is changed in place by the record that takes it: a record that fails half-way
    (here: a state the core cannot read, planted in the entry) leaves the table as it was, and the next
    record of the dossier starts from the table's bytes, not from the object the failure left behind."""
    reference, failing = _received_d1()
    entry = failing.held["D1"]
    broken = DossierState.from_bytes(failing.store["D1"])
    broken.seen = ["not a digest"]  # type: ignore[list-item]  # `apply` fails on it, once it is taken
    failing.held["D1"] = pack_held(failing.store["D1"], broken, *unpack_held(entry)[1:])
    with pytest.raises(TypeError):
        failing.handle(0, RESOLVED_D1, {}, T0 + 40)
    assert "D1" not in failing.held
    _then_resolved(reference, failing)
    assert _views(failing) == _views(reference)
    assert failing.store == reference.store


def test_a_rebuild_empties_the_held_contributions() -> None:
    proc = Processor(CATALOG, CALENDAR, {})
    proc.save(proc.stage(proc.handle(0, raw(received("D1", T0)), {}, T0)))
    assert set(proc.held) == {"D1"}
    proc.rebuild([0], proc.store.items(), lambda key: 0)
    assert proc.held == {}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_a_held_entry_unpacks_to_what_the_stored_state_contributes(seed: int) -> None:
    """`pack_held` / `unpack_held` round trip: every entry gives back the state its bytes decode to, the
    contribution (its keys and its whole clock, `EMPTY` itself for a dossier that counts nowhere) and the
    running keys recomputed from that state."""
    rng = random.Random(seed)
    bodies = shuffled_histories(rng, 20, window=200, resolved=0.6, resolve_within=60, rated=0.3)
    proc = Processor(CATALOG, CALENDAR, {})
    now = T0
    for body in bodies:
        now += rng.randrange(0, 30)
        proc.save(proc.stage(proc.handle(0, raw(body), {}, now)))
        proc.save(proc.stage(proc.tick(0, now)))
    assert proc.held
    for key, entry in proc.held.items():
        assert entry[0] == proc.store[key]
        state = DossierState.from_bytes(proc.store[key])
        expected = proc._contribution(state, state.evaluated_at)
        held_state, contribution, live = unpack_held(entry)
        assert held_state == state
        assert held_state.to_bytes() == proc.store[key]
        assert contribution == expected
        assert (contribution is EMPTY) == (expected is EMPTY)
        assert live == proc._live(state, state.evaluated_at, expected)
        again = unpack_held(pack_held(entry[0], held_state, contribution, live))
        assert again == (held_state, contribution, live) and again[0] is held_state


def test_an_empty_contribution_round_trips_as_itself() -> None:
    state = DossierState("D1")
    held_state, contribution, live = unpack_held(pack_held(b"x", state, EMPTY, NO_KEYS))
    assert held_state is state
    assert contribution is EMPTY
    assert live == NO_KEYS


def test_held_entries_leave_the_garbage_collector_alone() -> None:
    """Why the entries are flat tuples of atoms and of tuples of strings, beside the state object: after a
    collection or two the collector no longer tracks the keys they hold, so a worker holding 20,000 entries
    traverses each entry's state and little else (CPython's tuple untracking; nested `Contribution` objects
    stayed tracked: docs/benchmarks.md)."""
    proc = Processor(CATALOG, CALENDAR, {})
    rng = random.Random(3)
    now = T0
    for body in shuffled_histories(rng, 30, window=200, resolved=0.6, resolve_within=60, rated=0.3):
        now += rng.randrange(0, 5)
        proc.save(proc.stage(proc.handle(0, raw(body), {}, now)))
    gc.collect()
    gc.collect()
    assert proc.held
    for entry in proc.held.values():
        tracked = [item for item in entry if gc.is_tracked(item)]
        assert tracked == [entry[1]]  # the state object alone


def test_past_the_limit_the_least_recently_written_quarter_goes() -> None:
    proc = Processor(CATALOG, CALENDAR, {}, held_limit=8)
    keys = [f"D{i}" for i in range(9)]
    for i, key in enumerate(keys):
        proc.save(proc.stage(proc.handle(0, raw(received(key, T0 + i)), {}, T0 + i)))
    assert list(proc.held) == keys[3:]  # 9 > 8: the newest 6 (three quarters of 8) are kept, in order
    proc.save(proc.stage(proc.handle(0, raw(event("D3-z", "resolved", T0 + 30, "D3")), {}, T0 + 30)))
    assert list(proc.held) == [*keys[4:], "D3"]  # written again: the most recent
