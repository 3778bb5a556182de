"""One store interface over SQLite (embedded default) and PostgreSQL (production).

``Store`` owns the engine; ``Store.unit_of_work()`` opens one transaction (committed only if its
block completes) whose repositories are the only code that writes SQL. What differs between the
engines is one ``Dialect`` class per engine in ``dialect.py``, chosen once by ``Store``.

What code outside the store may import: this package (``Store``, ``UniqueViolation``, the URL
helpers), ``tanhui.store.rows`` (the values repositories return), ``tanhui.store.uow.UnitOfWork``
(for type hints) and ``tanhui.store.migrate``. Never ``tanhui.store.schema`` or
``tanhui.store.repositories``.
"""

from tanhui.store.dialect import SQLITE_CACHE_MB, embedded_file
from tanhui.store.engine import Store, describe, open_store, server_address
from tanhui.store.errors import UniqueViolation

__all__ = ["SQLITE_CACHE_MB", "Store", "UniqueViolation", "describe", "embedded_file", "open_store", "server_address"]
