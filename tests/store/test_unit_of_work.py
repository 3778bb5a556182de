"""A unit of work rolls back unless its block completed (store/uow.py, Store.unit_of_work)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tanhui.domain.schemes import new_scheme
from tanhui.store import Store
from tanhui.store.uow import UnitOfWork

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


class Boom(Exception):
    pass


class Stop(BaseException):
    """Like KeyboardInterrupt or SystemExit: not an Exception."""


def _write(uow: UnitOfWork) -> str:
    """Rows in three tables: a scheme, its system ledger accounts and an audit record."""
    scheme_id = "u" + uuid.uuid4().hex[:10]
    uow.schemes.add(new_scheme(scheme_id, "回滚"), NOW)
    uow.ledger.create_system_accounts(scheme_id)
    uow.audit.add(scheme_id, "test", "uow.rollback", scheme_id, {"n": 1}, NOW)
    return scheme_id


def _nothing_of(store: Store, scheme_id: str) -> bool:
    with store.unit_of_work(write=False) as uow:
        return (
            uow.schemes.get(scheme_id) is None
            and not uow.ledger.all_accounts(scheme_id)
            and not uow.audit.list(scheme_id=scheme_id)
        )


@pytest.mark.parametrize("error", [Boom, Stop, KeyboardInterrupt])
def test_an_exception_inside_the_block_leaves_nothing_written(store: Store, error: type[BaseException]) -> None:
    written: list[str] = []
    with pytest.raises(error), store.unit_of_work() as uow:
        written.append(_write(uow))
        raise error()
    assert _nothing_of(store, written[0])


def test_a_generator_abandoned_inside_the_block_leaves_nothing_written(store: Store) -> None:
    written: list[str] = []

    def steps() -> Iterator[int]:
        with store.unit_of_work() as uow:
            written.append(_write(uow))
            yield 1
            yield 2  # never reached: the caller closes the generator (GeneratorExit inside the block)

    walk = steps()
    assert next(walk) == 1
    walk.close()
    assert _nothing_of(store, written[0])


def test_a_completed_block_commits_and_so_does_one_left_by_return(store: Store) -> None:
    with store.unit_of_work() as uow:
        completed = _write(uow)

    def leave_early() -> str:
        with store.unit_of_work() as uow:
            return _write(uow)

    returned = leave_early()
    for scheme_id in (completed, returned):
        assert not _nothing_of(store, scheme_id)
        with store.unit_of_work(write=False) as uow:
            assert uow.schemes.get(scheme_id) is not None
            assert [row.action for row in uow.audit.list(scheme_id=scheme_id)] == ["uow.rollback"]
