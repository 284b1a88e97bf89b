"""Wiring by hand: pick implementations from Settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from stocksync.app.service import Stocksync
from stocksync.config import Settings
from stocksync.storage.credentials import CredentialBox, load_or_create_key
from stocksync.storage.engine import make_engine
from stocksync.storage.migrate import upgrade


def utc_now() -> datetime:
    return datetime.now(UTC)


def credential_box(settings: Settings) -> CredentialBox:
    key = settings.secret_key or load_or_create_key(Path(settings.secret_key_file))
    return CredentialBox(key)


def build_service(settings: Settings, *, migrate: bool = True) -> Stocksync:
    engine = make_engine(settings)
    if migrate:
        upgrade(engine)
    return Stocksync(engine, settings, utc_now, box=credential_box(settings))
