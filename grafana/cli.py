"""`ioc grafana build | check | push | preview`: the boards and alert rules, from the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from grafana.build import BuildSettings

grafana_app = typer.Typer(help="Grafana boards, data sources and alert rules as code.", no_args_is_help=True)

CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog", envvar="IOC_CATALOG", help="Catalog YAML (default: the shipped Quảng Ngãi sample)"
    ),
]


def default_root() -> Path:
    """The source checkout when run from one (the committed files), else the current directory."""
    checkout = Path(__file__).resolve().parents[1]
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


def _settings(
    due_soon_threshold: int, silent_minutes: int, min_resolved: int, centre_target: float
) -> BuildSettings:
    from alerts.rules import AlertSettings
    from grafana.build import BuildSettings
    from grafana.dashboards import WallSettings

    return BuildSettings(
        wall=WallSettings(centre_target=centre_target),
        alerts=AlertSettings(
            due_soon_threshold=due_soon_threshold, silent_minutes=silent_minutes, min_resolved=min_resolved
        ),
    )


DueSoon = Annotated[int, typer.Option(help="Alert above this many due-soon dossiers per agency")]
Silent = Annotated[int, typer.Option(help="Minutes without events (office hours) before an agency is silent")]
MinResolved = Annotated[int, typer.Option(help="Dossiers resolved this month before the on-time rule judges")]
CentreTarget = Annotated[float, typer.Option(help="Centre-wide on-time goal for the wall's rate tiles")]


@grafana_app.command()
def build(
    catalog: CatalogOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Root under which grafana/ and alerts/ provisioning go (default: the checkout)"),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if a file is out of date")
    ] = False,
    due_soon_threshold: DueSoon = 10,
    silent_minutes: Silent = 120,
    min_resolved: MinResolved = 20,
    centre_target: CentreTarget = 0.95,
) -> None:
    """Regenerate the dashboards, data sources and alerting provisioning files."""
    from dossiers.catalog import load_catalog
    from grafana.build import drift, render, write

    settings = _settings(due_soon_threshold, silent_minutes, min_resolved, centre_target)
    files = render(load_catalog(catalog), settings)
    out = out or default_root()
    if check:
        stale = drift(files, out)
        for rel in stale:
            typer.echo(f"out of date: {rel}")
        raise typer.Exit(1 if stale else 0)
    changed = write(files, out)
    typer.echo(f"{len(files)} files under {out}, {len(changed)} changed")
    for path in changed:
        typer.echo(f"  {path}")


@grafana_app.command()
def push(
    url: Annotated[
        str, typer.Option(envvar="GRAFANA_URL", help="Grafana base URL, e.g. http://grafana:3000")
    ],
    token: Annotated[str, typer.Option(envvar="GRAFANA_TOKEN", help="Service account token (Admin)")],
    catalog: CatalogOption = None,
    skip_datasources: Annotated[bool, typer.Option(help="Leave data sources alone")] = False,
    skip_dashboards: Annotated[bool, typer.Option(help="Leave dashboards alone")] = False,
    skip_alerting: Annotated[
        bool, typer.Option(help="Leave alert rules, contact points, policies alone")
    ] = False,
    due_soon_threshold: DueSoon = 10,
    silent_minutes: Silent = 120,
    min_resolved: MinResolved = 20,
    centre_target: CentreTarget = 0.95,
) -> None:
    """Upload dashboards (folder IOC), data sources and alerting through Grafana's HTTP API.

    Data source settings come from INFLUX_URL, INFLUX_DB, INFLUX_TOKEN, PROMETHEUS_URL, as in the
    provisioning files.
    """
    from grafana_client.api import GrafanaApi

    from dossiers.catalog import load_catalog
    from grafana.push import push as do_push

    settings = _settings(due_soon_threshold, silent_minutes, min_resolved, centre_target)
    api = GrafanaApi.from_url(url, credential=token)
    report = do_push(
        api,
        load_catalog(catalog),
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
    out: Annotated[Path | None, typer.Option(help="Directory for <uid>.png (default: docs/previews)")] = None,
) -> None:
    """Draw a PNG of each board's layout (titles, types, thresholds) for review without Grafana."""
    from dossiers.catalog import load_catalog
    from grafana.dashboards import dashboards
    from grafana.preview import write_previews

    target = out or default_root() / "docs" / "previews"
    for path in write_previews(dashboards(load_catalog(catalog)), target):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.add_typer(grafana_app, name="grafana")
