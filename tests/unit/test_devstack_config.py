"""Config rendering and cache layout of the local stack (no server started)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ioc.devstack import kafka
from ioc.devstack.influx import quote_ident, render_influxd_config
from ioc.devstack.kafka import new_cluster_id, render_server_properties

TEMPLATE = (Path(kafka.__file__).parent / "kafka" / "server.properties.template").read_text()


def props(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            assert key not in out, f"duplicate key {key}"
            out[key] = value
    return out


def test_server_properties_fill_ports_dir_and_partitions(tmp_path: Path) -> None:
    p = props(
        render_server_properties(TEMPLATE, port=1234, controller_port=5678, data_dir=tmp_path, partitions=6)
    )
    assert p["listeners"] == "PLAINTEXT://127.0.0.1:1234,CONTROLLER://127.0.0.1:5678"
    assert p["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1234"
    assert p["controller.quorum.voters"] == "1@127.0.0.1:5678"
    assert p["log.dirs"] == str(tmp_path)
    assert p["num.partitions"] == "6"
    assert p["group.initial.rebalance.delay.ms"] == "0"
    assert p["process.roles"] == "broker,controller"


def test_extra_properties_replace_in_place_or_append(tmp_path: Path) -> None:
    text = render_server_properties(
        TEMPLATE,
        port=1,
        controller_port=2,
        data_dir=tmp_path,
        partitions=3,
        extra={"auto.create.topics.enable": "false", "log.retention.ms": "60000", "num.partitions": "9"},
    )
    p = props(text)
    assert p["auto.create.topics.enable"] == "false"
    assert p["log.retention.ms"] == "60000"
    assert p["num.partitions"] == "9"  # extra wins over the partitions argument


@pytest.mark.parametrize("key,value", [("bad key", "1"), ("a=b", "1"), ("ok.key", "two\nlines")])
def test_extra_properties_are_validated(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ValueError):
        render_server_properties(
            TEMPLATE, port=1, controller_port=2, data_dir=tmp_path, partitions=1, extra={key: value}
        )


def test_cluster_id_shape() -> None:
    ids = {new_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    for cid in ids:
        assert re.fullmatch(r"[A-Za-z0-9_\-]{22}", cid)
        assert not cid.startswith("-")


def test_cache_dirs_follow_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("IOC_KAFKA_LIBS", raising=False)
    monkeypatch.setenv("IOC_CACHE_DIR", str(tmp_path / "c"))
    assert kafka.jars_dir() == tmp_path / "c" / "kafka-3.9.1" / "libs"
    monkeypatch.delenv("IOC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert kafka.cache_root() == tmp_path / "x" / "ioc-monitor"
    monkeypatch.setenv("IOC_KAFKA_LIBS", str(tmp_path / "libs"))
    assert kafka.jars_dir() == tmp_path / "libs"


def test_influxd_config_is_local_and_quiet(tmp_path: Path) -> None:
    text = render_influxd_config(tmp_path, http_port=18086, rpc_port=18088)
    assert 'bind-address = "127.0.0.1:18086"' in text
    assert 'bind-address = "127.0.0.1:18088"' in text
    assert f'dir = "{tmp_path / "meta"}"' in text
    assert f'wal-dir = "{tmp_path / "wal"}"' in text
    assert "reporting-disabled = true" in text
    assert "store-enabled = false" in text  # no _internal database
    # every optional listener is off
    for section in ("[[graphite]]", "[[collectd]]", "[[opentsdb]]", "[[udp]]", "[ifql]", "[subscriber]"):
        block = text.split(section, 1)[1].split("[", 1)[0]
        assert "enabled = false" in block, section
    # no listener on a non-loopback address
    assert all("127.0.0.1:" in line for line in text.splitlines() if "bind-address" in line)


def test_quote_ident() -> None:
    assert quote_ident('Sở "Tư" pháp') == '"Sở \\"Tư\\" pháp"'
