"""What the supervisor notifier sends, to whom, and when: pure decisions on alerts and on time.

`Notifier` turns `dossier-alert/1` records and the passing of business time into `Outbound`
notifications. It does no I/O: the durable state it needs (alerts already seen, open overdue dossiers,
messages held until office hours, the last digest date) sits behind the `NotifyState` protocol, so the
same logic runs on SQLite in production and in the unit tests with plain integer times. Delivery
(SMTP, webhook, file) is the adapters' job (notifier/delivery.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any, Literal, Protocol

from dossiers import labels
from dossiers.alerts import ALERT_KINDS, Alert
from dossiers.calendar import Timestamp, WorkingCalendar, WorkSeconds
from dossiers.catalog import Catalog, Centre, Contact

Channel = Literal["email", "webhook", "file"]
CHANNELS: tuple[Channel, ...] = ("email", "webhook", "file")
PAYLOAD_SCHEMA = "ioc-notification/1"

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
FOOTER = "Thông báo tự động của hệ thống giám sát IOC; vui lòng không trả lời thư này."


def iso(ts: Timestamp) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


# -- what goes out --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with an e-mail (tệp đính kèm), e.g. the period's report form as XLSX."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Outbound:
    """One notification to a list of recipients. `key` is deterministic, so recording it is idempotent."""

    key: str
    kind: str  # overdue | due_soon | resolved_late | escalation | digest | report
    agency: str
    dossier: str | None
    subject: str
    body: str
    recipients: tuple[Contact, ...]
    payload: dict[str, Any] = field(hash=False, compare=False)
    """The JSON document POSTed to webhooks and written to the file sink (schema ioc-notification/1)."""
    attachments: tuple[Attachment, ...] = field(default=(), hash=False, compare=False)
    """Files for the e-mails (webhooks and the file sink get their names in the payload only)."""


def targets(outbound: Outbound, channels: Iterable[str]) -> list[tuple[Channel, str]]:
    """(channel, address) pairs to deliver to: each recipient's e-mail and webhook, plus the file sink.

    A channel that is not enabled yields nothing; the file sink takes every notification, even one
    with no recipient (a centre without a director still leaves a trace).
    """
    enabled = set(channels)
    found: list[tuple[Channel, str]] = []
    for contact in outbound.recipients:
        if "email" in enabled and contact.email and ("email", contact.email) not in found:
            found.append(("email", contact.email))
        if "webhook" in enabled and contact.webhook and ("webhook", contact.webhook) not in found:
            found.append(("webhook", contact.webhook))
    if "file" in enabled:
        found.append(("file", ""))
    return found


# -- durable state --------------------------------------------------------------------------------------
class NotifyState(Protocol):
    """What the notifier remembers between calls and across restarts (notifier/store.py)."""

    def first_sight(self, alert: Alert, now: Timestamp) -> bool:
        """Record the alert id; False if it was recorded before (a re-sent alert)."""

    def open_overdue(self, alert: Alert, due_work: WorkSeconds) -> bool:
        """Add the dossier to the overdue set; False (and nothing changes) if it is already there.

        `due_work` is the due time in the calendar's working seconds, so that the escalation delay is a
        query parameter and a changed IOC_NOTIFY_ESCALATE_AFTER_DAYS applies to dossiers already open.
        """

    def close_overdue(self, dossier: str) -> None: ...

    def overdue(self) -> list[Alert]:
        """Every open overdue dossier, as the alert that opened it."""

    def escalations_due(self, due_work_until: WorkSeconds) -> list[Alert]:
        """Open overdue dossiers, not yet escalated, due at or before `due_work_until` working seconds."""

    def mark_escalated(self, dossier: str, now: Timestamp) -> None: ...

    def track_due_soon(self, alert: Alert) -> None: ...

    def untrack_due_soon(self, dossier: str) -> None: ...

    def due_soon(self, now: Timestamp) -> list[Alert]:
        """Due-soon dossiers whose due time is still ahead (the others were resolved or went overdue)."""

    def add_resolved_late(self, alert: Alert) -> None: ...

    def resolved_late(self) -> list[Alert]:
        """Resolved-late alerts not yet reported in a digest."""

    def clear_resolved_late(self, alert_ids: Sequence[str]) -> None: ...

    def hold(self, alert: Alert, release_at: Timestamp) -> None: ...

    def drop_held(self, dossier: str) -> None: ...

    def release_held(self, now: Timestamp) -> list[Alert]:
        """Remove and return the held alerts whose release time has come."""

    def get_meta(self, name: str) -> str | None: ...

    def set_meta(self, name: str, value: str) -> None: ...


# -- policy ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Policy:
    """The notifier's knobs (from NotifySettings); defaults are the documented ones."""

    immediate_kinds: frozenset[str] = frozenset({"overdue"})
    outside_hours: Literal["hold", "send"] = "hold"
    digest_at: time | None = time(7, 30)
    digest_skip_empty: bool = True
    digest_max_items: int = 50
    escalate_after_days: float = 2.0
    escalate_to_province: bool = True
    """A province catalog: a commune centre's escalations also go to the provincial centre's director."""
    max_age_seconds: int | None = 24 * 3600
    sync_messages: bool = True
    """`sync_late` alerts gathered into one message per agency (chậm đồng bộ Cổng DVCQG)."""
    sync_every_seconds: int = 3600
    """At most one sync message per agency in this many seconds: a stalled connector is one message an
    hour listing its dossiers, not one per dossier."""
    sync_gather_seconds: int = 60
    """How long the first alert of a batch waits for the others crossing their deadline with it."""


