"""bulk resend, audit verifications, access reviews, staff directory

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision: str = '0011'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'bulk_resend_runs',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('selection', sa.JSON(), nullable=False),
        sa.Column('actor_id', sa.String(length=64), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('matched', sa.Integer(), nullable=False),
        sa.Column('resent', sa.Integer(), nullable=False),
        sa.Column('skipped', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['county_id'], ['counties.id'],
                                name=op.f('fk_bulk_resend_runs_county_id_counties')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_resend_runs')),
    )
    op.create_index(op.f('ix_bulk_resend_runs_fingerprint'), 'bulk_resend_runs',
                    ['fingerprint'], unique=False)
    op.create_table(
        'bulk_resend_items',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('run_id', BIG_ID, nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('original_id', BIG_ID, nullable=False),
        sa.Column('resend_id', BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(['original_id'], ['notifications.id'],
                                name=op.f('fk_bulk_resend_items_original_id_notifications')),
        sa.ForeignKeyConstraint(['resend_id'], ['notifications.id'],
                                name=op.f('fk_bulk_resend_items_resend_id_notifications')),
        sa.ForeignKeyConstraint(['run_id'], ['bulk_resend_runs.id'],
                                name=op.f('fk_bulk_resend_items_run_id_bulk_resend_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_resend_items')),
        sa.UniqueConstraint('fingerprint', 'original_id',
                            name=op.f('uq_bulk_resend_items_fingerprint_original_id')),
        sa.UniqueConstraint('resend_id', name=op.f('uq_bulk_resend_items_resend_id')),
    )
    op.create_index(op.f('ix_bulk_resend_items_run_id'), 'bulk_resend_items', ['run_id'],
                    unique=False)
    op.create_table(
        'staff_directory',
        sa.Column('actor_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('roles', sa.JSON(), nullable=False),
        sa.Column('clinic_ids', sa.JSON(), nullable=False),
        sa.Column('last_login_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['county_id'], ['counties.id'],
                                name=op.f('fk_staff_directory_county_id_counties')),
        sa.PrimaryKeyConstraint('actor_id', name=op.f('pk_staff_directory')),
    )
    op.create_index(op.f('ix_staff_directory_county_id'), 'staff_directory', ['county_id'],
                    unique=False)
    op.create_table(
        'audit_verifications',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('verified_at', UTCDateTime(), nullable=False),
        sa.Column('actor_id', sa.String(length=64), nullable=False),
        sa.Column('intact', sa.Boolean(), nullable=False),
        sa.Column('entries', BIG_ID, nullable=False),
        sa.Column('chains', sa.Integer(), nullable=False),
        sa.Column('seals', sa.Integer(), nullable=False),
        sa.Column('first_broken_id', BIG_ID, nullable=True),
        sa.Column('first_broken_seal_id', BIG_ID, nullable=True),
        sa.Column('cut_chains', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_verifications')),
    )
    op.create_table(
        'access_reviews',
        sa.Column('audit_entry_id', BIG_ID, nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('reviewed_by', sa.String(length=64), nullable=False),
        sa.Column('reviewed_by_name', sa.String(length=200), nullable=False),
        sa.Column('reviewed_at', UTCDateTime(), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['audit_entry_id'], ['audit_log.id'],
                                name=op.f('fk_access_reviews_audit_entry_id_audit_log')),
        sa.ForeignKeyConstraint(['county_id'], ['counties.id'],
                                name=op.f('fk_access_reviews_county_id_counties')),
        sa.PrimaryKeyConstraint('audit_entry_id', name=op.f('pk_access_reviews')),
    )
    op.create_index(op.f('ix_access_reviews_county_id'), 'access_reviews', ['county_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_access_reviews_county_id'), table_name='access_reviews')
    op.drop_table('access_reviews')
    op.drop_table('audit_verifications')
    op.drop_index(op.f('ix_staff_directory_county_id'), table_name='staff_directory')
    op.drop_table('staff_directory')
    op.drop_index(op.f('ix_bulk_resend_items_run_id'), table_name='bulk_resend_items')
    op.drop_table('bulk_resend_items')
    op.drop_index(op.f('ix_bulk_resend_runs_fingerprint'), table_name='bulk_resend_runs')
    op.drop_table('bulk_resend_runs')
