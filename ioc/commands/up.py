"""Placeholder while the command moves here (house-in-order refactor)."""

from ioc.up import register

__all__ = ["register"]
