"""docker-compose.yml, the Dockerfile and the files they mount, checked statically (no Docker engine here).

The compose file is validated against the Compose Specification JSON Schema (tests/data/compose-spec.json,
origin in tests/data/README.md) before and after `${VAR:-default}` interpolation, the way Compose reads it;
then the wiring the schema cannot see: paths that must exist, ports and listeners that must agree,
start order, scaling, and the Kafka version shared with the local broker.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from ioc.devstack.kafka import KAFKA_VERSION
from kafka_access import acl as access_acl
from kafka_access import admin as access_admin

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose-spec.json"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
KAFKA_SASL_DIR = ROOT / "deploy" / "kafka-sasl"
ENV_EXAMPLE = ROOT / ".env.example"

SERVICES = {"kafka", "kafka-acls", "influxdb", "grafana", "prometheus", "worker", "notifier", "simulator",
            "gateway"}
APP_SERVICES = {"worker", "notifier", "simulator", "gateway"}
"""Long-running services of our image (built from ./Dockerfile)."""
ONE_SHOT = {"kafka-acls"}
"""Our image too, run to completion at each `up` (SCRAM users and ACLs) before the Kafka clients start."""
KAFKA_CLIENTS = {"worker": "ioc-worker", "notifier": "ioc-notifier", "simulator": "ioc-simulator",
                 "gateway": "ioc-gateway"}
"""Each Kafka client service and its SCRAM user (docs/security.md, section 2)."""
SECRETS = frozenset(access_admin.ENV_PASSWORDS)
"""The `.env` passwords (`ioc kafka-access env`): required, never defaulted."""
TEST_SECRETS = {name: f"test-{name.lower().replace('_', '-')}-0123456789" for name in sorted(SECRETS)}
"""What the tests put in the `.env` environment (Compose refuses to load the file without them)."""


# -- Compose's variable interpolation ---------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _braced_end(text: str, start: int) -> int:
    """Index of the `}` closing the `${` whose body starts at `start` (nested `${...}` allowed)."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unclosed ${{ in {text!r}")


def interpolate(text: str, env: Mapping[str, str], seen: list[tuple[str, str | None]] | None = None) -> str:
    """Compose's interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?e}`, `${VAR?e}`,
    `${VAR:+a}`, `${VAR+a}`, defaults nested. `seen` collects (name, operator) pairs."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("${", i):
            end = _braced_end(text, i + 2)
            body = text[i + 2 : end]
            match = _NAME.match(body)
            if match is None:
                raise ValueError(f"bad substitution ${{{body}}}")
            name, rest = match.group(), body[match.end() :]
            op = next((o for o in (":-", ":?", ":+", "-", "?", "+") if rest.startswith(o)), None)
            if op is None and rest:
                raise ValueError(f"bad substitution ${{{body}}}")
            arg = interpolate(rest[len(op) :], env, seen) if op else ""
            if seen is not None:
                seen.append((name, op))
            value = env.get(name)
            is_set, non_empty = value is not None, bool(value)
            if op in (":-", "-"):
                out.append((value or "") if (non_empty if op == ":-" else is_set) else arg)
            elif op in (":?", "?"):
                if not (non_empty if op == ":?" else is_set):
                    raise KeyError(f"{name}: {arg}")
                out.append(value or "")
            elif op in (":+", "+"):
                out.append(arg if (non_empty if op == ":+" else is_set) else "")
            else:
                out.append(value or "")
            i = end + 1
            continue
        match = _NAME.match(text, i + 1)
        if match is None:
            out.append("$")
            i += 1
            continue
        if seen is not None:
            seen.append((match.group(), None))
        out.append(env.get(match.group(), ""))
        i = match.end()
    return "".join(out)


def interpolate_tree(
    node: Any, env: Mapping[str, str], seen: list[tuple[str, str | None]] | None = None
) -> Any:
    """Interpolate every string of a loaded YAML document (keys stay as they are, as in Compose)."""
    if isinstance(node, str):
        return interpolate(node, env, seen)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env, seen) for value in node]
    return node


def load_compose(env: Mapping[str, str] | None = None, *, secrets: bool = True) -> dict[str, Any]:
    """docker-compose.yml as Compose sees it with `env` as the shell/.env environment: the required
    secrets (TEST_SECRETS, unless `secrets=False`) and `env`."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return dict(interpolate_tree(raw, {**(TEST_SECRETS if secrets else {}), **(env or {})}))


