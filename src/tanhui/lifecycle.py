"""Child processes that end with their parent.

The importer's workers and the demo's server are children that must not outlive the command that
started them: a `kill -9` of the parent gives it no chance to stop them, so each child asks the kernel
to send it SIGTERM when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``), and exits at once if the
parent is already gone. Elsewhere it is a no-op (the parent's own clean-up still runs on SIGTERM).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from types import FrameType

PARENT_ENV = "TANHUI_PARENT_PID"  # set by a parent for a child that must end with it
_PR_SET_PDEATHSIG = 1


def end_with_parent(parent_pid: int) -> bool:
    """Ask for SIGTERM when ``parent_pid`` (our parent) dies; exit now if it already has.

    Returns whether the kernel took the request (False off Linux)."""
    armed = False
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    if os.getppid() != parent_pid:  # the parent died before the request was armed
        os._exit(0)
    return armed


def end_with_parent_from_env() -> None:
    """What `tanhui serve` calls: end with the parent named in TANHUI_PARENT_PID, if any."""
    value = os.environ.pop(PARENT_ENV, "")
    if value.isascii() and value.isdigit():
        end_with_parent(int(value))


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so a command's `finally`/`except` clean-up stops its children."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
