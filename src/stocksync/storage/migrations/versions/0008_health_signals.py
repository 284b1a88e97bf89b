"""health signals: refused webhook signatures per channel, per-tenant alert destinations

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stocksync.storage.tables

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhooks_refused', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('webhook_refused_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True))
    op.create_table(
        'tenant_settings',
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('alert_webhook_url', sa.Text(), nullable=True),
        sa.Column('digest_to', sa.Text(), nullable=True),
        sa.Column('updated_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_settings_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_tenant_settings')),
    )


def downgrade() -> None:
    op.drop_table('tenant_settings')
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('webhook_refused_at')
        batch_op.drop_column('webhooks_refused')
