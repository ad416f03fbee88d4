"""Publishing: the personas' publication columns, the tag vocabulary and persona tags.

Revision ID: 0007
Revises: 0006
Create Date: 2026-01-19 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here rather than imported: a revision must not change when tables.py does.
TIMESTAMP = sa.DateTime(timezone=True)
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PUBLIC_PERSONAS = "public_version_id IS NOT NULL AND deleted_at IS NULL"
_TEXT_COLUMNS = (
    "slug",
    "public_name",
    "headline",
    "nsfw_rating",
    "gender",
    "age_bucket",
    "publish_version_id",
    "last_error_code",
    "last_error_message",
)
_TIME_COLUMNS = ("published_at", "publish_requested_at", "last_error_at")


def upgrade() -> None:
    # Nullable columns and one with a default: a plain ALTER TABLE on both dialects, and
    # every existing persona reads as never published.
    op.add_column(
        "personas",
        sa.Column("publish_status", sa.Text(), nullable=False, server_default="none"),
    )
    for name in _TEXT_COLUMNS:
        op.add_column("personas", sa.Column(name, sa.Text(), nullable=True))
    for name in _TIME_COLUMNS:
        op.add_column("personas", sa.Column(name, TIMESTAMP, nullable=True))
    op.create_index("ix_personas_slug", "personas", ["slug"], unique=True)
    op.create_index(
        "ix_personas_published_at_id",
        "personas",
        ["published_at", "id"],
        postgresql_where=sa.text(PUBLIC_PERSONAS),
        sqlite_where=sa.text(PUBLIC_PERSONAS),
    )
    op.create_table(
        "tags",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "persona_tags",
        sa.Column("persona_id", sa.Text(), nullable=False),
        sa.Column("tag_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name=op.f("fk_persona_tags_persona_id_personas")
        ),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_persona_tags_tag_id_tags")),
        sa.PrimaryKeyConstraint("persona_id", "tag_id", name=op.f("pk_persona_tags")),
    )
    op.create_index("ix_persona_tags_tag_id_persona_id", "persona_tags", ["tag_id", "persona_id"])


def downgrade() -> None:
    op.drop_index("ix_persona_tags_tag_id_persona_id", "persona_tags")
    op.drop_table("persona_tags")
    op.drop_table("tags")
    op.drop_index("ix_personas_published_at_id", "personas")
    op.drop_index("ix_personas_slug", "personas")
    with op.batch_alter_table("personas") as batch:  # SQLite drops a column by copying
        for name in ("publish_status", *_TEXT_COLUMNS, *_TIME_COLUMNS):
            batch.drop_column(name)
