"""pre-visit forms and call-back requests

Revision ID: 0016
Revises: 0010
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'previsit_forms',
        sa.Column('chain_id', BIG_ID, autoincrement=False, nullable=False),
        sa.Column('appointment_id', BIG_ID, nullable=False),
        sa.Column('patient_id', BIG_ID, nullable=False),
        sa.Column('answers', sa.LargeBinary(), nullable=False),
        sa.Column('saved_by', sa.String(length=64), nullable=False),
        sa.Column('saved_by_kind', sa.String(length=16), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('visit_ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'],
                                name=op.f('fk_previsit_forms_appointment_id_appointments')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                                name=op.f('fk_previsit_forms_patient_id_patients')),
        sa.PrimaryKeyConstraint('chain_id', name=op.f('pk_previsit_forms')),
    )
    op.create_index(op.f('ix_previsit_forms_visit_ends_at'), 'previsit_forms', ['visit_ends_at'])
    op.create_index(op.f('ix_previsit_forms_patient_id'), 'previsit_forms', ['patient_id'])
    op.create_table(
        'callback_requests',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('patient_id', BIG_ID, nullable=False),
        sa.Column('requested_by_id', BIG_ID, nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('day_part', sa.String(length=10), nullable=False),
        sa.Column('window_starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('window_ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_by', sa.String(length=64), nullable=True),
        sa.Column('done_by_name', sa.String(length=200), nullable=True),
        sa.CheckConstraint("status IN ('waiting', 'done', 'replaced')",
                           name=op.f('ck_callback_requests_status')),
        sa.CheckConstraint("reason IN ('appointment', 'pain', 'treatment', 'invoice', 'other')",
                           name=op.f('ck_callback_requests_reason')),
        sa.CheckConstraint("day_part IN ('morning', 'afternoon')",
                           name=op.f('ck_callback_requests_day_part')),
        sa.CheckConstraint('window_starts_at < window_ends_at',
                           name=op.f('ck_callback_requests_ordered_window')),
        sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'],
                                name=op.f('fk_callback_requests_clinic_id_clinics')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                                name=op.f('fk_callback_requests_patient_id_patients')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['patients.id'],
                                name=op.f('fk_callback_requests_requested_by_id_patients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_requests')),
    )
    op.create_index('ix_callback_requests_clinic_status', 'callback_requests',
                    ['clinic_id', 'status', 'window_starts_at'])
    op.create_index(op.f('ix_callback_requests_requested_by_id'), 'callback_requests',
                    ['requested_by_id'])
    op.create_index('ux_callback_requests_waiting', 'callback_requests',
                    ['patient_id', 'clinic_id'], unique=True,
                    sqlite_where=sa.text("status = 'waiting'"),
                    postgresql_where=sa.text("status = 'waiting'"))


def downgrade() -> None:
    op.drop_index('ux_callback_requests_waiting', table_name='callback_requests')
    op.drop_index(op.f('ix_callback_requests_requested_by_id'), table_name='callback_requests')
    op.drop_index('ix_callback_requests_clinic_status', table_name='callback_requests')
    op.drop_table('callback_requests')
    op.drop_index(op.f('ix_previsit_forms_patient_id'), table_name='previsit_forms')
    op.drop_index(op.f('ix_previsit_forms_visit_ends_at'), table_name='previsit_forms')
    op.drop_table('previsit_forms')
