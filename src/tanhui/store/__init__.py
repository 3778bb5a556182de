"""One store interface over SQLite (embedded default) and PostgreSQL (production).

``Store`` owns the engine; ``Store.unit_of_work()`` opens one transaction whose repositories are
the only code that writes SQL. The few statements that differ between the engines live in
``dialect.py``.
"""

from tanhui.store.engine import Store, open_store
from tanhui.store.errors import UniqueViolation

__all__ = ["Store", "UniqueViolation", "open_store"]
