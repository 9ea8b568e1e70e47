"""waitlist, refill rounds and offers; refill notification purposes

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-07 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES_BEFORE = ("purpose IN ('confirmation', 'innkalling', 'change', 'cancellation', "
                   "'reminder', 'number_check')")
PURPOSES_AFTER = ("purpose IN ('confirmation', 'innkalling', 'change', 'cancellation', "
                  "'reminder', 'number_check', 'refill_offer', 'refill_taken')")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WAITLIST = "status IN ('waiting', 'withdrawn', 'fulfilled', 'ended')"
ROUND = "status IN ('open', 'filled', 'exhausted', 'too_late')"
OFFER = "status IN ('offered', 'accepted', 'taken', 'expired', 'withdrawn')"


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_purpose'), PURPOSES_AFTER)
    op.create_table(
        'waitlist_entries',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('patient_id', BIG_ID, nullable=False),
        sa.Column('appointment_id', BIG_ID, nullable=False),
        sa.Column('appointment_type_id', sa.Integer(), nullable=False),
        sa.Column('clinic_ids', sa.JSON(), nullable=False),
        sa.Column('weekdays', sa.JSON(), nullable=False),
        sa.Column('earliest_time', sa.Time(), nullable=True),
        sa.Column('latest_time', sa.Time(), nullable=True),
        sa.Column('notice_hours', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_kind', sa.String(length=16), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('notice_hours >= 0', name=op.f('ck_waitlist_entries_notice_hours')),
        sa.CheckConstraint(WAITLIST, name=op.f('ck_waitlist_entries_status')),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'],
                                name=op.f('fk_waitlist_entries_appointment_id_appointments')),
        sa.ForeignKeyConstraint(
            ['appointment_type_id'], ['appointment_types.id'],
            name=op.f('fk_waitlist_entries_appointment_type_id_appointment_types')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                                name=op.f('fk_waitlist_entries_patient_id_patients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries')),
    )
    op.create_index(op.f('ix_waitlist_entries_appointment_id'), 'waitlist_entries',
                    ['appointment_id'], unique=False)
    op.create_index(op.f('ix_waitlist_entries_patient_id'), 'waitlist_entries',
                    ['patient_id'], unique=False)
    op.create_index('ix_waitlist_entries_status_type', 'waitlist_entries',
                    ['status', 'appointment_type_id'], unique=False)
    op.create_table(
        'refill_rounds',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('slot_id', BIG_ID, nullable=False),
        sa.Column('event_id', BIG_ID, nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('wave', sa.Integer(), nullable=False),
        sa.Column('next_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(ROUND, name=op.f('ck_refill_rounds_status')),
        sa.ForeignKeyConstraint(['event_id'], ['booking_events.id'],
                                name=op.f('fk_refill_rounds_event_id_booking_events')),
        sa.ForeignKeyConstraint(['slot_id'], ['slots.id'],
                                name=op.f('fk_refill_rounds_slot_id_slots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refill_rounds')),
        sa.UniqueConstraint('event_id', name=op.f('uq_refill_rounds_event_id')),
    )
    op.create_index(op.f('ix_refill_rounds_slot_id'), 'refill_rounds', ['slot_id'],
                    unique=False)
    op.create_index('ix_refill_rounds_status_next_at', 'refill_rounds',
                    ['status', 'next_at'], unique=False)
    op.create_table(
        'refill_offers',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('round_id', BIG_ID, nullable=False),
        sa.Column('slot_id', BIG_ID, nullable=False),
        sa.Column('wave', sa.Integer(), nullable=False),
        sa.Column('waitlist_entry_id', BIG_ID, nullable=False),
        sa.Column('patient_id', BIG_ID, nullable=False),
        sa.Column('appointment_id', BIG_ID, nullable=False),
        sa.Column('code', sa.String(length=4), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('told_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(OFFER, name=op.f('ck_refill_offers_status')),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'],
                                name=op.f('fk_refill_offers_appointment_id_appointments')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                                name=op.f('fk_refill_offers_patient_id_patients')),
        sa.ForeignKeyConstraint(['round_id'], ['refill_rounds.id'],
                                name=op.f('fk_refill_offers_round_id_refill_rounds')),
        sa.ForeignKeyConstraint(['slot_id'], ['slots.id'],
                                name=op.f('fk_refill_offers_slot_id_slots')),
        sa.ForeignKeyConstraint(
            ['waitlist_entry_id'], ['waitlist_entries.id'],
            name=op.f('fk_refill_offers_waitlist_entry_id_waitlist_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refill_offers')),
    )
    op.create_index(op.f('ix_refill_offers_round_id'), 'refill_offers', ['round_id'],
                    unique=False)
    op.create_index('ix_refill_offers_status_told', 'refill_offers', ['status', 'told_at'],
                    unique=False)
    op.create_index('ix_refill_offers_patient_status', 'refill_offers',
                    ['patient_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_table('refill_offers')
    op.drop_table('refill_rounds')
    op.drop_table('waitlist_entries')
    op.execute("DELETE FROM notification_events WHERE notification_id IN "
               "(SELECT id FROM notifications WHERE purpose IN "
               "('refill_offer', 'refill_taken'))")
    op.execute("DELETE FROM notifications WHERE purpose IN ('refill_offer', 'refill_taken')")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_purpose'), PURPOSES_BEFORE)
