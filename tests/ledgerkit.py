"""A ledger world over the core's fakes: a clock, ids, one store and every ledger use case."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from mynth_core.ids import UserId
from mynth_core.ledger.model import Account, Balance, LedgerEntry, TokenAmount
from mynth_core.ledger.services import (
    Charge,
    ChargeGuard,
    ClawBack,
    CreditPurchase,
    GetBalance,
    Grant,
    LedgerPolicy,
    ListLedger,
    Refund,
)
from mynth_core.pagination import PageRequest
from mynth_core.pricing import PriceTable
from mynth_core.testing import FakeUnitOfWorkFactory, FrozenClock, SequentialIdFactory
from mynth_core.uow import UnitOfWorkFactory

ALICE = UserId("alice")
BOB = UserId("bob")
PRICES = PriceTable()


def utc(text: str) -> datetime:
    """`2025-03-01T14:00:00` (or with milliseconds) as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@attrs.define
class LedgerWorld:
    """Use cases wired to one unit-of-work factory (the fake unless one is passed)."""

    uow: UnitOfWorkFactory = attrs.Factory(FakeUnitOfWorkFactory)
    clock: FrozenClock = attrs.Factory(FrozenClock)
    ids: SequentialIdFactory = attrs.Factory(SequentialIdFactory)
    policy: LedgerPolicy = attrs.Factory(LedgerPolicy)

    @property
    def charge(self) -> Charge:
        return Charge(self.uow, self.clock, self.ids, self.policy)

    @property
    def refund(self) -> Refund:
        return Refund(self.uow, self.clock, self.ids, self.policy)

    @property
    def grant(self) -> Grant:
        return Grant(self.uow, self.clock, self.ids, self.policy)

    @property
    def credit_purchase(self) -> CreditPurchase:
        return CreditPurchase(self.uow, self.clock, self.ids, self.policy)

    @property
    def claw_back(self) -> ClawBack:
        return ClawBack(self.uow, self.clock, self.ids, self.policy)

    @property
    def guard(self) -> ChargeGuard:
        return ChargeGuard(self.charge, self.refund)

    async def balance(self, user: UserId = ALICE) -> Balance:
        return await GetBalance(self.uow, self.clock, self.policy)(user)

    async def entries(self, user: UserId = ALICE) -> list[LedgerEntry]:
        """Every entry of `user`, oldest first."""
        found: list[LedgerEntry] = []
        page = await ListLedger(self.uow)(user, _first_page())
        found.extend(page.items)
        while page.next_cursor is not None:
            page = await ListLedger(self.uow)(user, _first_page(page.next_cursor))
            found.extend(page.items)
        return found[::-1]

    async def account(self, user: UserId = ALICE) -> Account:
        async with self.uow(read_only=True) as uow:
            return await uow.ledger.account(user)

    async def buy(self, tokens: int, order: str, user: UserId = ALICE) -> LedgerEntry:
        """Credit a purchase of exactly `tokens` (a pack made up for the test)."""
        pack = attrs.evolve(
            PRICES.pack("pack_100"), id=f"pack_{tokens}", tokens=TokenAmount(tokens)
        )
        posted = await self.credit_purchase(user, pack, order)
        assert posted.entry is not None
        return posted.entry

    async def spend(self, cost: int, key: str, user: UserId = ALICE) -> LedgerEntry:
        entry = await self.charge(user, "image_generate", TokenAmount(cost), key=key)
        assert entry is not None
        return entry


def _first_page(cursor: str | None = None) -> PageRequest:
    return PageRequest(limit=100, cursor=cursor)
