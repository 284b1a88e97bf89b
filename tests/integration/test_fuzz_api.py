"""Schemathesis over the published OpenAPI document, on SQLite and PostgreSQL: whatever it
sends, the API answers no 5xx, only documented statuses, and bodies matching the schema
(errors included: `{"error","message","details"}`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stocksync.api.app import create_app
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from tests.conftest import Tenant, new_tenant

# Operations left out: the event streams never end; discover, reconcile, a channel's
# connection test, preview and token refresh, the connect flows and image suggestions call
# a platform or fetch a URL, which a fuzzed request could point anywhere.
SKIPPED = (r"(/stream$|/discover$|/reconcile$|/test$|/preview$|/refresh$|^/v1/connect/"
           r"|/suggestions/)")
# Per operation. 30 found a 64-bit overflow; with the ~90 operations there are now, 12 keep
# each database's run near 60 s on two cores.
EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@dataclass
class Target:
    app: FastAPI
    tenant: Tenant


@pytest.fixture
def target(db_settings: Settings) -> Iterator[Target]:
    svc = build_service(db_settings)
    tenant = new_tenant(svc)
    app = create_app(db_settings, svc, workers=False)
    yield Target(app, tenant)
    svc.engine.dispose()


def _operations(app: FastAPI) -> list[APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=SKIPPED)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation: APIOperation, tenant: Tenant) -> None:
    """Schemathesis' coverage phase (boundary and out-of-schema values: huge integers, odd
    strings, wrong types) and then random fuzzing, positive and negative."""
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=tenant.headers, checks=CHECKS)

    test = create_test(operation=operation, test_func=run, config=HypothesisTestConfig(
        project=operation.schema.config,
        modes=[HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING],
        settings=settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                          database=None, suppress_health_check=list(HealthCheck),
                          phases=[Phase.explicit, Phase.generate])))
    test()


@pytest.mark.slow
def test_the_api_never_answers_5xx_and_matches_its_schema(target: Target) -> None:
    # The pytest plugin's lazy schemas do not work with this pytest, so each operation is
    # driven here; every failing operation is reported, not only the first.
    operations = _operations(target.app)
    assert len(operations) > 30
    failed: list[str] = []
    for operation in operations:
        try:
            _fuzz(operation, target.tenant)
        except Exception as exc:  # collect, then fail once with all of them
            failed.append(f"{operation.label}: {exc}")
    assert not failed, "\n\n".join(failed)
