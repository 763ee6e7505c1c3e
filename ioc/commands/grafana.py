"""Placeholder while the command moves here (house-in-order refactor)."""

from grafana.cli import register

__all__ = ["register"]
