"""Placeholder while the command moves here (house-in-order refactor)."""

from streams.cli import register

__all__ = ["register"]
