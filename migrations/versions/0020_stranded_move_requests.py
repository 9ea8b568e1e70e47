"""stranded appointments: ask the patient to move

Revision ID: 0020
Revises: 0012
Create Date: 2026-12-07 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES_BEFORE = ("purpose IN ('confirmation', 'innkalling', 'change', 'cancellation', "
                   "'reminder', 'number_check', 'refill_offer', 'refill_taken', 'reply', "
                   "'confirm_request')")
PURPOSES_AFTER = ("purpose IN ('confirmation', 'innkalling', 'change', 'cancellation', "
                  "'reminder', 'number_check', 'refill_offer', 'refill_taken', 'reply', "
                  "'confirm_request', 'move_request')")
DECISIONS_BEFORE = "decision IN ('waiting', 'kept', 'cancelled')"
DECISIONS_AFTER = "decision IN ('waiting', 'kept', 'cancelled', 'asked', 'moved')"
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_purpose'), PURPOSES_AFTER)
    with op.batch_alter_table('schedule_strandings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_schedule_strandings_decision'), type_='check')
        batch_op.create_check_constraint(op.f('ck_schedule_strandings_decision'),
                                         DECISIONS_AFTER)
        batch_op.add_column(sa.Column('asked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('asked_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('offered_slot_ids', sa.String(length=200),
                                      nullable=True))
        batch_op.add_column(sa.Column('moved_to_id', BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            op.f('fk_schedule_strandings_moved_to_id_appointments'), 'appointments',
            ['moved_to_id'], ['id'])


def downgrade() -> None:
    op.execute("DELETE FROM notification_events WHERE notification_id IN "
                "(SELECT id FROM notifications WHERE purpose = 'move_request')")
    op.execute("DELETE FROM notifications WHERE purpose = 'move_request'")
    op.execute("UPDATE schedule_strandings SET decision = 'waiting' WHERE decision = 'asked'")
    op.execute("UPDATE schedule_strandings SET decision = 'kept' WHERE decision = 'moved'")
    with op.batch_alter_table('schedule_strandings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_schedule_strandings_moved_to_id_appointments'),
                                 type_='foreignkey')
        batch_op.drop_column('moved_to_id')
        batch_op.drop_column('offered_slot_ids')
        batch_op.drop_column('asked_by')
        batch_op.drop_column('asked_at')
        batch_op.drop_constraint(op.f('ck_schedule_strandings_decision'), type_='check')
        batch_op.create_check_constraint(op.f('ck_schedule_strandings_decision'),
                                         DECISIONS_BEFORE)
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notifications_purpose'), PURPOSES_BEFORE)
