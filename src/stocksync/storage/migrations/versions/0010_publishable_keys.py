"""publishable keys: read-only keys for storefront availability reads

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stocksync.storage.tables

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'publishable_keys',
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('label', sa.String(length=100), nullable=True),
        sa.Column('created_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_publishable_keys_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_publishable_keys')),
        sa.UniqueConstraint('prefix', name=op.f('uq_publishable_keys_prefix')),
    )
    with op.batch_alter_table('publishable_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publishable_keys_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('publishable_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publishable_keys_tenant_id'))
    op.drop_table('publishable_keys')
