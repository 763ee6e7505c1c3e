"""kafka_access without a broker: the names from the environment, the command line, the credential logic.

The ACL set itself and everything the broker does with it: tests/integration/test_access_control.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from typer.testing import CliRunner

from ioc.commands import kafka_access as command
from ioc.devstack.kafka_sasl import scram_format_args
from kafka_access import admin as access_admin
from kafka_access.acl import AclTopology, acl_rules, agency_user
from kafka_access.settings import KafkaAccessSettings
from notifier.settings import NotifySettings
from streams.settings import StreamSettings

IOC_NAMES = ("IOC_EVENTS_TOPIC", "IOC_DLQ_TOPIC", "IOC_ALERTS_TOPIC", "IOC_TICKS_TOPIC", "IOC_APP_ID",
             "IOC_NOTIFY_GROUP", "IOC_KAFKA_SECURITY_PROTOCOL", "IOC_KAFKA_USERNAME", "IOC_KAFKA_PASSWORD",
             "IOC_CATALOG")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in IOC_NAMES:
        monkeypatch.delenv(name, raising=False)


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(command.app, list(args), env=env)


def test_defaults_are_the_services_defaults() -> None:
    """The access job declares IOC_APP_ID and IOC_NOTIFY_GROUP again: same defaults as the worker's and
    the notifier's settings, else the ACLs would name a group nobody uses."""
    assert KafkaAccessSettings().topology() == AclTopology()
    assert AclTopology().app_id == StreamSettings().app_id
    assert AclTopology().notify_group == NotifySettings().notify_group
    stream = StreamSettings()
    topology = AclTopology()
    assert (topology.events_topic, topology.alerts_topic) == (stream.events_topic, stream.alerts_topic)


def test_names_come_from_the_services_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"IOC_EVENTS_TOPIC": "ev", "IOC_DLQ_TOPIC": "dlq", "IOC_ALERTS_TOPIC": "al",
                        "IOC_TICKS_TOPIC": "ti", "IOC_APP_ID": "app", "IOC_NOTIFY_GROUP": "ng"}.items():
        monkeypatch.setenv(name, value)
    topology = KafkaAccessSettings().topology()
    assert topology == AclTopology("ev", "dlq", "al", "ti", "app", "ng")
    assert topology == KafkaAccessSettings().topology(worker_creates_topics=True)
    assert StreamSettings().app_id == "app" and NotifySettings().notify_group == "ng"  # the same variables
    resources = {(r.resource_type, r.resource_name) for r in acl_rules(["STP"], topology)}
    assert resources == {("TOPIC", "ev"), ("TOPIC", "dlq"), ("TOPIC", "al"), ("TOPIC", "ti"),
                         ("TOPIC", "app"), ("GROUP", "app"), ("GROUP", "ng")}


def test_acls_prints_the_set_with_the_environment_names() -> None:
    result = run("acls", "--agency", "STP", "--agency", "SKHDT", env={"IOC_EVENTS_TOPIC": "agency-events"})
    assert result.exit_code == 0, result.output
    row = f"| `User:{agency_user('STP')}` | TOPIC | `agency-events` | LITERAL | DESCRIBE, WRITE |"
    assert row in result.output
    assert f"`User:{agency_user('SKHDT')}`" in result.output
    assert "dossier-events`" not in result.output


def test_acls_defaults_to_the_catalog() -> None:
    result = run("acls")
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"`User:agency-[A-Z0-9_]+` \| TOPIC", result.output)) == 19  # the sample's agencies


def test_env_prints_fresh_passwords_the_broker_format_accepts() -> None:
    first, second = run("env"), run("env")
    lines = first.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == list(access_admin.ENV_PASSWORDS)
    values = [line.split("=", 1)[1] for line in lines]
    again = {line.split("=", 1)[1] for line in second.stdout.splitlines()}
    assert len(set(values)) == len(access_admin.ENV_PASSWORDS) == 5 and set(values).isdisjoint(again)
    assert scram_format_args({"admin": values[0]})  # start.sh's --add-scram accepts it


@pytest.mark.parametrize("args", [
    ["set-password", "agency STP"],
    ["revoke", "ok-user", "bad/user"],
    ["apply", "--agency", "STP", "--password-env", "no-equals-sign"],
    ["apply", "--agency", "STP", "--password-env", "bad user=VAR"],
])
def test_usage_errors_before_any_connection(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    def connect(*_: Any, **__: Any) -> Any:
        raise AssertionError("connected despite a usage error")

    monkeypatch.setattr(access_admin, "connect", connect)
    monkeypatch.setenv("VAR", "some-password")
    result = run(*args, env={"IOC_KAFKA_PASSWORD": "admin-password"})
    assert result.exit_code == 2, result.output


def test_sasl_without_a_password_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_admin, "connect", lambda *a, **k: pytest.fail("connected"))
    result = run("revoke", "agency-STP")
    assert result.exit_code == 2
    assert "IOC_KAFKA_PASSWORD" in result.output


def test_an_empty_password_variable_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_admin, "connect", lambda *a, **k: pytest.fail("connected"))
    result = run("set-password", "agency-STP", "--password-env", "UNSET_VARIABLE",
                 env={"IOC_KAFKA_PASSWORD": "admin-password"})
    assert result.exit_code == 1
    assert "UNSET_VARIABLE is empty or unset" in result.output


class FakeAdmin:
    """Only what `_credentials_to_set` asks: which users have a SCRAM-SHA-256 credential."""

    def __init__(self, users: set[str]) -> None:
        self.users = users

    def describe_user_scram_credentials(self, names: list[str]) -> dict[str, Any]:
        from kafka.admin import ScramMechanism

        known = {"error": None, "credential_infos": [{"mechanism": ScramMechanism.SCRAM_SHA_256,
                                                      "iterations": 8192}]}
        unknown = {"error": "Attempt to describe a user credential that does not exist",
                   "credential_infos": []}
        return {name: known if name in self.users else unknown for name in names}


def test_only_missing_or_changed_passwords_are_written() -> None:
    passwords = {"new-user": "a" * 32, "same-user": "b" * 32, "rotated-user": "c" * 32}
    tried: list[str] = []

    def logs_in(user: str, password: str) -> bool:
        tried.append(user)
        return user == "same-user"

    admin = FakeAdmin({"same-user", "rotated-user"})
    to_set = access_admin._credentials_to_set(admin, passwords, logs_in)
    assert to_set == {"new-user": "a" * 32, "rotated-user": "c" * 32}
    assert sorted(tried) == ["rotated-user", "same-user"]  # no login try for a user without credential
    assert access_admin._credentials_to_set(admin, passwords, None) == passwords  # no check: write all
