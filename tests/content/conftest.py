"""Content sync against the simulators: helpers shared by the tests (and the benchmark)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stocksync.config import Settings
from tests.conftest import METRICS_TOKEN, TEST_SECRET

CONTENT_ON = {t: {"enabled": True, "direction": "both"}
              for t in ("title", "description", "price", "images", "seo", "options")}


def wait_for(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"not reached within {timeout}s (last: {last!r})")


def sync_content(client: httpx.Client, code: str, types: dict[str, Any] | None = None) -> None:
    answer = client.patch(f"/v1/channels/{code}/content", json={"types": types or CONTENT_ON})
    assert answer.status_code == 200, answer.text


def in_sync(client: httpx.Client, code: str, skus: list[str]) -> bool:
    rows = client.get(f"/v1/channels/{code}/skus", params={"limit": 1000}).json()
    states = {r["sku"]: r.get("content") for r in rows}
    return all((states.get(s) or {}).get("in_sync") for s in skus)


@pytest.fixture
def sqlite_only(tmp_path: Path) -> Iterator[Settings]:
    """For the end-to-end modules: their storage runs on both databases in
    test_content_store.py, so over HTTP SQLite alone keeps the suite's time down."""
    yield Settings(database_url=f"sqlite:///{tmp_path / 'stocksync.db'}", run_workers=False,
                   secret_key=TEST_SECRET, reconcile_minutes=0, metrics_token=METRICS_TOKEN)
