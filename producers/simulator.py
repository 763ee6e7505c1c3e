"""A deterministic simulator of the centre (19 agencies' dossier lifecycles as contract v1 events), or of
a whole province: the provincial centre as the centre, plus every commune centre with many small, short
dossiers, a few of them falling behind (docs/simulator.md, "A province").

Pure (no I/O, no clock, no global random): the same catalog, calendar, seed and parameters give the
same events, byte for byte, so demos, screenshots and tests are reproducible. `ioc simulate`
(producers/pacing.py) paces the events and sends them to a file or to Kafka.

The model (docs/simulator.md has the numbers and why):
- arrivals: per agency and working day, a Poisson count with a Monday peak, placed in office hours by
  an hourly profile with a morning peak (non-homogeneous Poisson); days off get none, make-up working
  Saturdays get some;
- each dossier's whole lifecycle is planned at receipt, in *working seconds* (the same arithmetic as
  the SLA clock), then pushed to a heap of future events; the heap releases events in time order;
- the resolution instant is drawn relative to the due point, so the on-time rate of each agency is a
  calibrated parameter (target minus a small per-agency spread), not an accident of queueing.

Randomness comes from `random.Random` instances seeded per agency and per (agency, day), so one
agency's stream does not depend on the others, and a day's dossiers do not depend on how long the
warm-up was.
"""

from __future__ import annotations

import heapq
import math
import random
import zlib
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import Any

from dossiers.calendar import Timestamp, WorkingCalendar
from dossiers.catalog import Agency, Catalog, Centre, Procedure
from dossiers.events import SCHEMA_V1
from dossiers.sla import processing_work

SimEvent = dict[str, Any]
"""One contract v1 event as a JSON-ready dict."""

_Step = tuple[int, str, dict[str, Any] | None]
"""(instant, type, data) of one planned lifecycle step."""

# -- scenarios ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Silent:
    """The agency stops sending any event from `at` (default: the first emitted instant)."""

    agency: str
    at: Timestamp | None = None


@dataclass(frozen=True, slots=True)
class Backlog:
    """The agency works `slowdown` times slower from `at`: open dossiers age and turn overdue."""

    agency: str
    at: Timestamp | None = None
    slowdown: float = 4.0


Scenario = Silent | Backlog


class ScenarioError(ValueError):
    """A `--scenario` value that cannot be understood; the message says what is expected."""


def parse_scenario(text: str, catalog: Catalog, calendar: WorkingCalendar, day: date) -> Scenario:
    """Parse `silent:AGENCY[@WHEN]` or `backlog:AGENCY[@WHEN]`.

    WHEN is `HH:MM` (business time on `day`, the first emitted day) or an RFC 3339 instant.
    """
    kind, _, rest = text.partition(":")
    agency, _, when = rest.partition("@")
    kind, agency, when = kind.strip().lower(), agency.strip(), when.strip()
    if kind not in ("silent", "backlog") or not agency:
        raise ScenarioError(f"{text!r}: expected silent:AGENCY[@HH:MM] or backlog:AGENCY[@HH:MM]")
    if catalog.agency(agency) is None:
        known = ", ".join(a.code for a in catalog.agencies)
        raise ScenarioError(f"{text!r}: {agency!r} is not an agency of the catalog ({known})")
    at: Timestamp | None = None
    if when:
        try:
            if len(when) <= 5 and ":" in when:
                clock = time.fromisoformat(when.zfill(5))
                at = int(datetime.combine(day, clock, tzinfo=calendar.tz).timestamp())
            else:
                moment = datetime.fromisoformat(when)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=calendar.tz)
                at = int(moment.timestamp())
        except ValueError as exc:
            raise ScenarioError(f"{text!r}: {when!r} is neither HH:MM nor an RFC 3339 instant") from exc
    return Silent(agency, at) if kind == "silent" else Backlog(agency, at)


# -- the model's parameters ---------------------------------------------------------------------------


def _default_volumes() -> dict[str, float]:
    # Dossiers per working day at the Quảng Ngãi centre's desks (order of magnitude, not official data):
    # the city land branch, the police (passports, vehicles) and social insurance dominate.
    return {
        "CNVPDKDD_TP": 140, "CAT": 110, "BHXH": 90, "SGTVT": 60, "SKHDT": 45, "STP": 40,
        "SLDTBXH": 25, "SYT": 20, "SNNPTNT": 15, "SGDDT": 15, "SXD": 10, "SCT": 8, "STNMT": 8,
        "BQLKKT": 6, "SVHTTDL": 5, "STTTT": 4, "STC": 4, "SNV": 3, "SKHCN": 3,
    }


def _default_hour_weights() -> dict[int, float]:
    # Relative arrival intensity by local hour: a morning peak (8-10 h), a quieter afternoon.
    return {7: 1.0, 8: 1.5, 9: 1.6, 10: 1.3, 11: 0.8, 13: 0.7, 14: 1.0, 15: 0.9, 16: 0.6}


