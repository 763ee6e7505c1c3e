"""Every environment variable the app reads is in docs/configuration.md, and the deployment files set
only variables the app reads.

The variables are collected from the code, not from a list: the pydantic-settings classes (with their
env prefix), every `envvar=` of a typer option, every `os.environ` / `os.getenv` / `env_flag` read and
every `IOC_*` string literal in the packages, the `${VAR}`s Grafana expands in the provisioning files, and
the variables of the test runner scripts.
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dossiers", "producers", "streams", "notifier", "grafana", "ioc", "kafka_settings")
TEST_STACK = ROOT / "tests" / "support" / "stack.py"
"""The test fixtures' logic reads CI and IOC_TEST_* (documented too: they change what scripts/test does)."""
DOC = ROOT / "docs" / "configuration.md"
SCRIPTS = (ROOT / "scripts" / "test", ROOT / ".ci" / "run")
PROVISIONING = (ROOT / "grafana" / "provisioning" / "datasources",
                ROOT / "grafana" / "provisioning" / "alerting")

SECTIONS = {
    "kafka_settings.settings.KafkaSettings": "## Kafka connection (every service)",
    "streams.settings.StreamSettings": "## 1. Stream worker",
    "notifier.settings.NotifySettings": "## 2. Supervisor notifier",
    "producers.gateway.settings.GatewaySettings": "## 3a. HTTP gateway",
}
"""Which docs/configuration.md section holds the table of each settings class (defaults are checked)."""

IOC_LITERAL = re.compile(r"IOC_[A-Z0-9_]+")


def _sources() -> Iterator[tuple[str, ast.Module]]:
    paths = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    for path in [*paths, TEST_STACK]:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        yield module, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _strings(node: ast.AST | None) -> list[str]:
    """The string constants of an argument: "X", or ["X", "Y"] / ("X", "Y")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple):
        return [s for element in node.elts for s in _strings(element)]
    return []


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ`."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _environment_reads(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            for keyword in node.keywords:
                if keyword.arg == "envvar":
                    names.update(_strings(keyword.value))
            first = node.args[0] if node.args else None
            if isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value):
                names.update(_strings(first))  # os.environ.get("X")
            elif isinstance(func, ast.Attribute) and func.attr == "getenv":
                names.update(_strings(first))  # os.getenv("X")
            elif isinstance(func, ast.Name) and func.id == "env_flag":
                names.update(_strings(first))  # ioc.devstack.proc.env_flag("CI")
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            names.update(_strings(node.slice))  # os.environ["X"]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if IOC_LITERAL.fullmatch(node.value):  # e.g. env.get("IOC_TEST_INFLUX_URL") on a mapping
                names.add(node.value)
            # "${IOC_DIRECTOR_EMAIL}" written into a provisioning file, for Grafana to expand
            names.update(re.findall(r"\$\{(IOC_[A-Z0-9_]+)\}", node.value))
    return names


@functools.cache
def settings_classes() -> dict[str, type[BaseSettings]]:
    """Every pydantic-settings class defined in the packages (directly or through a base of ours)."""
    found: dict[str, type[BaseSettings]] = {}
    for module, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.bases:
                cls = getattr(importlib.import_module(module), node.name, None)
                if isinstance(cls, type) and issubclass(cls, BaseSettings):
                    found[f"{module}.{node.name}"] = cls
    return found


def settings_env(cls: type[BaseSettings]) -> dict[str, Any]:
    """Environment variable name -> default of each field of a settings class."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    result: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, str):
            names = [alias]
        elif isinstance(alias, AliasChoices):
            names = [choice for choice in alias.choices if isinstance(choice, str)]
        else:
            names = [prefix + name]
        for env_name in names:
            result[env_name.upper()] = field.get_default(call_default_factory=True)
    return result


def _script_variables(path: Path) -> set[str]:
    """`${NAME...}` read by a shell script, minus the variables the script assigns itself."""
    text = path.read_text(encoding="utf-8")
    read = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)[:}+-]", text))
    assigned = set(re.findall(r"^\s*(?:local\s+|export\s+)?([A-Z_][A-Z0-9_]*)=", text, re.M))
    return read - assigned


