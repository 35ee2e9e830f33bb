"""Benchmarks: ``python -m bench [NAME…]`` runs them (``make bench`` runs all of them)."""
