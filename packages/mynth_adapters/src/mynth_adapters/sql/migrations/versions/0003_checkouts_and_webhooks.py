"""Checkout sessions, handled webhook deliveries, and the users' provider profile time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here rather than imported: a revision must not change when tables.py does.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    # A nullable column without a default: a plain ALTER TABLE on SQLite too, no batch copy.
    op.add_column("users", sa.Column("profile_updated_at", TIMESTAMP, nullable=True))
    op.create_table(
        "checkout_sessions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("pack_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("paid_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("status IN ('open', 'paid')", name=op.f("ck_checkout_sessions_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkout_sessions")),
    )
    op.create_index(
        "ix_checkout_sessions_user_id_created_at",
        "checkout_sessions",
        ["user_id", "created_at"],
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("delivery_id", sa.Text(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("source", "delivery_id", name=op.f("pk_webhook_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_checkout_sessions_user_id_created_at", "checkout_sessions")
    op.drop_table("checkout_sessions")
    with op.batch_alter_table("users") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("profile_updated_at")
