"""The storage contract on the memory twin (storage/memory/)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from stocksync.app.service import Stocksync
from stocksync.bootstrap import memory_service
from tests.storage_contract.base import Clock
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


@pytest.fixture
def storage_home() -> None:
    """Nothing to share: each test makes its own memory store."""


class MemoryStorage:
    @contextmanager
    def make_service(self, clock: Clock, home: object) -> Iterator[Stocksync]:
        yield memory_service(clock=clock)


class TestMemoryStorage(MemoryStorage, LedgerCases, LogCases, HoldCases, CatalogCases,
                        ChannelCases, InboxCases, DirectoryCases, ReportCases,
                        OneStatementCases, SavepointCases):
    pass
