"""Grafana alert rules, contact points, notification policies and mute timings, as code.

Generated from the centre's catalog (agencies, their targets and supervisors, the director, office
hours, holidays), so a centre's own catalog regenerates them: `ioc grafana build --catalog PATH`.

Rules (InfluxQL from grafana/queries.py, PromQL for the pipeline):
* `ioc-overdue-new`           new overdue dossiers (the `alerts` measurement), one alert per agency
* `ioc-due-soon`              due-soon backlog above a threshold, one alert per agency
* `ioc-ontime-<AGENCY>`       on-time rate this month under *that agency's* target (one rule each,
                              since each has its own threshold), once enough dossiers are resolved
* `ioc-silent-<AGENCY>`       no event at all from an agency for a while, during office hours (one
                              rule each; office hours and holidays come at run time from the
                              workers' `office_open` field, see `silence_rules`)
* `ioc-sync-<AGENCY>`         dossiers received this month not synced to the national portal (Cổng
                              DVCQG) above a share, during office hours (the `i766` tallies)
* `ioc-pipeline-*`            dead letters, consumer lag, sink errors (Prometheus)

Rules are built with grafana-foundation-sdk's alerting builders, which model the HTTP provisioning API
(`ioc grafana push`); `provisioning()` turns them into Grafana's file-provisioning format. Policies and
mute timings are plain dicts: the SDK serialises matchers as objects (Grafana wants `[name, op, value]`
triples) and weekdays as integers (Grafana wants "saturday").
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import time
from typing import Any, Literal

from grafana_foundation_sdk.builders import alerting, expr, prometheus
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as am
from grafana_foundation_sdk.models import dashboard as dm

from dossiers import labels
from dossiers.catalog import Agency, Catalog, Centre
from grafana import queries as q
from grafana.datasources import INFLUX, INFLUX_UID, PROMETHEUS, PROMETHEUS_UID
from grafana.influxql import InfluxQL
from grafana.settings import AlertSettings

DEFAULTS = AlertSettings()

EXPR_UID = "__expr__"
DAY = 86400
DIRECTOR = "ioc-director"
OFFICE_MUTE = "ioc-ngoai-gio-hanh-chinh"
RULE_LABEL = "ioc_rule"
UID_MAX = 40


def uid(prefix: str, code: str) -> str:
    """A Grafana UID (at most 40 of [A-Za-z0-9-_]); long or odd codes get a short hash instead."""
    text = f"{prefix}-{code}"
    if len(text) <= UID_MAX and all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
        return text
    return f"{prefix}-{hashlib.sha1(code.encode()).hexdigest()[:10]}"[:UID_MAX]


def contact_name(agency: Agency) -> str:
    return f"ioc-agency-{agency.code}"


def centre_contact_name(centre: Centre) -> str:
    """A commune centre's director (a province catalog); the provincial centre's is `DIRECTOR`."""
    return f"ioc-director-{centre.code}"


def commune_directors(catalog: Catalog) -> list[Centre]:
    """The centres other than the catalog's (provincial) one whose director has an e-mail or webhook."""
    return [c for c in catalog.centres if c.code != catalog.centre.code and c.director is not None
            and (c.director.email or c.director.webhook)]


# -- rule data --------------------------------------------------------------------------------------------
def _range(seconds: int) -> am.RelativeTimeRange:
    return am.RelativeTimeRange(from_val=seconds, to=0)


def _influx_query(ref: str, query: str, seconds: int) -> alerting.Query:
    return (
        alerting.Query(ref)
        .datasource_uid(INFLUX_UID)
        .relative_time_range(_range(seconds))
        .model(InfluxQL(query).ref_id(ref).datasource(INFLUX))
    )


def _prom_query(ref: str, promql: str, seconds: int) -> alerting.Query:
    model = prometheus.Dataquery().expr(promql).instant().ref_id(ref).datasource(PROMETHEUS)
    return (
        alerting.Query(ref).datasource_uid(PROMETHEUS_UID).relative_time_range(_range(seconds)).model(model)
    )