def raw_compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")))


def environment(service: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's `environment`, list or mapping form, as name -> value (None = passed through)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return {name: value for name, value in pairs}
    return {name: None if value is None else str(value) for name, value in env.items()}


@functools.cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(document: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator().iter_errors(document)
    ]


# -- the interpolation helper itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:-x}", {"A": "y"}, "y"),
        ("${A:-${B:-z}}", {}, "z"),
        ("${A:-${B:-z}}", {"B": "b"}, "b"),
        ("${A:+set}", {"A": "1"}, "set"),
        ("$$HOME and $A", {"A": "a"}, "$HOME and a"),
        ("HOST://${H:-localhost}:${P:-9092},X://k:1", {"P": "29092"}, "HOST://localhost:29092,X://k:1"),
    ],
)
def test_interpolation_follows_compose(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == expected


def test_interpolation_required_variable_fails() -> None:
    with pytest.raises(KeyError):
        interpolate("${A:?set A}", {})


# -- the schema ------------------------------------------------------------------------------------------


def test_schema_is_the_recorded_copy() -> None:
    """The vendored schema is byte-for-byte the file tests/data/README.md names (never edited by hand)."""
    readme = (SCHEMA_FILE.parent / "README.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256: `([0-9a-f]{64})`", readme)
    assert recorded is not None, "tests/data/README.md must record the schema's sha256"
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == recorded.group(1)
    assert (SCHEMA_FILE.parent / "LICENSE.compose-spec").is_file()


def test_compose_file_matches_the_compose_specification() -> None:
    assert schema_errors(raw_compose()) == []
    assert schema_errors(load_compose()) == []


def test_compose_file_matches_the_specification_with_every_variable_set() -> None:
    env = {name: "1" for name, _ in compose_variables()}
    assert schema_errors(load_compose(env)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "worker", "imagee"), "x"),  # unknown service key
        (("services", "worker", "depends_on", "kafka", "condition"), "service_healty"),
        (("services", "worker", "restart"), ["always"]),
        (("volumes", "kafka-data", "drivr"), "local"),
    ],
)
def test_schema_rejects_mistakes(path: tuple[str, ...], value: object) -> None:
    """The validation is not vacuous: typical typos in this very file are caught."""
    document = copy.deepcopy(load_compose())
    node = document
    for key in path[:-1]:
        if node.get(key) is None:  # e.g. `kafka-data:` (a volume with no options) loads as None
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    assert schema_errors(document) != []


def compose_variables() -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []
    interpolate_tree(raw_compose(), TEST_SECRETS, seen)  # the required secrets set, nothing else
    return seen


