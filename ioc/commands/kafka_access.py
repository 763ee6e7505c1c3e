"""`ioc kafka-access ...`: Kafka users and ACLs of ioc-monitor (the compose `kafka-acls` job, operators).

Thin: options in, `kafka_access` calls, lines out. The admin logs in like every other client
(`--bootstrap`, `--security-protocol`, `--kafka-username admin`, `IOC_KAFKA_PASSWORD`); the topic names
and the worker's and the notifier's group names come from `KafkaAccessSettings` (the services' variables).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from ioc.options import (
    BootstrapOption,
    CatalogOption,
    KafkaPasswordOption,
    KafkaUsernameOption,
    SaslMechanismOption,
    SecurityProtocolOption,
    kafka_settings,
    load_catalog_or_exit,
)
from kafka_access.acl import ADMIN_USER, AclRule, acl_table, check_user
from kafka_settings import KafkaSettings, SaslMechanism, SecurityProtocol

app = typer.Typer(
    name="kafka-access",
    help="Kafka users (SASL/SCRAM) and ACLs: who may read and write which topic. Runs as the admin user.",
    no_args_is_help=True,
)

RULES_PANEL = "ACL set"

AgencyOption = Annotated[
    list[str] | None,
    typer.Option("--agency", metavar="CODE", show_default=False, rich_help_panel=RULES_PANEL,
                 help="Agency code (repeat); replaces the catalog's agencies."),
]
ProducerOption = Annotated[
    list[str] | None,
    typer.Option("--producer", metavar="USER", show_default=False, rich_help_panel=RULES_PANEL,
                 help="A producer user without an agency, e.g. ioc-simulator for the demo (repeat)."),
]
WaitOption = Annotated[
    float,
    typer.Option("--wait", metavar="SECONDS", help="How long to wait for a starting broker."),
]


def register(root: typer.Typer) -> None:
    """Mount `kafka-access` on the `ioc` app (called by ioc.cli)."""
    root.add_typer(app, name="kafka-access")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _agency_codes(catalog: Path | None, agencies: list[str] | None) -> list[str]:
    if agencies:
        return list(dict.fromkeys(agencies))
    return [agency.code for agency in load_catalog_or_exit(catalog).agencies]


def _env_secret(variable: str) -> str:
    """A password from the variable named on the command line (compose passes several, one per user)."""
    value = os.environ.get(variable, "")
    if not value:
        raise _fail(f"environment variable {variable} is empty or unset")
    return value


def _read_secret(path: Path) -> str:
    value = path.read_text(encoding="utf-8").rstrip("\r\n")
    if not value:
        raise _fail(f"empty secret file {path}")
    return value


def _admin(settings: KafkaSettings, wait: float) -> Any:
    from kafka_access.admin import AccessError, connect

    try:
        return connect(settings, wait=wait)
    except AccessError as exc:
        raise _fail(str(exc)) from exc


def _user(name: str, param: str) -> str:
    try:
        return check_user(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=param) from exc


def _rule_line(sign: str, rule: AclRule) -> str:
    resource = f"{rule.resource_type} {rule.resource_name} ({rule.pattern})"
    return f"  {sign} {rule.principal} {rule.operation} {resource}"


@app.command("acls")
def acls(
    catalog: CatalogOption = None,
    agency: AgencyOption = None,
    producer: ProducerOption = None,
) -> None:
    """Print the ACL set for the catalog's agencies as a Markdown table (topic names from IOC_*)."""
    from kafka_access.acl import acl_rules
    from kafka_access.settings import KafkaAccessSettings

    topology = KafkaAccessSettings().topology()
    rules = acl_rules(_agency_codes(catalog, agency), topology, producers=producer or [])
    typer.echo(acl_table(rules), nl=False)


