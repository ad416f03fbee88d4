"""Schema migrations: upgrade to the newest Alembic revision, or check that we are there."""

from __future__ import annotations

from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mynth_adapters.sql.errors import translate_db_errors

# A package resource, so migrations run from an installed wheel without an alembic.ini.
SCRIPT_LOCATION: Final = "mynth_adapters.sql:migrations"
_PG_MIGRATION_LOCK: Final = 0x6D796E7468  # "mynth": one migrator at a time per database


def alembic_config(connection: Connection | None = None) -> Config:
    """A programmatic Alembic config; `env.py` runs on `connection` when one is given."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the database to the newest revision, in one transaction."""
    with translate_db_errors():
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)


async def is_at_head(engine: AsyncEngine) -> bool:
    """Whether the database is at the newest revision (a readiness check)."""
    with translate_db_errors():
        async with engine.connect() as connection:
            return await connection.run_sync(_at_head)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Instances starting together must not race to create the same tables.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")


def _at_head(connection: Connection) -> bool:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(heads)
