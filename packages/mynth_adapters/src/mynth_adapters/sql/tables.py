"""SQLAlchemy Core tables with column types that work the same on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
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
    text,
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
    # The identity provider's `updated_at` of the stored profile: orders unordered webhooks.
    Column("profile_updated_at", UtcDateTime, nullable=True),
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
    Column("profile_image_id", Text, nullable=True),  # one of the persona's `images`
    # The publication (PRODUCT.md §5): headline, rating, gender and age bucket are the
    # classification (all NULL without one); its tags live in `persona_tags`.
    Column("publish_status", Text, nullable=False, server_default="none"),
    Column("slug", Text, nullable=True),  # kept for life once given, even when deleted
    Column("public_name", Text, nullable=True),
    Column("headline", Text, nullable=True),
    Column("nsfw_rating", Text, nullable=True),
    Column("gender", Text, nullable=True),
    Column("age_bucket", Text, nullable=True),
    Column("published_at", UtcDateTime, nullable=True),
    Column("publish_requested_at", UtcDateTime, nullable=True),
    Column("publish_version_id", Text, nullable=True),
    Column("last_error_code", Text, nullable=True),
    Column("last_error_message", Text, nullable=True),
    Column("last_error_at", UtcDateTime, nullable=True),
    Index("ix_personas_owner_id_updated_at_id", "owner_id", "updated_at", "id"),
    Index("ix_personas_slug", "slug", unique=True),  # NULLs do not collide
)

# The public catalog's order (published_at DESC, id DESC) over public personas only: a
# backward scan from the keyset cursor reads just the rows of the page it returns.
PUBLIC_PERSONAS: Final = "public_version_id IS NOT NULL AND deleted_at IS NULL"
Index(
    "ix_personas_published_at_id",
    personas.c.published_at,
    personas.c.id,
    postgresql_where=text(PUBLIC_PERSONAS),
    sqlite_where=text(PUBLIC_PERSONAS),
)

# The catalog's tag vocabulary: one row per normalised name (its first-seen category).
tags = Table(
    "tags",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    UniqueConstraint("name"),
)

# A persona's classification tags, in the classifier's order, each with the category the
# classifier gave it for this persona.
persona_tags = Table(
    "persona_tags",
    metadata,
    Column("persona_id", Text, ForeignKey("personas.id"), primary_key=True),
    Column("tag_id", BigInteger, ForeignKey("tags.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("category", Text, nullable=False),
    # Personas with a tag: the catalog's tag filters and exclusions.
    Index("ix_persona_tags_tag_id_persona_id", "tag_id", "persona_id"),
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

# Signs per kind: a spend or clawback only takes, every other kind only gives.
_TAKING_KINDS = "kind IN ('spend', 'clawback')"
_PART_SIGNS = (
    f"({_TAKING_KINDS} AND free_part <= 0 AND purchased_part <= 0)"
    f" OR (NOT {_TAKING_KINDS} AND free_part >= 0 AND purchased_part >= 0)"
)
_KINDS = "kind IN ('daily_free', 'grant', 'purchase', 'spend', 'refund', 'clawback')"

ledger_entries = Table(
    "ledger_entries",
    metadata,
    # Append order, for newest-first keyset paging that later appends never shift.
    Column("seq", Serial, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("amount", Integer, nullable=False),
    Column("free_part", Integer, nullable=False),
    Column("purchased_part", Integer, nullable=False),
    Column("purchased_after", Integer, nullable=False),
    Column("free_remaining_after", Integer, nullable=False),
    Column("balance_after", Integer, nullable=False),
    Column("operation", Text, nullable=True),
    Column("reference_type", Text, nullable=True),
    Column("reference_id", Text, nullable=True),
    Column("refund_of", Text, nullable=True),
    Column("forfeited_free", Integer, nullable=False),
    Column("shortfall", Integer, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("id"),
    # A replayed key collides here and is answered with the stored entry.
    UniqueConstraint("idempotency_key"),
    # The backstop for "a spend is refunded at most once".
    UniqueConstraint("refund_of"),
    CheckConstraint(_KINDS, name="kind"),
    CheckConstraint(_PART_SIGNS, name="part_signs"),
    CheckConstraint("amount = free_part + purchased_part", name="amount"),
    CheckConstraint("balance_after = purchased_after + free_remaining_after", name="balance"),
    CheckConstraint("purchased_after >= 0", name="purchased_after"),
    CheckConstraint("free_remaining_after >= 0", name="free_remaining_after"),
    CheckConstraint("forfeited_free >= 0 AND shortfall >= 0", name="forfeited_shortfall"),
    Index("ix_ledger_entries_user_id_seq", "user_id", "seq"),
    Index(
        "ix_ledger_entries_user_id_reference_type_reference_id",
        "user_id",
        "reference_type",
        "reference_id",
    ),
    # Every user's spends of an operation by age: the sweep for abandoned charges.
    Index("ix_ledger_entries_kind_operation_created_at", "kind", "operation", "created_at"),
)

# One row per user with entries: the buckets after their newest entry, locked by writers.
token_accounts = Table(
    "token_accounts",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("free_day", Date, nullable=True),  # the UTC day `free_remaining` belongs to
    Column("free_remaining", Integer, nullable=False),
    Column("purchased", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    CheckConstraint("free_remaining >= 0", name="free_remaining"),
    CheckConstraint("purchased >= 0", name="purchased"),
)


# Checkout sessions mynth started, kept for support and marked paid by `order.paid`.
checkout_sessions = Table(
    "checkout_sessions",
    metadata,
    Column("id", Text, primary_key=True),  # the provider's checkout id
    Column("user_id", Text, nullable=False),
    Column("pack_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("order_id", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),
    CheckConstraint("status IN ('open', 'paid')", name="status"),
    Index("ix_checkout_sessions_user_id_created_at", "user_id", "created_at"),
)

# Webhook delivery ids already handled; inserted first, ON CONFLICT DO NOTHING.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("source", Text, primary_key=True),
    Column("delivery_id", Text, primary_key=True),
    Column("received_at", UtcDateTime, nullable=False),
)

# A chat pinned to one persona version; the lease columns are written only by the claim.
chats = Table(
    "chats",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner_id", Text, nullable=False),
    Column("persona_id", Text, nullable=False),
    Column("version_id", Text, nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("persona_name", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("settings", Json, nullable=False),
    Column("leaf_id", Text, nullable=True),
    Column("generation_id", Text, nullable=True),
    Column("generation_expires_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_chats_owner_id_updated_at_id", "owner_id", "updated_at", "id"),
)

# Chats whose reply is running (or died with its process), by lease expiry: the abandoned
# replies sweep reads only these.
HELD_CHATS: Final = "generation_id IS NOT NULL"
Index(
    "ix_chats_generation_expires_at",
    chats.c.generation_expires_at,
    postgresql_where=text(HELD_CHATS),
    sqlite_where=text(HELD_CHATS),
)

# The append-only message tree of each chat (parent_id NULL for a root).
chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Text, primary_key=True),
    Column("chat_id", Text, ForeignKey("chats.id"), nullable=False),
    Column("parent_id", Text, ForeignKey("chat_messages.id"), nullable=True),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("kind", Text, nullable=True),
    Column("mode", Text, nullable=True),
    Column("persona_version_id", Text, nullable=True),
    Column("model", Text, nullable=True),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("cost", Integer, nullable=False),
    Column("chapter_number", Integer, nullable=True),
    Column("chapter_title", Text, nullable=True),
    # Children of a parent oldest first: `children`, `siblings` and `newest_leaf`.
    Index(
        "ix_chat_messages_chat_id_parent_id_created_at_id",
        "chat_id",
        "parent_id",
        "created_at",
        "id",
    ),
)

# Rolling summaries, each anchored on the newest message of the branch it covers (§6.8).
chat_summaries = Table(
    "chat_summaries",
    metadata,
    Column("chat_id", Text, ForeignKey("chats.id"), primary_key=True),
    Column("anchor_id", Text, ForeignKey("chat_messages.id"), primary_key=True),
    Column("text", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# The cached roleplay summary of a persona version (§6.6), shared by all chats pinned to it.
version_roleplay_summaries = Table(
    "version_roleplay_summaries",
    metadata,
    Column("version_id", Text, primary_key=True),
    Column("summary", Text, nullable=False),
)

# Image generations (PRODUCT.md §7.4), charged when created; `options` as the caller gave them.
image_jobs = Table(
    "image_jobs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner_id", Text, nullable=False),
    Column("persona_id", Text, nullable=False),
    Column("persona_version_id", Text, nullable=False),
    Column("quality", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("options", Json, nullable=False),
    Column("status", Text, nullable=False),
    Column("cost", Integer, nullable=False),
    Column("charge_key", Text, nullable=False),
    Column("task_uuid", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error_code", Text, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("image_id", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
    # The in-flight count of a user (`count_in_flight`), taken under the balance-row lock.
    Index("ix_image_jobs_owner_id_status", "owner_id", "status"),
)

# Generated images; their bytes live in the blob store under `image_key(id)`.
images = Table(
    "images",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner_id", Text, nullable=False),
    Column("persona_id", Text, nullable=False),
    Column("job_id", Text, ForeignKey("image_jobs.id"), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("model", Text, nullable=False),
    Column("nsfw", Boolean, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("job_id"),  # one image per job, however often the job ran
    # A persona's gallery, newest first, keyset-paginated.
    Index("ix_images_persona_id_created_at_id", "persona_id", "created_at", "id"),
)

# The durable job queue (ARCHITECTURE.md §8): a row is written in the transaction that
# enqueues it; workers claim due rows with a lease (`locked_until`, `locked_by`).
jobs = Table(
    "jobs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("ref", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("run_after", UtcDateTime, nullable=True),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("locked_by", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
    # The claim: due `queued` rows and expired `running` ones.
    Index("ix_jobs_status_run_after", "status", "run_after"),
)


def insert_or_ignore(
    conn: AsyncConnection,
    table: Table,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    key: Sequence[str],
) -> postgresql.Insert | sqlite.Insert:
    """`INSERT ... ON CONFLICT (key) DO NOTHING` (one row or several).

    Other unique violations still raise.
    """
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=key)
    return sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=key)


def upsert(
    conn: AsyncConnection, table: Table, values: Mapping[str, Any], key: Sequence[str]
) -> postgresql.Insert | sqlite.Insert:
    """`INSERT ... ON CONFLICT (key) DO UPDATE`: the other columns take the new values."""
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(values)
        pg_changes = {name: pg.excluded[name] for name in values if name not in key}
        return pg.on_conflict_do_update(index_elements=key, set_=pg_changes)
    lite = sqlite.insert(table).values(values)
    changes = {name: lite.excluded[name] for name in values if name not in key}
    return lite.on_conflict_do_update(index_elements=key, set_=changes)
