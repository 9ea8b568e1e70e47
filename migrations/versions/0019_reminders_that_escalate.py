"""reminders that escalate: second reminders only while unconfirmed, call tasks

Revision ID: 0019
Revises: 0012
Create Date: 2026-12-07 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('notifications') as batch_op:
        batch_op.add_column(sa.Column('unless_confirmed', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        'call_tasks',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('appointment_id', BIG_ID, nullable=False),
        sa.Column('patient_id', BIG_ID, nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_by', sa.String(length=64), nullable=True),
        sa.Column('done_by_name', sa.String(length=200), nullable=True),
        sa.CheckConstraint("status IN ('waiting', 'done')", name=op.f('ck_call_tasks_status')),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'],
                                name=op.f('fk_call_tasks_appointment_id_appointments')),
        sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'],
                                name=op.f('fk_call_tasks_clinic_id_clinics')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                                name=op.f('fk_call_tasks_patient_id_patients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_tasks')),
        sa.UniqueConstraint('appointment_id', name=op.f('uq_call_tasks_appointment_id')),
    )
    op.create_index('ix_call_tasks_clinic_status', 'call_tasks', ['clinic_id', 'status'])
    op.create_index(op.f('ix_call_tasks_patient_id'), 'call_tasks', ['patient_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_call_tasks_patient_id'), table_name='call_tasks')
    op.drop_index('ix_call_tasks_clinic_status', table_name='call_tasks')
    op.drop_table('call_tasks')
    with op.batch_alter_table('notifications') as batch_op:
        batch_op.drop_column('unless_confirmed')
