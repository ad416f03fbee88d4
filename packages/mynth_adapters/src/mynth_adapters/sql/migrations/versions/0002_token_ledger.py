"""The token ledger: append-only entries and one balance row per user.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here rather than imported: a revision must not change when tables.py does.
TIMESTAMP = sa.DateTime(timezone=True)
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TAKING = "kind IN ('spend', 'clawback')"
PART_SIGNS = (
    f"({TAKING} AND free_part <= 0 AND purchased_part <= 0)"
    f" OR (NOT {TAKING} AND free_part >= 0 AND purchased_part >= 0)"
)
KINDS = "kind IN ('daily_free', 'grant', 'purchase', 'spend', 'refund', 'clawback')"


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("seq", SERIAL, autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("free_part", sa.Integer(), nullable=False),
        sa.Column("purchased_part", sa.Integer(), nullable=False),
        sa.Column("purchased_after", sa.Integer(), nullable=False),
        sa.Column("free_remaining_after", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=True),
        sa.Column("reference_type", sa.Text(), nullable=True),
        sa.Column("reference_id", sa.Text(), nullable=True),
        sa.Column("refund_of", sa.Text(), nullable=True),
        sa.Column("forfeited_free", sa.Integer(), nullable=False),
        sa.Column("shortfall", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_ledger_entries_kind")),
        sa.CheckConstraint(PART_SIGNS, name=op.f("ck_ledger_entries_part_signs")),
        sa.CheckConstraint(
            "amount = free_part + purchased_part", name=op.f("ck_ledger_entries_amount")
        ),
        sa.CheckConstraint(
            "balance_after = purchased_after + free_remaining_after",
            name=op.f("ck_ledger_entries_balance"),
        ),
        sa.CheckConstraint("purchased_after >= 0", name=op.f("ck_ledger_entries_purchased_after")),
        sa.CheckConstraint(
            "free_remaining_after >= 0", name=op.f("ck_ledger_entries_free_remaining_after")
        ),
        sa.CheckConstraint(
            "forfeited_free >= 0 AND shortfall >= 0",
            name=op.f("ck_ledger_entries_forfeited_shortfall"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("id", name=op.f("uq_ledger_entries_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entries_idempotency_key")),
        sa.UniqueConstraint("refund_of", name=op.f("uq_ledger_entries_refund_of")),
    )
    op.create_index("ix_ledger_entries_user_id_seq", "ledger_entries", ["user_id", "seq"])
    op.create_index(
        "ix_ledger_entries_user_id_reference_type_reference_id",
        "ledger_entries",
        ["user_id", "reference_type", "reference_id"],
    )
    op.create_table(
        "token_accounts",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("free_day", sa.Date(), nullable=True),
        sa.Column("free_remaining", sa.Integer(), nullable=False),
        sa.Column("purchased", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint("free_remaining >= 0", name=op.f("ck_token_accounts_free_remaining")),
        sa.CheckConstraint("purchased >= 0", name=op.f("ck_token_accounts_purchased")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_token_accounts")),
    )


def downgrade() -> None:
    op.drop_table("token_accounts")
    op.drop_index("ix_ledger_entries_user_id_reference_type_reference_id", "ledger_entries")
    op.drop_index("ix_ledger_entries_user_id_seq", "ledger_entries")
    op.drop_table("ledger_entries")
