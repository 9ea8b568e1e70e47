"""one-time codes for a patient's own mobile number

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES_BEFORE = "purpose IN ('confirmation', 'innkalling', 'change', 'cancellation', 'reminder')"
PURPOSES_AFTER = ("purpose IN ('confirmation', 'innkalling', 'change', 'cancellation', "
                  "'reminder', 'number_check')")
APPOINTMENT = "(appointment_id IS NULL) = (purpose = 'number_check')"
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('appointment_id', existing_type=BIG_ID, nullable=True)
        batch_op.alter_column('appointment_version', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(op.f('ck_notifications_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_purpose'), PURPOSES_AFTER)
        batch_op.create_check_constraint(op.f('ck_notifications_appointment'), APPOINTMENT)
    op.create_table(
        'number_checks',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('patient_id', BIG_ID, nullable=False),
        sa.Column('e164', sa.String(length=20), nullable=False),
        sa.Column('nonce', sa.String(length=32), nullable=False),
        sa.Column('notification_id', BIG_ID, nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('attempts >= 0', name=op.f('ck_number_checks_attempts')),
        sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'],
                                name=op.f('fk_number_checks_notification_id_notifications')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                                name=op.f('fk_number_checks_patient_id_patients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_number_checks')),
    )
    op.create_index('ix_number_checks_patient_id_created_at', 'number_checks',
                    ['patient_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_number_checks_patient_id_created_at', table_name='number_checks')
    op.drop_table('number_checks')
    op.execute("DELETE FROM notification_events WHERE notification_id IN "
               "(SELECT id FROM notifications WHERE purpose = 'number_check')")
    op.execute("DELETE FROM notifications WHERE purpose = 'number_check'")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_appointment'), type_='check')
        batch_op.drop_constraint(op.f('ck_notifications_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_purpose'), PURPOSES_BEFORE)
        batch_op.alter_column('appointment_version', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('appointment_id', existing_type=BIG_ID, nullable=False)
