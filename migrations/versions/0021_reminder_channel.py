"""the patient's choice of channel for their first reminder: SMS or Helsenorge

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('patients') as batch_op:
        batch_op.add_column(sa.Column('reminder_channel', sa.String(length=12), nullable=False,
                                      server_default='sms'))
        batch_op.create_check_constraint(op.f('ck_patients_reminder_channel'),
                                         "reminder_channel IN ('sms', 'helsenorge')")


def downgrade() -> None:
    with op.batch_alter_table('patients') as batch_op:
        batch_op.drop_constraint(op.f('ck_patients_reminder_channel'), type_='check')
        batch_op.drop_column('reminder_channel')
