"""appointments a schedule change left without their slot

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'schedule_strandings',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('appointment_id', BIG_ID, nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column('chair_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('decision', sa.String(length=12), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.CheckConstraint("decision IN ('waiting', 'kept', 'cancelled')",
                           name=op.f('ck_schedule_strandings_decision')),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'],
                                name=op.f('fk_schedule_strandings_appointment_id_appointments')),
        sa.ForeignKeyConstraint(['chair_id'], ['chairs.id'],
                                name=op.f('fk_schedule_strandings_chair_id_chairs')),
        sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'],
                                name=op.f('fk_schedule_strandings_clinic_id_clinics')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_strandings')),
    )
    op.create_index('ix_schedule_strandings_clinic_decision', 'schedule_strandings',
                    ['clinic_id', 'decision'], unique=False)
    op.create_index(op.f('ix_schedule_strandings_appointment_id'), 'schedule_strandings',
                    ['appointment_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_schedule_strandings_appointment_id'),
                  table_name='schedule_strandings')
    op.drop_index('ix_schedule_strandings_clinic_decision', table_name='schedule_strandings')
    op.drop_table('schedule_strandings')
