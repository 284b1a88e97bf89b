"""catalog import: import jobs and their planned rows, saved mappings, item cost price

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stocksync.storage.tables

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cost_price', sa.Numeric(14, 4), nullable=True))
    op.create_table(
        'import_jobs',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('file_hash', sa.String(length=64), nullable=False),
        sa.Column('format', sa.String(length=8), nullable=False),
        sa.Column('mode', sa.String(length=10), nullable=False),
        sa.Column('absent', sa.String(length=10), nullable=False),
        sa.Column('skip_bad_rows', sa.Boolean(), nullable=False),
        sa.Column('mapping', sa.JSON(), nullable=False),
        sa.Column('counted_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('rows_read', sa.Integer(), nullable=False),
        sa.Column('rows_to_apply', sa.Integer(), nullable=False),
        sa.Column('rows_applied', sa.Integer(), nullable=False),
        sa.Column('summary', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column('applied_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_import_jobs_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs')),
    )
    op.create_index('ix_import_jobs_tenant_file', 'import_jobs', ['tenant_id', 'file_hash'])
    op.create_table(
        'import_rows',
        sa.Column('job_id', sa.String(length=36), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('sku', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('plan', sa.JSON(), nullable=True),
        sa.Column('errors', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('job_id', 'number', name=op.f('pk_import_rows')),
    )
    op.create_index('ix_import_rows_job_sku', 'import_rows', ['job_id', 'sku'])
    op.create_table(
        'import_mappings',
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('mapping', sa.JSON(), nullable=False),
        sa.Column('created_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_import_mappings_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('tenant_id', 'name', name=op.f('pk_import_mappings')),
    )


def downgrade() -> None:
    op.drop_table('import_mappings')
    op.drop_index('ix_import_rows_job_sku', table_name='import_rows')
    op.drop_table('import_rows')
    op.drop_index('ix_import_jobs_tenant_file', table_name='import_jobs')
    op.drop_table('import_jobs')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('cost_price')
