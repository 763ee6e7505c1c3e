"""Peer frameworks the benchmarks compare with, each installed only for the benchmark in its own venv."""