_EXPR_SOURCE = dm.DataSourceRef(type_val=EXPR_UID, uid=EXPR_UID)


Reducer = Literal["sum", "mean", "min", "max", "count", "last", "median"]
NoDataState = Literal["Alerting", "NoData", "OK"]


def _reduce(ref: str, of: str, reducer: Reducer = "last") -> alerting.Query:
    """Reduce a series to one number per label set; NaN/null points are dropped, not propagated."""
    model = (
        expr.TypeReduce()
        .ref_id(ref)
        .expression(of)
        .reducer(reducer)
        .settings(expr.ExprTypeReduceSettings().mode("dropNN"))
        .datasource(_EXPR_SOURCE)
    )
    return alerting.Query(ref).datasource_uid(EXPR_UID).relative_time_range(_range(0)).model(model)


def _threshold(ref: str, of: str, op: Literal["gt", "lt"], value: float) -> alerting.Query:
    evaluator = expr.ExprTypeThresholdConditionsEvaluator().type(op).params([value])
    model = (
        expr.TypeThreshold()
        .ref_id(ref)
        .expression(of)
        .datasource(_EXPR_SOURCE)
        .conditions([expr.ExprTypeThresholdConditions().evaluator(evaluator)])
    )
    return alerting.Query(ref).datasource_uid(EXPR_UID).relative_time_range(_range(0)).model(model)


def _math(ref: str, expression: str) -> alerting.Query:
    model = expr.TypeMath().ref_id(ref).expression(expression).datasource(_EXPR_SOURCE)
    return alerting.Query(ref).datasource_uid(EXPR_UID).relative_time_range(_range(0)).model(model)


def _rule(
    rule_uid: str,
    title: str,
    group: str,
    settings: AlertSettings,
    data: list[alerting.Query],
    *,
    labels: dict[str, str],
    summary: str,
    description: str,
    for_: str,
    no_data: NoDataState = "OK",
) -> alerting.Rule:
    rule = (
        alerting.Rule(title)
        .uid(rule_uid)
        .rule_group(group)
        .folder_uid(settings.folder_uid)
        .org_id(1)
        .condition(data[-1].build().ref_id or "")
        .for_val(for_)
        .no_data_state(no_data)
        .exec_err_state("Error")
        .is_paused(False)
        .labels({**settings.notification_labels, **labels})
        .annotations({"summary": summary, "description": description})
    )
    for query in data:
        rule = rule.with_query(query)
    return rule


# -- the rules --------------------------------------------------------------------------------------------
SLA_GROUP = "ioc-sla"
SILENCE_GROUP = "ioc-im-lang"
PIPELINE_GROUP = "ioc-pipeline"
SYNC_GROUP = "ioc-dong-bo"
GROUP_INTERVALS = {SLA_GROUP: "1m", SILENCE_GROUP: "5m", PIPELINE_GROUP: "1m", SYNC_GROUP: "5m"}


def _last_value_beyond(query: alerting.Query, op: Literal["gt", "lt"], value: float) -> list[alerting.Query]:
    """The usual condition: A = `query`, B = its last value per label set, C = B `op` `value` (fires)."""
    return [query, _reduce("B", "A"), _threshold("C", "B", op, value)]


