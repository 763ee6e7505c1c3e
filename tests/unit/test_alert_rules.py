"""grafana/provisioning/alerting/alerting.yaml: Grafana's file-provisioning structure (a JSON schema of the
subset we use) and its cross references: data source UIDs, condition and expression refIds, contact
points named by policies, one route per agency, the mute timing, per-agency targets from the catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dossiers.catalog import Catalog, load_catalog
from grafana import alert_rules as rules
from grafana import build, datasources, queries

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = load_catalog()
COMMITTED = yaml.safe_load((ROOT / build.ALERTING_FILE).read_text(encoding="utf-8"))

DURATION = {"type": "string", "pattern": r"^([0-9]+(ms|s|m|h|d|w))+$"}
UID = {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,40}$"}
MATCHER = {
    "type": "array",
    "prefixItems": [{"type": "string"}, {"enum": ["=", "!=", "=~", "!~"]}, {"type": "string"}],
    "minItems": 3,
    "maxItems": 3,
}
ROUTE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "receiver": {"type": "string"},
        "group_by": {"type": "array", "items": {"type": "string"}},
        "object_matchers": {"type": "array", "items": MATCHER},
        "continue": {"type": "boolean"},
        "group_wait": DURATION,
        "group_interval": DURATION,
        "repeat_interval": DURATION,
        "mute_time_intervals": {"type": "array", "items": {"type": "string"}},
        "routes": {"type": "array", "items": {"$ref": "#/$defs/route"}},
    },
    "additionalProperties": False,
}
TIME_INTERVAL = {
    "type": "object",
    "properties": {
        "times": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start_time", "end_time"],
                "additionalProperties": False,
                "properties": {
                    "start_time": {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"},
                    "end_time": {"type": "string", "pattern": r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"},
                },
            },
        },
        "weekdays": {
            "type": "array",
            "items": {"enum": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]},
        },
        "days_of_month": {
            "type": "array",
            "items": {"type": "string", "pattern": r"^-?[0-9]{1,2}(:-?[0-9]{1,2})?$"},
        },
        "months": {"type": "array", "items": {"type": "string", "pattern": r"^([1-9]|1[0-2])$"}},
        "years": {"type": "array", "items": {"type": "string", "pattern": r"^[0-9]{4}$"}},
        "location": {"type": "string"},
    },
    "additionalProperties": False,
}
QUERY = {
    "type": "object",
    "required": ["refId", "datasourceUid", "relativeTimeRange", "model"],
    "properties": {
        "refId": {"type": "string", "pattern": "^[A-Z]$"},
        "datasourceUid": {"type": "string"},
        "relativeTimeRange": {
            "type": "object",
            "required": ["from", "to"],
            "additionalProperties": False,
            "properties": {
                "from": {"type": "integer", "minimum": 0},
                "to": {"type": "integer", "minimum": 0},
            },
        },
        "model": {"type": "object", "required": ["refId"]},
    },
    "additionalProperties": False,
}
RULE = {
    "type": "object",
    "required": [
        "uid",
        "title",
        "condition",
        "data",
        "for",
        "noDataState",
        "execErrState",
        "labels",
        "annotations",
    ],
    "properties": {
        "uid": UID,
        "title": {"type": "string", "minLength": 1, "maxLength": 190},
        "condition": {"type": "string"},
        "data": {"type": "array", "minItems": 1, "items": QUERY},
        "for": DURATION,
        "noDataState": {"enum": ["Alerting", "NoData", "OK"]},
        "execErrState": {"enum": ["Alerting", "Error", "OK"]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "isPaused": {"type": "boolean"},
    },
    "additionalProperties": False,
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {"route": ROUTE},
    "type": "object",
    "required": ["apiVersion", "groups", "contactPoints", "policies"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": 1},
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["orgId", "name", "folder", "interval", "rules"],
                "additionalProperties": False,
                "properties": {
                    "orgId": {"type": "integer"},
                    "name": {"type": "string"},
                    "folder": {"type": "string"},
                    "interval": DURATION,
                    "rules": {"type": "array", "items": RULE},
                },
            },
        },
        "contactPoints": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["orgId", "name", "receivers"],
                "additionalProperties": False,
                "properties": {
                    "orgId": {"type": "integer"},
                    "name": {"type": "string"},
                    "receivers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["uid", "type", "settings"],
                            "additionalProperties": False,
                            "properties": {
                                "uid": UID,
                                "type": {"enum": ["email", "webhook"]},
                                "settings": {"type": "object"},
                                "disableResolveMessage": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        },
        "policies": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                **ROUTE,
                "required": ["orgId", "receiver"],
                "properties": {**ROUTE["properties"], "orgId": {"type": "integer"}},
            },
        },
        "muteTimes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["orgId", "name", "time_intervals"],
                "additionalProperties": False,
                "properties": {
                    "orgId": {"type": "integer"},
                    "name": {"type": "string"},
                    "time_intervals": {"type": "array", "items": TIME_INTERVAL},
                },
            },
        },
    },
}


def all_rules(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in data["groups"] for rule in group["rules"]]


def small_catalog() -> Catalog:
    procedure = [{"code": "1.000001", "name": "Thủ tục", "field": "Lĩnh vực", "processing": 5}]
    return Catalog.model_validate(
        {
            "centre": {"name": "Trung tâm thử"},  # no director: the contact point asks the environment
            "calendar": {
                "office_hours": {"periods": [["07:30", "11:30"], ["13:00", "17:00"]]},
                "extra_days_off": ["2026-10-09"],
            },
            "agencies": [
                {
                    "code": "A1",
                    "name": "Sở Một",
                    "target_on_time": 0.97,
                    "supervisors": [
                        {"name": "x", "email": "a1@example.org"},
                        {"name": "y", "email": "b1@example.org"},
                    ],
                    "procedures": procedure,
                },
                {"code": "NO_CONTACT", "name": "Sở Hai", "target_on_time": 0.85, "procedures": procedure},
            ],
        }
    )


def small_province() -> Catalog:
    """The provincial centre (its director) and two commune centres: X1 with a director, X2 without."""
    procedure = [{"code": "1.000001", "name": "Thủ tục", "field": "Lĩnh vực", "processing": 1}]
    return Catalog.model_validate({
        "province": {"code": "51", "name": "Tỉnh thử"},
        "centres": [
            {"code": "TT", "name": "Trung tâm tỉnh", "director": {"name": "GĐ", "email": "tt@example.org"},
             "agencies": [{"code": "STP", "name": "Sở Tư pháp", "procedures": procedure,
                           "supervisors": [{"name": "x", "email": "stp@example.org"}]}]},
            {"code": "X1", "name": "Trung tâm xã Một", "level": "commune",
             "director": {"name": "GĐ xã", "email": "x1@example.org", "webhook": "https://hook.example.org/x1"},
             "agencies": [{"code": "X1_TP", "name": "Tư pháp xã Một", "procedures": procedure},
                          {"code": "X1_DD", "name": "Đất đai xã Một", "procedures": procedure,
                           "supervisors": [{"name": "y", "email": "dd@example.org"}]}]},
            {"code": "X2", "name": "Trung tâm xã Hai", "level": "commune",
             "agencies": [{"code": "X2_TP", "name": "Tư pháp xã Hai", "procedures": procedure}]},
        ],
    })


@pytest.fixture(params=["committed", "small", "province"])
def alerting(request: pytest.FixtureRequest) -> tuple[Catalog, dict[str, Any]]:
    if request.param == "committed":
        return SAMPLE, COMMITTED
    catalog = small_catalog() if request.param == "small" else small_province()
    return catalog, yaml.safe_load(build.dump_yaml(rules.provisioning(catalog), what="t", source="t"))


def test_a_province_routes_commune_alerts_to_the_commune_director_and_copies_the_province() -> None:
    data = rules.provisioning(small_province())
    points = {p["name"]: p for p in data["contactPoints"]}
    x1 = points["ioc-director-X1"]["receivers"]
    assert [r["type"] for r in x1] == ["email", "webhook"]
    assert x1[0]["settings"]["addresses"] == "x1@example.org"
    assert "ioc-director-X2" not in points  # no director: its alerts fall to the province's
    routes = data["policies"][0]["routes"]
    receiver = {r["object_matchers"][0][2]: r["receiver"] for r in routes
                if r["object_matchers"][0][1] == "="}
    assert receiver == {"STP": "ioc-agency-STP", "X1_TP": "ioc-director-X1", "X1_DD": "ioc-agency-X1_DD",
                        "X2_TP": rules.DIRECTOR}
    copies = [(r["receiver"], r["object_matchers"][0][2], r.get("continue", False)) for r in routes
              if r["object_matchers"][0][1] == "=~"]
    assert copies == [("ioc-director-X1", "^(X1_TP|X1_DD)$", True), (rules.DIRECTOR, ".+", False)]
    quiet = rules.AlertSettings(director_copy=False)
    alone = rules.provisioning(small_province(), quiet)["policies"][0]["routes"]
    assert all(r["object_matchers"][0][1] == "=" and r["continue"] is False for r in alone)


def test_valid_against_the_schema(alerting: tuple[Catalog, dict[str, Any]]) -> None:
    jsonschema.validate(alerting[1], SCHEMA, cls=jsonschema.Draft202012Validator)


def test_schema_rejects_what_grafana_rejects() -> None:
    broken = yaml.safe_load(yaml.safe_dump(COMMITTED))
    broken["groups"][0]["rules"][0]["for"] = "five minutes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft202012Validator)
    broken = yaml.safe_load(yaml.safe_dump(COMMITTED))
    broken["policies"][0]["routes"][0]["object_matchers"] = [{"Name": "agency", "Type": "=", "Value": "STP"}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_rule_uids_unique_and_datasources_provisioned(alerting: tuple[Catalog, dict[str, Any]]) -> None:
    data = alerting[1]
    uids = [r["uid"] for r in all_rules(data)]
    assert len(uids) == len(set(uids))
    known = {d["uid"] for d in datasources.datasources()} | {rules.EXPR_UID}
    for rule in all_rules(data):
        for query in rule["data"]:
            assert query["datasourceUid"] in known, rule["uid"]
            assert query["model"]["refId"] == query["refId"]
            if query["datasourceUid"] != rules.EXPR_UID:
                assert query["relativeTimeRange"]["from"] > 0, rule["uid"]


def test_condition_and_expression_references_exist(alerting: tuple[Catalog, dict[str, Any]]) -> None:
    for rule in all_rules(alerting[1]):
        refs = [q["refId"] for q in rule["data"]]
        assert len(refs) == len(set(refs)) and rule["condition"] in refs, rule["uid"]
        for i, query in enumerate(rule["data"]):
            model = query["model"]
            if query["datasourceUid"] != rules.EXPR_UID:
                continue
            named = (
                [model["expression"]]
                if model["type"] in ("reduce", "threshold")
                else re.findall(r"\$([A-Z])", model["expression"])
            )
            assert named and all(n in refs[:i] for n in named), (rule["uid"], model)


def test_labels_survive_grafana_env_interpolation(alerting: tuple[Catalog, dict[str, Any]]) -> None:
    """Grafana expands $VARS in rule labels (not in annotations or query models): keep `$` out of labels."""
    for rule in all_rules(alerting[1]):
        assert all("$" not in k + v for k, v in rule["labels"].items()), rule["uid"]


def test_policies_route_each_agency_to_a_contact_point(alerting: tuple[Catalog, dict[str, Any]]) -> None:
    catalog, data = alerting
    names = {p["name"] for p in data["contactPoints"]}
    mutes = {m["name"] for m in data["muteTimes"]}

    def walk(route: dict[str, Any]) -> None:
        if "receiver" in route:
            assert route["receiver"] in names
        for mute in route.get("mute_time_intervals", []):
            assert mute in mutes
        for child in route.get("routes", []):
            walk(child)

    root = data["policies"][0]
    assert root["receiver"] == rules.DIRECTOR
    walk(root)
    per_agency = [r for r in root["routes"] if r["object_matchers"][0][:2] == ["agency", "="]]
    assert sorted(r["object_matchers"][0][2] for r in per_agency) == sorted(a.code for a in catalog.agencies)
    for route in per_agency:
        silent = route["routes"][0]
        assert silent["object_matchers"] == [[rules.RULE_LABEL, "=", "agency_silent"]]
        assert silent["mute_time_intervals"] == [rules.OFFICE_MUTE]


def test_contact_points_come_from_the_catalog(alerting: tuple[Catalog, dict[str, Any]]) -> None:
    catalog, data = alerting
    points = {p["name"]: p for p in data["contactPoints"]}
    director = points[rules.DIRECTOR]["receivers"][0]["settings"]["addresses"]
    expected_director = catalog.centre.director.email if catalog.centre.director else None
    assert director == (expected_director or "${IOC_DIRECTOR_EMAIL}")
    for agency in catalog.agencies:
        emails = [c.email for c in agency.supervisors if c.email]
        hooks = [c.webhook for c in agency.supervisors if c.webhook]
        name = rules.contact_name(agency)
        if not emails and not hooks:
            assert name not in points
            continue
        receivers = points[name]["receivers"]
        if emails:
            assert receivers[0]["type"] == "email" and receivers[0]["settings"]["addresses"] == ";".join(
                emails
            )
        assert [r["settings"]["url"] for r in receivers if r["type"] == "webhook"] == hooks


def test_on_time_rule_per_agency_uses_its_own_target(alerting: tuple[Catalog, dict[str, Any]]) -> None:
    catalog, data = alerting
    by_uid = {r["uid"]: r for r in all_rules(data)}
    for agency in catalog.agencies:
        rule = by_uid[rules.uid("ioc-ontime", agency.code)]
        assert rule["labels"]["agency"] == agency.code
        math = next(q["model"] for q in rule["data"] if q["model"].get("type") == "math")
        assert math["expression"] == f"$C < {agency.target_on_time:g} && $D >= 20"
        assert rule["data"][0]["model"]["query"] == queries.month_rate_for_alert(agency.code)
        silent = by_uid[rules.uid("ioc-silent", agency.code)]
        assert silent["noDataState"] == "OK" and silent["labels"]["ioc_rule"] == "agency_silent"
        assert silent["data"][0]["relativeTimeRange"]["from"] == 30 * 86400
        assert silent["data"][0]["model"]["query"] == queries.agency_recent_events(agency.code, 120)
        assert silent["data"][1]["model"]["query"] == queries.office_open_throughout()
        assert silent["data"][1]["relativeTimeRange"]["from"] == 120 * 60
        assert silent["condition"] == "C"
        assert silent["data"][-1]["model"]["expression"] == "$B < 0.5 && $P >= 1"
        sync = by_uid[rules.uid("ioc-sync", agency.code)]
        assert sync["labels"]["agency"] == agency.code and sync["labels"]["ioc_rule"] == "sync"
        assert sync["data"][0]["model"]["query"] == queries.sync_share_for_alert(agency.code)
        assert sync["data"][1]["model"]["query"] == queries.sync_received_for_alert(agency.code)
        assert sync["data"][2]["relativeTimeRange"]["from"] == 30 * 60
        assert sync["data"][-1]["model"]["expression"] == "$C < 0.9 && $D >= 10 && $P >= 1"


def test_sample_rule_set() -> None:
    uids = {r["uid"] for r in all_rules(COMMITTED)}
    assert {
        "ioc-overdue-new",
        "ioc-due-soon",
        "ioc-pipeline-dead-letters",
        "ioc-pipeline-consumer-lag",
        "ioc-pipeline-sink-errors",
        "ioc-ontime-CNVPDKDD_TP",
        "ioc-silent-STP",
        "ioc-sync-STP",
    } <= uids
    assert len(uids) == 2 + 3 + 3 * len(SAMPLE.agencies)
    land = next(r for r in all_rules(COMMITTED) if r["uid"] == "ioc-ontime-CNVPDKDD_TP")
    assert "$C < 0.8 " in land["data"][-1]["model"]["expression"]
    assert {g["name"]: g["interval"] for g in COMMITTED["groups"]} == rules.GROUP_INTERVALS


def test_pipeline_rules_read_prometheus_and_go_to_the_director() -> None:
    for rule in all_rules(COMMITTED):
        if rule["labels"].get("ioc_rule") == "pipeline":
            assert rule["data"][0]["datasourceUid"] == "ioc-prometheus"
            assert "agency" not in rule["labels"]
            assert re.search(r"ioc_(dead_letters|consumer_lag|sink_errors)", rule["data"][0]["model"]["expr"])


def test_mute_timing_is_times_of_day_only_so_it_never_expires() -> None:
    """Holidays are the rule's business at run time (`office_open`); the mute only keeps the "resolved"
    message of a silent agency quiet when the office closes, and lists no date that could run out."""
    [timing] = COMMITTED["muteTimes"]
    [interval] = timing["time_intervals"]
    assert interval == {
        "times": [
            {"start_time": "00:00", "end_time": "07:00"},
            {"start_time": "11:30", "end_time": "13:30"},
            {"start_time": "17:00", "end_time": "24:00"},
        ],
        "location": "Asia/Ho_Chi_Minh",
    }
    assert not re.search(r"\b20[0-9]{2}\b", json.dumps(COMMITTED["muteTimes"]))


def test_muted_times_follow_the_catalog_office_hours() -> None:
    assert rules.muted_times_of_day(small_catalog()) == [
        ("00:00", "07:30"),
        ("11:30", "13:00"),
        ("17:00", "24:00"),
    ]


def test_uid_helper_keeps_grafana_limits() -> None:
    assert rules.uid("ioc-ontime", "STP") == "ioc-ontime-STP"
    long = rules.uid("ioc-ontime", "X" * 60)
    assert len(long) <= 40 and re.fullmatch(r"[A-Za-z0-9_-]+", long)
    assert rules.uid("ioc-ontime", "Sở Tư pháp") != rules.uid("ioc-ontime", "Sở Y tế")


def test_settings_change_thresholds() -> None:
    settings = rules.AlertSettings(due_soon_threshold=3, silent_minutes=30, min_resolved=5)
    data = rules.provisioning(SAMPLE, settings)
    by_uid = {r["uid"]: r for r in all_rules(data)}
    due = by_uid["ioc-due-soon"]["data"][-1]["model"]["conditions"][0]["evaluator"]
    assert due == {"params": [3], "type": "gt"}
    assert "moving_average(count(\"n\"), 30)" in by_uid["ioc-silent-STP"]["data"][0]["model"]["query"]
    assert by_uid["ioc-ontime-STP"]["data"][-1]["model"]["expression"].endswith(">= 5")
    assert by_uid["ioc-silent-STP"]["data"][1]["relativeTimeRange"]["from"] == 1800
