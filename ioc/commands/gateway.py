"""`ioc gateway`: the HTTP gateway (producers/gateway/), and `ioc gateway key` to make an API key."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from ioc.options import CatalogOption, load_catalog_or_exit
from producers.gateway.keys import KeyFileError, hash_key, new_key
from producers.gateway.service import serve
from producers.gateway.settings import GatewaySettings

gateway_app = typer.Typer(help="The HTTP gateway for agency systems (docs/gateway.md).",
                          invoke_without_command=True, no_args_is_help=False)


@gateway_app.callback()
def run(
    ctx: typer.Context,
    catalog: CatalogOption = None,
    port: Annotated[int | None, typer.Option("--port", envvar="IOC_GATEWAY_PORT", show_default=False,
                                             help="Port (default 8088).")] = None,
    keys: Annotated[Path | None, typer.Option("--keys", envvar="IOC_GATEWAY_KEYS", show_default=False,
                                              help="API keys file (default gateway-keys.txt).")] = None,
) -> None:
    """Serve POST /v1/events and POST /v1/dvcqg/dossiers in front of the producer SDK."""
    if ctx.invoked_subcommand is not None:
        return
    overrides: dict[str, object] = {}
    if port is not None:
        overrides["gateway_port"] = port
    if keys is not None:
        overrides["gateway_keys"] = keys
    try:
        settings = GatewaySettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        typer.echo(f"invalid gateway settings: {exc}", err=True)
        raise typer.Exit(2) from exc
    loaded = load_catalog_or_exit(catalog or settings.catalog)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(settings, loaded))
    except (KeyFileError, ValueError, OSError) as exc:
        typer.echo(f"ioc gateway: {exc}", err=True)
        raise typer.Exit(2) from exc


@gateway_app.command("key")
def key(agency: Annotated[str, typer.Argument(help="The agency code the key posts for.")]) -> None:
    """Make a new API key: print the key once (give it to the agency) and the line for the keys file."""
    value = new_key()
    typer.echo(f"key (give it to {agency}, it is not stored): {value}")
    typer.echo(f"keys file line: {agency} {hash_key(value)}")


def register(app: typer.Typer) -> None:
    app.add_typer(gateway_app, name="gateway")