@functools.cache
def app_variables() -> frozenset[str]:
    """Every environment variable the app (packages, provisioning files, test scripts) reads."""
    names: set[str] = set()
    for cls in settings_classes().values():
        names.update(settings_env(cls))
    for _, tree in _sources():
        names.update(_environment_reads(tree))
    for directory in PROVISIONING:
        for path in directory.glob("*.yaml"):
            names.update(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", path.read_text(encoding="utf-8")))
    from grafana.datasources import ENV_VARS

    names.update(ENV_VARS)
    for script in SCRIPTS:
        if script.is_file():
            names.update(_script_variables(script))
    return frozenset(names)


def documented() -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", DOC.read_text(encoding="utf-8")))


def test_the_collector_finds_variables_of_every_kind() -> None:
    """Not vacuous: one variable of each way of reading the environment is found."""
    expected = {
        "IOC_KAFKA_BOOTSTRAP",  # StreamSettings / NotifySettings
        "IOC_SMTP_PASSWORD",  # NotifySettings only
        "IOC_AGENCY_IDENTITY",  # typer envvar=
        "GRAFANA_TOKEN",  # typer envvar= outside IOC_
        "XDG_STATE_HOME",  # os.environ.get
        "CI",  # env_flag
        "IOC_TEST_INFLUX_BUCKET",  # a mapping's .get("IOC_...")
        "INFLUX_TOKEN",  # ${VAR} in the data source file
        "IOC_DIRECTOR_EMAIL",  # ${VAR} in the alerting file
        "IOC_SKIP_LINT",  # scripts/test
    }
    assert expected <= app_variables()
    assert {"streams.settings.StreamSettings", "notifier.settings.NotifySettings"} <= set(settings_classes())


def test_every_variable_is_documented() -> None:
    missing = sorted(app_variables() - documented())
    assert missing == [], f"add these to {DOC.relative_to(ROOT)}: {', '.join(missing)}"


def test_every_settings_class_has_a_section() -> None:
    assert sorted(set(settings_classes()) - set(SECTIONS)) == [], "add a table and a SECTIONS entry"


def _section_rows(heading: str) -> dict[str, str]:
    """variable -> default cell of the table under `heading` (up to the next `## `)."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + 1)
    rows: dict[str, str] = {}
    for line in text[start : end if end != -1 else None].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3:
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
                rows[name] = cells[1]
    return rows


def _renderings(value: Any) -> set[str]:
    """How a default may be written in the table (inside backticks)."""
    if isinstance(value, bool):
        return {str(value).lower()}
    if isinstance(value, float):
        return {repr(value), f"{value:g}"}
    if isinstance(value, time):
        return {value.strftime("%H:%M")}
    if isinstance(value, Path):
        text = str(value)
        return {text, f"./{text}"} if not value.is_absolute() else {text}
    return {str(value)}


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_settings_defaults_match_the_tables(name: str) -> None:
    cls = settings_classes()[name]
    rows = _section_rows(SECTIONS[name])
    inherited: set[str] = set()
    for base in cls.__mro__[1:]:  # a base of ours has its own table (e.g. the Kafka connection)
        base_name = f"{base.__module__}.{base.__qualname__}"
        if base_name in SECTIONS:
            inherited |= set(settings_env(base))
    wrong = []
    for variable, default in settings_env(cls).items():
        if variable in inherited:
            continue
        assert variable in rows, f"{variable} is not in the table of {SECTIONS[name]}"
        if default is None:
            continue  # "unset (...)": the meaning of unset is explained in words
        cell = rows[variable]
        if not any(f"`{text}`" in cell for text in _renderings(default)):
            wrong.append(f"{variable}: code {default!r}, docs {cell!r}")
    assert wrong == []


# -- the deployment files set only variables the app reads ------------------------------------------------


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8")))


def _service_env(service: dict[str, Any]) -> set[str]:
    env = service.get("environment") or {}
    return {item.split("=", 1)[0] for item in env} if isinstance(env, list) else set(env)


def _strings_of(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings_of(value)


def _compose_interpolated() -> set[str]:
    """Names of the `${VAR}`s in the values of docker-compose.yml (comments are not read)."""
    return {name for text in _strings_of(_compose())
            for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text.replace("$$", ""))}


def test_compose_sets_only_ioc_variables_the_app_reads() -> None:
    """No typo: every IOC_ variable in docker-compose.yml (set in a container or interpolated) exists."""
    used = {name for service in _compose()["services"].values() for name in _service_env(service)}
    used |= _compose_interpolated()
    unknown = sorted(name for name in used if name.startswith("IOC_") and name not in app_variables())
    assert unknown == []


def _simulate_envvars() -> set[str]:
    import typer

    from ioc.commands import simulate as simulate_cli

    app = typer.Typer()
    simulate_cli.register(app)
    command = typer.main.get_command(app)
    names: set[str] = set()
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        names.update([envvar] if isinstance(envvar, str) else envvar or [])
    return names


def test_each_app_service_gets_only_variables_it_reads() -> None:
    """The worker's IOC_ variables are StreamSettings fields, the notifier's NotifySettings fields, the
    simulator's options of `ioc simulate` (or the SDK's spool path)."""
    classes = settings_classes()
    readers = {
        "worker": set(settings_env(classes["streams.settings.StreamSettings"])),
        "notifier": set(settings_env(classes["notifier.settings.NotifySettings"])),
        "simulator": _simulate_envvars() | {"IOC_SPOOL_PATH"},  # producers.sdk.default_spool_path
    }
    assert "IOC_CLOCK_ORIGIN" in readers["simulator"]
    services = _compose()["services"]
    for name, reads in readers.items():
        ioc = {variable for variable in _service_env(services[name]) if variable.startswith("IOC_")}
        assert sorted(ioc - reads) == [], f"{name} is given variables it does not read"


def test_grafana_gets_the_variables_of_its_provisioning_files() -> None:
    grafana = _service_env(_compose()["services"]["grafana"])
    ioc = {name for name in grafana if name.startswith("IOC_")}
    assert ioc <= app_variables()


def test_dockerfile_sets_only_variables_the_app_reads() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    names = set(re.findall(r"\b((?:IOC|XDG)_[A-Z0-9_]+)=", text))
    assert {"IOC_DATA_DIR", "IOC_NOTIFY_DB", "IOC_SPOOL_PATH"} <= names
    assert sorted(names - app_variables()) == []


def test_compose_variables_are_documented() -> None:
    """Every `${VAR}` of docker-compose.yml (the .env file's variables) is in docs/configuration.md."""
    missing = sorted(_compose_interpolated() - documented())
    assert missing == []
