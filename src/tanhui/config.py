"""Configuration from the environment, one line per variable, read once."""

from __future__ import annotations

import os
from dataclasses import dataclass

from tanhui.errors import InvalidInput

DEFAULT_DATABASE_URL = "sqlite:///./var/tanhui.db"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str  # TANHUI_DATABASE_URL: sqlite:///path or postgresql+psycopg://user@host/db

    @classmethod
    def from_env(cls) -> Settings:
        return cls(database_url=os.environ.get("TANHUI_DATABASE_URL", DEFAULT_DATABASE_URL))


# -- signing in (tanhui/sign_in.py, services/identity.py); read once per process ------------------

PASSWORD_HASH_CONCURRENCY = "TANHUI_PASSWORD_HASH_CONCURRENCY"
SIGN_IN_FAILURES_PER_USERNAME = "TANHUI_SIGN_IN_FAILURES_PER_USERNAME"
SIGN_IN_FAILURES_PER_CLIENT = "TANHUI_SIGN_IN_FAILURES_PER_CLIENT"
SIGN_IN_WINDOW_S = "TANHUI_SIGN_IN_WINDOW_S"


def positive_int(name: str, default: int, minimum: int = 1) -> int:
    """An environment variable that must be a whole number >= ``minimum`` (``invalid_env_setting``
    naming it otherwise)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
        raise InvalidInput("invalid_env_setting", details={name: f"a whole number >= {minimum}"}, name=name, value=raw)
    return int(raw)


@dataclass(frozen=True, slots=True)
class SignInLimits:
    hash_concurrency: int  # TANHUI_PASSWORD_HASH_CONCURRENCY: argon2 hashes at once per process (64 MiB each)
    failures_per_username: int  # TANHUI_SIGN_IN_FAILURES_PER_USERNAME: wrong passwords per username per window
    failures_per_client: int  # TANHUI_SIGN_IN_FAILURES_PER_CLIENT: failed sign-ins per client address per window
    window_s: int  # TANHUI_SIGN_IN_WINDOW_S: the sliding window, seconds

    @classmethod
    def from_env(cls) -> SignInLimits:
        return cls(
            hash_concurrency=positive_int(PASSWORD_HASH_CONCURRENCY, 2),
            failures_per_username=positive_int(SIGN_IN_FAILURES_PER_USERNAME, 10),
            failures_per_client=positive_int(SIGN_IN_FAILURES_PER_CLIENT, 50),
            window_s=positive_int(SIGN_IN_WINDOW_S, 900),
        )


# -- readiness (http/operations.StructureWatch) ------------------------------------------------

READY_CHECK_SECONDS = "TANHUI_READY_CHECK_SECONDS"


def ready_check_seconds() -> int:
    """How old the last quick structural check of the database may be before /readyz has it run again."""
    return positive_int(READY_CHECK_SECONDS, 300)


INTEROP_SYNC_SECONDS = "TANHUI_INTEROP_SYNC_SECONDS"


def interop_sync_seconds() -> int:
    """How often `tanhui serve` pulls the peers' claims logs (docs/interop.md, "Sync"); 0 turns it off."""
    return positive_int(INTEROP_SYNC_SECONDS, 60, minimum=0)
