"""The UnitOfWork port: one atomic transaction over every repository."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the ports import this module for their use cases; avoid the cycle
    from mynth_core.billing.ports import CheckoutRepository
    from mynth_core.chats.ports import ChatRepository
    from mynth_core.images.ports import ImageJobRepository, JobQueue
    from mynth_core.ledger.ports import TokenLedger
    from mynth_core.personas.ports import EventLog, PersonaRepository
    from mynth_core.publishing.ports import PublicCatalog
    from mynth_core.users import UserRepository
    from mynth_core.webhooks import WebhookDeliveryLog


class UnitOfWork(Protocol):
    """**Port**: one consistent step. Nothing is stored unless `commit` is awaited.

    Leaving the context without committing (including through an exception or a
    cancellation) rolls everything back.
    """

    @property
    def personas(self) -> PersonaRepository: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def ledger(self) -> TokenLedger: ...

    @property
    def checkouts(self) -> CheckoutRepository: ...

    @property
    def deliveries(self) -> WebhookDeliveryLog: ...

    @property
    def chats(self) -> ChatRepository: ...

    @property
    def images(self) -> ImageJobRepository: ...

    @property
    def jobs(self) -> JobQueue: ...

    @property
    def catalog(self) -> PublicCatalog: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """**Port**: opens a new unit of work (`async with factory() as uow`).

    `read_only=True` promises that the unit only reads: it takes no write lock, each read
    sees the latest committed state, and `commit` raises `RuntimeError` (a bug, not a rule).
    """

    def __call__(self, *, read_only: bool = False) -> AbstractAsyncContextManager[UnitOfWork]: ...
