"""Chats, their message trees, rolling summaries and the versions' roleplay summaries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-01-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here rather than imported: a revision must not change when tables.py does.
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("persona_id", sa.Text(), nullable=False),
        sa.Column("version_id", sa.Text(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("persona_name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("leaf_id", sa.Text(), nullable=True),
        sa.Column("generation_id", sa.Text(), nullable=True),
        sa.Column("generation_expires_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chats")),
    )
    op.create_index("ix_chats_owner_id_updated_at_id", "chats", ["owner_id", "updated_at", "id"])
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("chat_id", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("mode", sa.Text(), nullable=True),
        sa.Column("persona_version_id", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("chapter_number", sa.Integer(), nullable=True),
        sa.Column("chapter_title", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_messages_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["chat_messages.id"],
            name=op.f("fk_chat_messages_parent_id_chat_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    op.create_index(
        "ix_chat_messages_chat_id_parent_id_created_at_id",
        "chat_messages",
        ["chat_id", "parent_id", "created_at", "id"],
    )
    op.create_table(
        "chat_summaries",
        sa.Column("chat_id", sa.Text(), nullable=False),
        sa.Column("anchor_id", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_summaries_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["anchor_id"],
            ["chat_messages.id"],
            name=op.f("fk_chat_summaries_anchor_id_chat_messages"),
        ),
        sa.PrimaryKeyConstraint("chat_id", "anchor_id", name=op.f("pk_chat_summaries")),
    )
    op.create_table(
        "version_roleplay_summaries",
        sa.Column("version_id", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_version_roleplay_summaries")),
    )


def downgrade() -> None:
    op.drop_table("version_roleplay_summaries")
    op.drop_table("chat_summaries")
    op.drop_index("ix_chat_messages_chat_id_parent_id_created_at_id", "chat_messages")
    op.drop_table("chat_messages")
    op.drop_index("ix_chats_owner_id_updated_at_id", "chats")
    op.drop_table("chats")
