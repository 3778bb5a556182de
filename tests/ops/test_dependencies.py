"""Known vulnerabilities in the installed dependencies (pip-audit against the PyPI advisory data).

The test fails on any known vulnerability that is not in IGNORED. When pip-audit cannot audit the
environment (its service is unreachable, or answers nothing for our packages) the test is SKIPPED
with pip-audit's own words as the reason: it never passes without an audit. Set
TANHUI_REQUIRE_PIP_AUDIT=1 to turn that skip into a failure (for a machine that reaches the service).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest

# Known vulnerabilities accepted on purpose: {advisory id: why it does not apply, and until when}.
# Keep it empty unless a fix is impossible; every entry needs a reason and a review date.
IGNORED: dict[str, str] = {}

REQUIRED = os.environ.get("TANHUI_REQUIRE_PIP_AUDIT") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"TANHUI_REQUIRE_PIP_AUDIT=1 but {reason}")
    pytest.skip(reason)


def _probe(name: str, version: str) -> str:
    """What the PyPI JSON API says about one package version (the request pip-audit makes)."""
    url = f"https://pypi.org/pypi/{name}/{version}/json"
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return f"GET {url} -> HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"GET {url} -> HTTP {error.code}"
    except Exception as error:  # name resolution, TLS, timeouts: say exactly what happened
        return f"GET {url} -> {type(error).__name__}: {error}"


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_no_known_vulnerabilities_in_installed_packages() -> None:
    try:
        import pip_audit  # noqa: F401
    except ImportError:
        _unavailable("pip-audit is not installed (it is in the `test` extra: pip install -e '.[test]')")
    command = [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--local", "--skip-editable", "--format", "json"]
    for advisory in IGNORED:
        command += ["--ignore-vuln", advisory]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        _unavailable("pip-audit did not finish within 600 s")
    try:
        report: dict[str, Any] = json.loads(run.stdout)
    except ValueError:
        last = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
        _unavailable(f"pip-audit could not run its audit (exit {run.returncode}): {last}")
    dependencies = report.get("dependencies", [])
    vulnerable = {
        f"{d['name']} {d['version']}": [v["id"] for v in d.get("vulns", []) if v["id"] not in IGNORED]
        for d in dependencies
        if d.get("vulns")
    }
    vulnerable = {k: v for k, v in vulnerable.items() if v}
    assert not vulnerable, f"known vulnerabilities (upgrade, or add to IGNORED with a reason): {vulnerable}"

    skipped = [d for d in dependencies if d.get("skip_reason") and "editable" not in d["skip_reason"]]
    audited = [d for d in dependencies if "skip_reason" not in d]
    if skipped:
        first = skipped[0]
        version = first["skip_reason"].rsplit("(", 1)[-1].rstrip(")") if "(" in first["skip_reason"] else ""
        _unavailable(
            f"pip-audit audited {len(audited)} of {len(audited) + len(skipped)} installed packages; "
            f"pip-audit said: {first['skip_reason']!r}; {_probe(first['name'], version)}"
        )
    assert audited, "pip-audit listed no installed package"
