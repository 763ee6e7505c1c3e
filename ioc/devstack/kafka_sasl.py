"""Kafka access control for ioc-monitor: SASL/SCRAM-SHA-256 principals and ACLs (issue 8, docs/security.md).

Who may do what, once, in code: `acl_rules()` is the ACL set (each agency may only *write* the events
topic; the stream worker reads it and writes its outputs and internal topics; the notifier reads the
alerts; nobody else reads anything). `apply_acls()` / `provision()` put it on a broker as the `admin`
super user with kafka-python's Admin API; the same code serves the tests, `ioc up`-style local runs and
the compose init job (`python -m ioc.devstack.kafka_sasl apply ...`).

`SecureKafkaBroker` is `KafkaBroker` with authentication and authorization switched on:

* the client listener `SASL_PLAINTEXT://127.0.0.1:PORT` accepts SCRAM-SHA-256 only (loopback only: TLS is
  out of scope for the local broker; production puts SASL_SSL on any listener that leaves the host);
* the KRaft controller listener uses SASL/PLAIN with a single static user, `admin` (SCRAM cannot serve
  the controller listener: its credentials live in the metadata log the controller is serving). A
  PLAINTEXT controller listener would make `User:ANONYMOUS` the principal of the broker's own
  registration, which then has to be a super user: anyone able to reach the controller port would be one;
* `StandardAuthorizer`, `allow.everyone.if.no.acl.found=false`, `super.users=User:admin`;
* the `admin` SCRAM credential is written at storage-format time (`StorageTool format --add-scram`), the
  others are created through the Admin API (AlterUserScramCredentials), as in production;
* the admin password reaches the broker through Kafka's `DirectoryConfigProvider` (one file per secret,
  `${dir:<secrets>:admin}`), never through server.properties (compose does the same with its sibling
  `EnvVarConfigProvider`: deploy/kafka-sasl/server.properties);
* failed logins and denied requests are logged (INFO), as in compose: the audit trail.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ioc.devstack.kafka import KafkaBroker
from ioc.devstack.ports import LOOPBACK, free_ports
from ioc.devstack.proc import DevstackError, StartupError

__all__ = [
    "ADMIN_USER",
    "FAILED_AUTHENTICATION",
    "NOTIFIER_USER",
    "SCRAM_MECHANISM",
    "SIMULATOR_USER",
    "WORKER_USER",
    "AclRule",
    "AclTopology",
    "SecureKafkaBroker",
    "acl_rules",
    "acl_table",
    "admin_client",
    "agency_user",
    "apply_acls",
    "check_user",
    "client_settings",
    "delete_scram_users",
    "main",
    "new_password",
    "provision",
    "revoke_users",
    "sasl_broker_properties",
    "scram_format_args",
    "upsert_scram_users",
]

SCRAM_MECHANISM = "SCRAM-SHA-256"
SCRAM_ITERATIONS = 8192
ADMIN_USER = "admin"
"""Super user: the broker's own (inter-broker, controller) identity and the operators' admin tool."""
WORKER_USER = "ioc-worker"
NOTIFIER_USER = "ioc-notifier"
SIMULATOR_USER = "ioc-simulator"
"""Demo only (`--profile demo`): writes events of every agency, so it carries no identity header."""
AGENCY_USER_PREFIX = "agency-"
ENV_PASSWORDS = (
    "KAFKA_ADMIN_PASSWORD",
    "KAFKA_WORKER_PASSWORD",
    "KAFKA_NOTIFIER_PASSWORD",
    "KAFKA_SIMULATOR_PASSWORD",
)
"""The compose `.env` variables of docs/security.md (passwords of admin, ioc-worker, ioc-notifier,
ioc-simulator)."""
CLIENT_LISTENER = "SASL_PLAINTEXT"
CONTROLLER_LISTENER = "CONTROLLER"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
DIR_PROVIDER = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"

AUDIT_LOG4J = """\
# ioc.devstack.kafka_sasl: failed authentications and denied requests (an audit trail)
log4j.logger.org.apache.kafka.common.network.Selector=INFO
log4j.logger.kafka.authorizer.logger=INFO
"""
FAILED_AUTHENTICATION = "Failed authentication with"
"""Start of the broker's log line for each refused login (Selector, INFO)."""

