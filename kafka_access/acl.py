"""The ACL set of ioc-monitor: principals, and what each may do (docs/security.md, section 3).

Pure: no I/O, no Kafka client. Each agency may only *write* the events topic; the stream worker reads it
and writes its outputs and internal topics; the notifier reads the alerts; nobody else reads anything.
What is not allowed is refused (the broker runs with `allow.everyone.if.no.acl.found=false`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from dossiers import wire

__all__ = [
    "ADMIN_USER",
    "AGENCY_USER_PREFIX",
    "NOTIFIER_USER",
    "SIMULATOR_USER",
    "WORKER_USER",
    "AclRule",
    "AclTopology",
    "acl_rules",
    "acl_table",
    "agency_user",
    "check_user",
]

ADMIN_USER = "admin"
"""Super user: the broker's own (inter-broker, controller) identity and the operators' admin tool."""
WORKER_USER = "ioc-worker"
NOTIFIER_USER = "ioc-notifier"
SIMULATOR_USER = "ioc-simulator"
"""Demo only (`--profile demo`): writes events of every agency, so it carries no identity header."""
GATEWAY_USER = "ioc-gateway"
"""The HTTP gateway (`ioc gateway`): writes events of every agency that has an API key, each record with
its key's `ioc-agency` header (docs/gateway.md)."""
AGENCY_USER_PREFIX = "agency-"

USER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}")
"""A user name safe as a SCRAM user, a principal and a secret file name."""

ResourceKind = Literal["TOPIC", "GROUP", "TRANSACTIONAL_ID", "CLUSTER"]
PatternKind = Literal["LITERAL", "PREFIXED"]
Operation = Literal[
    "READ", "WRITE", "DESCRIBE", "CREATE", "DELETE", "ALTER", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"
]


def check_user(name: str) -> str:
    """`name` if it is safe as a SCRAM user, a principal and a file name (letters, digits, `_.-`)."""
    if not USER_RE.fullmatch(name):
        raise ValueError(f"invalid Kafka user name {name!r}: letters, digits, '_', '.', '-' only")
    return name


def agency_user(code: str) -> str:
    """The SCRAM user (Kafka principal `User:<this>`) of an agency: `agency-<CODE>`."""
    return check_user(f"{AGENCY_USER_PREFIX}{code}")


@dataclass(frozen=True)
class AclTopology:
    """The names the ACLs are about: topics, the Faust app id (= group, prefix of its internal topics)
    and the notifier's group. The defaults are the services' defaults; a deployment
    reads its own from the environment with `kafka_access.settings.KafkaAccessSettings().topology()`."""

    events_topic: str = wire.EVENTS_TOPIC
    dlq_topic: str = wire.DLQ_TOPIC
    alerts_topic: str = wire.ALERTS_TOPIC
    ticks_topic: str = wire.TICKS_TOPIC
    app_id: str = "ioc-monitor"
    notify_group: str = "ioc-notifier"
    worker_user: str = WORKER_USER
    notifier_user: str = NOTIFIER_USER
    worker_creates_topics: bool = True
    """`ioc worker` creates the four topics when missing (streams/topics.py), so it needs CREATE on
    them; False when an operator pre-creates them as admin (then the worker never creates anything but
    its own `<app_id>-*` internal topics)."""


@dataclass(frozen=True, order=True)
class AclRule:
    """One ALLOW ACL, host `*` (no DENY rules: what is not allowed is refused)."""

    principal: str
    resource_type: ResourceKind
    resource_name: str
    pattern: PatternKind
    operation: Operation

    @property
    def user(self) -> str:
        return self.principal.removeprefix("User:")


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
    # no TRANSACTIONAL_ID: the worker refuses exactly_once (streams.settings.EXACTLY_ONCE_REFUSED)

    notifier = t.notifier_user
    allow(notifier, "TOPIC", t.alerts_topic, "LITERAL", "READ", "DESCRIBE")
    allow(notifier, "GROUP", t.notify_group, "LITERAL", "READ", "DESCRIBE")
    return sorted(rules)


def acl_table(rules: Iterable[AclRule]) -> str:
    """A Markdown table of the rules, one row per principal and resource (as in docs/security.md)."""
    rows: dict[tuple[str, str, str, str], list[str]] = {}
    for rule in sorted(rules):
        key = (rule.principal, rule.resource_type, rule.resource_name, rule.pattern)
        rows.setdefault(key, []).append(rule.operation)
    lines = ["| principal | resource | name | pattern | operations |", "| --- | --- | --- | --- | --- |"]
    for (principal, kind, name, pattern), ops in rows.items():
        lines.append(f"| `{principal}` | {kind} | `{name}` | {pattern} | {', '.join(ops)} |")
    return "\n".join(lines) + "\n"
