"""Shipped test doubles for every core port, and builders for core objects.

Import from here in tests of code that uses the core; the contract suite proves each fake
behaves like the real adapters.
"""

from mynth_core.testing.builders import a_persona, an_order, persona_data
from mynth_core.testing.fakes import (
    FakeBillingProvider,
    FakeIdentityVerifier,
    FakeUnitOfWork,
    FakeUnitOfWorkFactory,
    FrozenClock,
    InMemoryCheckoutRepository,
    InMemoryEventLog,
    InMemoryPersonaRepository,
    InMemoryStore,
    InMemoryTokenLedger,
    InMemoryUserRepository,
    InMemoryWebhookDeliveryLog,
    SequentialIdFactory,
)
from mynth_core.testing.generation import (
    PlainPromptRenderer,
    RecordingGenerationLog,
    Reply,
    ScriptedChatModel,
)
from mynth_core.testing.limits import FakeRateLimiter

__all__ = [
    "FakeBillingProvider",
    "FakeIdentityVerifier",
    "FakeRateLimiter",
    "FakeUnitOfWork",
    "FakeUnitOfWorkFactory",
    "FrozenClock",
    "InMemoryCheckoutRepository",
    "InMemoryEventLog",
    "InMemoryPersonaRepository",
    "InMemoryStore",
    "InMemoryTokenLedger",
    "InMemoryUserRepository",
    "InMemoryWebhookDeliveryLog",
    "PlainPromptRenderer",
    "RecordingGenerationLog",
    "Reply",
    "ScriptedChatModel",
    "SequentialIdFactory",
    "a_persona",
    "an_order",
    "persona_data",
]