_USER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}")
# What `StorageTool format --add-scram 'SCRAM-SHA-256=[name=..,password=..]'` parses without quoting
# trouble; any password can still be set through the Admin API (`upsert_scram_users`).
_FORMAT_PASSWORD_RE = re.compile(r"[A-Za-z0-9_.~\-]{8,256}")

ResourceKind = Literal["TOPIC", "GROUP", "TRANSACTIONAL_ID", "CLUSTER"]
PatternKind = Literal["LITERAL", "PREFIXED"]
Operation = Literal[
    "READ", "WRITE", "DESCRIBE", "CREATE", "DELETE", "ALTER", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"
]


def agency_user(code: str) -> str:
    """The SCRAM user (Kafka principal `User:<this>`) of an agency: `agency-<CODE>`."""
    return check_user(f"{AGENCY_USER_PREFIX}{code}")


def check_user(name: str) -> str:
    """A user name safe as a SCRAM user, a principal and a secret file name (letters, digits, `_.-`)."""
    if not _USER_RE.fullmatch(name):
        raise ValueError(f"invalid Kafka user name {name!r}: letters, digits, '_', '.', '-' only")
    return name


def new_password() -> str:
    """A random password (32 url-safe characters), acceptable to `--add-scram` as is."""
    return secrets.token_urlsafe(24)


