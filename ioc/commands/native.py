"""`ioc native build|clean|status`: the domain core compiled by mypyc, or run from source (`ioc.native`)."""

from __future__ import annotations

import subprocess
from typing import Annotated

import typer

from ioc import native

native_app = typer.Typer(
    name="native",
    help="The domain core compiled to C by mypyc (same source, faster), or run from source.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Mount `native` on the `ioc` app (called by ioc.cli)."""
    app.add_typer(native_app, name="native")


@native_app.command("build")
def build(
    force: Annotated[bool, typer.Option("--force", help="Compile even when up to date.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show the compilers' output.")] = False,
) -> None:
    """Compile the core's modules (about 40 s; nothing to do when their sources have not changed)."""
    try:
        compiled = native.build(force=force, quiet=not verbose)
    except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
        detail = getattr(exc, "stderr", None) or ""
        typer.echo(f"ioc native build failed: {exc}\n{detail[-4000:]}", err=True)
        typer.echo("the tree is left as it was: `ioc native status` says what runs, `ioc native clean` runs "
                   "the core from source", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{'compiled' if compiled else 'up to date'}: {len(native.MODULES)} modules of the core "
               f"({', '.join(native.MODULES)})")


@native_app.command("clean")
def clean() -> None:
    """Remove the compiled modules: the core runs from source."""
    removed = native.clean()
    typer.echo(f"removed {len(removed)} compiled modules: the core runs from source")


@native_app.command("status")
def status() -> None:
    """Say whether the core runs compiled, from source, or would refuse to run (stale)."""
    found = native.status()
    typer.echo(found.state)
    if found.stale:
        typer.echo(f"stale: {', '.join(found.stale)} (run `ioc native build` or `ioc native clean`)",
                   err=True)
        raise typer.Exit(1)