def sla_rules(catalog: Catalog, settings: AlertSettings) -> list[alerting.Rule]:
    """New overdue and due-soon (one multi-dimensional rule each), and each agency's on-time rate."""
    s = settings
    window = s.new_overdue_minutes * 60
    rules = [
        _rule(
            "ioc-overdue-new",
            f"Hồ sơ mới {labels.OVERDUE.lower()}",
            SLA_GROUP,
            s,
            _last_value_beyond(
                _influx_query("A", q.new_overdue_by_agency(), window),
                "gt",
                0,
            ),
            labels={RULE_LABEL: "overdue_new", "severity": "warning"},
            summary="{{ $labels.agency }}: {{ $values.B }} hồ sơ mới " + labels.OVERDUE.lower(),
            description=f"Số hồ sơ chuyển sang quá hạn trong {s.new_overdue_minutes} phút qua. "
            "Danh sách: /d/ioc-agency?var-agency={{ $labels.agency }}",
            for_="0s",
        ),
        _rule(
            "ioc-due-soon",
            f"Nhiều hồ sơ {labels.DUE_SOON.lower()}",
            SLA_GROUP,
            s,
            _last_value_beyond(
                _influx_query("A", q.due_soon_by_agency(), 120),
                "gt",
                s.due_soon_threshold,
            ),
            labels={RULE_LABEL: "due_soon", "severity": "warning"},
            summary="{{ $labels.agency_name }}: {{ $values.B }} hồ sơ " + labels.DUE_SOON.lower(),
            description=f"Hơn {s.due_soon_threshold} hồ sơ sắp đến hạn (còn dưới một ngày làm việc). "
            "Danh sách: /d/ioc-agency?var-agency={{ $labels.agency }}",
            for_="5m",
        ),
    ]
    for agency in catalog.agencies:
        target = agency.target_on_time
        rules.append(
            _rule(
                uid("ioc-ontime", agency.code),
                f"{labels.ON_TIME_RATE} dưới {labels.TARGET.lower()} — {agency.label}",
                SLA_GROUP,
                s,
                [
                    _influx_query("A", q.month_rate_for_alert(agency.code), 120),
                    _influx_query("B", q.month_resolved_for_alert(agency.code), 120),
                    _reduce("C", "A"),
                    _reduce("D", "B"),
                    _math("E", f"$C < {target:g} && $D >= {s.min_resolved}"),
                ],
                labels={"agency": agency.code, RULE_LABEL: "on_time", "severity": "warning"},
                summary=f"{agency.label}: đúng hạn tháng {{{{ humanizePercentage $values.C.Value }}}} "
                f"(mục tiêu {target:.0%})",
                description=f"{agency.name}: tỷ lệ hồ sơ giải quyết đúng hạn trong tháng dưới mục tiêu "
                f"{target:.0%} (tính khi đã có ít nhất {s.min_resolved} hồ sơ giải quyết trong tháng).",
                for_="15m",
            )
        )
    return rules


def silence_rules(catalog: Catalog, settings: AlertSettings) -> list[alerting.Rule]:
    """One rule per agency: no event for `silent_minutes` while the centre was open all that time.

    Office hours are known at run time, not listed here: the workers write `office_open` on every `kpi`
    snapshot from the catalog's calendar (holidays package, extra days off, make-up working days), and
    the rule requires it to be 1 for the whole look-back (so also for the first `silent_minutes` after
    each opening). Nothing in this file depends on the year. `agency_recent_events` returns 0 rather than
    no row for a silent agency (no row would make the rule NoData); NoData (an agency that never sent
    anything in `silent_history_days`, or no worker snapshot at all) is OK here: the pipeline rules and the
    wall show those.
    """
    s = settings
    window = s.silent_minutes * 60
    return [
        _rule(
            uid("ioc-silent", a.code),
            f"Không nhận được sự kiện — {a.label}",
            SILENCE_GROUP,
            s,
            [
                _influx_query(
                    "A", q.agency_recent_events(a.code, s.silent_minutes), s.silent_history_days * DAY
                ),
                _influx_query("O", q.office_open_throughout(), window),
                _reduce("B", "A"),
                _reduce("P", "O"),
                _math("C", "$B < 0.5 && $P >= 1"),
            ],
            labels={"agency": a.code, RULE_LABEL: "agency_silent", "severity": "warning"},
            summary=f"{a.label}: không có sự kiện nào trong {s.silent_minutes} phút",
            description=f"Hệ thống của {a.name} không gửi sự kiện nào trong {s.silent_minutes} phút "
            "giờ hành chính: kiểm tra kết nối của cơ quan.",
            for_="10m",
        )
        for a in catalog.agencies
    ]