def _default_commune_fields() -> dict[str, float]:
    # Share of a commune centre's dossiers by field (assumption, docs/simulator.md "A province"):
    # certified copies and civil status dominate, then social allowances and land.
    return {
        "Chứng thực": 0.35, "Hộ tịch": 0.25, "Đất đai": 0.15, "Bảo trợ xã hội": 0.12,
        "Người có công": 0.06, "Giảm nghèo": 0.04, "Xây dựng": 0.03,
    }


@dataclass(frozen=True)
class Profile:
    """Every knob of the model, with the defaults documented in docs/simulator.md."""

    daily_volume: Mapping[str, float] = field(default_factory=_default_volumes)
    """Mean dossiers per working day, by agency code."""
    volume_by_kind: Mapping[str, float] = field(
        default_factory=lambda: {"land": 100.0, "other": 60.0, "department": 8.0})
    """For agencies missing from `daily_volume` (a centre's own catalog)."""
    hour_weights: Mapping[int, float] = field(default_factory=_default_hour_weights)
    other_hour_weight: float = 0.5
    weekday_factor: tuple[float, ...] = (1.3, 1.05, 1.0, 0.95, 0.9, 0.8, 0.8)
    """Monday .. Sunday (weekend days count only when they are make-up working days)."""
    online_share: tuple[float, float] = (0.40, 0.60)
    """Each agency's online share is drawn in this range (for procedures open online)."""
    postal_share: float = 0.03
    phone_share: float = 0.06
    """Only for procedures whose channels include `phone` (the fishing-vessel pilot)."""
    refused: float = 0.015
    withdrawn: float = 0.005
    transferred: float = 0.03
    supplement: float = 0.07
    supplement_days: tuple[float, float] = (0.5, 6.0)
    """How long the citizen takes to bring the supplement, in working days."""
    financial_pause: float = 0.85
    financial_pause_days: tuple[float, float] = (1.0, 8.0)
    financial_keywords: tuple[str, ...] = ("lần đầu", "biến động", "tách thửa")
    """Land procedures whose name contains one of these wait for the citizen's financial obligation."""
    late_spread: float = 0.5
    """Per-agency late share = (1 - target) x (1 ± spread), the spread capped at 3 points."""
    late_mean_days: float = 1.5
    late_cap_days: float = 15.0
    early_shape: tuple[float, float] = (2.2, 1.6)
    """Beta(a, b) of the share of the processing time an on-time dossier takes."""
    extended: float = 0.5
    """Share of late dossiers whose citizen gets an apology and a new appointment before the due time."""
    denied: float = 0.02
    not_collected: float = 0.05
    """Counter results never collected within the run."""
    rated: Mapping[str, float] = field(
        default_factory=lambda: {"online": 0.55, "counter": 0.45, "postal": 0.30, "phone": 0.40})
    very_satisfied: float = 0.75
    unsatisfied: float = 0.002
    unsatisfied_if_late: float = 0.01
    online_payment: Mapping[str, float] = field(
        default_factory=lambda: {"online": 0.90, "counter": 0.20, "postal": 0.10, "phone": 0.70})
    free_fields: tuple[str, ...] = (
        "Người có công", "Thi đua, khen thưởng", "Chế độ bảo hiểm xã hội",
        "Thu bảo hiểm xã hội, bảo hiểm y tế, bảo hiểm thất nghiệp")
    free_keywords: tuple[str, ...] = ("trợ cấp",)
    fee_levels: tuple[int, ...] = (20_000, 50_000, 100_000, 200_000, 300_000, 500_000, 1_000_000)
    transfer_to: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"CNVPDKDD_TP": ("STNMT",), "STNMT": ("CNVPDKDD_TP",)})
    """Where an agency's transfers go; otherwise to agencies sharing a procedure field, else any other."""
    province: str = "H48"
    """Province part of dossier codes (H48 = Quảng Ngãi)."""
    index766: bool = False
    """Also emit the 766 index's facts (`synced`, `complained`, `data.digitised`, `data.e_result`), drawn
    from their own random streams: off by default, so the default output stays what it was, byte for byte."""
    sync_late_agencies: float = 0.15
    """Share of agencies whose one-stop system syncs to the national portal days late."""
    sync_never_agencies: float = 0.08
    """Share of agencies whose system does not sync at all (the seed centre's weak point)."""
    sync_minutes: float = 30.0
    """Mean delay of a prompt sync, in working minutes (exponential, capped at a working day)."""
    sync_late_days: tuple[float, float] = (1.0, 6.0)
    """Delay of a late agency's sync, in working days."""
    sync_missed: float = 0.03
    """Dossiers a syncing agency never syncs (a failed call nobody retried)."""
    digitised_share: tuple[float, float] = (0.55, 0.98)
    """Each agency's share of receipts with digitised components is drawn in this range."""
    e_result_share: tuple[float, float] = (0.30, 0.95)
    """Each agency's share of approved results issued as an electronic result."""
    complained: float = 0.002
    complained_if_late: float = 0.03
    # -- a province: the commune centres (only for centres with `level: commune`) -----------------------
    commune_daily_volume: float = 28.0
    """Mean dossiers per working day of a commune centre (all its desks together), before its size factor."""
    centre_volume: Mapping[str, float] = field(default_factory=dict)
    """Mean dossiers per working day by commune centre code, e.g. scaled from population: replaces the
    drawn size factor (and the ward factor) for the centres it names."""
    commune_size_sigma: float = 0.35
    """Each commune centre's size factor is log-normal(0, sigma), drawn once per centre from the seed..."""
    commune_size_range: tuple[float, float] = (0.5, 2.0)
    """...and clipped to this range."""
    ward_factor: float = 1.5
    """Wards (phường: urban) receive more than rural communes (xã)."""
    ward_keywords: tuple[str, ...] = ("phường",)
    """A commune centre whose name contains one of these (lower case) is a ward's."""
    commune_field_weight: Mapping[str, float] = field(default_factory=_default_commune_fields)
    """How a commune centre's volume is split among its desks: a desk weighs the sum of these weights
    over the distinct fields (lĩnh vực) of its procedures."""
    commune_other_field_weight: float = 0.05
    """The weight of a field missing from `commune_field_weight`."""
    commune_long_days: float = 5.0
    commune_long_damp: float = 0.25
    """At a commune desk, procedures of more than `commune_long_days` working days are filed this much
    less often than their rank says: commune dossiers are mostly same-day to a few days."""
    lagging_centres: tuple[str, ...] | None = None
    """Commune centres that fall behind, by code; None: `lagging_count` of them drawn from the seed."""
    lagging_count: int = 4
    lagging_on_time: tuple[float, float] = (0.55, 0.75)
    """A falling-behind centre's desks resolve this share on time (drawn once per desk)..."""
    lagging_late_mean_days: float = 3.0
    """...and their late results come this many working days after the due point on average."""


