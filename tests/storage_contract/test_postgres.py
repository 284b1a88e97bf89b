"""The storage contract on PostgreSQL (a schema of its own per test class)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import postgres_settings
from tests.storage_contract.catalog_cases import CatalogCases
from tests.storage_contract.channel_cases import ChannelCases
from tests.storage_contract.directory_cases import DirectoryCases
from tests.storage_contract.holds_cases import HoldCases
from tests.storage_contract.inbox_cases import InboxCases
from tests.storage_contract.ledger_cases import LedgerCases
from tests.storage_contract.log_cases import LogCases
from tests.storage_contract.one_statement_cases import OneStatementCases
from tests.storage_contract.report_cases import ReportCases
from tests.storage_contract.savepoint_cases import SavepointCases
from tests.storage_contract.sql_storage import SqlStorage, migrated


@pytest.fixture(scope="class")
def storage_home() -> Iterator[object]:
    for settings in postgres_settings():  # a schema of its own, dropped afterwards
        yield from migrated(settings)


class TestPostgresStorage(SqlStorage, LedgerCases, LogCases, HoldCases, CatalogCases,
                          ChannelCases, InboxCases, DirectoryCases, ReportCases, OneStatementCases,
                          SavepointCases):
    pass
