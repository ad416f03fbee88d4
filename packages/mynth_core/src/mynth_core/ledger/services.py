"""Ledger use cases: each locks the user's account, lets `Account` decide, appends, commits.

Every writing use case first opens the UTC day with its `daily_free` entry when this is
the user's first write of the day (§8.1), and checks its idempotency key under the lock, so
a replay returns the stored entry and writes nothing at all. A charge that opens no day lets
`append` do that check (it answers a replay with the stored entry), one lookup fewer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Final

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import (
    ConflictError,
    InsufficientTokensError,
    NotFoundError,
    ValidationError,
)
from mynth_core.ids import IdFactory, UserId
from mynth_core.ledger.model import (
    LEDGER_ENTRY,
    ORDER,
    Account,
    Balance,
    EntryKind,
    LedgerEntry,
    LedgerEntryId,
    Posting,
    Reference,
    TokenAmount,
    clawback_key,
    purchase_key,
    refund_key,
    welcome_key,
)
from mynth_core.pagination import Page, PageRequest
from mynth_core.pricing import Pack
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory

WELCOME_REASON: Final = "welcome"
DAILY_FREE_ALLOWANCE: Final = TokenAmount(10)
WELCOME_GRANT: Final = TokenAmount(20)


@attrs.frozen(kw_only=True)
class LedgerPolicy:
    """The configurable amounts of §8.1-8.2; 0 disables either."""

    daily_free_allowance: TokenAmount = DAILY_FREE_ALLOWANCE
    welcome_grant: TokenAmount = WELCOME_GRANT


DEFAULT_POLICY: Final = LedgerPolicy()


@attrs.frozen
class Posted:
    """The outcome of a keyed write: the entry, and whether its key had been used before.

    `entry` is None only when there was nothing to write (a clawback already complete).
    """

    entry: LedgerEntry | None
    duplicate: bool = False


def new_entry_id(ids: IdFactory) -> LedgerEntryId:
    """A fresh `ltx_` id."""
    return LedgerEntryId(ids.new(LEDGER_ENTRY))


async def open_day(
    uow: UnitOfWork, account: Account, *, at: datetime, policy: LedgerPolicy, ids: IdFactory
) -> Account:
    """Append the day's `daily_free` entry if `account` (locked) has not opened it yet."""
    if not account.needs_daily_free(at, policy.daily_free_allowance):
        return account
    account, entry = account.daily_free(
        policy.daily_free_allowance, at=at, entry_id=new_entry_id(ids)
    )
    await uow.ledger.append(entry)
    return account


async def stored_under(
    uow: UnitOfWork, key: str, *, user: UserId, kind: EntryKind
) -> LedgerEntry | None:
    """The entry already stored under `key`, if any.

    Raises:
        ConflictError: the key belongs to another user's entry or to another kind.
    """
    stored = await uow.ledger.find(key)
    if stored is not None:
        _check_owner(stored, user=user, kind=kind)
    return stored


def _check_owner(stored: LedgerEntry, *, user: UserId, kind: EntryKind) -> None:
    if stored.user_id != user or stored.kind is not kind:
        raise ConflictError(detail="the idempotency key was used for a different request")


async def credit_welcome(
    uow: UnitOfWork, user: UserId, *, at: datetime, policy: LedgerPolicy, ids: IdFactory
) -> Posted:
    """Credit the welcome grant once per user, inside the caller's unit of work."""
    if policy.welcome_grant.value == 0:
        return Posted(None)
    account = await uow.ledger.account(user, for_update=True)
    key = welcome_key(user)
    if (stored := await stored_under(uow, key, user=user, kind=EntryKind.GRANT)) is not None:
        return Posted(stored, duplicate=True)
    account = await open_day(uow, account, at=at, policy=policy, ids=ids)
    posting = Posting(id=new_entry_id(ids), key=key, at=at, reason=WELCOME_REASON)
    _, entry = account.credit(EntryKind.GRANT, policy.welcome_grant, posting)
    return Posted(await uow.ledger.append(entry))


