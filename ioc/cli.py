"""The `ioc` command: one typer app that mounts each adapter's sub-commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ioc",
    help="ioc-monitor: live monitoring of a public administrative service centre (Trung tâm PVHCC).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


# Each module exposes `register(app: typer.Typer) -> None`. Add a line when an adapter gains commands.
COMMAND_MODULES = [
    "ioc.domain_cli",  # schema, validate, replay
    "ioc.devstack.cli",  # dev kafka, dev influx
    "producers.cli",  # produce
    "producers.simulate_cli",  # simulate
    "streams.cli",  # worker
    "grafana.cli",  # grafana build (--check), push, preview
    "alerts.cli",  # notify
    "ioc.up",  # up: the whole stack locally with a terminal wall
]


def _mount() -> None:
    """Import sub-command modules only when the command runs, so `import ioc.cli` stays cheap."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


def main() -> None:
    _mount()
    app()


if __name__ == "__main__":
    main()
