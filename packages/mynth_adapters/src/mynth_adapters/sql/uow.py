"""SqlUnitOfWork: one connection, one transaction, every repository; and its factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import attrs
from cattrs.preconf.json import JsonConverter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mynth_adapters.converters import persistence_converter
from mynth_adapters.sql.billing import SqlCheckoutRepository, SqlWebhookDeliveryLog
from mynth_adapters.sql.catalog import SqlPublicCatalog
from mynth_adapters.sql.chats import SqlChatRepository
from mynth_adapters.sql.engine import transaction
from mynth_adapters.sql.errors import translate_db_errors
from mynth_adapters.sql.images import SqlImageJobRepository
from mynth_adapters.sql.jobs import JobSignal, SqlJobQueue, SqlJobStore
from mynth_adapters.sql.ledger import SqlTokenLedger
from mynth_adapters.sql.personas import SqlEventLog, SqlPersonaRepository
from mynth_adapters.sql.users import SqlUserRepository
from mynth_core.clock import Clock, SystemClock

if TYPE_CHECKING:
    from mynth_core.uow import UnitOfWork, UnitOfWorkFactory


@attrs.frozen
class SqlUnitOfWork:
    """The repositories of one open transaction; nothing is kept unless `commit` runs."""

    connection: AsyncConnection
    personas: SqlPersonaRepository
    events: SqlEventLog
    users: SqlUserRepository
    ledger: SqlTokenLedger
    checkouts: SqlCheckoutRepository
    deliveries: SqlWebhookDeliveryLog
    chats: SqlChatRepository
    images: SqlImageJobRepository
    jobs: SqlJobQueue
    catalog: SqlPublicCatalog
    read_only: bool = False

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("commit() in a read-only unit of work")
        with translate_db_errors():
            await self.connection.commit()
        self.jobs.committed()


@attrs.frozen
class SqlUnitOfWorkFactory:
    """Opens a unit of work on a pooled connection of `engine` (which it does not own).

    `clock` stamps enqueued jobs; `signal` tells this process's workers about a commit that
    enqueued one (see `job_store`).
    """

    engine: AsyncEngine
    converter: JsonConverter = attrs.field(factory=persistence_converter, repr=False)
    clock: Clock = attrs.field(factory=SystemClock, repr=False)
    signal: JobSignal = attrs.field(factory=JobSignal, repr=False)

    def job_store(self) -> SqlJobStore:
        """The worker's side of the job queue, woken by this factory's enqueues."""
        return SqlJobStore(self.engine, self.clock, self.signal)

    @asynccontextmanager
    async def __call__(self, *, read_only: bool = False) -> AsyncIterator[SqlUnitOfWork]:
        # Closing the connection rolls back whatever was not committed: an early exit, an
        # error, a cancellation.
        async with transaction(self.engine, read_only=read_only) as connection:
            yield SqlUnitOfWork(
                connection=connection,
                personas=SqlPersonaRepository(connection, self.converter),
                events=SqlEventLog(connection, self.converter),
                users=SqlUserRepository(connection),
                ledger=SqlTokenLedger(connection),
                checkouts=SqlCheckoutRepository(connection),
                deliveries=SqlWebhookDeliveryLog(connection),
                chats=SqlChatRepository(connection, self.converter),
                images=SqlImageJobRepository(connection, self.converter),
                jobs=SqlJobQueue(connection, self.clock, self.signal),
                catalog=SqlPublicCatalog(connection, self.converter),
                read_only=read_only,
            )


if TYPE_CHECKING:
    _conforms: type[UnitOfWork] = SqlUnitOfWork
    _conforms_factory: type[UnitOfWorkFactory] = SqlUnitOfWorkFactory
