"""Putting the ACL set and the SCRAM credentials on a broker, as the `admin` super user (Admin API).

Why kafka-python's `KafkaAdminClient` and not Kafka's shell tools: the compose job runs in our Python
image, which has no JVM. Every operation is idempotent: CreateAcls of an existing ACL and an upsert of an
unchanged password change nothing, so `provision` can run at every `docker compose up`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka_access.acl import (
    ADMIN_USER,
    AGENCY_USER_PREFIX,
    SIMULATOR_USER,
    AclRule,
    AclTopology,
    acl_rules,
    agency_user,
    check_user,
)
from kafka_settings import KafkaSettings, SaslMechanism, SecurityProtocol

__all__ = [
    "ENV_PASSWORDS",
    "SCRAM_ITERATIONS",
    "SCRAM_MECHANISM",
    "AccessError",
    "Provisioned",
    "admin_client",
    "apply_acls",
    "client_settings",
    "compose_env",
    "connect",
    "delete_scram_users",
    "describe_rules",
    "new_password",
    "password_works",
    "provision",
    "revoke_users",
    "rule_from_acl",
    "to_acl",
    "upsert_scram_users",
]

SCRAM_MECHANISM = SaslMechanism.SCRAM_SHA_256.value
SCRAM_ITERATIONS = 8192
ENV_PASSWORDS = (
    "KAFKA_ADMIN_PASSWORD",
    "KAFKA_WORKER_PASSWORD",
    "KAFKA_NOTIFIER_PASSWORD",
    "KAFKA_SIMULATOR_PASSWORD",
    "KAFKA_GATEWAY_PASSWORD",
)
"""The compose `.env` variables: passwords of admin, ioc-worker, ioc-notifier, ioc-simulator, ioc-gateway."""


class AccessError(RuntimeError):
    """The broker refused or failed an access-control operation; the message says which and why."""


# -- credentials ----------------------------------------------------------------------------------------
def new_password() -> str:
    """A random password (32 url-safe characters), acceptable to `StorageTool format --add-scram` as is."""
    return secrets.token_urlsafe(24)


def compose_env() -> str:
    """Fresh random passwords for the compose `.env` file, one `NAME=value` line each."""
    return "".join(f"{name}={new_password()}\n" for name in ENV_PASSWORDS)


def client_settings(
    user: str, password: str, protocol: SecurityProtocol = SecurityProtocol.SASL_PLAINTEXT
) -> dict[str, Any]:
    """kafka-python and aiokafka keyword arguments of a SCRAM-SHA-256 client (the names are the same)."""
    return {
        "security_protocol": SecurityProtocol(protocol).value,
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


def _check_errors(what: str, errors: Mapping[str, Any]) -> None:
    failed = {name: err for name, err in errors.items() if err}
    if failed:
        detail = "; ".join(f"{name}: {err}" for name, err in sorted(failed.items()))
        raise AccessError(f"{what} failed: {detail}")


def upsert_scram_users(admin: Any, passwords: Mapping[str, str], iterations: int = SCRAM_ITERATIONS) -> None:
    """Create or change SCRAM-SHA-256 credentials (AlterUserScramCredentials). Changing a password does not
    close open connections: clients authenticated with the old one keep working until they reconnect."""
    from kafka.admin import ScramMechanism, UserScramCredentialUpsertion

    if not passwords:
        return
    changes = [
        UserScramCredentialUpsertion(check_user(user), ScramMechanism.SCRAM_SHA_256, password, iterations)
        for user, password in passwords.items()
    ]
    _check_errors("AlterUserScramCredentials", admin.alter_user_scram_credentials(changes))


def delete_scram_users(admin: Any, users: Iterable[str], *, missing_ok: bool = False) -> None:
    """Remove the SCRAM-SHA-256 credentials of `users` (they can no longer authenticate)."""
    from kafka.admin import ScramMechanism, UserScramCredentialDeletion

    changes = [UserScramCredentialDeletion(check_user(u), ScramMechanism.SCRAM_SHA_256) for u in users]
    if not changes:
        return
    errors = dict(admin.alter_user_scram_credentials(changes))
    if missing_ok:  # the broker's words for a user that has no credential
        errors = {u: e for u, e in errors.items() if not (e and "does not exist" in str(e))}
    _check_errors("AlterUserScramCredentials (delete)", errors)


# -- ACLs -----------------------------------------------------------------------------------------------
def to_acl(rule: AclRule) -> Any:
    """The kafka-python `ACL` object of a rule (for `KafkaAdminClient.create_acls`)."""
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

    return ACL(
        principal=rule.principal,
        host="*",
        operation=ACLOperation[rule.operation],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(
            ResourceType[rule.resource_type],
            rule.resource_name,
            ACLResourcePatternType[rule.pattern],
        ),
    )


def rule_from_acl(acl: Any) -> AclRule | None:
    """The rule an ALLOW ACL read back from the broker expresses; None for what we never write."""
    pattern = acl.resource_pattern
    try:
        if acl.permission_type.name != "ALLOW" or acl.host != "*":
            return None
        return AclRule(
            str(acl.principal),
            pattern.resource_type.name,
            str(pattern.resource_name),
            pattern.pattern_type.name,
            acl.operation.name,
        )
    except AttributeError:
        return None


def _all_acls(admin: Any) -> list[Any]:
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePatternFilter,
        ResourceType,
    )

    everything = ACLFilter(
        principal=None,
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )
    acls, error = admin.describe_acls(everything)
    if getattr(error, "errno", 0):
        raise AccessError(f"DescribeAcls failed: {error}")
    return list(acls)


def describe_rules(admin: Any) -> list[AclRule]:
    """Every ALLOW rule on the broker that this module could have written, sorted."""
    return sorted(r for acl in _all_acls(admin) if (r := rule_from_acl(acl)) is not None)


def _delete(admin: Any, rules: Iterable[AclRule]) -> None:
    from kafka.admin import ACLFilter

    filters = []
    for rule in rules:
        acl = to_acl(rule)
        filters.append(
            ACLFilter(acl.principal, acl.host, acl.operation, acl.permission_type, acl.resource_pattern)
        )
    if not filters:
        return
    for _filter, _deleted, error in admin.delete_acls(filters):
        if getattr(error, "errno", 0):
            raise AccessError(f"DeleteAcls failed: {error}")


def apply_acls(admin: Any, rules: Iterable[AclRule], *, prune_users: Iterable[str] = ()) -> list[AclRule]:
    """Create `rules` (CreateAcls is idempotent); then delete every ACL of `prune_users` that is not in
    `rules`, e.g. the ACLs of an agency removed from the catalog. Returns the rules deleted."""
    wanted = sorted(set(rules))
    result = admin.create_acls([to_acl(rule) for rule in wanted])
    failed = result.get("failed") or []  # kafka-python lists the error of each failed ACL
    if failed:
        detail = "; ".join(sorted({getattr(err, "__name__", str(err)) for err in failed}))
        raise AccessError(f"CreateAcls failed for {len(failed)} of {len(wanted)} ACL(s): {detail}")
    managed = {f"User:{check_user(u)}" for u in prune_users}
    if not managed:
        return []
    keep = set(wanted)
    stale = [r for r in describe_rules(admin) if r.principal in managed and r not in keep]
    _delete(admin, stale)
    return stale


def revoke_users(admin: Any, users: Iterable[str]) -> list[AclRule]:
    """Delete every ALLOW ACL and the SCRAM credential of `users` (an agency leaving, a leaked password
    that must stop working at once). Existing connections keep their session until it expires or they
    reconnect; the ACLs, though, are checked on every request, so they can do nothing more."""
    names = [check_user(u) for u in users]
    principals = {f"User:{u}" for u in names}
    gone = [r for r in describe_rules(admin) if r.principal in principals]
    _delete(admin, gone)
    delete_scram_users(admin, names, missing_ok=True)
    return gone


@dataclass(frozen=True)
class Provisioned:
    """What `provision` found and did: the whole ACL set, and only what it changed."""

    rules: list[AclRule]
    added: list[AclRule] = field(default_factory=list)
    removed: list[AclRule] = field(default_factory=list)
    credentials_set: list[str] = field(default_factory=list)
    credentials_kept: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.credentials_set)


def _credentials_to_set(
    admin: Any, passwords: Mapping[str, str], logs_in: Callable[[str, str], bool] | None
) -> dict[str, str]:
    """The passwords that must be written: all of them without `logs_in`; else those whose user has no
    SCRAM-SHA-256 credential yet or cannot log in with it (a rotation). The broker keeps only a salted
    hash, so trying the password is the only way to know it is already the one set."""
    if logs_in is None or not passwords:
        return dict(passwords)
    described = admin.describe_user_scram_credentials([check_user(u) for u in passwords])
    result: dict[str, str] = {}
    for user, password in passwords.items():
        info = described.get(user) or {}
        mechanisms = {str(getattr(c.get("mechanism"), "name", c.get("mechanism")))
                      for c in info.get("credential_infos") or []}
        has_credential = not info.get("error") and "SCRAM_SHA_256" in mechanisms
        if not (has_credential and logs_in(user, password)):
            result[user] = password
    return result


def provision(
    admin: Any,
    agencies: Iterable[str],
    passwords: Mapping[str, str],
    topology: AclTopology | None = None,
    *,
    producers: Iterable[str] = (),
    prune: bool = False,
    logs_in: Callable[[str, str], bool] | None = None,
) -> Provisioned:
    """Set the SCRAM users in `passwords` and apply the ACL set (idempotent).

    `prune`: also delete the ACLs of agency users (`agency-*`) and service users that the set no longer
    holds, e.g. after an agency left the catalog (its SCRAM credential is left to `revoke_users`).
    `logs_in(user, password)`: when given, a password that already logs in is not written again, so a
    second run with the same input changes nothing at all (`password_works` is the real check).
    """
    codes = list(agencies)
    producers = list(producers)
    t = topology or AclTopology()
    rules = acl_rules(codes, t, producers=producers)
    to_set = _credentials_to_set(admin, passwords, logs_in)
    upsert_scram_users(admin, to_set)
    before = describe_rules(admin)
    managed: set[str] = set()
    if prune:
        managed = {
            t.worker_user,
            t.notifier_user,
            SIMULATOR_USER,
            *producers,
            *(agency_user(c) for c in codes),
        }
        managed.update(r.user for r in before if r.user.startswith(AGENCY_USER_PREFIX))
    removed = apply_acls(admin, rules, prune_users=managed)
    present = set(before)
    return Provisioned(
        rules=rules,
        added=[r for r in rules if r not in present],
        removed=removed,
        credentials_set=sorted(to_set),
        credentials_kept=sorted(set(passwords) - set(to_set)),
    )


# -- connecting -----------------------------------------------------------------------------------------
def admin_client(bootstrap: str, password: str, *, user: str = ADMIN_USER, **kwargs: Any) -> Any:
    """A kafka-python `KafkaAdminClient` authenticated with SCRAM-SHA-256 on a SASL_PLAINTEXT listener
    (pass `security_protocol="SASL_SSL"` for TLS)."""
    from kafka import KafkaAdminClient

    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": "ioc-acl-admin",
        **client_settings(user, password),
        **kwargs,
    }
    return KafkaAdminClient(**config)


def connect(settings: KafkaSettings, *, wait: float = 0.0) -> Any:
    """A `KafkaAdminClient` logged in as `settings` says, retrying up to `wait` seconds while the broker
    starts (the compose job starts as soon as the broker's healthcheck passes)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + wait
    while True:
        try:
            return KafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap,
                client_id="ioc-acl-admin",
                **settings.kafka_python_kwargs(),
            )
        except KafkaError as exc:
            if time.monotonic() > deadline:
                who = settings.kafka_username or "(anonymous)"
                where = settings.kafka_bootstrap
                raise AccessError(f"cannot reach Kafka at {where} as {who}: {exc}") from exc
            time.sleep(2)


def password_works(settings: KafkaSettings, user: str, password: str, *, timeout: float = 10.0) -> bool:
    """Whether `user` can log in with `password` on the broker of `settings` (SCRAM-SHA-256). A wrong
    password costs `timeout` seconds and one `Failed authentication` line in the broker's audit log."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        client = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id="ioc-acl-check",
            bootstrap_timeout_ms=int(timeout * 1000),
            request_timeout_ms=int(timeout * 1000),
            **client_settings(check_user(user), password, settings.kafka_security_protocol),
        )
    except KafkaError:
        return False
    client.close()
    return True
