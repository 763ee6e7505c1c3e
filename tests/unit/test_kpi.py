"""KPI definitions (docs/domain.md, section 5): identities, rates, and incremental == batch."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CATALOG, at, chaos_events, dossier_story, event, local, parse, ts

from dossiers.calendar import WorkingCalendar
from dossiers.events import Event
from dossiers.kpi import Block, KpiCounters, Snapshot, contribution, shared_ends
from dossiers.lifecycle import Applied, DossierState, apply
from dossiers.replay import Replay

CAL = WorkingCalendar()
AGENCIES = [CATALOG.agency_by_code[c] for c in ("STP", "SYT", "CNVPDKDD_TP", "SNNPTNT", "CAT")]
START, END = at(2025, 11, 1), at(2026, 2, 28)


@st.composite
def centre_history(draw: st.DrawFn, max_dossiers: int = 25) -> list[list[dict[str, Any]]]:
    """Stories of up to `max_dossiers` dossiers of five agencies of the shipped catalog."""
    n = draw(st.integers(0, max_dossiers))
    return [
        draw(dossier_story(dossier=f"000.00.12.H48-2511-{i:04d}", agencies=AGENCIES, start=START, end=END))
        for i in range(n)
    ]


as_of_instants = st.integers(ts(START), ts(END + timedelta(days=120)))


def replay(stories: list[list[dict[str, Any]]], as_of: int) -> Replay:
    run = Replay(CATALOG, CAL, as_of)
    for story in stories:
        for event_ in parse(story):
            run.feed(event_)
    return run


def blocks(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("centre", report["centre"]), *report["agencies"].items()]


def numeric_leaves(block: dict[str, Any], prefix: str = "") -> dict[str, int]:
    """Every count of a block (rates and the target are not counts)."""
    out: dict[str, int] = {}
    for key, value in block.items():
        if isinstance(value, dict):
            out.update(numeric_leaves(value, f"{prefix}{key}."))
        elif isinstance(value, int) and not isinstance(value, bool):
            out[prefix + key] = value
    return out


def expected_outcome(story: list[dict[str, Any]], as_of: int) -> str | None:
    """Where a dossier should be counted at as_of, from its events alone (independent of the core)."""
    seen = {raw["type"] for raw in story if ts(datetime.fromisoformat(raw["occurred_at"])) <= as_of}
    if "refused" in seen:
        return "refused"
    if "received" not in seen:
        return None
    for ending in ("withdrawn", "resolved"):
        if ending in seen:
            return ending
    return "open"


# --- identities ------------------------------------------------------------------------------------------


@st.composite
def chaotic_centre(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Dossiers with arbitrary valid events: results without receipt, two endings, ends without starts."""
    return [
        draw(chaos_events(dossier=f"X-{i}", start=START, end=END, max_size=8))
        for i in range(draw(st.integers(1, 12)))
    ]


@settings(max_examples=120, deadline=None)
@given(st.one_of(centre_history(), chaotic_centre()), as_of_instants)
def test_kpi_identities(stories: list[list[dict[str, Any]]], as_of: int) -> None:
    """received = open + resolved + refused + withdrawn, for any valid input, per agency and centre."""
    report = replay(stories, as_of).report()
    for name, block in blocks(report):
        counted = block["open"]["total"] + block["resolved"]["total"] + block["refused"] + block["withdrawn"]
        assert block["received"] == counted, name
        resolved = block["resolved"]
        assert resolved["total"] == resolved["early"] + resolved["on_time"] + resolved["late"], name
        opened = block["open"]
        assert opened["total"] == opened["within"] + opened["due_soon"] + opened["overdue"], name
        assert opened["paused"] <= opened["within"], name  # a paused dossier is never due soon or overdue
        if resolved["total"] == 0:
            assert block["on_time_rate"] is None, name
        else:
            rate = (resolved["early"] + resolved["on_time"]) / resolved["total"]
            assert block["on_time_rate"] == pytest.approx(rate, abs=1e-6), name
        if block["rated"] == 0:
            assert block["satisfaction_rate"] is None, name
        else:
            assert 0 <= block["satisfaction_rate"] <= 1
        assert sum(block["channels"].values()) <= block["received"], name
    # the centre is the sum of the agencies, count by count
    centre = numeric_leaves(report["centre"])
    per_agency = [numeric_leaves(b) for b in report["agencies"].values()]
    for key, value in centre.items():
        assert value == sum(b[key] for b in per_agency), key
    assert set(report["agencies"]) == {a.code for a in CATALOG.agencies}


