"""Signatures agree with `openssl dgst -sha256 -hmac`, so the curl example in docs/partners.md works.

Also checks the worked example printed in the guide and runs the guide's bash script against a
real server: the documentation is part of the contract a partner integrates from.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tanhui.client import PartnerClient
from tanhui.domain.signing import sign
from tests.client.conftest import RunningServer

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(
    OPENSSL is None, reason="the openssl binary is not installed (it is what the curl example uses)"
)
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "partners.md"

# The worked example in docs/partners.md §3.
SECRET = "sk_demo_4f7Kq2ZpX9mB3vR8tL6wN1cY"
TIMESTAMP = "1767225600"
NONCE = "Zk3vX9mQ_Tp2-wLr8YbN4sHdA7cE"
BODY = json.dumps(
    {
        "events": [
            {
                "event_id": "bus-20260101-0001",
                "user_ref": "u-10086",
                "scenario": "bus_ride",
                "occurred_at": "2026-01-01T08:00:00+08:00",
                "data": {"line": "1路"},
            }
        ]
    },
    ensure_ascii=False,
    separators=(",", ":"),
).encode("utf-8")


def openssl_hex(data: bytes, *args: str) -> str:
    """`openssl dgst -sha256 [args]` over stdin; the hex digest whatever the output style."""
    assert OPENSSL is not None
    done = subprocess.run([OPENSSL, "dgst", "-sha256", *args], input=data, capture_output=True, check=True, timeout=30)
    digest = done.stdout.decode().strip().rsplit("= ", 1)[-1]  # "SHA2-256(stdin)= ab.." or "(stdin)= ab.."
    assert re.fullmatch(r"[0-9a-f]{64}", digest), done.stdout
    return digest


def openssl_signature(secret: str, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    canonical = "\n".join((timestamp, nonce, method, path, openssl_hex(body))).encode("utf-8")
    return "v1=" + openssl_hex(canonical, "-hmac", secret)


@needs_openssl
def test_openssl_agrees_with_the_sdk_on_what_it_sends() -> None:
    sent: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"results": [], "summary": {}})

    secret = "sk_" + "密钥-secret_0123456789"
    with PartnerClient("http://tanhui.test/gw", "ptn_1", secret, transport=httpx.MockTransport(capture)) as client:
        client.request(
            "POST", "/v1/partner/events?dry=1&说明=中文", body={"events": [{"event_id": "e1", "data": {"line": "1路"}}]}
        )
        client.account("张三 1/2")
    for request in sent:
        expected = openssl_signature(
            secret,
            request.headers["Tanhui-Timestamp"],
            request.headers["Tanhui-Nonce"],
            request.method,
            request.url.raw_path.decode("ascii"),
            request.content,
        )
        assert request.headers["Tanhui-Signature"] == expected


@needs_openssl
def test_the_worked_example_in_the_guide_is_what_the_code_computes() -> None:
    ours = sign(SECRET, TIMESTAMP, NONCE, "POST", "/v1/partner/events", BODY)
    assert ours == openssl_signature(SECRET, TIMESTAMP, NONCE, "POST", "/v1/partner/events", BODY)
    empty = sign(SECRET, TIMESTAMP, NONCE, "GET", "/v1/partner/accounts/u-10086", b"")
    assert empty == openssl_signature(SECRET, TIMESTAMP, NONCE, "GET", "/v1/partner/accounts/u-10086", b"")

    guide = GUIDE.read_text(encoding="utf-8")
    assert f"body ({len(BODY)} bytes" in guide
    assert BODY.decode("utf-8") in guide
    assert openssl_hex(BODY) in guide
    assert openssl_hex(b"") in guide
    assert f"`Tanhui-Signature`: `{ours}`" in guide
    assert f"signed `{empty}`" in guide


def guide_script() -> str:
    guide = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"<!-- example: partner-curl-script[^>]*-->\n```bash\n(.*?)```", guide, re.S)
    assert match, "docs/partners.md lost its marked bash example"
    return match.group(1)


@needs_openssl
@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None, reason="needs bash and curl")
def test_the_guides_bash_script_works_against_a_real_server(live_server: RunningServer, tmp_path: Path) -> None:
    assert live_server.tanhui("scheme", "create", "city", "--name", "测试城市").returncode == 0
    partner = live_server.partner("city", "公交", "bus_ride")
    script = tmp_path / "send.sh"
    script.write_text(guide_script(), encoding="utf-8")
    env = {
        **os.environ,
        "TANHUI_URL": live_server.base_url,
        "TANHUI_PARTNER_ID": partner["partner_id"],
        "TANHUI_SECRET": partner["secret"],
    }
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    consent, events, account = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert consent["status"] == "active", consent
    assert events["summary"] == {"credited": 1, "duplicate": 0, "rejected": 0, "carbon_g": 80, "points": 10}, events
    assert account["carbon_g_total"] == 80, account
