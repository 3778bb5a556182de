"""The crash test on a Citus coordinator (issue 15): the bulk importer killed with SIGKILL mid-stream,
restarted, and in the end every event credited once, nothing doubled, `tanhui verify` clean. A batch
on Citus commits over several shards with two-phase commit; a kill between prepare and commit leaves
prepared transactions that Citus's recovery finishes or rolls back, and the claims keep a resend from
doubling what did commit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.test_crash import run_crash_test

pytestmark = pytest.mark.slow


def test_sigkill_during_a_stream_on_citus_loses_and_doubles_nothing(citus_url: str, tmp_path: Path) -> None:
    run_crash_test(
        citus_url, tmp_path, int(os.environ.get("TANHUI_CRASH_EVENTS", 5_000)), int(os.environ.get("TANHUI_CRASH_KILLS", 3))
    )
