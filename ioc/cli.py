"""The `ioc` command: one typer app that mounts the sub-commands of `ioc/commands/`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

app = typer.Typer(
    name="ioc",
    help="ioc-monitor: live monitoring of public administrative service centres (Trung tâm Phục vụ hành "
    "chính công): dossier events in Kafka, SLA clocks and KPIs in stream workers, the IOC wall in Grafana.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def package_version() -> str:
    """The installed distribution's version (a source tree that was never installed says so)."""
    try:
        return version("ioc-monitor")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ioc-monitor {package_version()}")
        raise typer.Exit()


@app.callback()
def root(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """ioc-monitor: live monitoring of public administrative service centres."""


# Each module of ioc/commands exposes `register(app: typer.Typer) -> None`; one line per command module.
COMMAND_MODULES = [
    "ioc.commands.up",  # up: the whole stack locally with a terminal wall
    "ioc.commands.worker",  # worker
    "ioc.commands.notify",  # notify
    "ioc.commands.produce",  # produce
    "ioc.commands.gateway",  # gateway (the HTTP gateway), gateway key
    "ioc.commands.simulate",  # simulate
    "ioc.commands.data",  # schema, validate, replay
    "ioc.commands.report",  # report ii06a
    "ioc.commands.grafana",  # grafana build (--check), push, preview
    "ioc.commands.dev",  # dev kafka, dev influx
    "ioc.commands.kafka_access",  # kafka-access acls|apply|set-password|revoke|env
    "ioc.commands.native",  # native build|clean|status
]


NATIVE_MODULE = "ioc.commands.native"
DEVELOPMENT_MODULES = frozenset({"ioc.commands.up", "ioc.commands.dev", NATIVE_MODULE})
"""Commands that need the local stack (Java, Kafka's jars, influxd) or a source tree with a C compiler:
not in the production image."""


def _mount(mending: bool = False) -> None:
    """Import sub-command modules only when the command runs, so `import ioc.cli` stays cheap.

    `IOC_DEV_COMMANDS=0` (set by the Docker image, which has no JVM, influxd or C compiler) leaves out
    `up`, `dev` and `native`, so the image lists only commands it can run. `mending`: only `ioc native`,
    which mends a compiled core; the others import the core, which may be what fails.
    """
    import importlib
    import os

    development = os.environ.get("IOC_DEV_COMMANDS", "1").strip().lower() not in {"0", "false", "no", "off"}
    for name in COMMAND_MODULES:
        if (development or name not in DEVELOPMENT_MODULES) and (not mending or name == NATIVE_MODULE):
            importlib.import_module(name).register(app)


def _refuse_a_stale_core() -> None:
    """A compiled core built from other sources than the tree's must not run (`ioc.native`)."""
    from ioc import native

    native.refuse_stale("ioc")


def main() -> None:
    import sys

    mending = sys.argv[1:2] == ["native"]
    if not mending:
        _refuse_a_stale_core()
    _mount(mending)
    app()


if __name__ == "__main__":
    main()
