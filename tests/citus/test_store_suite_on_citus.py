"""The store suite, the marketplace's store tests and races, and the whole-service model on Citus (issue 15).

The test functions of tests/store, tests/market, tests/reliability and the service suites of the
resident pages, review, privacy and the credit registry run here unchanged, with `store`
and `pg_shared_store` bound to one distributed database on the cluster (`fresh_store_url`: one of the
test's own): whatever they assert on SQLite
and PostgreSQL (balances, hash chains, claims, races, the model's agreement) must hold on Citus too.
Tests that exist to check one engine's own behaviour (migrations from old revisions, SQLite's files)
stay in their suites.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.citus.conftest import adopt
from tests.market import test_fulfilment, test_liability, test_market_property, test_market_races_pg, test_market_store
from tests.privacy import test_export_erasure, test_retention
from tests.registry import test_services as test_registry_services
from tests.reliability import test_service_model
from tests.resident import test_checkins_and_market, test_report, test_statements
from tests.review import test_review_service
from tests.store import (
    test_concurrency_pg,
    test_incremental_verify,
    test_ingest_turn,
    test_ledger_stateful,
    test_ledger_store,
    test_parallel_verify,
    test_ranking,
    test_rate_buckets,
    test_report_projections,
    test_unit_of_work,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def store(citus_shared_store: Any) -> Any:
    return citus_shared_store


@pytest.fixture
def pg_shared_store(citus_shared_store: Any) -> Any:
    return citus_shared_store


@pytest.fixture
def fresh_store_url(citus_url: str) -> str:
    """A database of the test's own on the cluster (the suites' CLI runs): once, on Citus, rather than
    on SQLite and PostgreSQL again as the root fixture would."""
    return citus_url


adopt(
    globals(),
    test_ledger_store,
    test_ingest_turn,
    test_incremental_verify,
    test_parallel_verify,
    test_unit_of_work,
    test_rate_buckets,
    test_report_projections,
    test_ranking,
    test_ledger_stateful,
    test_concurrency_pg,
    test_market_store,
    test_fulfilment,
    test_liability,
    test_market_property,
    test_market_races_pg,
    test_service_model,
    test_checkins_and_market,
    test_report,
    test_statements,
    test_review_service,
    test_export_erasure,
    test_retention,
    test_registry_services,
)
