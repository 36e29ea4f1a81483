"""project text for spin-offs

Revision ID: 26c9b2c95107
Revises: 65368c6a4f49
Create Date: 2026-11-30 00:04:01.489799
"""
from alembic import op
import sqlalchemy as sa


revision = '26c9b2c95107'
down_revision = '65368c6a4f49'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Matching's copy of posters' projects keeps their text (ProjectPublished/ProjectUpdated summary, learnings)
    # for spin-off suggestions; copies kept before start empty and fill in with the project's next update.
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('summary', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('learnings', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('learnings')
        batch_op.drop_column('summary')
