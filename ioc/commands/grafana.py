"""`ioc grafana build [--check] | push | preview`: the boards and alert rules, generated from the catalog.

Thin: options in, `grafana.build` / `grafana.push` / `grafana.preview` called, paths and counts out. The
services need the grafana extra (grafana-foundation-sdk, grafana-client, pillow); without it each command
says how to install it and exits 2 instead of showing a traceback.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from grafana.settings import AlertSettings, BuildSettings, WallSettings
from ioc.options import CatalogOption, load_catalog_or_exit

grafana_app = typer.Typer(help="Grafana boards, data sources and alert rules as code.", no_args_is_help=True)

EXTRA_HINT = "needs the grafana extra: pip install 'ioc-monitor[grafana]'"
RULES_PANEL = "Alert rules and wall"

_ALERTS, _WALL = AlertSettings(), WallSettings()
DueSoon = Annotated[int | None, typer.Option(
    help=f"Alert above this many due-soon dossiers per agency. Default: {_ALERTS.due_soon_threshold}.",
    show_default=False, rich_help_panel=RULES_PANEL)]
Silent = Annotated[int | None, typer.Option(
    help=f"Minutes without events, office open, before an agency is silent. "
    f"Default: {_ALERTS.silent_minutes}.",
    show_default=False, rich_help_panel=RULES_PANEL)]
MinResolved = Annotated[int | None, typer.Option(
    help=f"Dossiers resolved this month before the on-time rule judges. Default: {_ALERTS.min_resolved}.",
    show_default=False, rich_help_panel=RULES_PANEL)]
CentreTarget = Annotated[float | None, typer.Option(
    help=f"Centre-wide on-time goal for the wall's rate tiles. Default: {_WALL.centre_target}.",
    show_default=False, rich_help_panel=RULES_PANEL)]


def require(*modules: str) -> None:
    """Import the optional modules a command needs, or say which extra installs them and exit 2."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            typer.echo(f"ioc grafana: {EXTRA_HINT} (missing module {exc.name or name})", err=True)
            raise typer.Exit(2) from None


def default_root() -> Path:
    """The source checkout when run from one (the committed files), else the current directory."""
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


def build_settings(
    due_soon_threshold: int | None, silent_minutes: int | None, min_resolved: int | None,
    centre_target: float | None,
) -> BuildSettings:
    """The defaults of grafana/settings.py, with only the options given on the command line replaced."""
    alerts, wall = _ALERTS, _WALL
    if due_soon_threshold is not None:
        alerts = replace(alerts, due_soon_threshold=due_soon_threshold)
    if silent_minutes is not None:
        alerts = replace(alerts, silent_minutes=silent_minutes)
    if min_resolved is not None:
        alerts = replace(alerts, min_resolved=min_resolved)
    if centre_target is not None:
        wall = replace(wall, centre_target=centre_target)
    return BuildSettings(wall=wall, alerts=alerts)


@grafana_app.command()
def build(
    catalog: CatalogOption = None,
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", show_default=False,
        help="Root under which grafana/provisioning/ is written. Default: the source checkout.")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 if a committed file is out of date (CI).")] = False,
    due_soon_threshold: DueSoon = None,
    silent_minutes: Silent = None,
    min_resolved: MinResolved = None,
    centre_target: CentreTarget = None,
) -> None:
    """Regenerate the dashboards, data sources and alerting provisioning files."""
    require("grafana_foundation_sdk")
    from grafana.build import drift, render, write

    settings = build_settings(due_soon_threshold, silent_minutes, min_resolved, centre_target)
    files = render(load_catalog_or_exit(catalog), settings)
    root = out or default_root()
    if check:
        stale = drift(files, root)
        for rel in stale:
            typer.echo(f"out of date: {rel}")
        raise typer.Exit(1 if stale else 0)
    changed = write(files, root)
    typer.echo(f"{len(files)} files under {root}, {len(changed)} changed")
    for path in changed:
        typer.echo(f"  {path}")


@grafana_app.command()
def push(
    url: Annotated[str, typer.Option(envvar="GRAFANA_URL", help="Grafana base URL, e.g. http://grafana:3000.")],
    token: Annotated[str, typer.Option(envvar="GRAFANA_TOKEN", show_default=False,
                                       help="Service account token (Admin role).")],
    catalog: CatalogOption = None,
    skip_datasources: Annotated[bool, typer.Option(help="Leave data sources alone.")] = False,
    skip_dashboards: Annotated[bool, typer.Option(help="Leave dashboards alone.")] = False,
    skip_alerting: Annotated[bool, typer.Option(
        help="Leave alert rules, contact points, policies alone.")] = False,
    due_soon_threshold: DueSoon = None,
    silent_minutes: Silent = None,
    min_resolved: MinResolved = None,
    centre_target: CentreTarget = None,
) -> None:
    """Upload dashboards (folder IOC), data sources and alerting through Grafana's HTTP API.

    Data source settings come from INFLUX_URL, INFLUX_DB, INFLUX_TOKEN, PROMETHEUS_URL, as in the
    provisioning files.
    """
    require("grafana_foundation_sdk", "grafana_client")
    from grafana_client.api import GrafanaApi

    from grafana.push import push as do_push

    settings = build_settings(due_soon_threshold, silent_minutes, min_resolved, centre_target)
    api = GrafanaApi.from_url(url, credential=token)
    report = do_push(
        api,
        load_catalog_or_exit(catalog),
        settings,
        with_datasources=not skip_datasources,
        with_dashboards=not skip_dashboards,
        with_alerting=not skip_alerting,
        log=typer.echo,
    )
    typer.echo(f"{len(report.created)} created, {len(report.updated)} updated")


@grafana_app.command()
def preview(
    catalog: CatalogOption = None,
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", show_default=False, help="Directory for <uid>.png. Default: docs/previews.")] = None,
) -> None:
    """Draw a PNG of each board's layout (titles, types, thresholds) for review without Grafana."""
    require("grafana_foundation_sdk", "PIL")
    from grafana.dashboards import dashboards
    from grafana.preview import write_previews

    target = out or default_root() / "docs" / "previews"
    for path in write_previews(dashboards(load_catalog_or_exit(catalog)), target):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.add_typer(grafana_app, name="grafana")

