"""author approval: author_approval_settings, approved_authors

Revision ID: c4e1a7b93d20
Revises: 8d8bc5750509
Create Date: 2026-11-30 02:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c4e1a7b93d20"
down_revision = "8d8bc5750509"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "author_approval_settings",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "approved_authors",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("approved_authors")
    op.drop_table("author_approval_settings")