# -- the ACL set ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AclTopology:
    """The names the ACLs are about: topics, the Faust app id (= group, prefix of its internal topics,
    transactional ids) and the notifier's group. Defaults are those of streams/ and alerts/ settings."""

    events_topic: str = "dossier-events"
    dlq_topic: str = "dossier-events-dlq"
    alerts_topic: str = "dossier-alerts"
    ticks_topic: str = "ioc-sla-ticks"
    app_id: str = "ioc-monitor"
    notify_group: str = "ioc-notifier"
    worker_user: str = WORKER_USER
    notifier_user: str = NOTIFIER_USER
    worker_creates_topics: bool = True
    """`ioc worker` creates the four topics when missing (streams/topics.py), so it needs CREATE on
    them; False when an operator pre-creates them as admin (then the worker never creates anything but
    its own `<app_id>-*` internal topics)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AclTopology:
        """From the same IOC_* variables the worker and the notifier read."""
        env = os.environ if environ is None else environ
        base = cls()
        return cls(
            events_topic=env.get("IOC_EVENTS_TOPIC") or base.events_topic,
            dlq_topic=env.get("IOC_DLQ_TOPIC") or base.dlq_topic,
            alerts_topic=env.get("IOC_ALERTS_TOPIC") or base.alerts_topic,
            ticks_topic=env.get("IOC_TICKS_TOPIC") or base.ticks_topic,
            app_id=env.get("IOC_APP_ID") or base.app_id,
            notify_group=env.get("IOC_NOTIFY_GROUP") or base.notify_group,
        )


@dataclass(frozen=True, order=True)
class AclRule:
    """One ALLOW ACL, host `*` (Kafka has no DENY here: what is not allowed is refused)."""

    principal: str
    resource_type: ResourceKind
    resource_name: str
    pattern: PatternKind
    operation: Operation

    @property
    def user(self) -> str:
        return self.principal.removeprefix("User:")

    def to_acl(self) -> Any:
        """The kafka-python `ACL` object (for `KafkaAdminClient.create_acls`)."""
        from kafka.admin import (
            ACL,
            ACLOperation,
            ACLPermissionType,
            ACLResourcePatternType,
            ResourcePattern,
            ResourceType,
        )

        return ACL(
            principal=self.principal,
            host="*",
            operation=ACLOperation[self.operation],
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(
                ResourceType[self.resource_type],
                self.resource_name,
                ACLResourcePatternType[self.pattern],
            ),
        )

    @classmethod
    def from_acl(cls, acl: Any) -> AclRule | None:
        """The rule an ALLOW ACL read back from the broker expresses; None for what we never write."""
        pattern = acl.resource_pattern
        try:
            if acl.permission_type.name != "ALLOW" or acl.host != "*":
                return None
            return cls(
                str(acl.principal),
                pattern.resource_type.name,
                str(pattern.resource_name),
                pattern.pattern_type.name,
                acl.operation.name,
            )
        except AttributeError:
            return None


def acl_rules(
    agencies: Iterable[str],
    topology: AclTopology | None = None,
    *,
    producers: Iterable[str] = (),
) -> list[AclRule]:
    """The whole ACL set, sorted and without duplicates.

    `agencies`: catalog codes; agency X is user `agency-X` and may only WRITE (and DESCRIBE) the events
    topic. `producers`: other users with the same right and no agency (the demo simulator).
    """
    t = topology or AclTopology()
    rules: set[AclRule] = set()

    def allow(user: str, kind: ResourceKind, name: str, pattern: PatternKind, *ops: Operation) -> None:
        for op in ops:
            rules.add(AclRule(f"User:{check_user(user)}", kind, name, pattern, op))

    for user in [*(agency_user(code) for code in agencies), *producers]:
        # Idempotent producers (the SDK's default) need no IDEMPOTENT_WRITE since Kafka 3.0 (KIP-679):
        # WRITE on a topic is enough.
        allow(user, "TOPIC", t.events_topic, "LITERAL", "WRITE", "DESCRIBE")

    worker = t.worker_user
    allow(worker, "TOPIC", t.events_topic, "LITERAL", "READ", "DESCRIBE")
    allow(worker, "TOPIC", t.ticks_topic, "LITERAL", "READ", "WRITE", "DESCRIBE")
    allow(worker, "TOPIC", t.dlq_topic, "LITERAL", "WRITE", "DESCRIBE")
    allow(worker, "TOPIC", t.alerts_topic, "LITERAL", "WRITE", "DESCRIBE")
    if t.worker_creates_topics:
        for topic in (t.events_topic, t.ticks_topic, t.dlq_topic, t.alerts_topic):
            allow(worker, "TOPIC", topic, "LITERAL", "CREATE")
    # Faust's own topics: `<app_id>-dossiers-changelog`, `<app_id>-__assignor-__leader`, repartitions.
    allow(worker, "TOPIC", t.app_id, "PREFIXED", "READ", "WRITE", "DESCRIBE", "CREATE")
    allow(worker, "GROUP", t.app_id, "PREFIXED", "READ", "DESCRIBE")
    # processing_guarantee=exactly_once: Faust's transactional ids start with the app id.
    allow(worker, "TRANSACTIONAL_ID", t.app_id, "PREFIXED", "WRITE", "DESCRIBE")

    notifier = t.notifier_user
    allow(notifier, "TOPIC", t.alerts_topic, "LITERAL", "READ", "DESCRIBE")
    allow(notifier, "GROUP", t.notify_group, "LITERAL", "READ", "DESCRIBE")
    return sorted(rules)


def acl_table(rules: Iterable[AclRule]) -> str:
    """A Markdown table of the rules, one row per principal and resource (docs/security.md)."""
    rows: dict[tuple[str, str, str, str], list[str]] = {}
    for rule in sorted(rules):
        key = (rule.principal, rule.resource_type, rule.resource_name, rule.pattern)
        rows.setdefault(key, []).append(rule.operation)
    lines = ["| principal | resource | name | pattern | operations |", "| --- | --- | --- | --- | --- |"]
    for (principal, kind, name, pattern), ops in rows.items():
        lines.append(f"| `{principal}` | {kind} | `{name}` | {pattern} | {', '.join(ops)} |")
    return "\n".join(lines) + "\n"


# -- applying it (kafka-python Admin API, as admin) -----------------------------------------------------
def _check_errors(what: str, errors: Mapping[str, Any]) -> None:
    failed = {name: err for name, err in errors.items() if err}
    if failed:
        detail = "; ".join(f"{name}: {err}" for name, err in sorted(failed.items()))
        raise DevstackError(f"{what} failed: {detail}")


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
        raise DevstackError(f"DescribeAcls failed: {error}")
    return list(acls)


def _delete(admin: Any, rules: Iterable[AclRule]) -> None:
    from kafka.admin import ACLFilter

    filters = []
    for rule in rules:
        acl = rule.to_acl()
        filters.append(
            ACLFilter(acl.principal, acl.host, acl.operation, acl.permission_type, acl.resource_pattern)
        )
    if not filters:
        return
    for _filter, _deleted, error in admin.delete_acls(filters):
        if getattr(error, "errno", 0):
            raise DevstackError(f"DeleteAcls failed: {error}")


def apply_acls(admin: Any, rules: Iterable[AclRule], *, prune_users: Iterable[str] = ()) -> list[AclRule]:
    """Create `rules` (CreateAcls is idempotent); then delete every ACL of `prune_users` that is not in
    `rules`, e.g. the ACLs of an agency removed from the catalog. Returns the rules deleted."""
    wanted = sorted(set(rules))
    result = admin.create_acls([rule.to_acl() for rule in wanted])
    failed = result.get("failed") or []  # kafka-python lists the error of each failed ACL
    if failed:
        detail = "; ".join(sorted({getattr(err, "__name__", str(err)) for err in failed}))
        raise DevstackError(f"CreateAcls failed for {len(failed)} of {len(wanted)} ACL(s): {detail}")
    managed = {f"User:{check_user(u)}" for u in prune_users}
    if not managed:
        return []
    keep = set(wanted)
    stale: list[AclRule] = []
    for acl in _all_acls(admin):
        rule = AclRule.from_acl(acl)
        if rule is not None and rule.principal in managed and rule not in keep:
            stale.append(rule)
    _delete(admin, stale)
    return sorted(stale)


def revoke_users(admin: Any, users: Iterable[str]) -> list[AclRule]:
    """Delete every ALLOW ACL and the SCRAM credential of `users` (an agency leaving, a leaked password
    that must stop working at once). Existing connections keep their session until it expires or they
    reconnect; the ACLs, though, are checked on every request, so they can do nothing more."""
    names = [check_user(u) for u in users]
    principals = {f"User:{u}" for u in names}
    gone = [r for acl in _all_acls(admin) if (r := AclRule.from_acl(acl)) and r.principal in principals]
    _delete(admin, gone)
    delete_scram_users(admin, names, missing_ok=True)
    return sorted(gone)


def provision(
    admin: Any,
    agencies: Iterable[str],
    passwords: Mapping[str, str],
    topology: AclTopology | None = None,
    *,
    producers: Iterable[str] = (),
    prune: bool = False,
) -> list[AclRule]:
    """Upsert the SCRAM users in `passwords` and apply the ACL set; returns the ACL set.

    `prune`: also delete the ACLs of agency users (`agency-*`) and service users that the set no longer
    holds, e.g. after an agency left the catalog (its SCRAM credential is left to `revoke_users`).
    """
    codes = list(agencies)
    t = topology or AclTopology()
    rules = acl_rules(codes, t, producers=producers)
    upsert_scram_users(admin, passwords)
    managed: set[str] = set()
    if prune:
        managed = {
            t.worker_user,
            t.notifier_user,
            SIMULATOR_USER,
            *producers,
            *(agency_user(c) for c in codes),
        }
        for acl in _all_acls(admin):
            rule = AclRule.from_acl(acl)
            if rule is not None and rule.user.startswith(AGENCY_USER_PREFIX):
                managed.add(rule.user)
    apply_acls(admin, rules, prune_users=managed)
    return rules


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


def client_settings(user: str, password: str, protocol: str = CLIENT_LISTENER) -> dict[str, Any]:
    """kafka-python and aiokafka keyword arguments of a SCRAM-SHA-256 client (the names are the same)."""
    return {
        "security_protocol": protocol,
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


# -- the broker -----------------------------------------------------------------------------------------
def scram_format_args(passwords: Mapping[str, str]) -> list[str]:
    """`StorageTool format` arguments that create SCRAM-SHA-256 users with the storage (KRaft bootstrap)."""
    args: list[str] = []
    for user, password in passwords.items():
        if not _FORMAT_PASSWORD_RE.fullmatch(password):
            raise ValueError(
                f"the password of {user!r} cannot go through --add-scram (8-256 of A-Z a-z 0-9 _ . ~ -); "
                "create that user with upsert_scram_users() instead"
            )
        args += ["--add-scram", f"{SCRAM_MECHANISM}=[name={check_user(user)},password={password}]"]
    return args


def sasl_broker_properties(
    *, port: int, controller_port: int, secrets_dir: Path | str, host: str = LOOPBACK
) -> dict[str, str]:
    """server.properties entries (over server.properties.template) for SCRAM clients + ACLs.

    `secrets_dir` must hold a file `admin` with the admin password and no trailing newline (Kafka's
    DirectoryConfigProvider reads files verbatim).
    """
    secret = f"${{dir:{secrets_dir}:{ADMIN_USER}}}"
    scram = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN_USER}" password="{secret}";'
    )
    plain = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{ADMIN_USER}" password="{secret}" user_{ADMIN_USER}="{secret}";'
    )
    client = CLIENT_LISTENER.lower()
    controller = CONTROLLER_LISTENER.lower()
    return {
        "listeners": f"{CLIENT_LISTENER}://{host}:{port},{CONTROLLER_LISTENER}://{host}:{controller_port}",
        "advertised.listeners": f"{CLIENT_LISTENER}://{host}:{port}",
        "listener.security.protocol.map": (
            f"{CONTROLLER_LISTENER}:SASL_PLAINTEXT,{CLIENT_LISTENER}:SASL_PLAINTEXT"
        ),
        "inter.broker.listener.name": CLIENT_LISTENER,
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        f"listener.name.{client}.sasl.enabled.mechanisms": SCRAM_MECHANISM,
        f"listener.name.{client}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": scram,
        "sasl.mechanism.controller.protocol": "PLAIN",
        f"listener.name.{controller}.sasl.enabled.mechanisms": "PLAIN",
        f"listener.name.{controller}.plain.sasl.jaas.config": plain,
        "config.providers": "dir",
        "config.providers.dir.class": DIR_PROVIDER,
        "authorizer.class.name": AUTHORIZER,
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN_USER}",
        "auto.create.topics.enable": "false",
    }


def _address_in_use(exc: BaseException) -> bool:
    return "Address already in use" in str(exc) or "BindException" in str(exc)


class SecureKafkaBroker(KafkaBroker):
    """`KafkaBroker` with SASL/SCRAM-SHA-256 on its client listener and ACLs enforced (see the module doc).

    `users` (name -> password) are kept in `<data_dir>/secrets/<name>` (0600, reused by a restart on the
    same data dir); `admin` is created at format time, `add_users()` creates the others through the Admin
    API. `extra_properties` are applied over the security settings (a test may change them).
    """

    def __init__(self, *, admin_password: str | None = None, **kwargs: Any) -> None:
        if "format_args" in kwargs:
            raise TypeError("SecureKafkaBroker sets format_args itself")
        self._user_properties: dict[str, str] = dict(kwargs.pop("extra_properties", None) or {})
        super().__init__(**kwargs)
        self.users: dict[str, str] = {}
        self._admin_password = admin_password

    # -- lifecycle ------------------------------------------------------------------------------------
    @property
    def secrets_dir(self) -> Path:
        return self.properties_path.parent / "secrets"  # properties_path creates the data dir if needed

    @property
    def admin_password(self) -> str:
        return self.users[ADMIN_USER]

    def start(self) -> SecureKafkaBroker:
        if self.running:
            return self
        self._load_secrets()
        self._write_log_config()
        given = (self.port, self.controller_port)  # fixed by the caller, or kept from an earlier start
        for attempt in range(3):
            if self.port is None or self.controller_port is None:
                port, controller_port = free_ports(2)
                self.port = self.port or port
                self.controller_port = self.controller_port or controller_port
            assert self.port is not None and self.controller_port is not None
            self.extra_properties = {
                **sasl_broker_properties(
                    port=self.port, controller_port=self.controller_port, secrets_dir=self.secrets_dir
                ),
                **self._user_properties,
            }
            try:
                super().start()
                return self
            except StartupError as exc:
                if None not in given or not _address_in_use(exc) or attempt == 2:
                    raise
                self.port, self.controller_port = given  # someone took a port we picked: pick again
        raise AssertionError("unreachable")

    def __repr__(self) -> str:
        return "Secure" + super().__repr__()

    @property
    def audit_log_config(self) -> Path:
        return self.properties_path.parent / "log4j-secure.properties"

    def _write_log_config(self) -> None:
        """The quiet dev log config, plus what a secured broker should always log: failed
        authentications (Selector, INFO) and denied requests (kafka.authorizer.logger, INFO)."""
        base = resources.files("ioc.devstack").joinpath("kafka", "log4j.properties").read_text()
        self.audit_log_config.write_text(base.rstrip("\n") + "\n" + AUDIT_LOG4J)
        option = f"-Dlog4j.configuration=file:{self.audit_log_config}"  # after the default one: it wins
        if option not in self.jvm_options:
            self.jvm_options.append(option)

    def _load_secrets(self) -> None:
        folder = self.secrets_dir
        folder.mkdir(mode=0o700, exist_ok=True)
        for path in sorted(folder.iterdir()):
            if path.is_file() and _USER_RE.fullmatch(path.name):
                self.users.setdefault(path.name, path.read_text())
        admin = self.users.get(ADMIN_USER) or self._admin_password or new_password()
        self._store(ADMIN_USER, admin)
        self.format_args = scram_format_args({ADMIN_USER: admin})

    def _store(self, user: str, password: str) -> None:
        path = self.secrets_dir / check_user(user)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password)  # no newline: DirectoryConfigProvider reads the file verbatim
        self.users[user] = password

    # -- clients --------------------------------------------------------------------------------------
    def client_config(self, user: str, password: str | None = None) -> dict[str, Any]:
        """`bootstrap_servers` + SASL settings of `user` for kafka-python/aiokafka clients; `password`
        overrides the known one (to test a wrong password)."""
        secret = password if password is not None else self.users.get(user)
        if secret is None:
            raise KeyError(f"no password known for Kafka user {user!r}: add_users([{user!r}]) first")
        return {"bootstrap_servers": self.bootstrap, **client_settings(user, secret)}

    @contextlib.contextmanager
    def admin(self, timeout: float = 30.0) -> Iterator[Any]:
        """A `KafkaAdminClient` logged in as the super user (retries while the broker warms up)."""
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        while True:
            try:
                client = admin_client(self.bootstrap, self.admin_password)
                break
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        try:
            yield client
        finally:
            client.close()

    def add_users(self, names: Iterable[str], passwords: Mapping[str, str] | None = None) -> dict[str, str]:
        """Create (or re-key) SCRAM users through the Admin API; random passwords unless given."""
        given = dict(passwords or {})
        created = {check_user(n): given.get(n) or new_password() for n in names}
        with self.admin() as admin:
            upsert_scram_users(admin, created)
        for user, password in created.items():
            self._store(user, password)
        return created

    def provision(
        self,
        agencies: Iterable[str],
        topology: AclTopology | None = None,
        *,
        producers: Sequence[str] = (),
        prune: bool = False,
    ) -> list[AclRule]:
        """Users for the agencies, the worker, the notifier and `producers` (random passwords for those
        not known yet), then the ACL set."""
        t = topology or AclTopology()
        codes = list(agencies)
        names = [*(agency_user(c) for c in codes), t.worker_user, t.notifier_user, *producers]
        missing = [n for n in names if n not in self.users]
        fresh = {n: new_password() for n in missing}
        with self.admin() as admin:
            rules = provision(admin, codes, fresh, t, producers=producers, prune=prune)
        for user, password in fresh.items():
            self._store(user, password)
        return rules


# -- command line ---------------------------------------------------------------------------------------
def _agency_codes(catalog: str | None, explicit: Sequence[str]) -> list[str]:
    if explicit:
        return list(dict.fromkeys(explicit))
    from dossiers.catalog import load_catalog

    return [agency.code for agency in load_catalog(catalog or os.environ.get("IOC_CATALOG") or None).agencies]


def _read_secret(path: Path) -> str:
    value = path.read_text().rstrip("\r\n")
    if not value:
        raise DevstackError(f"empty secret file {path}")
    return value


def _env_secret(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise DevstackError(f"environment variable {name} is empty or unset")
    return value


def _admin_password(args: argparse.Namespace) -> str:
    if args.admin_password_file is not None:
        return _read_secret(args.admin_password_file)
    return _env_secret(args.admin_password_env)


def _connect(args: argparse.Namespace) -> Any:
    """An admin client as `admin`, waiting up to --wait seconds for a starting broker (compose init job)."""
    from kafka.errors import KafkaError

    password = _admin_password(args)
    deadline = time.monotonic() + args.wait
    while True:
        try:
            return admin_client(args.bootstrap, password, security_protocol=args.security_protocol)
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise DevstackError(f"cannot reach Kafka at {args.bootstrap} as {ADMIN_USER}: {exc}") from exc
            time.sleep(2)


def _cmd_acls(args: argparse.Namespace) -> int:
    rules = acl_rules(
        _agency_codes(args.catalog, args.agency), AclTopology.from_env(), producers=args.producer
    )
    print(acl_table(rules), end="")
    return 0


def _cmd_apply(args: argparse.Namespace) -> int:
    """ACLs from the catalog; SCRAM users from `--password-env USER=VAR` and the secrets dir."""
    codes = _agency_codes(args.catalog, args.agency)
    topology = AclTopology.from_env()
    producers = list(args.producer)
    passwords: dict[str, str] = {}
    if args.secrets_dir is not None:
        wanted = {topology.worker_user, topology.notifier_user, *producers, *(agency_user(c) for c in codes)}
        for user in sorted(wanted):
            path = args.secrets_dir / user
            if path.is_file():
                passwords[user] = _read_secret(path)
    for item in args.password_env:
        user, sep, variable = item.partition("=")
        if not sep:
            raise DevstackError(f"--password-env {item!r}: expected USER=VARIABLE")
        passwords[check_user(user)] = _env_secret(variable)
    admin = _connect(args)
    try:
        rules = provision(admin, codes, passwords, topology, producers=producers, prune=args.prune)
    finally:
        admin.close()
    users = sorted({r.user for r in rules})
    print(
        f"{len(rules)} ACL(s) for {len(users)} user(s) on {args.bootstrap}; SCRAM credentials set for: "
        f"{', '.join(sorted(passwords)) or 'nobody'}"
    )
    return 0


def _cmd_set_password(args: argparse.Namespace) -> int:
    """Create or rotate one user's SCRAM credential; a generated password is printed once."""
    user = check_user(args.user)
    generated = args.password_env is None
    password = new_password() if generated else _env_secret(args.password_env)
    admin = _connect(args)
    try:
        upsert_scram_users(admin, {user: password})
    finally:
        admin.close()
    if generated:
        print(f"{user}\t{password}")  # hand it over once: the broker keeps only a salted hash
    else:
        print(f"{user}: password set")
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    admin = _connect(args)
    try:
        gone = revoke_users(admin, args.users)
    finally:
        admin.close()
    print(f"revoked {', '.join(args.users)}: {len(gone)} ACL(s) deleted, SCRAM credential(s) removed")
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    """Fresh random passwords for the compose `.env` file (docs/security.md)."""
    for name in ENV_PASSWORDS:
        print(f"{name}={new_password()}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    codes = _agency_codes(args.catalog, args.agency)
    with SecureKafkaBroker(partitions=args.partitions, data_dir=args.data_dir, port=args.port) as broker:
        broker.provision(codes, AclTopology.from_env(), producers=args.producer)
        print(f"Kafka (SASL/SCRAM-SHA-256 + ACLs) on {broker.bootstrap}; Ctrl-C stops it")
        print(
            f"passwords: {broker.secrets_dir}/<user> (admin, {WORKER_USER}, {NOTIFIER_USER}, agency-<CODE>)"
        )
        print(
            f"worker: IOC_KAFKA_BOOTSTRAP={broker.bootstrap} IOC_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT "
            f"IOC_KAFKA_USERNAME={WORKER_USER} IOC_KAFKA_PASSWORD=$(cat {broker.secrets_dir}/{WORKER_USER})"
        )
        with contextlib.suppress(KeyboardInterrupt):
            while broker.running:
                time.sleep(0.5)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ioc.devstack.kafka_sasl",
        description="Kafka users and ACLs of ioc-monitor (docs/security.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def catalog_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--catalog", default=None, help="catalog YAML (default: $IOC_CATALOG, else the sample)"
        )
        p.add_argument(
            "--agency", action="append", default=[], help="agency code (repeat); replaces the catalog"
        )
        p.add_argument(
            "--producer",
            action="append",
            default=[],
            help="producer user without agency (demo: ioc-simulator)",
        )

    def admin_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bootstrap", default=os.environ.get("IOC_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
        p.add_argument(
            "--security-protocol", default="SASL_PLAINTEXT", choices=["SASL_PLAINTEXT", "SASL_SSL"]
        )
        p.add_argument("--admin-password-file", type=Path, default=None, help="file holding admin's password")
        p.add_argument(
            "--admin-password-env",
            default="KAFKA_ADMIN_PASSWORD",
            help="else: the variable holding it (default KAFKA_ADMIN_PASSWORD)",
        )
        p.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the broker")

    p_acls = sub.add_parser("acls", help="print the ACL set as a Markdown table (topic names from IOC_*)")
    catalog_options(p_acls)
    p_acls.set_defaults(func=_cmd_acls)

    p_apply = sub.add_parser("apply", help="apply the ACL set (and set service passwords) as admin")
    catalog_options(p_apply)
    admin_options(p_apply)
    p_apply.add_argument(
        "--password-env",
        action="append",
        default=[],
        metavar="USER=VARIABLE",
        help="set USER's SCRAM password from an environment variable (repeat)",
    )
    p_apply.add_argument(
        "--secrets-dir", type=Path, default=None, help="also: one password file per user, named by the user"
    )
    p_apply.add_argument(
        "--prune", action="store_true", help="delete ACLs of agency-* users no longer in the catalog"
    )
    p_apply.set_defaults(func=_cmd_apply)

    p_set = sub.add_parser("set-password", help="create a user or rotate its password (printed if generated)")
    admin_options(p_set)
    p_set.add_argument("user", help="e.g. agency-STP, ioc-worker")
    p_set.add_argument("--password-env", default=None, help="variable holding the new password (else random)")
    p_set.set_defaults(func=_cmd_set_password)

    p_revoke = sub.add_parser("revoke", help="delete users' ACLs and SCRAM credentials")
    admin_options(p_revoke)
    p_revoke.add_argument("users", nargs="+")
    p_revoke.set_defaults(func=_cmd_revoke)

    p_env = sub.add_parser("env", help="print random passwords for the compose .env file")
    p_env.set_defaults(func=_cmd_env)

    p_run = sub.add_parser("run", help="run a local secured broker (SecureKafkaBroker) until Ctrl-C")
    catalog_options(p_run)
    p_run.add_argument("--partitions", type=int, default=6)
    p_run.add_argument("--data-dir", type=Path, default=None)
    p_run.add_argument("--port", type=int, default=None)
    p_run.set_defaults(func=_cmd_run)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (DevstackError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
