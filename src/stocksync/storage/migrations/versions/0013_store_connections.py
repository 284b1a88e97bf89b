"""store authorisation flows, connection tests and channel preview

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stocksync.storage.tables

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'store_connections',
        sa.Column('state_hash', sa.String(length=64), nullable=False),
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('request', sa.JSON(), nullable=False),
        sa.Column('created_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column('used_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True),
        sa.Column('channel_code', sa.String(length=64), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_store_connections_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('state_hash', name=op.f('pk_store_connections')),
    )
    with op.batch_alter_table('store_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_store_connections_tenant_id'), ['tenant_id'], unique=False)
    op.create_table(
        'channel_previews',
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('channel_code', sa.String(length=64), nullable=False),
        sa.Column('enabled_after', sa.Boolean(), nullable=False),
        sa.Column('since', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id', 'channel_code'], ['channels.tenant_id', 'channels.code'], name=op.f('fk_channel_previews_tenant_id_channels'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'channel_code', name=op.f('pk_channel_previews')),
    )


def downgrade() -> None:
    op.drop_table('channel_previews')
    with op.batch_alter_table('store_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_store_connections_tenant_id'))
    op.drop_table('store_connections')
