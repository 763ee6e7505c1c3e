"""The `ioc` command: one typer app that mounts each adapter's sub-commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ioc",
    help="ioc-monitor: live monitoring of a public administrative service centre (Trung tâm PVHCC).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


# Each module of ioc/commands exposes `register(app: typer.Typer) -> None`; one line per command module.
COMMAND_MODULES = [
    "ioc.commands.up",  # up: the whole stack locally with a terminal wall
    "ioc.commands.worker",  # worker
    "ioc.commands.notify",  # notify
    "ioc.commands.produce",  # produce
    "ioc.commands.simulate",  # simulate
    "ioc.commands.data",  # schema, validate, replay
    "ioc.commands.grafana",  # grafana build (--check), push, preview
    "ioc.commands.dev",  # dev kafka, dev influx
    "ioc.commands.kafka_access",  # kafka-access acls|apply|set-password|revoke|env
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
