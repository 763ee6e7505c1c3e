"""Placeholder while the command moves here (house-in-order refactor)."""

from producers.cli import register

__all__ = ["register"]
