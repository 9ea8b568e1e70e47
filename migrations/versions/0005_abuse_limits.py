"""limits against abuse: who holds a slot, texts per number

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('slots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_owner', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_slots_hold_owner', ['hold_owner'], unique=False)
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_to_e164_handed_over_at',
                              ['to_e164', 'handed_over_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_to_e164_handed_over_at')
    with op.batch_alter_table('slots', schema=None) as batch_op:
        batch_op.drop_index('ix_slots_hold_owner')
        batch_op.drop_column('hold_owner')
