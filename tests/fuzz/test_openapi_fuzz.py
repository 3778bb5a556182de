"""API fuzzing: schemathesis cases for every operation of /openapi.json against a live server.

Each generated request is sent with valid credentials: partner paths are signed over the exact bytes
sent (method, path with query as sent, body SHA-256), user paths carry a bearer token from
`POST /v1/partner/accounts/{user_ref}/sessions`, operator paths (`/v1/admin/*`, when served) an
operator token from `tanhui admin token`. Positive and negative data, so the server also meets
out-of-schema input. Checks on every response: not a server error, status code documented,
content type documented, body matches the documented schema.

TANHUI_FUZZ_EXAMPLES per operation (default: enough for 1,000 cases in all, at least 40 each);
TANHUI_SOAK=1 multiplies by 10. The hypothesis seed is printed for a replay.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

# schemathesis is pinned in the `test` extra (./run test installs it): missing, the suite fails here
# instead of skipping the fuzzing silently.
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tanhui.domain import signing
from tests.live import LiveServer, cli, create_partner

TOTAL_MIN = 1000
SOAK = 10 if os.environ.get("TANHUI_SOAK") else 1
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
def test_every_operation_fuzzed_with_valid_credentials(live_server_factory: Any, tmp_path: Path) -> None:
    server: LiveServer = live_server_factory(
        f"sqlite:///{tmp_path / 'fuzz.db'}", env={"TANHUI_PARTNER_RATE_PER_MINUTE": "100000000"}
    )
    server.tanhui("scheme", "create", "city", "--name", "绿芽积分")
    partner = create_partner(server, "city", "公交", "bus_ride,walking,clean_plate")
    try:
        assert partner.consent("fuzz-user").status_code == 201
        partner.events(
            [
                {
                    "event_id": f"seed-{i}",
                    "user_ref": "fuzz-user",
                    "scenario": "bus_ride",
                    "occurred_at": "2026-01-01T08:00:00+08:00",
                    "data": {},
                }
                for i in range(3)
            ]
        )
        user_token = partner.request("POST", "/v1/partner/accounts/fuzz-user/sessions").json()["token"]
    finally:
        partner.close()
    admin = cli(server.database_url, "admin", "token", "--scheme", "city", "--json", check=False)
    admin_token = json.loads(admin.stdout)["token"] if admin.returncode == 0 else None

    http = httpx.Client(base_url=server.base_url, timeout=60)
    doc = http.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(doc)
    operations = [r.ok() for r in schema.get_all_operations()]
    per_op = max(80, -(-2 * TOTAL_MIN // len(operations))) * SOAK  # small operations run out of distinct inputs early
    per_op = int(os.environ.get("TANHUI_FUZZ_EXAMPLES", per_op))
    run_seed = int(os.environ.get("TANHUI_FUZZ_SEED", random.randrange(1 << 30)))
    print(f"\nfuzz: {len(operations)} operations x {per_op} examples, TANHUI_FUZZ_SEED={run_seed}")
    counts = {"cases": 0, "5xx": 0, "failures": 0}
    failures: list[str] = []
    nonce = iter(range(10**9))
    protocol: list[str] = []

    def send(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url=server.base_url)
        headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items()}
        body = b""
        if "json" in kwargs:
            body = json.dumps(kwargs["json"], ensure_ascii=False).encode()
            headers.setdefault("Content-Type", "application/json")
        elif kwargs.get("data") is not None:
            data = kwargs["data"]
            body = data if isinstance(data, bytes) else str(data).encode()
        request = http.build_request(kwargs["method"], kwargs["url"], params=kwargs.get("params"), content=body, headers=headers)
        target = request.url.raw_path.decode("latin-1")
        path = urlsplit(str(request.url)).path
        if path.startswith("/v1/partner/"):
            ts, n = str(int(__import__("time").time())), f"fuzz-{run_seed}-{next(nonce):012d}"
            request.headers.update(
                {
                    "Tanhui-Partner": partner.partner_id,
                    "Tanhui-Timestamp": ts,
                    "Tanhui-Nonce": n,
                    "Tanhui-Signature": signing.sign(partner.secret, ts, n, request.method, target, body),
                }
            )
        elif path.startswith("/v1/admin/") and admin_token:
            request.headers["Authorization"] = f"Bearer {admin_token}"
        elif path.startswith("/v1/me") or path.startswith("/v1/market"):
            request.headers["Authorization"] = f"Bearer {user_token}"
        try:
            response = http.send(request)
        except httpx.TransportError as error:
            # uvicorn's HTTP parser drops a request whose headers are not valid HTTP (e.g. a control
            # character in a generated header value) before the app sees it; the server stays up.
            counts["cases"] += 1
            counts["protocol_rejected"] = counts.get("protocol_rejected", 0) + 1
            assert http.get("/healthz").status_code == 200, error
            protocol.append(repr(dict(request.headers))[:300])
            return
        counts["cases"] += 1
        if response.status_code >= 500:
            counts["5xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as error:
            counts["failures"] += 1
            if len(failures) < 20:
                failures.append(
                    f"{case.method} {target} body={body[:300]!r} -> {response.status_code} {response.text[:200]!r}: {str(error)[:200]}"
                )

    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @seed(run_seed)
        @settings(
            max_examples=per_op,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            send(case)

        run()
    http.close()
    print(
        f"fuzz: {counts['cases']} cases, {counts['5xx']} server errors, {counts['failures']} check failures, "
        f"{counts.get('protocol_rejected', 0)} dropped by the HTTP parser {protocol[:2]}"
    )
    assert not failures, "\n".join(failures)
    assert counts["cases"] >= TOTAL_MIN
