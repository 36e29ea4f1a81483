"""timetabling: slot rooms, breakouts without a slot and their constraints, timetable runs and locks

Revision ID: 3f7a9c2d1b60
Revises: e224cd6471da
Create Date: 2026-11-30 03:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "3f7a9c2d1b60"
down_revision = "e224cd6471da"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rooms", sa.Integer(), nullable=True))

    with op.batch_alter_table("breakouts", schema=None) as batch_op:
        batch_op.alter_column("slot_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("not_before_slot_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("not_after_slot_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("same_slot_as_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("not_same_slot_as_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("presenter", sa.String(length=200), nullable=True))

    op.create_table(
        "timetable_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("stage", sa.String(length=80), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("best_share", sa.Float(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("top_k", sa.Integer(), nullable=False),
        sa.Column("time_limit", sa.Float(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("placement", sa.JSON(), nullable=True),
        sa.Column("quality", sa.JSON(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["insight_days.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("timetable_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_timetable_runs_event_id"), ["event_id"], unique=False)

    op.create_table(
        "timetable_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("breakout_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["breakout_id"], ["breakouts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["insight_days.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "breakout_id", name="uq_timetable_locks_breakout"),
    )
    with op.batch_alter_table("timetable_locks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_timetable_locks_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("timetable_locks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timetable_locks_event_id"))
    op.drop_table("timetable_locks")
    with op.batch_alter_table("timetable_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timetable_runs_event_id"))
    op.drop_table("timetable_runs")
    with op.batch_alter_table("breakouts", schema=None) as batch_op:
        batch_op.drop_column("presenter")
        batch_op.drop_column("not_same_slot_as_id")
        batch_op.drop_column("same_slot_as_id")
        batch_op.drop_column("not_after_slot_id")
        batch_op.drop_column("not_before_slot_id")
        batch_op.alter_column("slot_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_column("rooms")
