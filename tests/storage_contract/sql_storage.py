"""The storage contract's SQL side: one migrated database per test class, emptied before
each test (migrating a new one per test costs far more than the tests themselves)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service, credential_box, sql_service
from stocksync.config import Settings
from tests.storage_contract.base import Clock


def migrated(settings: Settings) -> Iterator[Stocksync]:
    svc = build_service(settings)
    try:
        yield svc
    finally:
        svc.engine.dispose()


def empty(engine: sa.Engine) -> None:
    """Delete every row (the tables the database has, whatever metadata says)."""
    names = [n for n in sa.inspect(engine).get_table_names() if n != "alembic_version"]
    with engine.begin() as conn:
        # DELETE, not TRUNCATE: on tables this small it is many times faster (TRUNCATE
        # replaces each table's files). Foreign keys are not checked while emptying.
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(sa.text("PRAGMA foreign_keys = OFF"))
        for name in names:
            conn.execute(sa.text(f'DELETE FROM "{name}"'))


class SqlStorage:
    svc: Stocksync

    @contextmanager
    def make_service(self, clock: Clock, home: object) -> Iterator[Stocksync]:
        assert isinstance(home, Stocksync)
        empty(home.engine)
        yield sql_service(home.engine, home.settings, clock, box=credential_box(home.settings))