@attrs.frozen
class GetBalance:
    """The caller's balance view (§8.8)."""

    uow: UnitOfWorkFactory
    clock: Clock
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(self, user: UserId) -> Balance:
        async with self.uow(read_only=True) as uow:
            account = await uow.ledger.account(user)
        return account.balance(self.clock.now(), self.policy.daily_free_allowance)


@attrs.frozen
class ListLedger:
    """The caller's ledger entries, newest first."""

    uow: UnitOfWorkFactory

    async def __call__(self, user: UserId, page: PageRequest) -> Page[LedgerEntry]:
        async with self.uow(read_only=True) as uow:
            return await uow.ledger.list_for(user, page)


@attrs.frozen
class Charge:
    """Charge a paid operation before it runs (free tokens first, then purchased)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(
        self,
        user: UserId,
        operation: str,
        cost: TokenAmount,
        *,
        key: str,
        reference: Reference | None = None,
    ) -> LedgerEntry | None:
        """Spend `cost` for `operation`; a zero cost writes nothing and returns None.

        A replayed `key` returns the first spend and charges nothing.

        Raises:
            InsufficientTokensError: free and purchased together cannot cover `cost`.
            ConflictError: `key` was used for something other than this user's spend.
        """
        return (await self.post(user, operation, cost, key=key, reference=reference)).entry

    async def post(
        self,
        user: UserId,
        operation: str,
        cost: TokenAmount,
        *,
        key: str,
        reference: Reference | None = None,
    ) -> Posted:
        """Like calling the charge, but says whether `key` was a replay."""
        if cost.value == 0:
            return Posted(None)
        at = self.clock.now()
        async with self.uow() as uow:
            account = await uow.ledger.account(user, for_update=True)
            if not account.needs_daily_free(at, self.policy.daily_free_allowance):
                # The common case, one lookup fewer under the lock: with no day to open,
                # `append` itself answers a replayed key with the stored entry and writes
                # nothing. A spend the balance no longer covers may still be a replay.
                posting = Posting(
                    id=new_entry_id(self.ids),
                    key=key,
                    at=at,
                    operation=operation,
                    reference=reference,
                )
                spent = None
                with suppress(InsufficientTokensError):  # a replay may still answer: see below
                    spent = account.spend(cost, posting)
                if spent is not None:
                    return await _append_spend(uow, spent[1])
            if (
                stored := await stored_under(uow, key, user=user, kind=EntryKind.SPEND)
            ) is not None:
                return Posted(stored, duplicate=True)
            account = await open_day(uow, account, at=at, policy=self.policy, ids=self.ids)
            posting = Posting(
                id=new_entry_id(self.ids), key=key, at=at, operation=operation, reference=reference
            )
            _, entry = account.spend(cost, posting)
            entry = await uow.ledger.append(entry)
            await uow.commit()
        return Posted(entry)


async def _append_spend(uow: UnitOfWork, entry: LedgerEntry) -> Posted:
    """Append a spend computed under the lock and commit, or answer its replayed key."""
    stored = await uow.ledger.append(entry)
    if stored.id != entry.id:  # the key was used before: nothing was written
        _check_owner(stored, user=entry.user_id, kind=EntryKind.SPEND)
        return Posted(stored, duplicate=True)
    await uow.commit()
    return Posted(stored)


@attrs.frozen
class Refund:
    """Reverse a spend in full, at most once (key `refund:<spend id>`)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(self, spend_key: str, *, reason: str | None = None) -> LedgerEntry:
        """Refund the spend stored under `spend_key`; a second refund returns the first.

        Raises:
            NotFoundError: no spend is stored under `spend_key`.
        """
        async with self.uow() as uow:
            entry = await refund_in(
                uow, spend_key, at=self.clock.now(), reason=reason, policy=self.policy, ids=self.ids
            )
            await uow.commit()
        return entry