def sync_rules(catalog: Catalog, settings: AlertSettings) -> list[alerting.Rule]:
    """One rule per agency: the share of this month's received dossiers synced to the national portal
    under `sync_min_rate`, once `sync_min_received` were received, while the office has been open for
    `sync_office_minutes` (the workers' `office_open`, as the silent rule). Per-dossier lateness is the
    workers' `sync_late` alert and the notifier's message (docs/notifier.md); this rule is the trend."""
    s = settings
    return [
        _rule(
            uid("ioc-sync", a.code),
            f"Chậm đồng bộ Cổng Dịch vụ công quốc gia — {a.label}",
            SYNC_GROUP,
            s,
            [
                _influx_query("A", q.sync_share_for_alert(a.code), 120),
                _influx_query("B", q.sync_received_for_alert(a.code), 120),
                _influx_query("O", q.office_open_throughout(), s.sync_office_minutes * 60),
                _reduce("C", "A"),
                _reduce("D", "B"),
                _reduce("P", "O"),
                _math("E", f"$C < {s.sync_min_rate:g} && $D >= {s.sync_min_received} && $P >= 1"),
            ],
            labels={"agency": a.code, RULE_LABEL: "sync", "severity": "warning"},
            summary=f"{a.label}: đã đồng bộ {{{{ humanizePercentage $values.C.Value }}}} hồ sơ tiếp nhận "
            f"trong kỳ (ngưỡng {s.sync_min_rate:.0%})",
            description=f"{a.name}: tỷ lệ hồ sơ tiếp nhận trong kỳ báo cáo đã đồng bộ lên Cổng Dịch vụ công "
            f"quốc gia dưới {s.sync_min_rate:.0%} (chỉ tiêu 1.4 và 3.3, Bộ chỉ số 766). Kiểm tra kết nối "
            "đồng bộ của đơn vị. Bảng: /d/ioc-766",
            for_="15m",
        )
        for a in catalog.agencies
    ]


def pipeline_rules(settings: AlertSettings) -> list[alerting.Rule]:
    """Workers' health from Prometheus; no `agency` label, so they go to the director (root policy)."""
    s = settings
    p = q.PROMQL
    labels = {RULE_LABEL: "pipeline", "severity": "critical"}
    return [
        _rule(
            "ioc-pipeline-dead-letters",
            "Sự kiện không hợp lệ (thư chết)",
            PIPELINE_GROUP,
            s,
            _last_value_beyond(
                _prom_query("A", "sum(increase(ioc_dead_letters_total[10m]))", 600),
                "gt",
                s.dead_letters_threshold,
            ),
            labels=labels,
            summary="{{ $values.B }} sự kiện bị chuyển vào dossier-events-dlq trong 10 phút",
            description="Một hệ thống cơ quan gửi sự kiện sai hợp đồng; lý do trên bảng Sức khỏe hệ thống.",
            for_="0s",
        ),
        _rule(
            "ioc-pipeline-consumer-lag",
            "Worker xử lý chậm (consumer lag)",
            PIPELINE_GROUP,
            s,
            _last_value_beyond(
                _prom_query("A", p["consumer_lag_total"], 300),
                "gt",
                s.consumer_lag_threshold,
            ),
            labels=labels,
            summary="{{ $values.B }} sự kiện chưa được xử lý",
            description="Các worker không theo kịp: thêm worker hoặc kiểm tra InfluxDB/Kafka.",
            for_="5m",
            no_data="NoData",
        ),
        _rule(
            "ioc-pipeline-sink-errors",
            "Lỗi ghi InfluxDB",
            PIPELINE_GROUP,
            s,
            _last_value_beyond(
                _prom_query("A", p["sink_errors"], 300),
                "gt",
                s.sink_errors_threshold,
            ),
            labels=labels,
            summary="{{ $values.B }} lần ghi InfluxDB thất bại trong 5 phút",
            description="Worker đang thử lại; màn hình IOC có thể chậm cập nhật.",
            for_="5m",
        ),
    ]


