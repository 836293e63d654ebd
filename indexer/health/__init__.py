"""Liveness and readiness: does the process serve, do its dependencies answer."""

from indexer.health.checks import Check, Probe, Readiness

__all__ = ["Check", "Probe", "Readiness"]
