"""Benchmarks of the indexer against the local stack: ``python -m bench``."""
