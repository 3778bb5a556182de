"""Configuration from the environment, one line per variable, read once."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///./var/tanhui.db"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str  # TANHUI_DATABASE_URL: sqlite:///path or postgresql+psycopg://user@host/db

    @classmethod
    def from_env(cls) -> Settings:
        return cls(database_url=os.environ.get("TANHUI_DATABASE_URL", DEFAULT_DATABASE_URL))
