"""audit chains per patient and actor, and seals over their heads

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-07 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Append-only, like audit_log (kept in step with booking/models.py by
# tests/test_migrations.py). SQLite's batch mode rebuilds audit_log, which
# drops its triggers: they are created again.
LOG_TRIGGERS_SQLITE = [
    """
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
""",
    """
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
""",
]
SEAL_TRIGGERS = {
    "postgresql": [
        """
CREATE TRIGGER audit_seals_no_update BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
""",
    ],
    "sqlite": [
        """
CREATE TRIGGER audit_seals_no_change BEFORE UPDATE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
""",
        """
CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
""",
    ],
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table('audit_seals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('through_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('heads', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('seal_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_seals')),
    sa.UniqueConstraint('seal_hash', name=op.f('uq_audit_seals_seal_hash'))
    )
    # Entries written so far stay in the one chain they form: 'national', in
    # id order, without seq. Adding the columns changes no row.
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.String(length=80), server_default=sa.text("'national'"), nullable=False))
        batch_op.add_column(sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_audit_log_prev_hash'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_chain_seq'), ['chain', 'seq'])
    if dialect == "sqlite":
        for statement in LOG_TRIGGERS_SQLITE:
            op.execute("DROP TRIGGER IF EXISTS " + statement.split()[2])
            op.execute(statement)
    for statement in SEAL_TRIGGERS.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_chain_seq'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_prev_hash'), ['prev_hash'])
        batch_op.drop_column('seq')
        batch_op.drop_column('chain')
    if dialect == "sqlite":
        for statement in LOG_TRIGGERS_SQLITE:
            op.execute("DROP TRIGGER IF EXISTS " + statement.split()[2])
            op.execute(statement)
    op.drop_table('audit_seals')
