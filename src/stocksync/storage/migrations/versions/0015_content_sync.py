"""content sync: per-channel content settings, channel content overrides, content acknowledgements

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stocksync.storage.tables

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

UTC = stocksync.storage.tables.UtcDateTime


def upgrade() -> None:
    op.create_index('ix_items_tenant_updated', 'items', ['tenant_id', 'updated_at'])
    op.create_table(
        'channel_content_settings',
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=64), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('projected_until', UTC(timezone=True), nullable=True),
        sa.Column('inbox_after', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('updated_at', UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_channel_content_settings_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('tenant_id', 'channel', name=op.f('pk_channel_content_settings')),
    )
    op.create_table(
        'item_channel_content',
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=64), nullable=False),
        sa.Column('sku', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('aspects', sa.JSON(), nullable=True),
        sa.Column('updated_at', UTC(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_item_channel_content_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('tenant_id', 'channel', 'sku', name=op.f('pk_item_channel_content')),
    )
    op.create_index('ix_item_channel_content_changed', 'item_channel_content',
                    ['tenant_id', 'channel', 'updated_at'])
    op.create_table(
        'channel_content_state',
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=64), nullable=False),
        sa.Column('sku', sa.String(length=64), nullable=False),
        sa.Column('wanted', sa.JSON(), nullable=False),
        sa.Column('channel_has', sa.JSON(), nullable=False),
        sa.Column('pending_since', UTC(timezone=True), nullable=True),
        sa.Column('due_at', UTC(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('refused', sa.Text(), nullable=True),
        sa.Column('pushed_at', UTC(timezone=True), nullable=True),
        sa.Column('received_at', UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_channel_content_state_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('tenant_id', 'channel', 'sku', name=op.f('pk_channel_content_state')),
    )
    op.create_index('ix_channel_content_state_due', 'channel_content_state',
                    ['tenant_id', 'channel', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_channel_content_state_due', table_name='channel_content_state')
    op.drop_table('channel_content_state')
    op.drop_index('ix_item_channel_content_changed', table_name='item_channel_content')
    op.drop_table('item_channel_content')
    op.drop_table('channel_content_settings')
    op.drop_index('ix_items_tenant_updated', table_name='items')
