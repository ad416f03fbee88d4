"""A state machine over the ledger use cases on the fakes, with a clock crossing midnights."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledgerkit import ALICE, PRICES, LedgerWorld, utc
from mynth_core.clock import utc_day
from mynth_core.errors import InsufficientTokensError
from mynth_core.ledger.model import EntryKind, TokenAmount
from mynth_core.testing import FakeUnitOfWorkFactory

T = TypeVar("T")
ALLOWANCE = 10


class LedgerMachine(RuleBasedStateMachine):
    """Random charges, refunds, grants, purchases, clawbacks, replays and waits."""

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.factory = FakeUnitOfWorkFactory()
        self.world = LedgerWorld(uow=self.factory)
        self.world.clock.at = utc("2025-03-01T22:30:00")
        self.spends: list[str] = []
        self.orders: list[str] = []
        self.minted = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def teardown(self) -> None:
        self.runner.close()

    def _key(self, prefix: str) -> str:
        self.minted += 1
        return f"{prefix}-{self.minted}"

    def _snapshot(self) -> tuple[object, object]:
        store = self.factory.store
        return copy.deepcopy(store.ledger), copy.deepcopy(store.accounts)

    @rule(cost=st.integers(min_value=0, max_value=14))
    def spend(self, cost: int) -> None:
        key = self._key("spend")
        before = self._snapshot()
        try:
            entry = self.run(self.world.charge(ALICE, "chat_reply", TokenAmount(cost), key=key))
        except InsufficientTokensError:
            assert self._snapshot() == before  # nothing taken, not even the daily_free
            return
        if entry is not None:
            self.spends.append(key)

    @precondition(lambda self: self.spends)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.spends))
        self.run(self.world.refund(key))

    @rule()
    def grant(self) -> None:
        self.run(self.world.grant(ALICE))

    @rule(pack=st.sampled_from([p.id for p in PRICES.packs]))
    def purchase(self, pack: str) -> None:
        order = self._key("ord")
        self.run(self.world.credit_purchase(ALICE, PRICES.pack(pack), order))
        self.orders.append(order)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), cents=st.integers(min_value=0, max_value=999))
    def claw_back(self, data: st.DataObject, cents: int) -> None:
        order = data.draw(st.sampled_from(self.orders))
        self.run(self.world.claw_back(order, refunded_amount=cents, total_amount=999))

    @precondition(lambda self: self.spends or self.orders)
    @rule(data=st.data())
    def replay_a_key(self, data: st.DataObject) -> None:
        before = self._snapshot()
        if self.spends and (not self.orders or data.draw(st.booleans())):
            key = data.draw(st.sampled_from(self.spends))
            self.run(self.world.charge(ALICE, "chat_reply", TokenAmount(1), key=key))
        else:
            order = data.draw(st.sampled_from(self.orders))
            posted = self.run(self.world.credit_purchase(ALICE, PRICES.pack("pack_100"), order))
            assert posted.duplicate
        assert self._snapshot() == before

    @rule(seconds=st.integers(min_value=0, max_value=30 * 3600) | st.just(0.001))
    def wait(self, seconds: float) -> None:
        self.world.clock.advance(seconds=seconds)

    @invariant()
    def the_balance_is_the_sum_of_the_entries(self) -> None:
        account = self.run(self.world.account())
        entries = self.factory.store.ledger
        assert account.purchased == sum(e.purchased_part for e in entries)
        today = [e for e in entries if utc_day(e.created_at) == account.free_day]
        assert account.free_remaining == sum(e.free_part for e in today)
        purchased = 0
        free_by_day: Counter[object] = Counter()
        for e in entries:
            purchased += e.purchased_part
            free_by_day[utc_day(e.created_at)] += e.free_part
            assert e.purchased_after == purchased
            assert e.free_remaining_after == free_by_day[utc_day(e.created_at)]
            assert e.balance_after == e.purchased_after + e.free_remaining_after

    @invariant()
    def nothing_is_ever_negative_and_free_never_exceeds_the_allowance(self) -> None:
        for e in self.factory.store.ledger:
            assert e.purchased_after >= 0
            assert 0 <= e.free_remaining_after <= ALLOWANCE
        balance = self.run(self.world.balance())
        assert 0 <= balance.daily_free_remaining <= ALLOWANCE
        assert balance.purchased >= 0

    @invariant()
    def a_spend_is_refunded_at_most_once(self) -> None:
        refunds = Counter(
            e.refund_of for e in self.factory.store.ledger if e.kind is EntryKind.REFUND
        )
        assert all(n == 1 for n in refunds.values())
        keys = [e.idempotency_key for e in self.factory.store.ledger]
        assert len(keys) == len(set(keys))

    @invariant()
    def a_day_opens_with_its_daily_free_entry(self) -> None:
        seen: set[object] = set()
        for e in self.factory.store.ledger:
            day = utc_day(e.created_at)
            if day not in seen:
                assert e.kind is EntryKind.DAILY_FREE
                seen.add(day)


LedgerMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
test_the_ledger_keeps_its_invariants = LedgerMachine.TestCase
