"""Image jobs, images, the durable job queue, and the personas' profile image.

Revision ID: 0006
Revises: 0005
Create Date: 2026-01-12 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here rather than imported: a revision must not change when tables.py does.
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "image_jobs",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("persona_id", sa.Text(), nullable=False),
        sa.Column("persona_version_id", sa.Text(), nullable=False),
        sa.Column("quality", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("charge_key", sa.Text(), nullable=False),
        sa.Column("task_uuid", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("image_id", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_image_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_jobs")),
    )
    op.create_index("ix_image_jobs_owner_id_status", "image_jobs", ["owner_id", "status"])
    op.create_table(
        "images",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("persona_id", sa.Text(), nullable=False),
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("nsfw", sa.Boolean(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["image_jobs.id"], name=op.f("fk_images_job_id_image_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("job_id", name=op.f("uq_images_job_id")),
    )
    op.create_index(
        "ix_images_persona_id_created_at_id", "images", ["persona_id", "created_at", "id"]
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", TIMESTAMP, nullable=True),
        sa.Column("locked_until", TIMESTAMP, nullable=True),
        sa.Column("locked_by", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_jobs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_status_run_after", "jobs", ["status", "run_after"])
    # A nullable column without constraints: a plain ALTER TABLE on both dialects.
    op.add_column("personas", sa.Column("profile_image_id", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("personas") as batch:  # SQLite drops a column by copying
        batch.drop_column("profile_image_id")
    op.drop_index("ix_jobs_status_run_after", "jobs")
    op.drop_table("jobs")
    op.drop_index("ix_images_persona_id_created_at_id", "images")
    op.drop_table("images")
    op.drop_index("ix_image_jobs_owner_id_status", "image_jobs")
    op.drop_table("image_jobs")
