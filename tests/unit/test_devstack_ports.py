"""Free-port picking: distinct, bindable, loopback only."""

from __future__ import annotations

import socket

import pytest

from ioc.devstack.ports import free_port, free_ports, port_is_open, wait_port_closed


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in ports:
        assert 1024 <= port <= 65535
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # really free


def test_free_port_count_must_be_positive() -> None:
    with pytest.raises(ValueError):
        free_ports(0)


def test_port_is_open_and_wait_closed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_is_open(port)
    assert wait_port_closed(port, timeout=2)
    assert not port_is_open(free_port())
