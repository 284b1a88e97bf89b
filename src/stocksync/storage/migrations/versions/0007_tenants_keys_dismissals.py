"""tenants and keys: unique tenant names, labelled and revocable API keys, dismissed deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:00:00

Tenant names become unique so that `--tenant NAME` names one tenant. Names that are already
used twice are kept for the oldest tenant; every later one is renamed "<name> (<tenant id>)"
(nothing is merged or deleted, and the id in the name says which tenant it was).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stocksync.storage.tables

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

NAME_LENGTH = 200


def _rename_duplicate_names() -> None:
    conn = op.get_bind()
    tenants = sa.table('tenants', sa.column('id', sa.String), sa.column('name', sa.String),
                       sa.column('created_at', sa.DateTime))
    rows = conn.execute(sa.select(tenants.c.id, tenants.c.name)
                        .order_by(tenants.c.name, tenants.c.created_at, tenants.c.id)).all()
    seen: set[str] = set()
    for tenant_id, name in rows:
        if name not in seen:
            seen.add(name)
            continue
        suffix = f" ({tenant_id})"
        conn.execute(sa.update(tenants).where(tenants.c.id == tenant_id)
                     .values(name=name[:NAME_LENGTH - len(suffix)] + suffix))


def upgrade() -> None:
    _rename_duplicate_names()
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_tenants_name'), ['name'])
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dismissed_at', stocksync.storage.tables.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dismissed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('dismiss_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_column('dismiss_reason')
        batch_op.drop_column('dismissed_by')
        batch_op.drop_column('dismissed_at')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('label')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_tenants_name'), type_='unique')
