"""Shared test helpers (catalogs, event builders, process runners)."""
