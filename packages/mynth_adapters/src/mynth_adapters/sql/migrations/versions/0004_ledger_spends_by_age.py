"""An index for finding every user's spends of an operation by age (abandoned charges).

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_ledger_entries_kind_operation_created_at",
        "ledger_entries",
        ["kind", "operation", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_kind_operation_created_at", "ledger_entries")