@settings(max_examples=120, deadline=None)
@given(centre_history(), as_of_instants)
def test_counts_match_the_histories(stories: list[list[dict[str, Any]]], as_of: int) -> None:
    """Counted independently from the generated histories: where each dossier stands at as_of."""
    report = replay(stories, as_of).report()
    expected: dict[str, Counter[str]] = {a.code: Counter() for a in AGENCIES}
    for story in stories:
        outcome = expected_outcome(story, as_of)
        if outcome is not None:
            expected[story[0]["agency"]][outcome] += 1
    for code, counts in expected.items():
        block = report["agencies"][code]
        assert block["received"] == sum(counts.values()), code
        assert block["refused"] == counts["refused"], code
        assert block["withdrawn"] == counts["withdrawn"], code
        assert block["resolved"]["total"] == counts["resolved"], code
        assert block["open"]["total"] == counts["open"], code
    assert report["dossiers"]["total"] == sum(
        1 for s in stories if ts(datetime.fromisoformat(s[0]["occurred_at"])) <= as_of
    )


# --- incremental maintenance == batch -----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(centre_history(), as_of_instants, st.randoms(use_true_random=False))
def test_incremental_equals_batch(
    stories: list[list[dict[str, Any]]], as_of: int, rnd: random.Random
) -> None:
    """What the stream does: for each event, move the dossier from its old keys to its new keys."""
    events: list[Event] = [e for story in stories for e in parse(story)]
    events += rnd.sample(events, k=len(events) // 4)  # redeliveries
    rnd.shuffle(events)
    states: dict[str, DossierState] = {}
    counters = KpiCounters()
    for e in events:
        if e.occurred_at.timestamp() > as_of:
            continue
        state = states.setdefault(e.dossier, DossierState(e.dossier))
        old = contribution(state, CATALOG, CAL, as_of)
        if apply(state, e) is Applied.APPLIED:
            counters.move(old.keys, contribution(state, CATALOG, CAL, as_of).keys)
    batch = Counter[tuple[str, ...]]()
    for state in states.values():
        batch.update(contribution(state, CATALOG, CAL, as_of).keys)
    assert counters.counts == +batch
    assert counters.counts == replay(stories, as_of).counters().counts
    day = CAL.local_date(as_of)
    assert counters.snapshot(CATALOG, day).as_dict() == replay(stories, as_of).snapshot().as_dict()


@settings(max_examples=60, deadline=None)
@given(centre_history(), as_of_instants, st.integers(0, 30 * 86400))
def test_moving_the_clock_is_a_move_too(stories: list[list[dict[str, Any]]], as_of: int, later: int) -> None:
    """Counters held at one instant, moved dossier by dossier to a later one, equal a batch there."""
    run = replay(stories, as_of)
    counters = run.counters()
    for state in run.states.values():
        counters.move(
            contribution(state, CATALOG, CAL, as_of).keys,
            contribution(state, CATALOG, CAL, as_of + later).keys,
        )
    assert counters.counts == Replay(CATALOG, CAL, as_of + later, states=run.states).counters().counts


_KEYS = st.sampled_from([
    ("received", "STP", "2026-03-02"), ("open", "STP", "within"), ("open", "STP", "overdue"),
    ("paused", "STP"), ("rated", "SYT", "satisfied"), ("channel", "STP", "online"),
])
# a key as the memos hand it out (the same object each time), or now and then an equal copy (a memo started
# afresh): `shared_ends` skips only the same objects, and the sums come out right either way
_HANDED_OUT = st.tuples(_KEYS, st.booleans()).map(lambda pair: tuple(list(pair[0])) if pair[1] else pair[0])


@given(st.lists(_KEYS, max_size=8), st.lists(_HANDED_OUT, max_size=8), st.lists(_HANDED_OUT, max_size=8))
def test_a_move_skips_only_the_keys_both_sides_share(
    before: list[tuple[str, ...]], old: list[tuple[str, ...]], new: list[tuple[str, ...]]
) -> None:
    """`shared_ends` counts the same objects at the same place from the start and then from the end, no
    others, and a move through it leaves the same sums (zeros dropped) as subtracting all the old keys and
    adding all the new ones."""
    head, tail = shared_ends(tuple(old), tuple(new))
    assert head + tail <= min(len(old), len(new))
    assert all(old[i] is new[i] for i in range(head))
    assert all(old[len(old) - 1 - i] is new[len(new) - 1 - i] for i in range(tail))
    if head + tail < min(len(old), len(new)):  # nothing shared left at either end
        assert old[head] is not new[head]
        assert old[len(old) - 1 - tail] is not new[len(new) - 1 - tail]
    counters = KpiCounters()
    counters.add(before)
    counters.add(old)
    counters.move(tuple(old), tuple(new))
    expected = Counter(before) + Counter(new)  # `+` drops the zero counts, as the counters do
    assert dict(counters.counts) == dict(expected)


def test_merge_of_partial_counters() -> None:
    """Workers that share the partitions each hold part of the counters; merged they are the whole."""
    stories = [
        [event("received", at(2026, 3, 2, 9), dossier=f"D{i}", procedure="2.000488", channel="online")]
        for i in range(4)
    ]
    as_of = ts(at(2026, 3, 3))
    whole = replay(stories, as_of).counters()
    left, right = replay(stories[:1], as_of).counters(), replay(stories[1:], as_of).counters()
    left.merge(right)
    assert left.counts == whole.counts


# --- a worked example -------------------------------------------------------------------------------------


def test_worked_example_two_agencies() -> None:
    """As of Friday 13 Mar 2026 12:00, justice (STP, 2.000488: 10 working days).

    D1 received Mon 2 Mar 09:00 (due Mon 16 Mar 17:00, the day rule), resolved Wed 4 Mar: early, rated
       satisfied.
    D2 received with the appointment Thu 5 Mar 10:00 on the receipt, resolved Fri 6 Mar 08:00: late (the
       day after the appointment's date; a result that Thursday afternoon would be on time by date),
       rated unsatisfied.
    D3 received Mon 2 Mar 09:00 with the appointment Wed 11 Mar 17:00, still open: overdue.
    D4 received Thu 12 Mar 09:00 (due Thu 26 Mar 17:00), open: within; paid online.
    D5 refused at the counter on Tue 3 Mar.  D6 received Tue 3 Mar, withdrawn Wed 4 Mar.
    Health (SYT) has nothing: its rates are unknown, not 0 %.
    """
    proc = {"procedure": "2.000488"}

    def ev(type_: str, dossier: str, when: datetime, **fields: Any) -> dict[str, Any]:
        return event(type_, when, dossier=dossier, **fields)

    stories = [
        [
            ev("received", "D1", at(2026, 3, 2, 9), channel="counter", **proc),
            ev("resolved", "D1", at(2026, 3, 4, 9)),
            ev("rated", "D1", at(2026, 3, 4, 10), data={"rating": "satisfied"}),
        ],
        [
            ev("received", "D2", at(2026, 3, 2, 9), channel="online", due_at=at(2026, 3, 5, 10), **proc),
            ev("resolved", "D2", at(2026, 3, 6, 8)),
            ev("rated", "D2", at(2026, 3, 6, 9), data={"rating": "unsatisfied"}),
        ],
        [ev("received", "D3", at(2026, 3, 2, 9), channel="postal", due_at=at(2026, 3, 11, 17), **proc)],
        [
            ev("received", "D4", at(2026, 3, 12, 9), channel="online", **proc),
            ev("paid", "D4", at(2026, 3, 12, 9, 5), data={"online": True, "receipt": "BL-1"}),
        ],
        [ev("refused", "D5", at(2026, 3, 3, 9), **proc)],
        [
            ev("received", "D6", at(2026, 3, 3, 9), channel="counter", **proc),
            ev("withdrawn", "D6", at(2026, 3, 4, 9)),
        ],
    ]
    report = replay(stories, ts(at(2026, 3, 13, 12))).report()
    stp, syt = report["agencies"]["STP"], report["agencies"]["SYT"]
    assert stp["received"] == 6
    assert stp["refused"] == 1 and stp["withdrawn"] == 1
    assert stp["resolved"] == {"early": 1, "on_time": 0, "late": 1, "total": 2}
    assert stp["open"] == {"within": 1, "overdue": 1, "due_soon": 0, "total": 2, "paused": 0}
    assert stp["on_time_rate"] == 0.5
    assert stp["satisfaction_rate"] == 0.5 and stp["rated"] == 2
    assert stp["channels"] == {"counter": 2, "online": 2, "postal": 1, "phone": 0}
    assert stp["paid"] == 1 and stp["online_payment_share"] == 1.0
    assert stp["on_time_rate_month"] == 0.5 and stp["on_time_rate_year"] == 0.5
    assert stp["on_time_rate_today"] is None and stp["resolved_today"] == 0
    assert stp["received_today"] == 0  # nothing received on Friday 13 Mar
    assert stp["target_on_time"] == 0.99
    assert syt["received"] == 0 and syt["on_time_rate"] is None and syt["satisfaction_rate"] is None
    assert report["centre"]["received"] == 6 and report["centre"]["on_time_rate"] == 0.5
    assert report["centre"]["target_on_time"] is None


def test_today_month_year_windows() -> None:
    """Resolved on time today, early last month, late last year: rates over the three windows."""
    proc = {"procedure": "2.000488", "channel": "counter"}
    stories = [
        [
            event("received", at(2026, 3, 2, 9), dossier="A", **proc),
            event("resolved", at(2026, 3, 16, 9), dossier="A"),
        ],
        [
            event("received", at(2026, 2, 2, 9), dossier="B", **proc),
            event("resolved", at(2026, 2, 3, 9), dossier="B"),
        ],
        [
            event("received", at(2025, 12, 1, 9), dossier="C", **proc),
            event("resolved", at(2025, 12, 31, 9), dossier="C"),
        ],
    ]
    stp = replay(stories, ts(at(2026, 3, 16, 12))).report()["agencies"]["STP"]
    # A: due Mon 16 Mar 09:00 (10 working days from Mon 2 Mar 09:00), resolved at 09:00 -> on time, today
    assert stp["resolved"] == {"early": 1, "on_time": 1, "late": 1, "total": 3}
    assert stp["resolved_today"] == 1 and stp["on_time_rate_today"] == 1.0
    assert stp["on_time_rate_month"] == 1.0  # only A in March
    assert stp["on_time_rate_year"] == 1.0  # A and B in 2026
    assert stp["on_time_rate"] == pytest.approx(2 / 3, abs=1e-6)


def test_block_add_and_snapshot_shape() -> None:
    a, b = Block(received=2, early=1, within=1, channels={"counter": 2}), Block(received=1, late=1)
    a.add(b)
    assert (a.received, a.early, a.late, a.resolved, a.open) == (3, 1, 1, 2, 1)
    snap = Snapshot.from_counts(Counter(), CATALOG, local(ts(at(2026, 3, 2))).date())
    assert len(snap.agencies) == 19
    assert snap.as_dict()["centre"]["on_time_rate"] is None


def test_dossiers_rescheduled_more_than_once_are_counted_per_agency_and_centre() -> None:
    def story(dossier: str, extensions: int) -> list[dict[str, Any]]:
        common = {"dossier": dossier, "agency": "STP"}
        raws = [event("received", at(2026, 3, 2, 9), procedure="2.000488", channel="counter", **common)]
        for k in range(extensions):
            new_due = f"2026-03-{20 + k}T17:00:00+07:00"
            raws.append(event("extended", at(2026, 3, 10 + k, 9), data={"new_due_at": new_due}, **common))
        return raws

    run = replay([story("A", 0), story("B", 1), story("C", 2), story("D", 3)], ts(at(2026, 3, 31)))
    report = run.report()
    assert report["agencies"]["STP"]["rescheduled_more_than_once"] == 2
    assert report["centre"]["rescheduled_more_than_once"] == 2
    assert report["agencies"]["SYT"]["rescheduled_more_than_once"] == 0
    assert report["dossiers"]["with_problems"] == 2
