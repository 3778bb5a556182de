"""Alembic migrations of the store's schema (``versions/``), run by ``tanhui.store.migrate``.

A migration that has been released never changes: it depends on nothing but alembic, SQLAlchemy
and ``_frozen.py``, never on today's schema, repositories or dialect.
"""