@app.command("apply")
def apply(
    catalog: CatalogOption = None,
    agency: AgencyOption = None,
    producer: ProducerOption = None,
    password_env: Annotated[
        list[str] | None,
        typer.Option("--password-env", metavar="USER=VARIABLE", show_default=False,
                     help="Set USER's SCRAM password from an environment variable (repeat)."),
    ] = None,
    secrets_dir: Annotated[
        Path | None,
        typer.Option("--secrets-dir", metavar="DIR", show_default=False,
                     help="Also set passwords from files in DIR, one per user, named by the user."),
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete the ACLs of agency users no longer in the catalog.")
    ] = False,
    bootstrap: BootstrapOption = "127.0.0.1:9092",
    security_protocol: SecurityProtocolOption = SecurityProtocol.SASL_PLAINTEXT,
    sasl_mechanism: SaslMechanismOption = SaslMechanism.SCRAM_SHA_256,
    kafka_username: KafkaUsernameOption = ADMIN_USER,
    kafka_password: KafkaPasswordOption = None,
    wait: WaitOption = 120.0,
) -> None:
    """Apply the ACL set and set the service users' passwords. Idempotent: a second run changes nothing."""
    from kafka_access.admin import AccessError, password_works, provision
    from kafka_access.settings import KafkaAccessSettings

    login = kafka_settings(bootstrap, security_protocol, sasl_mechanism, kafka_username, kafka_password)
    codes = _agency_codes(catalog, agency)
    topology = KafkaAccessSettings().topology()
    producers = list(producer or [])
    passwords: dict[str, str] = {}
    if secrets_dir is not None:
        from kafka_access.acl import agency_user

        wanted = {topology.worker_user, topology.notifier_user, *producers, *(agency_user(c) for c in codes)}
        for user in sorted(wanted):
            if (secrets_dir / user).is_file():
                passwords[user] = _read_secret(secrets_dir / user)
    for item in password_env or []:
        user, sep, variable = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: expected USER=VARIABLE", param_hint="--password-env")
        passwords[_user(user, "--password-env")] = _env_secret(variable)

    admin = _admin(login, wait)
    try:
        done = provision(
            admin, codes, passwords, topology, producers=producers, prune=prune,
            logs_in=lambda user, password: password_works(login, user, password),
        )
    except AccessError as exc:
        raise _fail(str(exc)) from exc
    finally:
        admin.close()
    users = {rule.user for rule in done.rules}
    typer.echo(f"{len(done.rules)} ACL(s) for {len(users)} user(s) on {bootstrap}: {len(done.added)} added, "
               f"{len(done.removed)} removed")
    for rule in done.added:
        typer.echo(_rule_line("+", rule))
    for rule in done.removed:
        typer.echo(_rule_line("-", rule))
    typer.echo(f"SCRAM passwords set: {', '.join(done.credentials_set) or 'none'}; "
               f"already current: {', '.join(done.credentials_kept) or 'none'}")
    typer.echo("changed" if done.changed else "nothing to change")


@app.command("set-password")
def set_password(
    user: Annotated[str, typer.Argument(metavar="USER", help="For example agency-STP or ioc-worker.")],
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", metavar="VARIABLE", show_default=False,
                     help="Environment variable holding the new password. Default: a random one, "
                          "printed once."),
    ] = None,
    bootstrap: BootstrapOption = "127.0.0.1:9092",
    security_protocol: SecurityProtocolOption = SecurityProtocol.SASL_PLAINTEXT,
    sasl_mechanism: SaslMechanismOption = SaslMechanism.SCRAM_SHA_256,
    kafka_username: KafkaUsernameOption = ADMIN_USER,
    kafka_password: KafkaPasswordOption = None,
    wait: WaitOption = 120.0,
) -> None:
    """Create a user or rotate its password. A generated one is printed once as USER<TAB>PASSWORD."""
    from kafka_access.admin import AccessError, new_password, upsert_scram_users

    login = kafka_settings(bootstrap, security_protocol, sasl_mechanism, kafka_username, kafka_password)
    name = _user(user, "USER")
    password = new_password() if password_env is None else _env_secret(password_env)
    admin = _admin(login, wait)
    try:
        upsert_scram_users(admin, {name: password})
    except AccessError as exc:
        raise _fail(str(exc)) from exc
    finally:
        admin.close()
    if password_env is None:
        typer.echo(f"{name}\t{password}")  # hand it over once: the broker keeps only a salted hash
    else:
        typer.echo(f"{name}: password set")


@app.command("revoke")
def revoke(
    users: Annotated[list[str], typer.Argument(metavar="USER...", help="For example agency-STP.")],
    bootstrap: BootstrapOption = "127.0.0.1:9092",
    security_protocol: SecurityProtocolOption = SecurityProtocol.SASL_PLAINTEXT,
    sasl_mechanism: SaslMechanismOption = SaslMechanism.SCRAM_SHA_256,
    kafka_username: KafkaUsernameOption = ADMIN_USER,
    kafka_password: KafkaPasswordOption = None,
    wait: WaitOption = 120.0,
) -> None:
    """Delete users' ACLs and SCRAM credentials: they can do nothing more from now on."""
    from kafka_access.admin import AccessError, revoke_users

    login = kafka_settings(bootstrap, security_protocol, sasl_mechanism, kafka_username, kafka_password)
    names = [_user(u, "USER") for u in users]
    admin = _admin(login, wait)
    try:
        gone = revoke_users(admin, names)
    except AccessError as exc:
        raise _fail(str(exc)) from exc
    finally:
        admin.close()
    typer.echo(f"revoked {', '.join(names)}: {len(gone)} ACL(s) deleted, SCRAM credential(s) removed")


@app.command("env")
def env() -> None:
    """Print random passwords for the compose .env file (KAFKA_*_PASSWORD=...)."""
    from kafka_access.admin import compose_env

    typer.echo(compose_env(), nl=False)
