"""notification settings

Revision ID: fc8d798d3c50
Revises: 73b17ddc516b
Create Date: 2026-11-30 02:29:21.104650
"""
from alembic import op
import sqlalchemy as sa


revision = 'fc8d798d3c50'
down_revision = '73b17ddc516b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notification_settings',
    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('reminder_offsets', sa.JSON(), nullable=True),
    sa.Column('digest_hour', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('notification_settings')
