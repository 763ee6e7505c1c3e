"""Placeholder while the command moves here (house-in-order refactor)."""

from alerts.cli import register

__all__ = ["register"]
