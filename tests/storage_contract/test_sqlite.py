"""The storage contract on SQLite (a database file of its own per test class)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stocksync.config import Settings
from tests.conftest import TEST_SECRET
from tests.storage_contract.catalog_cases import CatalogCases
from tests.storage_contract.channel_cases import ChannelCases
from tests.storage_contract.directory_cases import DirectoryCases
from tests.storage_contract.holds_cases import HoldCases
from tests.storage_contract.inbox_cases import InboxCases
from tests.storage_contract.ledger_cases import LedgerCases
from tests.storage_contract.log_cases import LogCases
from tests.storage_contract.report_cases import ReportCases
from tests.storage_contract.savepoint_cases import SavepointCases
from tests.storage_contract.sql_storage import SqlStorage, migrated


@pytest.fixture(scope="class")
def storage_home() -> Iterator[object]:
    with tempfile.TemporaryDirectory(prefix="stocksync-contract-") as folder:
        yield from migrated(Settings(
            database_url=f"sqlite:///{Path(folder) / 'store.db'}", run_workers=False,
            secret_key=TEST_SECRET))


class TestSqliteStorage(SqlStorage, LedgerCases, LogCases, HoldCases, CatalogCases,
                        ChannelCases, InboxCases, DirectoryCases, ReportCases, SavepointCases):
    """SQLite takes every hold through the transactional path: no one-step cases."""