def test_every_variable_has_a_default_except_the_secrets() -> None:
    """No 'variable is not set' warnings: every variable has a default, but the Kafka passwords are
    required (`${VAR:?message}`): Compose refuses to start without them rather than use a known value."""
    bare = sorted({name for name, op in compose_variables() if op not in (":-", "-") and name not in SECRETS})
    assert bare == []
    used = {name: {op for n, op in compose_variables() if n == name} for name in SECRETS}
    assert used == {name: {":?"} for name in SECRETS}, "a secret must be ${VAR:?...}, never defaulted"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_each_secret_is_required(missing: str) -> None:
    env = {name: value for name, value in TEST_SECRETS.items() if name != missing}
    with pytest.raises(KeyError, match=missing):
        load_compose(env, secrets=False)
    with pytest.raises(KeyError, match=missing):  # empty counts as unset (`:?`)
        load_compose({**env, missing: ""}, secrets=False)


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def test_env_example_and_gitignore() -> None:
    """.env.example sets every required secret (placeholders only) and says how to generate real ones;
    the real `.env` is never committed nor sent to the image build."""
    example = _env_file(ENV_EXAMPLE)
    assert set(example) == SECRETS
    assert schema_errors(load_compose(example, secrets=False)) == []
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "ioc kafka-access env" in text and "devstack" not in text
    # the placeholders cannot start the broker (start.sh wants 16 characters at least)
    start = (KAFKA_SASL_DIR / "start.sh").read_text(encoding="utf-8")
    rule = re.search(r'KAFKA_ADMIN_PASSWORD" =~ \^(.+?)\$ \]\]', start)
    assert rule is not None
    assert re.fullmatch(rule.group(1), example["KAFKA_ADMIN_PASSWORD"]) is None
    assert re.fullmatch(rule.group(1), access_admin.new_password())  # what `env` generates is accepted
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in gitignore
    assert ".env" in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    """Where the Docker Compose v2 plugin exists, its own loader agrees (`docker compose config`)."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        pytest.skip("the docker compose plugin is not installed (the schema tests above still ran)")
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("", encoding="utf-8")

    def config(env_file: Path, *profile: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [docker, "compose", "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *profile,
             "config", "--quiet"],
            cwd=ROOT, env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")},
            capture_output=True, text=True, timeout=120, check=False,
        )

    for profile in ([], ["--profile", "demo"]):
        result = config(ENV_EXAMPLE, *profile)
        assert result.returncode == 0, result.stderr
        assert "not set" not in result.stderr, result.stderr  # no variable without a default
    refused = config(empty_env)
    assert refused.returncode != 0 and "KAFKA_" in refused.stderr  # the secrets are required


# -- services, start order, scaling -----------------------------------------------------------------------


def test_services() -> None:
    compose = load_compose()
    assert set(compose["services"]) == SERVICES
    assert compose["name"] == "ioc-monitor"


def test_every_service_restarts_and_rotates_its_logs() -> None:
    for name, service in load_compose()["services"].items():
        expected = ("no",) if name in ONE_SHOT else ("unless-stopped", "always", "on-failure")
        assert service.get("restart") in expected, name
        assert service.get("logging", {}).get("options", {}).get("max-size"), name
    assert load_compose()["services"]["simulator"]["restart"] == "on-failure"  # a finished run stays done


def test_start_order_waits_for_health() -> None:
    services = load_compose()["services"]
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            if spec.get("condition") == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health: it has none"
    assert services["worker"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "kafka-acls": {"condition": "service_completed_successfully"},
        "influxdb": {"condition": "service_healthy"},
    }
    assert services["notifier"]["depends_on"]["kafka"] == {"condition": "service_healthy"}
    # the users and ACLs exist before any Kafka client logs in; the job itself waits for the broker
    assert services["kafka-acls"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    for name in KAFKA_CLIENTS:
        assert services[name]["depends_on"]["kafka-acls"] == {"condition": "service_completed_successfully"}
    assert services["grafana"]["depends_on"]["influxdb"] == {"condition": "service_healthy"}
    assert services["simulator"]["depends_on"]["worker"] == {"condition": "service_healthy"}


def test_long_running_services_have_healthchecks() -> None:
    services = load_compose()["services"]
    for name in ("kafka", "influxdb", "worker", "prometheus", "grafana"):
        test = services[name]["healthcheck"]["test"]
        assert isinstance(test, list) and test[0] == "CMD", name


def test_simulator_only_in_the_demo_profile() -> None:
    services = load_compose()["services"]
    assert services["simulator"]["profiles"] == ["demo"]
    assert [name for name, s in services.items() if "profiles" in s] == ["simulator"]


def test_worker_scales() -> None:
    """`docker compose up --scale worker=N`: no fixed host port, no container name, no shared volume."""
    worker = load_compose()["services"]["worker"]
    assert "ports" not in worker and "container_name" not in worker
    volumes = worker.get("volumes", [])
    assert volumes, "the RocksDB directory should be on a volume (anonymous: one per replica)"
    for volume in volumes:
        assert isinstance(volume, str) and ":" not in volume, f"{volume}: only anonymous volumes scale"
    env = environment(worker)
    assert env["IOC_STORE"] == "rocksdb://"
    assert env["IOC_DATA_DIR"] in volumes


def test_app_services_share_the_image() -> None:
    services = load_compose()["services"]
    images = {services[name]["image"] for name in APP_SERVICES | ONE_SHOT}
    assert len(images) == 1
    for name in APP_SERVICES | ONE_SHOT:
        assert services[name]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        assert services[name].get("init") is True, f"{name}: signals must reach `ioc` (PID 1)"
    assert services["worker"]["command"] == ["worker"]
    assert services["notifier"]["command"] == ["notify"]
    command = services["simulator"]["command"]
    assert command[:2] == ["simulate", "--kafka"] and "--speed" in command


def test_notifier_state_is_persistent() -> None:
    notifier = load_compose()["services"]["notifier"]
    db = environment(notifier)["IOC_NOTIFY_DB"]
    assert db is not None
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in notifier["volumes"]}
    assert str(Path(db).parent) in mounts
    assert mounts[str(Path(db).parent)] in load_compose()["volumes"]  # a named volume


# -- Kafka --------------------------------------------------------------------------------------------------


def test_kafka_version_matches_the_local_broker() -> None:
    """The same Kafka in Docker as in tests and `ioc dev kafka` (docs: why 3.9.1, not 4.x)."""
    image = load_compose()["services"]["kafka"]["image"]
    assert image == f"apache/kafka:{KAFKA_VERSION}"
    pom = (ROOT / "ioc" / "devstack" / "kafka" / "pom.xml").read_text(encoding="utf-8")
    assert f"<kafka.version>{KAFKA_VERSION}</kafka.version>" in pom


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    result = {}
    for item in value.split(","):
        name, address = item.split("://", 1)
        host, port = address.rsplit(":", 1)
        result[name] = (host, int(port))
    return result


def _properties(path: Path) -> dict[str, str]:
    """A Java .properties file as key -> value (no continuation lines in ours)."""
    result = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith(("#", "!")):
            key, value = line.split("=", 1)
            result[key.strip()] = value.strip()
    return result


def _expand_env(value: str, env: Mapping[str, str | None]) -> str:
    """Kafka's EnvVarConfigProvider: `${env:NAME}` from the container's environment (which must set it)."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        assert env.get(name), f"{name} is read by server.properties but not set in the kafka container"
        return env[name] or ""

    return re.sub(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", one, value)


def test_kafka_runs_the_sasl_configuration() -> None:
    """kafka: our start script (formats with admin's SCRAM credential), the mounted deploy/kafka-sasl, and
    only the variables start.sh and server.properties read."""
    kafka = load_compose()["services"]["kafka"]
    assert kafka["entrypoint"] == ["/bin/bash", "/etc/kafka-sasl/start.sh"]
    assert "./deploy/kafka-sasl:/etc/kafka-sasl:ro" in kafka["volumes"]
    assert dict(_bind_mounts(kafka))["/etc/kafka-sasl"] == KAFKA_SASL_DIR
    assert _host_path(kafka, "/etc/kafka-sasl/start.sh").is_file()
    env = environment(kafka)
    assert set(env) == {"CLUSTER_ID", "KAFKA_ADMIN_PASSWORD", "KAFKA_ADVERTISED_HOST", "KAFKA_HOST_PORT",
                        "KAFKA_NUM_PARTITIONS"}
    assert env["KAFKA_ADMIN_PASSWORD"] == TEST_SECRETS["KAFKA_ADMIN_PASSWORD"]
    start = (KAFKA_SASL_DIR / "start.sh").read_text(encoding="utf-8")
    props = " ".join(_properties(KAFKA_SASL_DIR / "server.properties").values())
    read = set(re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", props))
    read |= set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)[:}]", start)) - {"KAFKA_HOME", "KAFKA_LOG4J_OPTS"}
    assert read == set(env)
    # the data volume is where start.sh formats and server.properties logs
    assert "kafka-data:/var/lib/kafka/data" in kafka["volumes"]
    assert _properties(KAFKA_SASL_DIR / "server.properties")["log.dirs"] == "/var/lib/kafka/data"
    assert "data_dir=/var/lib/kafka/data" in start
    subprocess.run(["bash", "-n", str(KAFKA_SASL_DIR / "start.sh")], check=True)
    # the healthcheck logs in as admin (anonymous requests are refused on every listener)
    test = kafka["healthcheck"]["test"]
    config = test[test.index("--command-config") + 1]
    client = _properties(_host_path(kafka, config))
    assert client["security.protocol"] == "SASL_PLAINTEXT" and "${env:KAFKA_ADMIN_PASSWORD}" in (
        client["sasl.jaas.config"])


