"""Tanhui (碳惠): carbon inclusion platform with personal carbon accounts.

Layers (see docs/architecture.md): ``domain`` is pure (no I/O, no clock), ``services`` are the use
cases run inside one unit of work, ``store`` hides SQL behind one interface over SQLite and
PostgreSQL, and the adapters (``cli``, ``http`` and ``web``) only translate.
"""

__version__ = "0.1.0"
