from __future__ import annotations

from tanhui.cli.output import say
from tanhui.cli.ledger import verify
from tanhui.cli.scheme import list_
from tanhui.errors import NotFound
from tanhui.services import schemes as scheme_service
from tanhui.store import migrate, open_store
from tanhui.store.engine import describe

DEMO_SCHEME = "luzhou"
DEMO_NAME = "绿芽积分（演示）"


def demo() -> None:
    """Set up the demo scheme on the configured database (default: ./var/tanhui.db) and show it."""
    store = open_store()
    migrate.upgrade(store)
    say(f"数据库：{describe(store.url)}", f"database: {describe(store.url)}")
    try:
        scheme_service.get_scheme(store, DEMO_SCHEME)
    except NotFound:
        scheme_service.create_scheme(store, DEMO_SCHEME, DEMO_NAME)
        say(f"已创建演示方案 {DEMO_SCHEME}", f"created the demo scheme {DEMO_SCHEME}")
    list_(as_json=False)
    verify(scheme=None, as_json=False)
