"""The store's own exceptions, so services can react to a race without importing the driver layer."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

# A unique key or constraint refused a row: another transaction got there first (or the row breaks a
# constraint). Services catch it to decide again or to answer "already exists".
UniqueViolation = IntegrityError

__all__ = ["UniqueViolation"]
