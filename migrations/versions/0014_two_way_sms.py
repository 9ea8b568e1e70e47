"""two-way SMS: replies understood and answered, numbered choices

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES_BEFORE = ("purpose IN ('confirmation', 'innkalling', 'change', 'cancellation', "
                   "'reminder', 'number_check', 'refill_offer', 'refill_taken')")
PURPOSES_AFTER = ("purpose IN ('confirmation', 'innkalling', 'change', 'cancellation', "
                  "'reminder', 'number_check', 'refill_offer', 'refill_taken', 'reply', "
                  "'confirm_request')")
APPOINTMENT_BEFORE = "(appointment_id IS NULL) = (purpose = 'number_check')"
APPOINTMENT_AFTER = ("(appointment_id IS NULL) = "
                     "(purpose IN ('number_check', 'reply', 'confirm_request'))")
OUTCOMES = ("outcome IN ('confirmed', 'cancelled', 'change_link', 'refused', 'choose', "
            "'help', 'silent', 'stopped', 'started', 'checkin', 'code', 'unknown_number', "
            "'limited', 'own', 'failed')")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_appointment'), type_='check')
        batch_op.drop_constraint(op.f('ck_notifications_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_purpose'), PURPOSES_AFTER)
        batch_op.create_check_constraint(op.f('ck_notifications_appointment'),
                                         APPOINTMENT_AFTER)
    with op.batch_alter_table('inbound_sms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intent', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('argument', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('owner_id', BIG_ID, nullable=True))
        batch_op.add_column(sa.Column('appointment_id', BIG_ID, nullable=True))
        batch_op.add_column(sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('answer_id', BIG_ID, nullable=True))
        batch_op.create_foreign_key(op.f('fk_inbound_sms_owner_id_patients'), 'patients',
                                    ['owner_id'], ['id'])
        batch_op.create_foreign_key(op.f('fk_inbound_sms_appointment_id_appointments'),
                                    'appointments', ['appointment_id'], ['id'])
        batch_op.create_foreign_key(op.f('fk_inbound_sms_answer_id_notifications'),
                                    'notifications', ['answer_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_inbound_sms_outcome'), OUTCOMES)
        batch_op.create_index(batch_op.f('ix_inbound_sms_owner_id'), ['owner_id'],
                              unique=False)
        batch_op.create_index('ix_inbound_sms_from_e164_received_at',
                              ['from_e164', 'received_at'], unique=False)
        batch_op.create_index('ix_inbound_sms_unhandled', ['handled_at'], unique=False)
    # Messages stored before replies were acted on are not acted on now.
    op.execute("UPDATE inbound_sms SET handled_at = received_at WHERE handled_at IS NULL")
    op.create_table(
        'sms_reply_choices',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('notification_id', BIG_ID, nullable=False),
        sa.Column('e164', sa.String(length=20), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('appointment_id', BIG_ID, nullable=False),
        sa.Column('slot_id', BIG_ID, nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('position >= 1', name=op.f('ck_sms_reply_choices_position')),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'],
                                name=op.f('fk_sms_reply_choices_appointment_id_appointments')),
        sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'],
                                name=op.f('fk_sms_reply_choices_notification_id_notifications')),
        sa.ForeignKeyConstraint(['slot_id'], ['slots.id'],
                                name=op.f('fk_sms_reply_choices_slot_id_slots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_reply_choices')),
        sa.UniqueConstraint('notification_id', 'position',
                            name=op.f('uq_sms_reply_choices_notification_id_position')),
    )
    op.create_index('ix_sms_reply_choices_e164_created_at', 'sms_reply_choices',
                    ['e164', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sms_reply_choices_e164_created_at', table_name='sms_reply_choices')
    op.drop_table('sms_reply_choices')
    with op.batch_alter_table('inbound_sms', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_sms_unhandled')
        batch_op.drop_index('ix_inbound_sms_from_e164_received_at')
        batch_op.drop_index(batch_op.f('ix_inbound_sms_owner_id'))
        batch_op.drop_constraint(op.f('ck_inbound_sms_outcome'), type_='check')
        batch_op.drop_constraint(op.f('fk_inbound_sms_answer_id_notifications'),
                                 type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_inbound_sms_appointment_id_appointments'),
                                 type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_inbound_sms_owner_id_patients'), type_='foreignkey')
        for column in ('answer_id', 'outcome', 'handled_at', 'appointment_id', 'owner_id',
                       'argument', 'intent'):
            batch_op.drop_column(column)
    op.execute("DELETE FROM notification_events WHERE notification_id IN "
               "(SELECT id FROM notifications WHERE purpose IN ('reply', 'confirm_request'))")
    op.execute("DELETE FROM notifications WHERE purpose IN ('reply', 'confirm_request')")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_appointment'), type_='check')
        batch_op.drop_constraint(op.f('ck_notifications_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_purpose'), PURPOSES_BEFORE)
        batch_op.create_check_constraint(op.f('ck_notifications_appointment'),
                                         APPOINTMENT_BEFORE)
