"""Edge validation that needs no database: barcodes, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stocksync.api.schemas import ItemIn, MovementIn
from stocksync.config import Settings, SettingsError


@pytest.mark.parametrize("code", ["4006381333931", "036000291452", "96385074", "10012345678902"])
def test_valid_gtins_are_accepted(code: str) -> None:
    assert ItemIn(barcodes=[code]).barcodes == [code]


@pytest.mark.parametrize("code", ["4006381333932", "12345", "abcdefghijklm"])
def test_invalid_gtins_are_refused(code: str) -> None:
    with pytest.raises(ValidationError):
        ItemIn(barcodes=[code])


def test_movement_rules_per_type() -> None:
    with pytest.raises(ValidationError):
        MovementIn(type="adjust", sku="A", location="WH", quantity=0)
    with pytest.raises(ValidationError):
        MovementIn(type="transfer", sku="A", location="WH", quantity=1)
    with pytest.raises(ValidationError):
        MovementIn(type="sale", sku="A", location="WH", quantity=1, to_location="X")
    assert MovementIn(type="count", sku="A", location="WH", quantity=0).quantity == 0


def test_settings_come_from_the_environment_with_clear_errors() -> None:
    s = Settings.from_env({"STOCKSYNC_PORT": "9000", "STOCKSYNC_CART_TTL_SECONDS": "60"})
    assert s.port == 9000 and s.cart_ttl_seconds == 60
    with pytest.raises(SettingsError, match="STOCKSYNC_PORT"):
        Settings.from_env({"STOCKSYNC_PORT": "not-a-port"})
    with pytest.raises(SettingsError, match="IDEMPOTENCY_TTL_HOURS"):
        Settings.from_env({"STOCKSYNC_IDEMPOTENCY_TTL_HOURS": "1"})