@dataclass(frozen=True, slots=True)
class Route:
    """Who receives an agency's messages, and why if it is not the agency's own supervisors."""

    recipients: tuple[Contact, ...]
    note: str | None


def centre_of(catalog: Catalog, agency_code: str) -> Centre:
    """The centre an agency sits in; the (provincial) centre of the catalog for an unknown code."""
    return catalog.centre_of(agency_code) or catalog.centre


def director_of(catalog: Catalog, centre: Centre) -> tuple[Contact | None, Centre]:
    """A centre's director, or, when it has none, the provincial centre's (the province watches it)."""
    if centre.director is not None:
        return centre.director, centre
    return catalog.centre.director, catalog.centre


def route(catalog: Catalog, agency_code: str) -> Route:
    """The agency's supervisors; its centre's director when the agency is unknown or has none (for a
    commune centre without a director, the provincial centre's)."""
    agency = catalog.agency(agency_code)
    if agency is not None and agency.supervisors:
        return Route(agency.supervisors, None)
    director, whose = director_of(catalog, centre_of(catalog, agency_code))
    to = (director,) if director is not None else ()
    if agency is None:
        note = (f"Mã cơ quan {agency_code!r} không có trong danh mục của Trung tâm; thông báo được chuyển "
                f"Giám đốc {whose.name}.")
    else:
        note = (f"{agency.name} chưa khai báo người phụ trách nhận cảnh báo; thông báo được chuyển "
                f"Giám đốc {whose.name}.")
    return Route(to, note)


