"""the clinic's reasons on waitlist entries: staff_note, closed_note

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_note', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('closed_note', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.drop_column('closed_note')
        batch_op.drop_column('staff_note')
