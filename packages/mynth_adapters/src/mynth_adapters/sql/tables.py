"""SQLAlchemy Core tables with column types that work the same on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

# Stable constraint names on every dialect, so later migrations can address them by name.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, an aware UTC datetime out.

    SQLite keeps no offset and hands back naive values; storing UTC and re-attaching it on
    the way out keeps both dialects alike (and SQLite's text values sort chronologically).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002 - TypeDecorator's signature
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetimes are not stored; pass an aware UTC datetime"
            raise ValueError(msg)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002 - TypeDecorator's signature
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-numbers an INTEGER PRIMARY KEY (a rowid alias), never a BIGINT one.
Serial = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("username", Text, nullable=True),
    Column("display_name", Text, nullable=True),
    Column("image_url", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
)

personas = Table(
    "personas",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner_id", Text, nullable=False),
    Column("current_version_id", Text, nullable=False),
    Column("next_version_number", Integer, nullable=False),
    # Copied from the current version so the owner list can search without a join.
    Column("title", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("cloned_from_persona_id", Text, nullable=True),
    Column("cloned_from_version_id", Text, nullable=True),
    Column("public_version_id", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
    Index("ix_personas_owner_id_updated_at_id", "owner_id", "updated_at", "id"),
)

persona_versions = Table(
    "persona_versions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("persona_id", Text, ForeignKey("personas.id"), nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("data", Json, nullable=False),
    Column("source", Text, nullable=False),
    Column("user_message", Text, nullable=True),
    Column("ai_note", Text, nullable=True),
    Column("model", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
    # The backstop for version numbering: a collision is a 409, never an overwrite.
    UniqueConstraint("persona_id", "version_number"),
)

persona_events = Table(
    "persona_events",
    metadata,
    # Insertion order, for newest-first keyset paging that later appends never shift.
    Column("seq", Serial, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False),
    Column("persona_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("data", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("id"),
    Index("ix_persona_events_persona_id_seq", "persona_id", "seq"),
)


def insert_or_ignore(
    conn: AsyncConnection, table: Table, values: Mapping[str, Any], key: Sequence[str]
) -> postgresql.Insert | sqlite.Insert:
    """`INSERT ... ON CONFLICT (key) DO NOTHING`; other unique violations still raise."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=key)
    return sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=key)
