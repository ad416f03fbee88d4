"""The TokenLedger port."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from mynth_core.ids import UserId
from mynth_core.ledger.model import Account, LedgerEntry, Reference
from mynth_core.pagination import Page, PageRequest


class TokenLedger(Protocol):
    """**Port**: the append-only token ledger and the balances derived from it.

    Entries are computed by `Account` from the account read with `for_update=True`, which
    locks the user's balance until the unit of work ends, so concurrent writers for one
    user are serialised and never compute from a stale balance. `append` is idempotent by
    `entry.idempotency_key`: a replay returns the stored entry and changes nothing. An
    entry that does not follow from the stored balance (computed without the lock) raises
    `ConflictError` instead of overwriting it; neither bucket can go negative.
    """

    async def account(self, user: UserId, *, for_update: bool = False) -> Account:
        """The user's buckets (an empty account for a user without entries)."""

    async def append(self, entry: LedgerEntry) -> LedgerEntry:
        """Store `entry` and move the balance, or return the entry stored under its key."""

    async def find(self, key: str) -> LedgerEntry | None:
        """The entry stored under an idempotency key."""

    async def for_reference(self, user: UserId, reference: Reference) -> tuple[LedgerEntry, ...]:
        """The user's entries about `reference` (an order, a message), oldest first."""

    async def unsettled_spends(
        self,
        *,
        operations: Collection[str],
        before: datetime,
        limit: int,
        since: datetime | None = None,
    ) -> tuple[LedgerEntry, ...]:
        """Every user's unsettled spends of `operations` made before `before`, oldest first.

        A spend is settled when a refund reverses it (an entry whose `refund_of` is its id)
        or when its `version` reference names a stored persona version (what it paid for
        was delivered). What is left are charges whose operation has not ended, or never
        will: its process died. At most `limit` spends; `since` (inclusive) bounds how far
        back the search looks, so it stays cheap however long the ledger grows.
        """

    async def list_for(self, user: UserId, page: PageRequest) -> Page[LedgerEntry]:
        """The user's entries, newest first; later appends never shift an earlier page.

        Raises:
            ValidationError: the page cursor is not one this ledger made.
        """
