"""Shipped test doubles for every core port, and builders for core objects.

Import from here in tests of code that uses the core; the contract suite proves each fake
behaves like the real adapters.
"""

from mynth_core.testing.builders import a_persona, persona_data
from mynth_core.testing.fakes import (
    FakeIdentityVerifier,
    FakeUnitOfWork,
    FakeUnitOfWorkFactory,
    FrozenClock,
    InMemoryEventLog,
    InMemoryPersonaRepository,
    InMemoryStore,
    InMemoryTokenLedger,
    InMemoryUserRepository,
    SequentialIdFactory,
)

__all__ = [
    "FakeIdentityVerifier",
    "FakeUnitOfWork",
    "FakeUnitOfWorkFactory",
    "FrozenClock",
    "InMemoryEventLog",
    "InMemoryPersonaRepository",
    "InMemoryStore",
    "InMemoryTokenLedger",
    "InMemoryUserRepository",
    "SequentialIdFactory",
    "a_persona",
    "persona_data",
]
