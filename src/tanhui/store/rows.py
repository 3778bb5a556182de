"""The values the store hands out, importable without reaching into the repositories.

Services and adapters name these types (in signatures, ``isinstance`` checks) and constants; they
get the values themselves from ``uow.<repository>`` methods. The definitions live beside the
queries that build them; this module is their one public address.
"""

from __future__ import annotations

from tanhui.store.integrity import SchemaDifference, StructureCheck
from tanhui.store.repositories.accounts import AccountRow
from tanhui.store.repositories.audit import AuditRow
from tanhui.store.repositories.checkpoints import CheckpointRow
from tanhui.store.repositories.consents import ConsentRow, Link, TokenOwner
from tanhui.store.repositories.events import EVENT_COLUMNS, StoredOutcome
from tanhui.store.repositories.identity import OperatorRow, OperatorScope
from tanhui.store.repositories.interop import PeerRow, PlatformRow
from tanhui.store.repositories.interop_claims import OwnClaim, PeerEntry, Withdrawal
from tanhui.store.repositories.interop_log import HeadRow, LogRow, PeerClaim, PeerLogRow
from tanhui.store.repositories.ledger import Appended
from tanhui.store.repositories.market import OrderRow
from tanhui.store.repositories.memberships import Standing
from tanhui.store.repositories.organisations import OrganisationDict, OrganisationRow
from tanhui.store.repositories.partners import PartnerRow, StoredSecret
from tanhui.store.repositories.registry import BatchRow, BlockRow, EligibleEvent, Head, MovementRow, RetirementRow
from tanhui.store.repositories.reports import Drift, FactKey, bucket
from tanhui.store.repositories.schemes import chain_name, lane_name
from tanhui.store.repositories.statements import PointsFlow, PointsLine

__all__ = [
    "EVENT_COLUMNS",
    "AccountRow",
    "Appended",
    "AuditRow",
    "BatchRow",
    "BlockRow",
    "CheckpointRow",
    "ConsentRow",
    "Drift",
    "EligibleEvent",
    "FactKey",
    "Head",
    "HeadRow",
    "LogRow",
    "PeerClaim",
    "PeerLogRow",
    "Link",
    "TokenOwner",
    "Withdrawal",
    "MovementRow",
    "OperatorRow",
    "OperatorScope",
    "OrderRow",
    "OrganisationDict",
    "OrganisationRow",
    "OwnClaim",
    "PeerEntry",
    "PartnerRow",
    "PeerRow",
    "PlatformRow",
    "PointsFlow",
    "PointsLine",
    "RetirementRow",
    "SchemaDifference",
    "Standing",
    "StoredOutcome",
    "StoredSecret",
    "StructureCheck",
    "bucket",
    "chain_name",
    "lane_name",
]
