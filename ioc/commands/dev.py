"""Placeholder while the command moves here (house-in-order refactor)."""

from ioc.devstack.cli import register

__all__ = ["register"]
