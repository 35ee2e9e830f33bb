"""The state store: verification sessions, the single-use credential ledger and the decision log.

Open one with :func:`open_store` (``sqlite:///path`` or ``postgresql://…``); both backends
implement the :class:`Store` protocol and pass the same test suite.
"""

from shared.store.base import Store, open_store
from shared.store.model import Decided, Decision, NewSession, Session, UnpublishedExpiry
from shared.store.protect import Protector

__all__ = [
    "Decided",
    "Decision",
    "NewSession",
    "Protector",
    "Session",
    "Store",
    "UnpublishedExpiry",
    "open_store",
]