async def refund_in(  # noqa: PLR0913 - the refund's facts and the ports it needs
    uow: UnitOfWork,
    spend_key: str,
    *,
    at: datetime,
    reason: str | None,
    policy: LedgerPolicy,
    ids: IdFactory,
) -> LedgerEntry:
    """Refund the spend stored under `spend_key` inside an open unit of work (at most once).

    Raises:
        NotFoundError: no spend is stored under `spend_key`.
    """
    spend = await uow.ledger.find(spend_key)
    if spend is None or spend.kind is not EntryKind.SPEND:
        raise NotFoundError("spend", spend_key)
    user = spend.user_id
    account = await uow.ledger.account(user, for_update=True)
    key = refund_key(spend.id)
    if (stored := await stored_under(uow, key, user=user, kind=EntryKind.REFUND)) is not None:
        return stored
    account = await open_day(uow, account, at=at, policy=policy, ids=ids)
    posting = Posting(id=new_entry_id(ids), key=key, at=at, reason=reason)
    _, entry = account.refund(spend, posting)
    return await uow.ledger.append(entry)


async def charge_in(  # noqa: PLR0913 - the charge's facts and the ports it needs
    uow: UnitOfWork,
    user: UserId,
    posting: Posting,
    cost: TokenAmount,
    *,
    policy: LedgerPolicy,
    ids: IdFactory,
) -> LedgerEntry:
    """Spend `cost` inside an open unit of work, under the user's balance lock.

    The lock is held until the unit of work ends, so other checks made in it (image jobs in
    flight, say) are serialised with every other charge of the user.

    Raises:
        InsufficientTokensError: free and purchased together cannot cover `cost`.
    """
    account = await uow.ledger.account(user, for_update=True)
    account = await open_day(uow, account, at=posting.at, policy=policy, ids=ids)
    _, entry = account.spend(cost, posting)
    return await uow.ledger.append(entry)


@attrs.frozen
class Grant:
    """Credit the welcome grant (§8.2) once per user (key `grant:welcome:<user>`)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(self, user: UserId) -> Posted:
        async with self.uow() as uow:
            posted = await credit_welcome(
                uow, user, at=self.clock.now(), policy=self.policy, ids=self.ids
            )
            await uow.commit()
        return posted


async def credit_purchase(  # noqa: PLR0913 - the facts of one purchase and the ports
    uow: UnitOfWork,
    user: UserId,
    pack: Pack,
    order_id: str,
    *,
    at: datetime,
    policy: LedgerPolicy,
    ids: IdFactory,
) -> Posted:
    """Credit a paid order's pack once per order, inside the caller's unit of work.

    Raises:
        ConflictError: the order was already credited to another user.
    """
    key = purchase_key(order_id)
    account = await uow.ledger.account(user, for_update=True)
    if (stored := await stored_under(uow, key, user=user, kind=EntryKind.PURCHASE)) is not None:
        return Posted(stored, duplicate=True)
    account = await open_day(uow, account, at=at, policy=policy, ids=ids)
    posting = Posting(
        id=new_entry_id(ids), key=key, at=at, reference=Reference(ORDER, order_id), reason=pack.id
    )
    _, entry = account.credit(EntryKind.PURCHASE, pack.tokens, posting)
    return Posted(await uow.ledger.append(entry))


async def claw_back(  # noqa: PLR0913 - the facts of one refund and the ports
    uow: UnitOfWork,
    order_id: str,
    *,
    refunded_amount: int,
    total_amount: int,
    at: datetime,
    policy: LedgerPolicy,
    ids: IdFactory,
) -> Posted | None:
    """Claw back a refunded order's tokens (§9.4) inside the caller's unit of work.

    Returns None for an order that was never credited, `Posted(None)` when earlier
    deliveries already took the whole target.

    Raises:
        ValidationError: the amounts are negative or the total is zero.
    """
    if total_amount <= 0 or refunded_amount < 0:
        raise ValidationError.single("refunded_amount", "must be within the order's total")
    purchase = await uow.ledger.find(purchase_key(order_id))
    if purchase is None:
        return None
    user = purchase.user_id
    account = await uow.ledger.account(user, for_update=True)
    key = clawback_key(order_id, refunded_amount)
    if (stored := await stored_under(uow, key, user=user, kind=EntryKind.CLAWBACK)) is not None:
        return Posted(stored, duplicate=True)
    target = purchase.amount * min(refunded_amount, total_amount) // total_amount
    earlier = await uow.ledger.for_reference(user, Reference(ORDER, order_id))
    done = sum(e.shortfall - e.purchased_part for e in earlier if e.kind is EntryKind.CLAWBACK)
    if target <= done:
        return Posted(None)
    account = await open_day(uow, account, at=at, policy=policy, ids=ids)
    posting = Posting(id=new_entry_id(ids), key=key, at=at, reference=Reference(ORDER, order_id))
    _, entry = account.claw_back(TokenAmount(target - done), posting)
    return Posted(await uow.ledger.append(entry))


@attrs.frozen
class CreditPurchase:
    """Credit a paid order's pack exactly once per order (key `purchase:polar:<order id>`)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(self, user: UserId, pack: Pack, order_id: str) -> Posted:
        """Add the pack's tokens to the purchased bucket; a repeated order is a duplicate.

        Raises:
            ConflictError: the order was already credited to another user.
        """
        at = self.clock.now()
        async with self.uow() as uow:
            posted = await credit_purchase(
                uow, user, pack, order_id, at=at, policy=self.policy, ids=self.ids
            )
            if not posted.duplicate:
                await uow.commit()
        return posted


