"""A unit of work is one transaction; its repositories share the connection.

The rule (``Store.unit_of_work``): the transaction rolls back unless the ``with`` block completed.
It commits only when the block's body ran to its end; any exception leaving the block, including
``BaseException`` (``KeyboardInterrupt``, ``GeneratorExit``), rolls back everything written in it.

Services use the repositories (``uow.ledger``, ``uow.events``, ...) and nothing else: the
connection and the dialect are the repositories' business.
"""

from __future__ import annotations

from sqlalchemy import Connection

from tanhui.store.dialect import Dialect
from tanhui.store.repositories.accounts import AccountRepository
from tanhui.store.repositories.audit import AuditRepository
from tanhui.store.repositories.checkpoints import CheckpointRepository
from tanhui.store.repositories.consents import ConsentRepository
from tanhui.store.repositories.events import EventRepository
from tanhui.store.repositories.identity import IdentityRepository
from tanhui.store.repositories.interop import InteropRepository
from tanhui.store.repositories.interop_claims import InteropClaimsRepository
from tanhui.store.repositories.interop_log import InteropLogRepository
from tanhui.store.repositories.ledger import LedgerRepository
from tanhui.store.repositories.market import MarketRepository
from tanhui.store.repositories.memberships import MembershipRepository
from tanhui.store.repositories.organisations import OrganisationRepository
from tanhui.store.repositories.partners import PartnerRepository
from tanhui.store.repositories.privacy import PrivacyRepository
from tanhui.store.repositories.rates import RateRepository
from tanhui.store.repositories.registry import RegistryRepository
from tanhui.store.repositories.reports import ReportRepository
from tanhui.store.repositories.schemes import SchemeRepository
from tanhui.store.repositories.statements import StatementRepository


class UnitOfWork:
    def __init__(self, conn: Connection, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect
        self.schemes = SchemeRepository(conn, dialect)
        self.accounts = AccountRepository(conn, dialect)
        self.ledger = LedgerRepository(conn, dialect)
        self.partners = PartnerRepository(conn, dialect)
        self.consents = ConsentRepository(conn, dialect)
        self.events = EventRepository(conn, dialect)
        self.market = MarketRepository(conn, dialect)
        self.organisations = OrganisationRepository(conn, dialect)
        self.registry = RegistryRepository(conn, dialect)
        self.memberships = MembershipRepository(conn, dialect)
        self.identity = IdentityRepository(conn, dialect)
        self.reports = ReportRepository(conn, dialect)
        self.privacy = PrivacyRepository(conn, dialect)
        self.audit = AuditRepository(conn, dialect)
        self.rates = RateRepository(conn, dialect)
        self.checkpoints = CheckpointRepository(conn, dialect)
        self.statements = StatementRepository(conn, dialect)
        self.interop = InteropRepository(conn, dialect)
        self.interop_log = InteropLogRepository(conn, dialect)
        self.interop_claims = InteropClaimsRepository(conn, dialect)
