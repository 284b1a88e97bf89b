"""event stream on NATS JetStream (publish cursor, consumer positions)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stocksync.storage.tables

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'stream_cursors',
        sa.Column('stream', sa.String(length=64), nullable=False),
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('published', sa.BigInteger(), nullable=False),
        sa.Column('published_at', stocksync.storage.tables.UtcDateTime(timezone=True),
                  nullable=False),
        sa.Column('last_recorded_at', stocksync.storage.tables.UtcDateTime(timezone=True),
                  nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_stream_cursors_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('stream', 'tenant_id', name=op.f('pk_stream_cursors')),
    )
    op.create_table(
        'stream_consumers',
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=64), nullable=False),
        sa.Column('stream', sa.String(length=64), nullable=False),
        sa.Column('consumer', sa.String(length=160), nullable=False),
        sa.Column('updated_at', stocksync.storage.tables.UtcDateTime(timezone=True),
                  nullable=False),
        sa.ForeignKeyConstraint(['tenant_id', 'channel'], ['channels.tenant_id', 'channels.code'],
                                name=op.f('fk_stream_consumers_tenant_id_channels'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'channel', name=op.f('pk_stream_consumers')),
    )


def downgrade() -> None:
    op.drop_table('stream_consumers')
    op.drop_table('stream_cursors')