@attrs.frozen
class ClawBack:
    """Take back the tokens of a (partly) refunded order (§9.4)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    policy: LedgerPolicy = DEFAULT_POLICY

    async def __call__(
        self, order_id: str, *, refunded_amount: int, total_amount: int
    ) -> Posted | None:
        """Claw back up to floor(pack tokens x refunded / total) for the order in all.

        Each call takes the difference between that target and what earlier deliveries
        already clawed back, from the purchased bucket only and never below zero (the rest
        is the entry's `shortfall`). Returns None for an order that was never credited.

        Raises:
            ValidationError: the amounts are negative or the total is zero.
        """
        at = self.clock.now()
        async with self.uow() as uow:
            posted = await claw_back(
                uow,
                order_id,
                refunded_amount=refunded_amount,
                total_amount=total_amount,
                at=at,
                policy=self.policy,
                ids=self.ids,
            )
            if posted is not None and posted.entry is not None and not posted.duplicate:
                await uow.commit()
        return posted


@attrs.define
class Charged:
    """The charge held open by `ChargeGuard.charged`.

    Call `empty()` when the operation produced nothing usable: the charge is then refunded
    when the block ends, just as it is when the block raises.
    """

    entry: LedgerEntry | None
    replayed: bool = False
    is_empty: bool = False

    def empty(self) -> None:
        self.is_empty = True


@attrs.frozen
class ChargeGuard:
    """Wraps a paid operation: charge first, refund on any failure or an empty result."""

    charge: Charge
    refund: Refund

    @asynccontextmanager
    async def charged(
        self,
        user: UserId,
        operation: str,
        cost: TokenAmount,
        *,
        key: str,
        reference: Reference | None = None,
    ) -> AsyncIterator[Charged]:
        """Charge `cost` under `key`, run the block, refund if it fails or comes up empty.

        A replayed `key` charges nothing and never refunds: the first request under the
        key owns its charge and its refund, so one key is never charged twice.

        Raises:
            InsufficientTokensError: before the block runs; nothing was charged.
        """
        posted = await self.charge.post(user, operation, cost, key=key, reference=reference)
        held = Charged(posted.entry, replayed=posted.duplicate)
        owns_refund = posted.entry is not None and not posted.duplicate
        try:
            yield held
        except BaseException:
            if owns_refund:
                await self.refund(key, reason="failed")
            raise
        if owns_refund and held.is_empty:
            await self.refund(key, reason="empty")