@pytest.mark.parametrize("env", [{}, {"KAFKA_HOST_PORT": "29092", "KAFKA_ADVERTISED_HOST": "kafka.example"}])
def test_kafka_listeners_agree(env: dict[str, str]) -> None:
    services = load_compose(env)["services"]
    kafka_env = environment(services["kafka"])
    props = {key: _expand_env(value, kafka_env)
             for key, value in _properties(KAFKA_SASL_DIR / "server.properties").items()}
    listeners = _listeners(props["listeners"])
    advertised = _listeners(props["advertised.listeners"])
    protocols = dict(item.split(":") for item in props["listener.security.protocol.map"].split(","))
    assert set(listeners) == set(protocols)
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}  # no listener without authentication
    assert set(advertised) == set(listeners) - {props["controller.listener.names"]}
    assert props["inter.broker.listener.name"] in advertised
    # the controller quorum: this node, on the CONTROLLER listener's port
    voter_id, voter = props["controller.quorum.voters"].split("@")
    assert voter_id == props["node.id"]
    assert int(voter.rsplit(":", 1)[1]) == listeners[props["controller.listener.names"]][1]
    # containers use the INTERNAL listener under the service's name
    internal = "{}:{}".format(*advertised["INTERNAL"])
    assert internal == f"kafka:{listeners['INTERNAL'][1]}"
    for name in APP_SERVICES:
        assert environment(services[name])["IOC_KAFKA_BOOTSTRAP"] == internal
    command = services["kafka-acls"]["command"]
    assert command[command.index("--bootstrap") + 1] == internal
    assert environment(services["kafka-acls"])["IOC_KAFKA_BOOTSTRAP"] == internal  # for `run ... revoke`
    # the host port maps to the HOST listener, and is what it advertises
    port = services["kafka"]["ports"][0].rsplit(":", 2)
    assert int(port[-1]) == listeners["HOST"][1]
    assert advertised["HOST"] == (env.get("KAFKA_ADVERTISED_HOST", "localhost"), int(port[-2]))
    # the health check talks to the INTERNAL listener, inside the container
    bootstrap = services["kafka"]["healthcheck"]["test"][-1]
    assert bootstrap == f"localhost:{listeners['INTERNAL'][1]}"
    # single node: replication factor 1 everywhere, and a fixed cluster id (the volume is formatted with it)
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", kafka_env["CLUSTER_ID"] or "")


