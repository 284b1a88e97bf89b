"""AI listing drafts and their review

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stocksync.storage.tables

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

UtcDateTime = stocksync.storage.tables.UtcDateTime


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                   name=op.f(f'fk_{table}_tenant_id_tenants'))


def upgrade() -> None:
    op.create_table(
        'listing_settings',
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('banned_words', sa.JSON(), nullable=False),
        sa.Column('allowed_words', sa.JSON(), nullable=False),
        sa.Column('preferred_terms', sa.JSON(), nullable=False),
        sa.Column('template', sa.Text(), nullable=True),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        _tenant_fk('listing_settings'),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_listing_settings')),
    )
    op.create_table(
        'listing_drafts',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('sku', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=64), nullable=False),
        sa.Column('channel_kind', sa.String(length=32), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('title_limit', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('model_title', sa.String(length=1000), nullable=True),
        sa.Column('components', sa.JSON(), nullable=False),
        sa.Column('warnings', sa.JSON(), nullable=False),
        sa.Column('aspects', sa.JSON(), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('edited', sa.Integer(), server_default='0', nullable=False),
        sa.Column('publish_state', sa.String(length=16), nullable=True),
        sa.Column('publish_error', sa.Text(), nullable=True),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.Column('decided_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('job_id', sa.String(length=32), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        _tenant_fk('listing_drafts'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_drafts')),
    )
    op.create_index('uq_listing_drafts_tenant_id_sku_channel', 'listing_drafts',
                    ['tenant_id', 'sku', 'channel'], unique=True)
    op.create_index('ix_listing_drafts_tenant_id_status', 'listing_drafts',
                    ['tenant_id', 'status'])
    op.create_table(
        'listing_jobs',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('use_model', sa.Integer(), nullable=False),
        sa.Column('cursor', sa.String(length=64), nullable=True),
        sa.Column('items_total', sa.Integer(), nullable=False),
        sa.Column('items_done', sa.Integer(), nullable=False),
        sa.Column('outcomes', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', UtcDateTime(timezone=True), nullable=True),
        _tenant_fk('listing_jobs'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_jobs')),
    )
    op.create_index(op.f('ix_listing_jobs_tenant_id'), 'listing_jobs', ['tenant_id'])
    op.create_table(
        'listing_suggestions',
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('sku', sa.String(length=64), nullable=False),
        sa.Column('attribute', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=100), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('image_url', sa.Text(), nullable=True),
        sa.Column('details', sa.JSON(), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        _tenant_fk('listing_suggestions'),
        sa.PrimaryKeyConstraint('tenant_id', 'sku', 'attribute', 'source',
                                name=op.f('pk_listing_suggestions')),
    )


def downgrade() -> None:
    op.drop_table('listing_suggestions')
    op.drop_index(op.f('ix_listing_jobs_tenant_id'), table_name='listing_jobs')
    op.drop_table('listing_jobs')
    op.drop_index('ix_listing_drafts_tenant_id_status', table_name='listing_drafts')
    op.drop_index('uq_listing_drafts_tenant_id_sku_channel', table_name='listing_drafts')
    op.drop_table('listing_drafts')
    op.drop_table('listing_settings')
