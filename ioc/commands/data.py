"""Placeholder while the command moves here (house-in-order refactor)."""

from ioc.domain_cli import register

__all__ = ["register"]
