"""support call list

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('support_calls',
    sa.Column('appointment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('done_by', sa.String(length=64), nullable=False),
    sa.Column('done_by_name', sa.String(length=200), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'],
                            name=op.f('fk_support_calls_appointment_id_appointments')),
    sa.PrimaryKeyConstraint('appointment_id', name=op.f('pk_support_calls'))
    )


def downgrade() -> None:
    op.drop_table('support_calls')
