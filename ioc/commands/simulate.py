"""Placeholder while the command moves here (house-in-order refactor)."""

from producers.simulate_cli import register

__all__ = ["register"]