DEFAULT_PROFILE = Profile()

# -- precomputed per agency / procedure ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Proc:
    code: str
    work: int
    """Processing time in working seconds."""
    short: bool
    """Under one working day, or same-day: no supplement, no pause."""
    same_day_cutoff: int | None
    """For `same_day` procedures: the cut-off as seconds of the day (-1: none); None for the others."""
    channels: tuple[str, ...]
    channel_cum: tuple[float, ...]
    fee: int | None
    financial: bool


@dataclass(frozen=True, slots=True)
class _Sync766:
    """An agency's 766 traits: how its system syncs, how much it digitises and issues electronically."""

    mode: str
    """`prompt`, `late` or `never`."""
    digitised: float
    e_result: float


@dataclass(frozen=True, slots=True)
class _Agency:
    code: str
    kind: str
    prefix: str
    volume: float
    late: float
    late_mean: float
    """Mean lateness of a late result, in working days."""
    procs: tuple[_Proc, ...]
    proc_cum: tuple[float, ...]
    others: tuple[str, ...]


def _cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    total = 0.0
    out: list[float] = []
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: Knuth's product method for small means, a rounded normal for large ones."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, n, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        n += 1
        product *= rng.random()
    return n


@dataclass(slots=True)
class SimulationStats:
    """What `events()` has emitted so far (for progress and the final summary)."""

    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_agency: Counter[str] = field(default_factory=Counter)
    dossiers: int = 0
    dossiers_by_agency: Counter[str] = field(default_factory=Counter)
    last_ts: Timestamp | None = None