def rules(catalog: Catalog, settings: AlertSettings = DEFAULTS) -> dict[str, list[alerting.Rule]]:
    """{rule group: rules}."""
    return {
        SLA_GROUP: sla_rules(catalog, settings),
        SILENCE_GROUP: silence_rules(catalog, settings),
        SYNC_GROUP: sync_rules(catalog, settings),
        PIPELINE_GROUP: pipeline_rules(settings),
    }


def to_data(obj: Any) -> Any:
    """SDK model -> plain JSON data."""
    return json.loads(json.dumps(obj, cls=JSONEncoder))


def api_rules(catalog: Catalog, settings: AlertSettings = DEFAULTS) -> dict[str, list[dict[str, Any]]]:
    """Rules in the HTTP provisioning API's shape (`POST /api/v1/provisioning/alert-rules`)."""
    return {
        group: [to_data(r.build()) for r in group_rules]
        for group, group_rules in rules(catalog, settings).items()
    }


_FILE_RULE_KEYS = (
    "uid",
    "title",
    "condition",
    "data",
    "noDataState",
    "execErrState",
    "for",
    "annotations",
    "labels",
    "isPaused",
)


def file_rule(api_rule: dict[str, Any]) -> dict[str, Any]:
    """The file-provisioning shape of one rule: the API's, minus folder/group/org (set by the group)."""
    return {k: api_rule[k] for k in _FILE_RULE_KEYS if k in api_rule}


