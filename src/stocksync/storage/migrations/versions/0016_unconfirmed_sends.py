"""channel_skus.unconfirmed: values sent by failed pushes since the last acknowledgement

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_skus') as batch:
        batch.add_column(sa.Column('unconfirmed', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channel_skus') as batch:
        batch.drop_column('unconfirmed')