class Simulator:
    """Generates the centre's events between `start` and `end` (business time), in time order.

    `start`/`end` bound the generated arrivals; events are *emitted* from `emit_from` (default `start`):
    start a few working days earlier (see `warmup_start`) and the first emitted events already find
    open dossiers. Every dossier with at least one event at or after `emit_from` is emitted in full,
    its earlier history first (a backfill with past `occurred_at`), so no event arrives without its
    `received`. Events at or after `end` are not emitted: those dossiers are still open at `end`.
    """

    def __init__(
        self,
        catalog: Catalog,
        calendar: WorkingCalendar,
        seed: int = 2026,
        start: datetime | Timestamp = 0,
        end: datetime | Timestamp = 0,
        *,
        emit_from: datetime | Timestamp | None = None,
        scenarios: Sequence[Scenario] = (),
        profile: Profile = DEFAULT_PROFILE,
    ) -> None:
        self.catalog = catalog
        self.calendar = calendar
        self.seed = seed
        self.profile = profile
        self.start = _ts(start)
        self.end = _ts(end)
        self.emit_from = self.start if emit_from is None else _ts(emit_from)
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if not self.start <= self.emit_from <= self.end:
            raise ValueError("emit_from must lie between start and end")
        self.stats = SimulationStats()
        self._silent: dict[str, Timestamp] = {}
        self._backlog: dict[str, tuple[Timestamp, float]] = {}
        for scenario in scenarios:
            if catalog.agency(scenario.agency) is None:
                raise ValueError(f"scenario: {scenario.agency!r} is not an agency of the catalog")
            at = self.emit_from if scenario.at is None else scenario.at
            if isinstance(scenario, Silent):
                self._silent[scenario.agency] = min(at, self._silent.get(scenario.agency, at))
            else:
                self._backlog[scenario.agency] = (at, scenario.slowdown)
        self._day = calendar.day_seconds
        periods = [(_seconds(a), _seconds(b)) for a, b in calendar.config.office_hours.periods]
        self._period_lengths = tuple(b - a for a, b in periods)
        self._period_before = tuple(accumulate((0, *self._period_lengths[:-1])))
        self._opening_cache: dict[int, tuple[int, ...]] = {}
        self.lagging: tuple[str, ...] = self._lagging_centres()
        """The commune centres that fall behind (codes, catalog order)."""
        self.centre_volumes: dict[str, float] = self._commune_volumes()
        """Mean dossiers per working day of each commune centre (before the weekday factor)."""
        self._desk_share = self._desk_shares()
        self._agencies = tuple(self._agency_model(i, a) for i, a in enumerate(catalog.agencies))
        self._traits766 = {a.code: self._traits(a.code) for a in catalog.agencies} if profile.index766 else {}
        self._minute_cache: dict[int, str] = {}
        self._receipts: Counter[int] = Counter()

    @property
    def volumes(self) -> dict[str, float]:
        """Mean dossiers per working day of each agency (before the weekday factor)."""
        return {agency.code: agency.volume for agency in self._agencies}

    # -- the model, per agency ------------------------------------------------------------------

    def _communes(self) -> list[Centre]:
        return [c for c in self.catalog.centres if c.level == "commune"]

    def _lagging_centres(self) -> tuple[str, ...]:
        """The commune centres that fall behind: the profile's, or a few drawn from the seed (a province)."""
        p, communes = self.profile, self._communes()
        codes = [c.code for c in communes]
        if p.lagging_centres is not None:
            unknown = [c for c in p.lagging_centres if c not in codes]
            if unknown:
                raise ValueError(f"lagging centres: {', '.join(map(repr, unknown))} is not a commune centre "
                                 "of the catalog")
            chosen = set(p.lagging_centres)
        elif self.catalog.is_province and p.lagging_count > 0:
            draw = random.Random(f"{self.seed}/lagging")
            chosen = set(draw.sample(codes, min(p.lagging_count, len(codes))))
        else:
            chosen = set()
        return tuple(c for c in codes if c in chosen)

    def _commune_volumes(self) -> dict[str, float]:
        """Each commune centre's mean dossiers per working day: the profile's, or the base volume times a
        size factor drawn once per centre (log-normal, clipped) and the ward factor."""
        p = self.profile
        volumes: dict[str, float] = {}
        for centre in self._communes():
            if centre.code in p.centre_volume:
                volumes[centre.code] = float(p.centre_volume[centre.code])
                continue
            low, high = p.commune_size_range
            trait = random.Random(f"{self.seed}/centre/{centre.code}")
            size = trait.lognormvariate(0.0, p.commune_size_sigma)
            ward = any(k in centre.name.lower() for k in p.ward_keywords)
            volumes[centre.code] = p.commune_daily_volume * min(high, max(low, size)) * (
                p.ward_factor if ward else 1.0)
        return volumes

    def _desk_shares(self) -> dict[str, float]:
        """Each commune desk's share of its centre's volume, by the fields of its procedures."""
        p = self.profile
        shares: dict[str, float] = {}
        for code in self.centre_volumes:
            desks = self.catalog.agencies_of(code)
            weights = [sum(p.commune_field_weight.get(f, p.commune_other_field_weight)
                           for f in dict.fromkeys(proc.field for proc in desk.procedures)) for desk in desks]
            total = sum(weights)
            for desk, weight in zip(desks, weights, strict=True):
                shares[desk.code] = weight / total if total > 0 else 1.0 / len(desks)
        return shares

    def _commune_ranks(self, agency: Agency) -> list[float]:
        """A commune desk's procedure weights before damping: the field's weight in
        `commune_field_weight`, spread over the field's procedures as `1 / rank^0.8` in catalog order."""
        p = self.profile
        by_field: dict[str, list[int]] = {}
        for index, proc in enumerate(agency.procedures):
            by_field.setdefault(proc.field, []).append(index)
        weights = [0.0] * len(agency.procedures)
        for name, members in by_field.items():
            raw = [1.0 / (rank + 1) ** 0.8 for rank in range(len(members))]
            share = p.commune_field_weight.get(name, p.commune_other_field_weight)
            for index, weight in zip(members, raw, strict=True):
                weights[index] = share * weight / sum(raw)
        return weights

    def _agency_model(self, index: int, agency: Agency) -> _Agency:
        p = self.profile
        trait = random.Random(f"{self.seed}/{agency.code}")
        commune = agency.code in self._desk_share
        if agency.code in p.daily_volume or not commune:
            volume = p.daily_volume.get(agency.code, p.volume_by_kind.get(agency.kind, 8.0))
        else:
            volume = self.centre_volumes[agency.centre or ""] * self._desk_share[agency.code]
        online = trait.uniform(*p.online_share)
        miss = 1.0 - agency.target_on_time
        spread = min(miss * p.late_spread, 0.03)
        late = max(0.0, miss + trait.uniform(-spread, spread))
        late_mean = p.late_mean_days
        if agency.centre in self.lagging:  # slow processing: many results after the due point, and later
            late = 1.0 - random.Random(f"{self.seed}/{agency.code}/lagging").uniform(*p.lagging_on_time)
            late_mean = p.lagging_late_mean_days
        procs: list[_Proc] = []
        weights: list[float] = []
        ranks = self._commune_ranks(agency) if commune else None
        for rank, proc in enumerate(agency.procedures):
            model = self._procedure_model(agency, proc, online, commune)
            procs.append(model)
            # the first procedures listed are the common ones; very long ones are rare
            long_damp = 0.3 if proc.unit == "days" and proc.processing >= 30 else 1.0
            if ranks is None:
                weights.append(long_damp / (rank + 1) ** 0.8)
            else:  # a commune desk: its fields' shares, each spread over the field's procedures by rank
                if model.work > p.commune_long_days * self._day:
                    long_damp *= p.commune_long_damp
                weights.append(long_damp * ranks[rank])
        others = self._transfer_targets(agency)
        return _Agency(
            code=agency.code, kind=agency.kind, prefix=f"000.00.{10 + index:02d}.{p.province}",
            volume=volume, late=late, late_mean=late_mean, procs=tuple(procs), proc_cum=_cumulative(weights),
            others=others,
        )

    def _traits(self, code: str) -> _Sync766:
        p = self.profile
        trait = random.Random(f"{self.seed}/{code}/766")
        roll = trait.random()
        mode = "never" if roll < p.sync_never_agencies else (
            "late" if roll < p.sync_never_agencies + p.sync_late_agencies else "prompt")
        return _Sync766(mode, trait.uniform(*p.digitised_share), trait.uniform(*p.e_result_share))

    def _add_766(self, agency: _Agency, dossier: str, steps: list[_Step]) -> None:
        """The 766 facts of one planned dossier, in place: a digitised receipt, an electronic result, the
        sync to the national portal (prompt, late or never, by agency) and rarely a complaint."""
        p, traits = self.profile, self._traits766[agency.code]
        rng = random.Random(f"{self.seed}/{dossier}/766")
        kinds = {kind: (ts, data) for ts, kind, data in steps}
        received, received_data = kinds["received"][0], kinds["received"][1]
        assert received_data is not None
        received_data["digitised"] = rng.random() < traits.digitised
        if "refused" in kinds:
            return  # turned away at the counter: not a dossier the portal counts
        resolved = kinds.get("resolved")
        if resolved is not None and resolved[1] is not None and resolved[1].get("outcome") == "approved":
            resolved[1]["e_result"] = rng.random() < traits.e_result
        start = self.calendar.to_work(received)
        if traits.mode != "never" and rng.random() >= p.sync_missed:
            if traits.mode == "late":
                delay = round(rng.uniform(*p.sync_late_days) * self._day)
            else:
                delay = min(round(rng.expovariate(1.0 / (p.sync_minutes * 60))) + 60, self._day)
            steps.append((self._from_work(start + delay), "synced", None))
        late = resolved is not None and any(kind == "extended" for _, kind, _ in steps)
        if rng.random() < (p.complained_if_late if late else p.complained):
            when = self._from_work(start + rng.randint(self._day, 10 * self._day))
            steps.append((when, "complained", None))

    def _transfer_targets(self, agency: Agency) -> tuple[str, ...]:
        """Agencies a dossier is transferred to (chuyển xử lý): configured, related by field, or any,
        within the agency's centre (a province's centres do not pass dossiers to each other here)."""
        others = [a for a in self.catalog.agencies if a.code != agency.code and a.centre == agency.centre]
        configured = tuple(c for c in self.profile.transfer_to.get(agency.code, ()) if self.catalog.agency(c))
        if configured:
            return configured
        fields = {p.field for p in agency.procedures}
        related = tuple(a.code for a in others if any(p.field in fields for p in a.procedures))
        return related or tuple(a.code for a in others)

    def _procedure_model(self, agency: Agency, proc: Procedure, online: float,
                         commune: bool = False) -> _Proc:
        p = self.profile
        shares = {"online": online, "postal": p.postal_share, "phone": p.phone_share}
        channels = tuple(proc.channels)
        weights = [shares.get(c, 0.0) for c in channels]
        if "counter" in channels:
            weights[channels.index("counter")] = max(0.0, 1.0 - sum(weights))
        if sum(weights) <= 0:
            weights = [1.0] * len(channels)
        name = proc.name.lower()
        # a commune desk charges what its catalog marks `has_fee` (most civil-status steps are free);
        # the provincial centre keeps the rule it was calibrated with (fields and keywords)
        free = (not proc.has_fee if commune
                else proc.field in p.free_fields or any(k in name for k in p.free_keywords))
        fee = None if free else p.fee_levels[zlib.crc32(proc.code.encode()) % len(p.fee_levels)]
        financial = agency.kind == "land" and any(k in name for k in p.financial_keywords)
        work = processing_work(proc, self.calendar)
        cutoff: int | None = None
        if proc.unit == "same_day":
            moment = proc.same_day_cutoff or self.calendar.config.same_day_cutoff
            cutoff = -1 if moment is None else _seconds(moment)
        return _Proc(code=proc.code, work=work, short=work < self._day or cutoff is not None,
                     same_day_cutoff=cutoff, channels=channels, channel_cum=_cumulative(weights), fee=fee,
                     financial=financial)

    def _same_day_work(self, proc: _Proc, received: Timestamp, s: int) -> int:
        """A same-day dossier's processing window, as the SLA clock sets its due point (dossiers.sla.due):
        to the close of the receipt day, or of the next working day when received after the cut-off."""
        cal = self.calendar
        window = cal.receipt_day_close(received) - s
        cutoff = proc.same_day_cutoff
        if cutoff is not None and cutoff >= 0 and cutoff < cal.second_of_day(received) < cal.close_second \
                and cal.working_at(received):
            window += self._day
        return window

    # -- arrivals ---------------------------------------------------------------------------------

    def _slots(self, day: date) -> tuple[list[tuple[Timestamp, int]], tuple[float, ...]]:
        """Hour-long (or shorter) pieces of the day's office hours, and their cumulative weights."""
        slots: list[tuple[Timestamp, int]] = []
        weights: list[float] = []
        for opening, closing in self.calendar.config.office_hours.periods:
            begin = datetime.combine(day, opening)
            stop = datetime.combine(day, closing)
            while begin < stop:
                piece_end = min(stop, begin.replace(minute=0, second=0) + timedelta(hours=1))
                length = int((piece_end - begin).total_seconds())
                at = int(begin.replace(tzinfo=self.calendar.tz).timestamp())
                slots.append((at, length))
                weight = self.profile.hour_weights.get(begin.hour, self.profile.other_hour_weight)
                weights.append(weight * length)
                begin = piece_end
        return slots, _cumulative(weights)

    def _arrivals(self, rng: random.Random, agency: _Agency, day: date,
                  slots: list[tuple[Timestamp, int]], cum: tuple[float, ...]) -> list[Timestamp]:
        lam = agency.volume * self.profile.weekday_factor[day.weekday()]
        count = _poisson(rng, lam)
        picks = rng.choices(slots, cum_weights=cum, k=count)
        return sorted(at + rng.randrange(length) for at, length in picks)

    # -- one dossier's lifecycle ------------------------------------------------------------------

    def _plan(self, rng: random.Random, agency: _Agency, dossier: str, received: Timestamp
              ) -> list[_Step]:
        """Every step of one dossier: (instant, type, data), not yet sorted, in lifecycle order."""
        p, cal, day = self.profile, self.calendar, self._day
        proc = agency.procs[_pick(rng, agency.proc_cum)]
        channel = proc.channels[_pick(rng, proc.channel_cum)]
        s = cal.to_work(received)
        at = self._from_work
        # `received` carries procedure and channel as its "data"; `_events_of` lifts them to the top level
        steps: list[_Step] = [
            (received, "received", {"procedure": proc.code, "channel": channel})]
        if rng.random() < p.refused:
            steps.append((at(s + rng.randint(300, 2400)), "refused", None))
            return steps
        work = proc.work if proc.same_day_cutoff is None else self._same_day_work(proc, received, s)
        late = rng.random() < agency.late
        if late:
            extra = min(rng.expovariate(1.0 / (agency.late_mean * day)), p.late_cap_days * day)
            x = work + 60 + round(extra)
        elif proc.same_day_cutoff is not None:  # a short window: at least half of it, up to 30 minutes
            x = max(min(1800, work // 2), round(work * rng.betavariate(*p.early_shape)))
        else:
            x = max(1800, round(work * rng.betavariate(*p.early_shape)))
        if proc.fee is not None:
            online = rng.random() < p.online_payment.get(channel, 0.0)
            data: dict[str, Any] = {"online": online, "amount_vnd": proc.fee}
            steps.append((at(s + rng.randint(60, min(1800, x // 2))), "paid", data))
        if rng.random() < p.transferred and agency.others:  # a centre's only desk has nowhere to send
            to = agency.others[rng.randrange(len(agency.others))]
            steps.append((at(s + rng.randint(600, min(7200, x // 2))), "transferred", {"to_agency": to}))
        # pauses, as (progress point, working seconds stopped); progress never passes the due point
        base = min(x, work)
        pauses: list[tuple[int, int, str]] = []
        if not proc.short and rng.random() < p.supplement:
            pauses.append((round(base * rng.uniform(0.05, 0.4)),
                           round(rng.uniform(*p.supplement_days) * day), "supplement"))
        if proc.financial and rng.random() < p.financial_pause:
            pauses.append((round(base * rng.uniform(0.5, 0.9)),
                           round(rng.uniform(*p.financial_pause_days) * day), "financial"))
        stopped = 0
        for progress, length, kind in pauses:
            begin = s + progress + stopped
            if kind == "supplement":
                steps.append((at(begin), "supplement_requested", None))
                steps.append((at(begin + length), "supplement_received", None))
            else:
                steps.append((at(begin), "paused", {"reason": "Chờ thực hiện nghĩa vụ tài chính"}))
                steps.append((at(begin + length), "resumed", None))
            stopped += length
        due_w = s + work + stopped
        resolve_w = s + x + stopped
        backlog = self._backlog.get(agency.code)
        if backlog is not None and at(resolve_w) >= backlog[0]:
            origin = max(cal.to_work(backlog[0]), s)
            resolve_w = origin + round((resolve_w - origin) * backlog[1])
            late = resolve_w > due_w
        if late and rng.random() < p.extended:
            issued = max(s + 60, due_w - rng.randint(600, max(601, min(day, work // 2))))
            promise = at(resolve_w + rng.randint(0, day // 2))
            steps.append((at(issued), "extended", {"new_due_at": self._fmt(promise),
                                                    "reason": "Phiếu xin lỗi và hẹn lại ngày trả kết quả"}))
        if rng.random() < p.withdrawn:
            cut = s + round((resolve_w - s) * rng.uniform(0.05, 0.9))
            kept = [step for step in steps if step[0] <= at(cut)]
            kept.append((at(cut), "withdrawn", None))
            return kept
        outcome = "denied" if rng.random() < p.denied else "approved"
        steps.append((at(resolve_w), "resolved", {"outcome": outcome}))
        if channel == "online":
            delay = rng.randint(0, 7200)
        elif channel == "counter":
            roll = rng.random()
            if roll < p.not_collected:
                return steps
            delay = rng.randint(0, day) if roll < 0.7 else rng.randint(day, 5 * day)
        else:  # postal, phone: the result goes by post
            delay = rng.randint(day // 2, 2 * day)
        returned_w = resolve_w + delay
        steps.append((at(returned_w), "returned", None))
        if rng.random() < p.rated.get(channel, 0.4):
            unsatisfied = p.unsatisfied_if_late if late else p.unsatisfied
            roll = rng.random()
            rating = ("unsatisfied" if roll < unsatisfied
                      else "very_satisfied" if roll < unsatisfied + p.very_satisfied else "satisfied")
            steps.append((at(returned_w + rng.randint(60, 1800)), "rated", {"rating": rating}))
        return steps

    def _from_work(self, work: int) -> Timestamp:
        """`calendar.from_work`, memoised per working day (the planner's hot path; tested equal).

        Every working day holds exactly `day_seconds` of work, so the day is `(work - 1) // day_seconds`
        and the offset inside it is mapped onto the day's periods; the calendar still decides (once per
        day, cached) which date that working day is and when its periods open.
        """
        if work <= 0:
            return self.calendar.from_work(work)
        number, offset = divmod(work - 1, self._day)
        openings = self._opening_cache.get(number)
        if openings is None:
            base = number * self._day
            openings = tuple(self.calendar.from_work(base + before + 1) - 1 for before in self._period_before)
            self._opening_cache[number] = openings
        offset += 1
        for opening, length in zip(openings, self._period_lengths, strict=True):
            if offset <= length:
                return opening + offset
            offset -= length
        raise AssertionError("offset beyond the day's office hours")  # pragma: no cover

    # -- output -----------------------------------------------------------------------------------

    def _fmt(self, ts: Timestamp) -> str:
        """RFC 3339, second precision, local offset; cached per minute (formatting is the hot path)."""
        minute, second = divmod(ts, 60)
        text = self._minute_cache.get(minute)
        if text is None:
            text = datetime.fromtimestamp(minute * 60, self.calendar.tz).isoformat()
            self._minute_cache[minute] = text
        return f"{text[:17]}{second:02d}{text[19:]}"

    def _events_of(self, agency: _Agency, dossier: str, steps: list[_Step]) -> list[tuple[int, SimEvent]]:
        """The dossier's events to emit (time order, ids by position), or [] if it ends before emit_from."""
        steps.sort(key=lambda step: step[0])  # stable: lifecycle order at equal instants
        if steps[-1][0] < self.emit_from:
            return []
        limit = min(self.end, self._silent.get(agency.code, self.end))
        out: list[tuple[Timestamp, SimEvent]] = []
        for n, (ts, kind, data) in enumerate(steps, start=1):
            if ts >= limit:
                break
            event: SimEvent = {"event_id": f"{dossier}-{n}", "schema": SCHEMA_V1, "type": kind,
                               "occurred_at": self._fmt(ts), "dossier": dossier, "agency": agency.code}
            if kind == "received":
                assert data is not None
                event["procedure"] = data["procedure"]
                event["channel"] = data["channel"]
                if "digitised" in data:
                    event["data"] = {"digitised": data["digitised"]}
            elif data is not None:
                event["data"] = data
            out.append((ts, event))
        return out

    def timed_events(self) -> Iterator[tuple[Timestamp, SimEvent]]:
        """(epoch seconds, event) in non-decreasing time; ties in a fixed order (planning order)."""
        cal = self.calendar
        heap: list[tuple[Timestamp, int, SimEvent]] = []
        seq = 0
        day = cal.local_date(self.start)
        last = cal.local_date(self.end - 1)
        stats = self.stats
        while day <= last:
            next_midnight = int(datetime.combine(day + timedelta(days=1), time(), tzinfo=cal.tz).timestamp())
            if cal.is_working_day(day):
                slots, cum = self._slots(day)
                stamp = day.strftime("%y%m%d")
                for agency in self._agencies:
                    rng = random.Random(f"{self.seed}/{agency.code}/{day.isoformat()}")
                    for number, received in enumerate(self._arrivals(rng, agency, day, slots, cum), start=1):
                        dossier = f"{agency.prefix}-{stamp}-{number:04d}"
                        steps = self._plan(rng, agency, dossier, received)  # draw even if not emitted
                        if self._traits766:
                            self._add_766(agency, dossier, steps)
                        if received < self.start or received >= self.end:
                            continue
                        for ts, event in self._events_of(agency, dossier, steps):
                            heapq.heappush(heap, (ts, seq, event))
                            seq += 1
            if len(self._minute_cache) > 200_000:
                self._minute_cache.clear()
            # every event before the next midnight is planned by now: dossiers planned later start later
            while heap and heap[0][0] < next_midnight:
                ts, _, event = heapq.heappop(heap)
                self._finish(event, ts)
                stats.events += 1
                stats.by_type[event["type"]] += 1
                stats.by_agency[event["agency"]] += 1
                if event["type"] == "received":
                    stats.dossiers += 1
                    stats.dossiers_by_agency[event["agency"]] += 1
                stats.last_ts = ts
                yield ts, event
            day += timedelta(days=1)

    def events(self) -> Iterator[SimEvent]:
        """The events (dicts ready for `json.dumps`) in non-decreasing `occurred_at`."""
        for _, event in self.timed_events():
            yield event

    def _finish(self, event: SimEvent, ts: Timestamp) -> None:
        """Numbers e-receipts at emission, so they rise with time (BL-2026-000123)."""
        if event["type"] == "paid" and event["data"]["online"]:
            year = self.calendar.local_date(ts).year
            self._receipts[year] += 1
            event["data"]["receipt"] = f"BL-{year}-{self._receipts[year]:06d}"


def _pick(rng: random.Random, cum: tuple[float, ...]) -> int:
    """An index drawn with the given cumulative weights (bisect, like random.choices)."""
    return bisect_right(cum, rng.random() * cum[-1], 0, len(cum) - 1)


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _ts(value: datetime | Timestamp) -> Timestamp:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} needs a time-zone offset")
        return int(value.timestamp())
    return int(value)


def warmup_start(calendar: WorkingCalendar, start: datetime | Timestamp, working_days: int) -> Timestamp:
    """Midnight `working_days` working days before `start`'s day: where generation should begin so
    that open dossiers already exist at `start` (pass `start` as `emit_from`)."""
    day = calendar.local_date(_ts(start))
    counted = 0
    while counted < working_days:
        day -= timedelta(days=1)
        counted += calendar.is_working_day(day)
    return min(_ts(start), int(datetime.combine(day, time(), tzinfo=calendar.tz).timestamp()))
