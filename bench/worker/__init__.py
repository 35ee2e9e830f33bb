"""``python -m bench worker``: confirmations/s, CPU per confirmation and latency of the worker.

See :mod:`bench.worker.runner` for the phases and BENCHMARKS.md ("Worker") for the figures.
"""