def test_kafka_clients_log_in_with_their_own_user() -> None:
    """worker, notifier, simulator: SASL_PLAINTEXT on the INTERNAL listener, their own SCRAM user, and a
    password from a required `.env` variable that the kafka-acls job sets for that very user."""
    raw = raw_compose()["services"]
    services = load_compose()["services"]
    command = services["kafka-acls"]["command"]
    password_envs = dict(command[i + 1].split("=", 1)
                         for i, arg in enumerate(command) if arg == "--password-env")
    for name, user in KAFKA_CLIENTS.items():
        env = environment(services[name])
        assert env["IOC_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert env["IOC_KAFKA_USERNAME"] == user, name
        secret = password_envs[user]
        assert secret in SECRETS
        assert raw[name]["environment"]["IOC_KAFKA_PASSWORD"].startswith(f"${{{secret}:?"), name
        assert env["IOC_KAFKA_PASSWORD"] == TEST_SECRETS[secret], name
        assert environment(services["kafka-acls"])[secret] == TEST_SECRETS[secret], name
    assert len({password_envs[user] for user in KAFKA_CLIENTS.values()}) == len(KAFKA_CLIENTS)  # never shared


def test_kafka_acls_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-shot job: `ioc kafka-access apply` (the image's `ioc`) with options the command accepts,
    logged in as admin with the admin's password, with every password it names in its environment. The
    real command runs on the job's arguments and environment, up to the broker (recorded here)."""
    from typer.testing import CliRunner

    from ioc.commands import kafka_access as command

    services = load_compose()["services"]
    job = services["kafka-acls"]
    assert job["entrypoint"] == ["ioc", "kafka-access"]
    assert job["restart"] == "no"
    env = environment(job)
    seen: dict[str, Any] = {}

    class Admin:
        def close(self) -> None:
            seen["closed"] = True

    def connect(settings: Any, *, wait: float) -> Admin:
        seen["login"] = settings
        return Admin()

    def provision(admin: Any, codes: list[str], passwords: dict[str, str], topology: Any,
                  **options: Any) -> access_admin.Provisioned:
        seen.update(codes=codes, passwords=passwords, topology=topology, **options)
        return access_admin.Provisioned(rules=[])

    monkeypatch.setattr(access_admin, "connect", connect)
    monkeypatch.setattr(access_admin, "provision", provision)
    for name in ("IOC_CATALOG", "IOC_KAFKA_BOOTSTRAP", "IOC_KAFKA_SECURITY_PROTOCOL", "IOC_KAFKA_USERNAME",
                 "IOC_KAFKA_PASSWORD", "IOC_KAFKA_SASL_MECHANISM"):
        monkeypatch.delenv(name, raising=False)
    job_env = {name: value for name, value in env.items() if value is not None}
    result = CliRunner().invoke(command.app, list(job["command"]), env=job_env)
    assert result.exit_code == 0, result.output
    assert seen["closed"]
    login = seen["login"]
    assert login.kafka_bootstrap == env["IOC_KAFKA_BOOTSTRAP"] == "kafka:19092"
    assert login.kafka_security_protocol == "SASL_PLAINTEXT" and login.kafka_username == access_acl.ADMIN_USER
    assert login.kafka_password.get_secret_value() == TEST_SECRETS["KAFKA_ADMIN_PASSWORD"] == environment(
        services["kafka"])["KAFKA_ADMIN_PASSWORD"]
    assert seen["prune"] and seen["producers"] == [access_acl.SIMULATOR_USER, access_acl.GATEWAY_USER]
    assert seen["logs_in"] is not None  # a rerun does not rewrite passwords that already work
    assert seen["passwords"] == {
        access_acl.WORKER_USER: TEST_SECRETS["KAFKA_WORKER_PASSWORD"],
        access_acl.NOTIFIER_USER: TEST_SECRETS["KAFKA_NOTIFIER_PASSWORD"],
        access_acl.SIMULATOR_USER: TEST_SECRETS["KAFKA_SIMULATOR_PASSWORD"],
        access_acl.GATEWAY_USER: TEST_SECRETS["KAFKA_GATEWAY_PASSWORD"],
    }
    assert len(seen["codes"]) == 19  # the sample catalog's agencies: IOC_CATALOG is unset here
    assert "IOC_CATALOG" in env  # the same catalog as the workers' (passed through when set)
    assert "IOC_CATALOG" in environment(services["worker"])


@pytest.mark.parametrize("env", [{}, {"IOC_PARTITIONS": "24"}])
def test_partitions_agree(env: dict[str, str]) -> None:
    """Topics auto-created by a producer get as many partitions as the worker would create."""
    services = load_compose(env)["services"]
    partitions = environment(services["kafka"])["KAFKA_NUM_PARTITIONS"]
    assert partitions == environment(services["worker"])["IOC_PARTITIONS"] == env.get("IOC_PARTITIONS", "12")


# -- InfluxDB, Grafana, Prometheus --------------------------------------------------------------------------


@pytest.mark.parametrize("env", [{}, {"INFLUX_TOKEN": "t0k", "INFLUX_ORG": "qng", "INFLUX_BUCKET": "b"}])
def test_influxdb_credentials_agree(env: dict[str, str]) -> None:
    services = load_compose(env)["services"]
    influx, worker, grafana = (environment(services[n]) for n in ("influxdb", "worker", "grafana"))
    assert influx["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert worker["IOC_INFLUX_TOKEN"] == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == grafana["INFLUX_TOKEN"]
    assert worker["IOC_INFLUX_ORG"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert worker["IOC_INFLUX_BUCKET"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert grafana["INFLUX_DB"] == influx["DBRP_DATABASE"]  # the DBRP mapping Grafana's InfluxQL reads
    assert len(influx["DOCKER_INFLUXDB_INIT_PASSWORD"] or "") >= 8  # influx setup refuses shorter ones
    assert urlsplit(worker["IOC_INFLUX_URL"] or "").hostname == "influxdb"
    assert urlsplit(grafana["INFLUX_URL"] or "").hostname == "influxdb"
    assert urlsplit(grafana["PROMETHEUS_URL"] or "").hostname == "prometheus"


def test_grafana_can_use_a_read_only_token() -> None:
    services = load_compose({"INFLUX_READ_TOKEN": "read"})["services"]
    assert environment(services["grafana"])["INFLUX_TOKEN"] == "read"
    assert environment(services["worker"])["IOC_INFLUX_TOKEN"] == "dev-token-change-me"


def test_influxdb_init_script() -> None:
    """The DBRP mapping script: mounted where the image runs it, executable, valid bash."""
    influx = load_compose()["services"]["influxdb"]
    mounts = dict(_bind_mounts(influx))
    source = mounts["/docker-entrypoint-initdb.d"]
    scripts = sorted(source.glob("*.sh"))
    assert scripts, f"no init script in {source}"
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script} must be executable (the image runs it with run-parts)"
        assert script.read_text(encoding="utf-8").startswith("#!/bin/bash\n")
        subprocess.run(["bash", "-n", str(script)], check=True)
    text = "\n".join(script.read_text(encoding="utf-8") for script in scripts)
    assert "influx v1 dbrp create" in text and "--default" in text
    assert "DOCKER_INFLUXDB_INIT_BUCKET_ID" in text and "DBRP_DATABASE" in text


def test_grafana_has_every_variable_of_its_provisioning_files() -> None:
    grafana = environment(load_compose()["services"]["grafana"])
    files = [*(ROOT / "grafana" / "provisioning" / "datasources").glob("*.yaml"),
             *(ROOT / "alerts" / "provisioning").glob("*.yaml")]
    pattern = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
    wanted = {name for path in files for name in pattern.findall(path.read_text("utf-8"))}
    assert {"INFLUX_URL", "INFLUX_DB", "INFLUX_TOKEN", "PROMETHEUS_URL"} <= wanted
    assert sorted(wanted - {name for name, value in grafana.items() if value}) == []


def test_grafana_mounts_the_provisioning_and_the_home_wall() -> None:
    grafana = load_compose()["services"]["grafana"]
    mounts = dict(_bind_mounts(grafana))
    assert mounts["/etc/grafana/provisioning/datasources"] == ROOT / "grafana/provisioning/datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == ROOT / "grafana/provisioning/dashboards"
    assert mounts["/etc/grafana/provisioning/alerting"] == ROOT / "grafana/provisioning/alerting"
    home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] or ""
    assert _host_path(grafana, home) == ROOT / "grafana/provisioning/dashboards/ioc-wall.json"
    assert json.loads(_host_path(grafana, home).read_text("utf-8"))["uid"] == "ioc-wall"
    # the dashboard provider reads the directory where it is mounted
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/ioc.yaml").read_text("utf-8"))
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/provisioning/dashboards"
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"])


def test_prometheus_scrapes_every_worker_replica() -> None:
    services = load_compose()["services"]
    mounts = dict(_bind_mounts(services["prometheus"]))
    assert mounts["/etc/prometheus/prometheus.yml"] == PROMETHEUS_FILE
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    config = yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8"))
    port = int(environment(services["worker"])["IOC_METRICS_PORT"] or 0)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert [{"names": ["worker"], "type": "A", "port": port, "refresh_interval": "15s"}] == (
        jobs["ioc-worker"]["dns_sd_configs"])
    # the worker's health check probes the same port (the image default, or IOC_METRICS_PORT)
    assert "IOC_METRICS_PORT" in " ".join(services["worker"]["healthcheck"]["test"])


# -- every path the compose file mounts or builds from exists -----------------------------------------------


def _bind_mounts(service: Mapping[str, Any]) -> list[tuple[str, Path]]:
    """(container path, host path) of the bind mounts of a service (short and long syntax)."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2 and parts[0].startswith((".", "/", "~")):
                mounts.append((parts[1], (ROOT / parts[0]).resolve()))
        elif volume.get("type") == "bind":
            mounts.append((volume["target"], (ROOT / volume["source"]).resolve()))
    return mounts


def _host_path(service: Mapping[str, Any], container_path: str) -> Path:
    for target, source in _bind_mounts(service):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / os.path.relpath(container_path, target)
    raise AssertionError(f"{container_path} is not inside a bind mount")


def test_every_mounted_path_exists() -> None:
    compose = load_compose()
    checked = 0
    for name, service in compose["services"].items():
        for target, source in _bind_mounts(service):
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"
            assert ROOT in source.parents, f"{name}: {source} is outside the repository"
            checked += 1
        if "build" in service:
            context = ROOT / service["build"]["context"]
            assert context.is_dir() and (context / service["build"]["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            named = volume.split(":")[0] if isinstance(volume, str) and ":" in volume else None
            if named and not named.startswith((".", "/", "~")):
                assert named in compose["volumes"], f"{name}: volume {named} is not declared"
    assert checked >= 5


# -- Dockerfile ---------------------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "")
            for parts in (line.strip().split(None, 1) for line in lines if line.strip())]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def test_dockerfile_image() -> None:
    stages = _stages()
    assert all(stage[0][1].split()[0] == "python:3.11-slim" for stage in stages)
    final = stages[-1]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("ENTRYPOINT", '["ioc"]') in final
    labels = " ".join(args for op, args in final if op == "LABEL")
    assert "org.opencontainers.image.title" in labels
    runs = " ".join(args for stage in stages for op, args in stage if op == "RUN")
    # the RocksDB store; the fast producer client; the Grafana tooling of `ioc grafana`
    assert 'pip install ".[rocksdb,librdkafka,grafana,gateway]"' in runs


def test_dockerfile_copies_every_package() -> None:
    """Every package of pyproject.toml is in the image, copied from a path that exists and that
    .dockerignore does not exclude from the build context."""
    import tomllib


    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {path.name for path in ROOT.iterdir() if (path / "__init__.py").is_file()
                and any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)}
    assert {"dossiers", "ioc", "kafka_access", "kafka_settings"} <= packages  # not vacuous
    sources: list[str] = []
    for op, args in _stages()[0]:
        if op == "COPY" and not args.startswith("--from"):
            sources += shlex.split(args)[:-1]
    copied = {source.rstrip("/") for source in sources}
    assert packages <= copied
    assert "pyproject.toml" in copied
    ignored = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")]
    for source in copied:
        if not any(ch in source for ch in "*?["):
            assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), f"{source} is dockerignored"
    for heavy in (".git", "tests", "*.egg-info", "**/__pycache__"):
        assert heavy in ignored


def test_rocksdb_extra() -> None:
    """IOC_STORE=rocksdb:// needs rocksdict (faust-streaming's RocksDB driver), installed in the image."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = pyproject["project"]["optional-dependencies"]["rocksdb"]
    assert any(requirement.startswith("rocksdict") for requirement in extra)


def test_image_state_directories_match_the_compose_volumes() -> None:
    """Volumes mounted on directories the image created (owned by `ioc`) start with the right owner."""
    runs = " ".join(args for op, args in _stages()[-1] if op == "RUN")
    services = load_compose()["services"]
    targets = [volume.split(":")[-1] if ":" in volume else volume
               for name in APP_SERVICES for volume in services[name].get("volumes", [])]
    assert targets
    for target in targets:
        assert target in runs, f"{target} is not created (and chowned) in the image"
    assert "chown -R ioc:ioc /var/lib/ioc" in runs
