"""Database failures reach callers as core errors, never as SQLAlchemy exceptions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import exc, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from mynth_adapters.settings import DatabaseSettings
from mynth_adapters.sql import SqlUnitOfWorkFactory, sql_engine
from mynth_adapters.sql.errors import is_unique_violation, translate_db_errors
from mynth_adapters.sql.tables import users
from mynth_core.errors import ConflictError, ServiceUnavailableError
from mynth_core.testing import a_persona

T0 = datetime(2026, 3, 1, tzinfo=UTC)
USER = {"id": "alice", "created_at": T0, "updated_at": T0}


async def test_a_duplicate_key_is_recognised_and_becomes_a_conflict(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(insert(users).values(USER))
        with pytest.raises(exc.IntegrityError) as caught:
            await conn.execute(insert(users).values(USER))
        await conn.rollback()

    assert is_unique_violation(caught.value)
    with pytest.raises(ConflictError), translate_db_errors():
        raise caught.value


async def test_saving_a_persona_that_was_never_added_is_a_conflict(engine: AsyncEngine) -> None:
    persona, _ = a_persona()  # its version would refer to a missing persona row

    with pytest.raises(ConflictError):
        async with SqlUnitOfWorkFactory(engine)() as uow:
            await uow.personas.save(persona)


async def test_an_unreachable_postgres_is_service_unavailable() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
    async with sql_engine(DatabaseSettings(url=url)) as engine:
        with pytest.raises(ServiceUnavailableError):
            async with SqlUnitOfWorkFactory(engine)():
                pass


def test_a_locked_sqlite_database_is_service_unavailable() -> None:
    locked = exc.OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("locked"))

    with pytest.raises(ServiceUnavailableError), translate_db_errors():
        raise locked


def test_a_pool_that_stays_exhausted_is_service_unavailable() -> None:
    with pytest.raises(ServiceUnavailableError), translate_db_errors():
        raise exc.TimeoutError


def test_errors_that_are_not_the_databases_pass_through() -> None:
    with pytest.raises(KeyError), translate_db_errors():
        raise KeyError("x")