# -- contact points, policies, mute timings ---------------------------------------------------------------
def _receivers(prefix: str, emails: list[str], webhooks: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if emails:
        out.append(
            {
                "uid": uid(prefix, "email"),
                "type": "email",
                "settings": {"addresses": ";".join(emails), "singleEmail": False},
                "disableResolveMessage": False,
            }
        )
    for i, url in enumerate(webhooks, 1):
        out.append(
            {
                "uid": uid(prefix, f"webhook{i}"),
                "type": "webhook",
                "settings": {"url": url, "httpMethod": "POST"},
                "disableResolveMessage": False,
            }
        )
    return out


def contact_points(catalog: Catalog) -> list[dict[str, Any]]:
    """The director's contact point, and one per agency that has a supervisor with an e-mail or webhook."""
    director = catalog.centre.director
    d_emails = [director.email] if director and director.email else ["${IOC_DIRECTOR_EMAIL}"]
    d_hooks = [director.webhook] if director and director.webhook else []
    points = [{"orgId": 1, "name": DIRECTOR, "receivers": _receivers("ioc-cp-director", d_emails, d_hooks)}]
    for centre in commune_directors(catalog):
        assert centre.director is not None
        emails = [centre.director.email] if centre.director.email else []
        hooks = [centre.director.webhook] if centre.director.webhook else []
        points.append({"orgId": 1, "name": centre_contact_name(centre),
                       "receivers": _receivers(uid("ioc-cp-dir", centre.code), emails, hooks)})
    for agency in catalog.agencies:
        emails = [c.email for c in agency.supervisors if c.email]
        hooks = [c.webhook for c in agency.supervisors if c.webhook]
        if emails or hooks:
            points.append(
                {
                    "orgId": 1,
                    "name": contact_name(agency),
                    "receivers": _receivers(uid("ioc-cp", agency.code), emails, hooks),
                }
            )
    return points


def _silent_child() -> dict[str, Any]:
    return {"object_matchers": [[RULE_LABEL, "=", "agency_silent"]], "mute_time_intervals": [OFFICE_MUTE]}


def policies(catalog: Catalog, settings: AlertSettings = DEFAULTS) -> list[dict[str, Any]]:
    """The notification policy tree: one route per agency (label `agency`) to its supervisors (or, without
    any, its commune centre's director, else the provincial director); with `director_copy`, a copy per
    commune centre to its director and one of everything to the provincial centre's director.

    Provisioning a policy tree replaces the whole tree of the organisation: keep it all here.
    """
    with_contact = {p["name"] for p in contact_points(catalog)}
    communes = {c.code: c for c in commune_directors(catalog)}
    routes: list[dict[str, Any]] = []
    for agency in catalog.agencies:
        name = contact_name(agency)
        centre = communes.get(agency.centre or "")
        fallback = centre_contact_name(centre) if centre is not None else DIRECTOR
        routes.append(
            {
                "receiver": name if name in with_contact else fallback,
                "object_matchers": [["agency", "=", agency.code]],
                "continue": settings.director_copy,
                "routes": [_silent_child()],
            }
        )
    for centre in communes.values() if settings.director_copy else ():  # each commune's own director,
        codes = "|".join(re.escape(a.code) for a in catalog.agencies_of(centre.code))  # then the province's
        routes.append(
            {
                "receiver": centre_contact_name(centre),
                "object_matchers": [["agency", "=~", f"^({codes})$"]],
                "group_by": ["alertname"],
                "repeat_interval": "12h",
                "continue": True,
                "routes": [_silent_child()],
            }
        )
    if settings.director_copy:
        routes.append(
            {
                "receiver": DIRECTOR,
                "object_matchers": [["agency", "=~", ".+"]],
                "group_by": ["alertname"],
                "repeat_interval": "12h",
                "routes": [_silent_child()],
            }
        )
    return [
        {
            "orgId": 1,
            "receiver": DIRECTOR,
            "group_by": ["grafana_folder", "alertname", "agency"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes,
        }
    ]


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60


def muted_times_of_day(catalog: Catalog) -> list[tuple[str, str]]:
    """Times of day outside the catalog's office hours (the lunch break included), as Grafana "HH:MM"."""
    muted, cursor = [], 0
    for start, end in catalog.calendar.office_hours.periods:
        a, b = _seconds(start), _seconds(end)
        if a > cursor:
            muted.append((_hhmm(cursor), _hhmm(a)))
        cursor = max(cursor, b)
    if cursor < 24 * 3600:
        muted.append((_hhmm(cursor), "24:00"))
    return muted


def mute_timings(catalog: Catalog, settings: AlertSettings = DEFAULTS) -> list[dict[str, Any]]:
    """Outside office hours, every day: only so that a silent agency's alert, which resolves when the
    office closes (the rule no longer judges), does not send a "resolved" message at 11:30 and 17:00.

    Times of day only, no dates: it never expires. Holidays and weekends need no muting, the rule itself
    does not fire then (`office_open` is 0 all day).
    """
    tz = catalog.calendar.timezone
    times = [{"start_time": a, "end_time": b} for a, b in muted_times_of_day(catalog)]
    return [{"orgId": 1, "name": OFFICE_MUTE, "time_intervals": [{"times": times, "location": tz}]}]


def provisioning(catalog: Catalog, settings: AlertSettings = DEFAULTS) -> dict[str, Any]:
    """grafana/provisioning/alerting/alerting.yaml (Grafana alerting file provisioning, apiVersion 1)."""
    groups = [
        {
            "orgId": 1,
            "name": group,
            "folder": settings.folder,
            "interval": GROUP_INTERVALS[group],
            "rules": [file_rule(r) for r in group_rules],
        }
        for group, group_rules in api_rules(catalog, settings).items()
    ]
    return {
        "apiVersion": 1,
        "groups": groups,
        "contactPoints": contact_points(catalog),
        "policies": policies(catalog, settings),
        "muteTimes": mute_timings(catalog, settings),
    }
