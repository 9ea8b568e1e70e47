"""appointments booked by staff on a patient's behalf: overbooked, staff_note, overbook_reason

Revision ID: 0018
Revises: 0010
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overbooked', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('staff_note', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('overbook_reason', sa.String(length=200),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_column('overbook_reason')
        batch_op.drop_column('staff_note')
        batch_op.drop_column('overbooked')
