"""Wiring by hand: pick implementations from Settings."""

from __future__ import annotations

from datetime import UTC, datetime

from stocksync.app.service import Stocksync
from stocksync.config import Settings
from stocksync.storage.engine import make_engine
from stocksync.storage.migrate import upgrade


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_service(settings: Settings, *, migrate: bool = True) -> Stocksync:
    engine = make_engine(settings)
    if migrate:
        upgrade(engine)
    return Stocksync(engine, settings, utc_now)
