"""orders in: order polling cursor per channel, the channel's own moves per SKU

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stocksync.storage.tables

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_cursor', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('order_polled_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('order_poll_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('order_poll_error_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('channel_skus', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_moves', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('unexplained', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('channel_changed_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('level_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channel_skus', schema=None) as batch_op:
        batch_op.drop_column('level_at')
        batch_op.drop_column('channel_changed_at')
        batch_op.drop_column('unexplained')
        batch_op.drop_column('channel_moves')
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('order_poll_error_at')
        batch_op.drop_column('order_poll_error')
        batch_op.drop_column('order_polled_at')
        batch_op.drop_column('order_cursor')
