"""e-mail verification: users.email_verified_at, users.verification_nonce

Accounts created before verification existed count as verified (they were already active).

Revision ID: 5b0e2c9d7a41
Revises: 377673166b90
Create Date: 2026-11-30 02:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5b0e2c9d7a41"
down_revision = "377673166b90"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("verification_nonce", sa.String(length=32), nullable=True))
    op.execute("UPDATE users SET email_verified_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("verification_nonce")
        batch.drop_column("email_verified_at")
