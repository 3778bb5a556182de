"""The federation's ingest and race suites (issue 16 part 2) on Citus: each test a distributed
database of its own (a deployment has one identity), the same test functions as on SQLite and PostgreSQL
(a chosen few: see ON_CITUS)."""

from __future__ import annotations

import pytest

from tests.citus.conftest import adopt
from tests.interop import test_federation_ingest, test_federation_races
from tests.interop.conftest import store  # noqa: F401 - the suites' fixture, bound here to fresh_store_url below

pytestmark = pytest.mark.slow


@pytest.fixture
def fresh_store_url(citus_url: str) -> str:
    return citus_url


adopt(globals(), test_federation_ingest, test_federation_races)

# Each test makes a distributed database of its own (~10 s on this machine): the ones that reach the
# distributed tables in ways the others do not (the peer look-up and the own claims at ingest, a
# withdrawal's reversal at the person's key and its shortfall) run here; the rest run on SQLite and PostgreSQL.
ON_CITUS = {
    "test_federation_ingest__a_behaviour_a_trusted_peer_claimed_is_refused_with_claimed_by",
    "test_federation_ingest__credited_global_behaviours_are_claimed_and_account_ones_not",
    "test_federation_races__a_peer_that_was_first_keeps_it_and_this_platform_withdraws",
    "test_federation_races__spent_points_are_taken_as_far_as_the_balance_goes",
}
for _name in [n for n in globals() if n.startswith("test_") and n not in ON_CITUS]:
    del globals()[_name]
assert len([n for n in globals() if n.startswith("test_")]) == len(ON_CITUS), "a test named in ON_CITUS is gone"