class Notifier:
    """Decides notifications. Call `on_alert` per alert and `on_time` regularly, with business time."""

    def __init__(self, catalog: Catalog, calendar: WorkingCalendar, state: NotifyState,
                 policy: Policy | None = None):
        self.catalog = catalog
        self.calendar = calendar
        self.state = state
        self.policy = policy or Policy()

    # -- inputs ---------------------------------------------------------------------------------------
    def on_alert(self, alert: Alert, now: Timestamp) -> list[Outbound]:
        """One alert from `dossier-alerts`: update the state; maybe an immediate message (or hold it)."""
        if alert.kind not in ALERT_KINDS or not self.state.first_sight(alert, now):
            return []
        if alert.kind == "overdue":
            self.state.untrack_due_soon(alert.dossier)
            due = alert.due_at if alert.due_at is not None else alert.at
            if not self.state.open_overdue(alert, self.calendar.to_work(due)):
                return []  # already overdue (a new due time): one message per transition
        elif alert.kind == "due_soon":
            self.state.track_due_soon(alert)
        elif alert.kind == "sync_late":
            return self._gather_sync(alert, now)
        else:
            self.state.close_overdue(alert.dossier)
            self.state.untrack_due_soon(alert.dossier)
            self.state.drop_held(alert.dossier)  # resolved already: the digest reports it
            self.state.add_resolved_late(alert)
        if alert.kind not in self.policy.immediate_kinds:
            return []
        if self.policy.max_age_seconds is not None and now - alert.at > self.policy.max_age_seconds:
            return []  # history replayed on a first start: state only, no flood of stale messages
        if not self.may_send_now(now):
            self.state.hold(alert, self.calendar.next_opening(now))
            return []
        return [self.immediate(alert, now)]

    def on_time(self, now: Timestamp) -> list[Outbound]:
        """Held messages due, escalations due and the day's digests due at business time `now`."""
        out: list[Outbound] = []
        if self.may_send_now(now):
            released = self.state.release_held(now)
            out += [self.immediate(alert, now) for alert in released if alert.kind != "sync_late"]
            out += self._sync_messages([alert for alert in released if alert.kind == "sync_late"], now)
            out += self._escalations(now)
        out += self._digests(now)
        return out

    def may_send_now(self, now: Timestamp) -> bool:
        """Immediate messages go out during office hours (or always, with outside_hours = send)."""
        return self.policy.outside_hours == "send" or self.calendar.next_opening(now) == now

    # -- routing --------------------------------------------------------------------------------------
    def route(self, agency_code: str) -> Route:
        return route(self.catalog, agency_code)

    def agency_name(self, code: str) -> str:
        agency = self.catalog.agency(code)
        return agency.name if agency is not None else code

    # -- messages -------------------------------------------------------------------------------------
    def immediate(self, alert: Alert, now: Timestamp) -> Outbound:
        """The message for one transition; lateness is measured at `now` (the send time if held)."""
        route = self.route(alert.agency)
        name = self.agency_name(alert.agency)
        facts = self._facts(alert, now)
        lead = {
            "overdue": f"Hồ sơ {alert.dossier} của {name} đã quá hạn giải quyết.",
            "due_soon": f"Hồ sơ {alert.dossier} của {name} sắp đến hạn giải quyết.",
            "resolved_late": f"Hồ sơ {alert.dossier} của {name} đã có kết quả nhưng quá hạn giải quyết.",
        }[alert.kind]
        ask = {
            "overdue": "Đề nghị lãnh đạo đơn vị chỉ đạo giải quyết ngay; nếu cần thêm thời gian, gửi phiếu "
                       "xin lỗi và hẹn lại ngày trả kết quả cho người dân theo quy định.",
            "due_soon": "Đề nghị đơn vị kiểm tra tiến độ để trả kết quả đúng hạn.",
            "resolved_late": "Đề nghị đơn vị rà soát nguyên nhân chậm trễ.",
        }[alert.kind]
        lines = [lead, "", *self._fact_lines(facts), "", ask]
        return self._outbound(
            key=f"{alert.kind}:{alert.alert_id}", kind=alert.kind, agency=alert.agency, dossier=alert.dossier,
            subject=f"{labels.ALERT_KIND[alert.kind]}: {alert.dossier} — {name}", lines=lines, route=route,
            now=now,
            data={"alert": json.loads(alert.to_json()), **facts},
        )

    def escalation_route(self, agency: str) -> Route:
        """The director of the agency's centre; for a commune centre also the provincial centre's
        (`escalate_to_province`): the province sees every dossier a commune lets slip."""
        centre = centre_of(self.catalog, agency)
        director, _ = director_of(self.catalog, centre)
        to = [director] if director is not None else []
        province = self.catalog.centre.director
        if (self.policy.escalate_to_province and centre.code != self.catalog.centre.code
                and province is not None and province not in to):
            to.append(province)
        note = None if to else ("Danh mục chưa khai báo Giám đốc Trung tâm (centre.director): "
                                "không có người nhận.")
        return Route(tuple(to), note)

    def escalation(self, alert: Alert, now: Timestamp) -> Outbound:
        """Báo cáo Giám đốc: a dossier overdue for the configured number of working days."""
        route = self.escalation_route(alert.agency)
        centre = centre_of(self.catalog, alert.agency)
        name = self.agency_name(alert.agency)
        facts = self._facts(alert, now)
        days = _number(self.policy.escalate_after_days)
        lines = [
            f"Hồ sơ {alert.dossier} của {name} đã quá hạn từ {days} ngày làm việc trở lên "
            "và chưa có kết quả.",
            "",
            *self._fact_lines(facts),
            "Người phụ trách của đơn vị: " + (", ".join(c.name for c in self.route(alert.agency).recipients)
                                              or "chưa khai báo"),
            "",
            f"Báo cáo Giám đốc {centre.name} để đôn đốc đơn vị giải quyết."
            + (" Đồng gửi Trung tâm cấp tỉnh để theo dõi." if len(route.recipients) > 1 else ""),
        ]
        return self._outbound(
            key=f"escalation:{alert.dossier}", kind="escalation", agency=alert.agency, dossier=alert.dossier,
            subject=f"Báo cáo Giám đốc — hồ sơ quá hạn {facts['late_text']}: {alert.dossier} — {name}",
            lines=lines, route=route, now=now,
            data={"alert": json.loads(alert.to_json()),
                  "escalate_after_days": self.policy.escalate_after_days, **facts},
        )

    def digest(self, agency: str, day: str, overdue: list[Alert], due_soon: list[Alert],
               resolved_late: list[Alert], now: Timestamp) -> Outbound:
        """Bản tổng hợp hằng ngày of one agency."""
        route = self.route(agency)
        name = self.agency_name(agency)
        limit = self.policy.digest_max_items
        local_day = datetime.strptime(day, "%Y-%m-%d").strftime("%d/%m/%Y")
        lines = [f"Tổng hợp tình hình giải quyết hồ sơ của {name}, {self._local_text(now)}:", ""]
        sections: dict[str, list[dict[str, Any]]] = {}
        for kind, title, items in (
            ("overdue", "Hồ sơ đang quá hạn", overdue),
            ("due_soon", labels.ALERT_KIND["due_soon"], due_soon),
            ("resolved_late", "Hồ sơ giải quyết quá hạn từ bản tổng hợp trước", resolved_late),
        ):
            lines.append(f"{title}: {len(items)}")
            rows = [self._facts(alert, now) | {"dossier": alert.dossier} for alert in items[:limit]]
            sections[kind] = rows
            for row in rows:
                detail = {"overdue": f"quá hạn {row['late_text']}",
                          "due_soon": f"hạn {row['due_local']}",
                          "resolved_late": f"chậm {row['late_text']}"}[kind]
                lines.append(f"  - {row['dossier']} · {row['procedure_code'] or '?'} · {detail}")
            if len(items) > limit:
                lines.append(f"  … và {len(items) - limit} hồ sơ khác (xem màn hình IOC).")
            lines.append("")
        counts = {"overdue": len(overdue), "due_soon": len(due_soon), "resolved_late": len(resolved_late)}
        return self._outbound(
            key=f"digest:{day}:{agency}", kind="digest", agency=agency, dossier=None,
            subject=(f"Tổng hợp hồ sơ ngày {local_day} — {name}: {counts['overdue']} quá hạn, "
                     f"{counts['due_soon']} sắp đến hạn, {counts['resolved_late']} giải quyết quá hạn"),
            lines=lines[:-1], route=route, now=now,
            data={"date": day, "counts": counts, **sections},
        )

    def sync_message(self, agency: str, alerts: list[Alert], now: Timestamp) -> Outbound:
        """Chậm đồng bộ Cổng DVCQG: an agency's dossiers received but not synced to the national portal
        by the centre's delay (they cost items 1.4 and 3.3 of the 766 index)."""
        route = self.route(agency)
        name = self.agency_name(agency)
        limit = self.policy.digest_max_items
        rows = [self._facts(alert, now) | {"dossier": alert.dossier} for alert in alerts[:limit]]
        lines = [
            f"{len(alerts)} hồ sơ của {name} đã tiếp nhận nhưng chưa đồng bộ lên Cổng Dịch vụ công quốc gia "
            "trong thời gian Trung tâm quy định:",
            "",
            *(f"  - {row['dossier']} · {row['procedure_code'] or '?'} · hạn đồng bộ {row['due_local']}"
              for row in rows),
        ]
        if len(alerts) > limit:
            lines.append(f"  … và {len(alerts) - limit} hồ sơ khác (xem bảng Chỉ số 766).")
        lines += ["", "Hồ sơ không đồng bộ làm giảm điểm các chỉ tiêu 1.4 và 3.3 của Bộ chỉ số 766. Đề nghị "
                      "đơn vị kiểm tra kết nối với Cổng Dịch vụ công quốc gia và đồng bộ các hồ sơ trên."]
        first = min(alert.alert_id for alert in alerts)
        return self._outbound(
            key=f"sync_late:{agency}:{first}", kind="sync_late", agency=agency, dossier=None,
            subject=f"{labels.ALERT_KIND['sync_late']}: {len(alerts)} hồ sơ — {name}",
            lines=lines, route=route, now=now,
            data={"count": len(alerts), "dossiers": rows,
                  "alerts": [json.loads(alert.to_json()) for alert in alerts[:limit]]},
        )

    # -- internals ------------------------------------------------------------------------------------
    def _gather_sync(self, alert: Alert, now: Timestamp) -> list[Outbound]:
        """Hold a `sync_late` alert until its agency's next sync message is due (office hours only)."""
        if not self.policy.sync_messages:
            return []
        if self.policy.max_age_seconds is not None and now - alert.at > self.policy.max_age_seconds:
            return []
        batch = self.state.get_meta(f"sync_batch:{alert.agency}")
        if batch is not None and int(batch) > now:
            release = int(batch)  # a batch is gathering: join it
        else:
            last = self.state.get_meta(f"sync_sent:{alert.agency}")
            due = now + self.policy.sync_gather_seconds
            if last is not None:
                due = max(due, int(last) + self.policy.sync_every_seconds)
            release = self.calendar.next_opening(due)
            self.state.set_meta(f"sync_batch:{alert.agency}", str(release))
        self.state.hold(alert, release)
        return []

    def _sync_messages(self, alerts: list[Alert], now: Timestamp) -> list[Outbound]:
        by_agency: dict[str, list[Alert]] = {}
        for alert in alerts:
            by_agency.setdefault(alert.agency, []).append(alert)
        out = []
        for agency, items in by_agency.items():
            items.sort(key=lambda a: (a.due_at or a.at, a.dossier))
            out.append(self.sync_message(agency, items, now))
            self.state.set_meta(f"sync_sent:{agency}", str(now))
        return out

    def _escalations(self, now: Timestamp) -> list[Outbound]:
        """Dossiers overdue for at least `escalate_after_days` working days, once each."""
        if self.policy.escalate_after_days <= 0:
            return []
        after = round(self.policy.escalate_after_days * self.calendar.day_seconds)
        out = []
        for alert in self.state.escalations_due(self.calendar.to_work(now) - after):
            out.append(self.escalation(alert, now))
            self.state.mark_escalated(alert.dossier, now)
        return out

    def _digests(self, now: Timestamp) -> list[Outbound]:
        """At the digest time of each working day, once. After a downtime it still comes that day, but
        only until the office closes: an evening start does not send the morning's digest."""
        start = self.policy.digest_at
        if start is None:
            return []
        local = self.calendar.local(now)
        day = local.date().isoformat()
        closing = self.calendar.config.office_hours.periods[-1][1]
        if (not self.calendar.is_working_day(local.date()) or not start <= local.time()
                or (start < closing <= local.time()) or self.state.get_meta("last_digest") == day):
            return []
        grouped: dict[str, tuple[list[Alert], list[Alert], list[Alert]]] = {}

        def bucket(code: str) -> tuple[list[Alert], list[Alert], list[Alert]]:
            return grouped.setdefault(code, ([], [], []))

        for agency in self.catalog.agencies:
            bucket(agency.code)
        for alert in self.state.overdue():
            bucket(alert.agency)[0].append(alert)
        for alert in self.state.due_soon(now):
            bucket(alert.agency)[1].append(alert)
        late = self.state.resolved_late()
        for alert in late:
            bucket(alert.agency)[2].append(alert)
        out = []
        for code, (overdue, soon, resolved) in grouped.items():
            if self.policy.digest_skip_empty and not (overdue or soon or resolved):
                continue
            overdue.sort(key=lambda a: a.due_at or a.at)
            soon.sort(key=lambda a: a.due_at or a.at)
            resolved.sort(key=lambda a: a.at)
            out.append(self.digest(code, day, overdue, soon, resolved, now))
        if self.catalog.is_province:
            out += self._centre_digests(day, grouped, now)
        self.state.clear_resolved_late([a.alert_id for a in late])
        self.state.set_meta("last_digest", day)
        return out

    def _centre_digests(self, day: str, grouped: dict[str, tuple[list[Alert], list[Alert], list[Alert]]],
                        now: Timestamp) -> list[Outbound]:
        """A province catalog: each centre's director gets the day's digest of the centre, agency by
        agency, and the provincial centre's director the province's, centre by centre, worst first."""
        per_centre: dict[str, dict[str, tuple[int, int, int]]] = {c.code: {} for c in self.catalog.centres}
        overdue_of: dict[str, list[Alert]] = {c.code: [] for c in self.catalog.centres}
        for code, (overdue, soon, resolved) in grouped.items():
            centre = centre_of(self.catalog, code)
            per_centre[centre.code][code] = (len(overdue), len(soon), len(resolved))
            overdue_of[centre.code] += overdue
        out = []
        totals: dict[str, tuple[int, int, int]] = {}
        for centre in self.catalog.centres:
            counts = per_centre[centre.code]
            total = tuple(sum(c[i] for c in counts.values()) for i in range(3))
            totals[centre.code] = (total[0], total[1], total[2])
            if self.policy.digest_skip_empty and not any(total):
                continue
            out.append(self.centre_digest(centre, day, counts, sorted(overdue_of[centre.code],
                                                                      key=lambda a: a.due_at or a.at), now))
        if not (self.policy.digest_skip_empty and not any(any(t) for t in totals.values())):
            out.append(self.province_digest(day, totals, now))
        return out

    def centre_digest(self, centre: Centre, day: str, counts: dict[str, tuple[int, int, int]],
                      overdue: list[Alert], now: Timestamp) -> Outbound:
        """Bản tổng hợp của Trung tâm: one line per agency of the centre that has something, then the
        centre's overdue dossiers (oldest due first)."""
        director, _ = director_of(self.catalog, centre)
        route = _to_director(director, "Danh mục chưa khai báo Giám đốc Trung tâm (centre.director)")
        total, local_day, lines = self._digest_head(f"của {centre.name}", day, counts.values(), now)
        lines.append("Theo cơ quan, bộ phận:")
        agencies = []
        for code, (o, d, r) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0])):
            if o or d or r:
                lines.append(f"  - {self.agency_name(code)}: {o} quá hạn, {d} sắp đến hạn, "
                             f"{r} giải quyết quá hạn")
            agencies.append({"agency": code, "overdue": o, "due_soon": d, "resolved_late": r})
        limit = self.policy.digest_max_items
        if overdue:
            lines += ["", "Hồ sơ đang quá hạn:"]
            for alert in overdue[:limit]:
                facts = self._facts(alert, now)
                lines.append(f"  - {alert.dossier} · {facts['agency_name']} · quá hạn {facts['late_text']}")
            if len(overdue) > limit:
                lines.append(f"  … và {len(overdue) - limit} hồ sơ khác (xem màn hình IOC).")
        return self._outbound(
            key=f"digest:{day}:centre:{centre.code}", kind="digest", agency="", dossier=None,
            subject=(f"Tổng hợp hồ sơ ngày {local_day} — {centre.name}: {total[0]} quá hạn, "
                     f"{total[1]} sắp đến hạn, {total[2]} giải quyết quá hạn"),
            lines=lines, route=route, now=now, centre_code=centre.code,
            data={"date": day, "level": "centre", "centre": centre.code,
                  "counts": dict(zip(("overdue", "due_soon", "resolved_late"), total, strict=True)),
                  "agencies": agencies, "overdue": [a.dossier for a in overdue[:limit]]},
        )

    def province_digest(self, day: str, totals: dict[str, tuple[int, int, int]], now: Timestamp) -> Outbound:
        """Bản tổng hợp toàn tỉnh to the provincial centre's director: the centres with something to
        report, the most overdue first."""
        province = self.catalog.province
        name = province.name if province is not None else self.catalog.centre.name
        route = _to_director(self.catalog.centre.director,
                             "Danh mục chưa khai báo Giám đốc Trung tâm cấp tỉnh")
        total, local_day, lines = self._digest_head(f"toàn {name}", day, totals.values(), now)
        lines.append("Theo Trung tâm (nhiều hồ sơ quá hạn nhất trước):")
        centres = []
        for code, (o, d, r) in sorted(totals.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0])):
            centres.append({"centre": code, "overdue": o, "due_soon": d, "resolved_late": r})
            if o or d or r:
                lines.append(f"  - {self.catalog.centre_by_code[code].name}: {o} quá hạn, {d} sắp đến hạn, "
                             f"{r} giải quyết quá hạn")
        return self._outbound(
            key=f"digest:{day}:province", kind="digest", agency="", dossier=None,
            subject=(f"Tổng hợp hồ sơ ngày {local_day} — toàn {name}: {total[0]} quá hạn, "
                     f"{total[1]} sắp đến hạn, {total[2]} giải quyết quá hạn"),
            lines=lines, route=route, now=now, centre_code=self.catalog.centre.code,
            data={"date": day, "level": "province",
                  "counts": dict(zip(("overdue", "due_soon", "resolved_late"), total, strict=True)),
                  "centres": centres},
        )

    def _digest_head(self, whose: str, day: str, counts: Iterable[tuple[int, int, int]], now: Timestamp
                     ) -> tuple[list[int], str, list[str]]:
        """(the three totals, the day as dd/mm/yyyy, the opening lines) of a centre's or the province's
        digest."""
        rows = list(counts)
        total = [sum(c[i] for c in rows) for i in range(3)]
        local_day = datetime.strptime(day, "%Y-%m-%d").strftime("%d/%m/%Y")
        lines = [f"Tổng hợp tình hình giải quyết hồ sơ {whose}, {self._local_text(now)}:", "",
                 f"Hồ sơ đang quá hạn: {total[0]} · sắp đến hạn: {total[1]} · giải quyết quá hạn từ bản "
                 f"tổng hợp trước: {total[2]}", ""]
        return total, local_day, lines

    def _facts(self, alert: Alert, now: Timestamp) -> dict[str, Any]:
        """The figures a message shows, also put in the payload for machines."""
        procedure = self.catalog.procedure(alert.agency, alert.procedure or "")
        late_work = left_work = 0
        if alert.due_at is not None:
            until = alert.due_at + alert.late_seconds if alert.kind == "resolved_late" else max(now, alert.at)
            late_work = max(0, self.calendar.to_work(until) - self.calendar.to_work(alert.due_at))
            left_work = max(0, self.calendar.to_work(alert.due_at) - self.calendar.to_work(until))
        day = self.calendar.day_seconds
        return {
            "agency_name": self.agency_name(alert.agency),
            "procedure_code": alert.procedure,
            "procedure_name": procedure.name if procedure else None,
            "field": alert.field,
            "due_local": self._local_text(alert.due_at) if alert.due_at is not None else None,
            "appointment_local": (self._local_text(alert.appointment_at)
                                  if alert.appointment_at not in (None, alert.due_at) else None),
            "late_working_seconds": late_work,
            "late_text": working_duration(late_work, day),
            **({"left_working_seconds": left_work, "left_text": working_duration(left_work, day)}
               if alert.kind == "due_soon" else {}),
        }

    def _fact_lines(self, facts: dict[str, Any]) -> list[str]:
        procedure = facts["procedure_code"] or "không rõ"
        if facts["procedure_name"]:
            procedure += f" — {facts['procedure_name']}"
        lines = [f"Cơ quan: {facts['agency_name']}", f"Thủ tục: {procedure}"]
        if facts["field"]:
            lines.append(f"Lĩnh vực: {facts['field']}")
        if facts["due_local"]:
            lines.append(f"Hạn giải quyết: {facts['due_local']} (giờ Việt Nam)")
        if facts["appointment_local"]:
            lines.append(f"Ngày hẹn trả mới (phiếu hẹn lại): {facts['appointment_local']}")
        if "left_text" in facts:
            lines.append(f"Thời gian còn lại: {facts['left_text']}")
        elif facts["due_local"]:
            lines.append(f"Thời gian quá hạn: {facts['late_text']}")
        return lines

    def _local_text(self, ts: Timestamp) -> str:
        local = self.calendar.local(ts)
        return f"{local:%H:%M} {WEEKDAYS[local.weekday()]} {local:%d/%m/%Y}"

    def _outbound(self, *, key: str, kind: str, agency: str, dossier: str | None, subject: str,
                  lines: list[str], route: Route, now: Timestamp, data: dict[str, Any],
                  centre_code: str | None = None) -> Outbound:
        if route.note:
            lines = [*lines, "", f"Ghi chú: {route.note}"]
        centre = self.catalog.centre_by_code.get(centre_code) if centre_code else None
        centre = centre or centre_of(self.catalog, agency)
        body = "\n".join([*lines, "", "—", f"{centre.name}", FOOTER, f"Mã thông báo: {key}", ""])
        payload = {
            "schema": PAYLOAD_SCHEMA, "id": key, "kind": kind, "created_at": iso(now),
            "centre": centre.code, "agency": agency, "agency_name": self.agency_name(agency),
            "dossier": dossier, "subject": subject, "text": body, "note": route.note,
            "recipients": [{"name": c.name, "email": c.email} for c in route.recipients],
            "data": data,
        }
        return Outbound(key, kind, agency, dossier, subject, body, route.recipients, payload)


def _to_director(director: Contact | None, missing: str) -> Route:
    return Route((director,) if director is not None else (),
                 None if director is not None else f"{missing}: không có người nhận.")


def working_duration(work: int, day_seconds: int) -> str:
    """Working seconds as Vietnamese text: '1 ngày 3 giờ làm việc', '25 phút làm việc'."""
    days, rest = divmod(work, day_seconds)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} ngày"] if days else []
    if hours:
        parts.append(f"{hours} giờ")
    if minutes and not days:
        parts.append(f"{minutes} phút")
    return " ".join(parts) + " làm việc" if parts else "dưới 1 phút làm việc"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}".replace(".", ",")

