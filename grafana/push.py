"""Upload the boards, data sources and alerting to a running Grafana over its HTTP API (grafana-client).

For a Grafana whose provisioning directory you cannot mount (a managed or shared instance). Every call
is an upsert keyed by our fixed UIDs/names, so pushing twice changes nothing the second time.
Resources created through the provisioning API are marked provisioned by Grafana and are read-only in
its UI: change them here, in code, and push again.
"""

# grafana-client is untyped:
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from dossiers.catalog import Catalog
from grafana import alert_rules as rules
from grafana import dashboards, datasources
from grafana.settings import BuildSettings

FOLDER_TITLE = "IOC"


@dataclass
class PushReport:
    """What was sent, for the CLI's summary and for tests."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def _missing(exc: GrafanaClientError) -> bool:
    return getattr(exc, "status_code", None) == 404


def _duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(text[:-1]) * units[text[-1]]


class Pusher:
    """Upserts, one resource kind at a time; `log` receives one line per resource."""

    def __init__(
        self,
        api: GrafanaApi,
        *,
        env: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.api = api
        self.env = env
        self.log = log
        self.report = PushReport()

    def _done(self, created: bool, what: str) -> None:
        (self.report.created if created else self.report.updated).append(what)
        self.log(("created " if created else "updated ") + what)

    def _upsert(self, what: str, get: Callable[[], object], create: Callable[[], object],
                update: Callable[[], object]) -> None:
        """Update the object when Grafana has it, create it when Grafana answers 'not found'."""
        try:
            get()
        except GrafanaClientError as exc:
            if not _missing(exc):
                raise
            create()
            self._done(True, what)
            return
        update()
        self._done(False, what)

    def folder(self, uid: str, title: str = FOLDER_TITLE) -> None:
        try:
            self.api.folder.get_folder(uid)
        except GrafanaClientError as exc:
            if not _missing(exc):
                raise
            self.api.folder.create_folder(title, uid=uid)
            self._done(True, f"folder {title} ({uid})")

    def datasources(self) -> None:
        """Data sources with ${VARS} expanded from `env` (Grafana does that for files, not for the API)."""
        for source in datasources.datasources():
            try:
                payload = datasources.expand(source, self.env)
            except KeyError as exc:
                raise SystemExit(
                    f"data source {source['uid']}: set the environment variable {exc.args[0]} "
                    "(or use --skip-datasources)"
                ) from None
            api, uid = self.api.datasource, payload["uid"]
            self._upsert(f"data source {uid}", partial(api.get_datasource_by_uid, uid),
                         partial(api.create_datasource, payload),
                         partial(api.update_datasource_by_uid, uid, payload))  # fmt: skip

    def dashboards(self, boards: Mapping[str, dict[str, Any]], folder_uid: str) -> None:
        for uid, board in boards.items():
            self.api.dashboard.update_dashboard(
                {
                    "dashboard": {**board, "id": None},
                    "folderUid": folder_uid,
                    "overwrite": True,
                    "message": "ioc grafana push",
                }
            )
            self._done(False, f"dashboard {uid}")

    def mute_timings(self, timings: list[dict[str, Any]]) -> None:
        ap = self.api.alertingprovisioning
        for timing in timings:
            payload = {k: v for k, v in timing.items() if k != "orgId"}
            name = payload["name"]
            self._upsert(f"mute timing {name}", partial(ap.get_mute_timing, name),
                         partial(ap.create_mute_timing, payload),
                         partial(ap.update_mute_timing, name, payload))  # fmt: skip

    def contact_points(self, points: list[dict[str, Any]]) -> None:
        ap = self.api.alertingprovisioning
        existing = {p.get("uid") for p in (ap.get_contactpoints() or [])}
        for point in points:
            for receiver in point["receivers"]:
                try:
                    payload = datasources.expand({"name": point["name"], **receiver}, self.env)
                except KeyError as exc:
                    raise SystemExit(f"contact point {point['name']}: set {exc.args[0]}") from None
                if payload["uid"] in existing:
                    ap.update_contactpoint(payload["uid"], payload)
                    self._done(False, f"contact point {point['name']} ({payload['type']})")
                else:
                    ap.create_contactpoint(payload)
                    self._done(True, f"contact point {point['name']} ({payload['type']})")

    def policies(self, tree: dict[str, Any]) -> None:
        self.api.alertingprovisioning.set_notification_policy_tree(
            {k: v for k, v in tree.items() if k != "orgId"}
        )
        self._done(False, "notification policy tree")

    def rules(self, groups: Mapping[str, list[dict[str, Any]]], folder_uid: str) -> None:
        ap = self.api.alertingprovisioning
        for group, group_rules in groups.items():
            for rule in group_rules:
                uid = rule["uid"]
                self._upsert(f"alert rule {uid}", partial(ap.get_alertrule, uid),
                             partial(ap.create_alertrule, rule),
                             partial(ap.update_alertrule, uid, rule))  # fmt: skip
            ap.update_rule_group(
                folder_uid,
                group,
                {
                    "title": group,
                    "folderUid": folder_uid,
                    "interval": _duration_seconds(rules.GROUP_INTERVALS[group]),
                    "rules": group_rules,
                },
            )
            self._done(False, f"rule group {group}")


def push(
    api: GrafanaApi,
    catalog: Catalog,
    settings: BuildSettings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    with_datasources: bool = True,
    with_dashboards: bool = True,
    with_alerting: bool = True,
    log: Callable[[str], None] = lambda _line: None,
) -> PushReport:
    """Folder, then data sources, dashboards, and alerting (mute timings and contact points before the
    policy tree that names them, and the tree before the rules that it routes)."""
    settings = settings or BuildSettings()
    pusher = Pusher(api, env=env, log=log)
    folder_uid = settings.alerts.folder_uid
    if with_dashboards or with_alerting:
        pusher.folder(folder_uid, settings.alerts.folder)
    if with_datasources:
        pusher.datasources()
    if with_dashboards:
        pusher.dashboards(dashboards.dashboards(catalog, settings.wall), folder_uid)
    if with_alerting:
        pusher.mute_timings(rules.mute_timings(catalog, settings.alerts))
        pusher.contact_points(rules.contact_points(catalog))
        pusher.policies(rules.policies(catalog, settings.alerts)[0])
        pusher.rules(rules.api_rules(catalog, settings.alerts), folder_uid)
    return pusher.report
