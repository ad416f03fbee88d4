"""An index of the chats whose generation lease is held, by expiry (abandoned replies).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD_CHATS = "generation_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_chats_generation_expires_at",
        "chats",
        ["generation_expires_at"],
        postgresql_where=sa.text(HELD_CHATS),
        sqlite_where=sa.text(HELD_CHATS),
    )


def downgrade() -> None:
    op.drop_index("ix_chats_generation_expires_at", "chats")
