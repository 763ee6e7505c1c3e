"""A local Kafka broker with SASL/SCRAM-SHA-256 and ACLs switched on, for tests and manual runs (dev only).

The rules it enforces are production code (`kafka_access`); this module only starts a broker that
enforces them the way the compose broker does (deploy/kafka-sasl/server.properties):

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
  `EnvVarConfigProvider`);
* failed logins and denied requests are logged (INFO), as in compose: the audit trail.

`ioc dev kafka --sasl` runs one in the foreground.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ioc.devstack.kafka import KafkaBroker
from ioc.devstack.ports import LOOPBACK, free_ports
from ioc.devstack.proc import StartupError
from kafka_access.acl import ADMIN_USER, USER_RE, AclRule, AclTopology, agency_user, check_user
from kafka_access.admin import (
    SCRAM_MECHANISM,
    admin_client,
    client_settings,
    new_password,
    provision,
    upsert_scram_users,
)

__all__ = [
    "FAILED_AUTHENTICATION",
    "SecureKafkaBroker",
    "sasl_broker_properties",
    "scram_format_args",
]

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

# What `StorageTool format --add-scram 'SCRAM-SHA-256=[name=..,password=..]'` parses without quoting
# trouble; any password can still be set through the Admin API (`upsert_scram_users`).
_FORMAT_PASSWORD_RE = re.compile(r"[A-Za-z0-9_.~\-]{8,256}")


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
            if path.is_file() and USER_RE.fullmatch(path.name):
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
            rules = provision(admin, codes, fresh, t, producers=producers, prune=prune).rules
        for user, password in fresh.items():
            self._store(user, password)
        return rules
