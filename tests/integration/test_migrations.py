"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stocksync.app.service import Stocksync
from stocksync.storage.tables import metadata


def test_migrated_schema_matches_the_tables_module(svc: Stocksync) -> None:
    with svc.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
