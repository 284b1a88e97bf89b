"""Apply Alembic migrations programmatically (at start-up and by `stocksync migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: object) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def make_revision(engine: Engine, message: str) -> None:
    """Developer helper: autogenerate a new revision against a database at head."""
    with engine.begin() as conn:
        command.revision(alembic_config(conn), message=message, autogenerate=True)
