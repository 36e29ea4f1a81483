"""chat slots and bookings

Unique keys: one active booking per slot, one chat per person per 5-minute cell, one open slot per author per
insight day per seat.

Revision ID: e55702171099
Revises: ce711877f8f8
Create Date: 2026-11-29 23:39:18.883372
"""
from alembic import op
import sqlalchemy as sa


revision = 'e55702171099'
down_revision = 'ce711877f8f8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chat_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('quota_seat', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revision', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('author_id', 'event_id', 'quota_seat', name='uq_chat_slots_author_seat')
    )
    with op.batch_alter_table('chat_slots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_slots_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_slots_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_slots_project_id'), ['project_id'], unique=False)

    op.create_table('chat_bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('active_slot_id', sa.Integer(), nullable=True),
    sa.Column('attendee_id', sa.Integer(), nullable=False),
    sa.Column('attendee_name', sa.String(length=200), nullable=False),
    sa.Column('room_id', sa.String(length=64), nullable=False),
    sa.Column('from_waitlist', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['slot_id'], ['chat_slots.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('active_slot_id'),
    sa.UniqueConstraint('room_id')
    )
    with op.batch_alter_table('chat_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_bookings_attendee_id'), ['attendee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_bookings_slot_id'), ['slot_id'], unique=False)

    op.create_table('chat_waitlist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('person_name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['slot_id'], ['chat_slots.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slot_id', 'person_id', name='uq_chat_waitlist_slot_person')
    )
    with op.batch_alter_table('chat_waitlist', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_waitlist_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_waitlist_slot_id'), ['slot_id'], unique=False)

    op.create_table('chat_cells',
    sa.Column('person_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('cell', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['chat_bookings.id'], ),
    sa.ForeignKeyConstraint(['slot_id'], ['chat_slots.id'], ),
    sa.PrimaryKeyConstraint('person_id', 'cell')
    )
    with op.batch_alter_table('chat_cells', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_cells_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_cells_slot_id'), ['slot_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('chat_cells', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_cells_slot_id'))
        batch_op.drop_index(batch_op.f('ix_chat_cells_booking_id'))

    op.drop_table('chat_cells')
    with op.batch_alter_table('chat_waitlist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_waitlist_slot_id'))
        batch_op.drop_index(batch_op.f('ix_chat_waitlist_person_id'))

    op.drop_table('chat_waitlist')
    with op.batch_alter_table('chat_bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_bookings_slot_id'))
        batch_op.drop_index(batch_op.f('ix_chat_bookings_attendee_id'))

    op.drop_table('chat_bookings')
    with op.batch_alter_table('chat_slots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_slots_project_id'))
        batch_op.drop_index(batch_op.f('ix_chat_slots_event_id'))
        batch_op.drop_index(batch_op.f('ix_chat_slots_author_id'))

    op.drop_table('chat_slots')
