"""Hand-written fakes for stand-in and client tests: a clock that moves only when told."""

from __future__ import annotations


class FakeClock:
    """Wall-clock seconds that advance only through :meth:`advance` (no sleeping in tests)."""

    def __init__(self, start: float = 1_714_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds
