"""Ledger values and the Account: the pure rules of PRODUCT.md §8 that decide every entry."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Final, NewType

import attrs

from mynth_core.clock import next_utc_midnight, utc_day
from mynth_core.errors import InsufficientTokensError
from mynth_core.ids import UserId

LedgerEntryId = NewType("LedgerEntryId", str)  # ltx_
LEDGER_ENTRY: Final = "ltx"
ORDER: Final = "order"  # the reference type of purchases and clawbacks


def _whole_non_negative(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"{attribute.name} must be a non-negative int, not {value!r}"
        raise ValueError(msg)


@attrs.frozen(order=True)
class TokenAmount:
    """A non-negative number of tokens (a cost, a grant, a pack)."""

    value: int = attrs.field(validator=_whole_non_negative)

    def __int__(self) -> int:
        return self.value

    def __str__(self) -> str:
        return str(self.value)


class EntryKind(StrEnum):
    """What a ledger entry records."""

    DAILY_FREE = "daily_free"
    GRANT = "grant"
    PURCHASE = "purchase"
    SPEND = "spend"
    REFUND = "refund"
    CLAWBACK = "clawback"


@attrs.frozen
class Reference:
    """What an entry is about: `{type, id}` (persona, version, chat, message, image job, order)."""

    type: str
    id: str


@attrs.frozen(kw_only=True)
class LedgerEntry:
    """One append-only line of a user's ledger (PRODUCT.md §8.5).

    `free_part` and `purchased_part` are signed; `amount` is their sum. The `*_after`
    fields are the buckets right after this entry; `free_remaining_after` belongs to the
    UTC day of `created_at`.
    """

    id: LedgerEntryId
    user_id: UserId
    kind: EntryKind
    free_part: int = 0
    purchased_part: int = 0
    purchased_after: int = attrs.field(validator=_whole_non_negative)
    free_remaining_after: int = attrs.field(validator=_whole_non_negative)
    operation: str | None = None
    reference: Reference | None = None
    refund_of: LedgerEntryId | None = None
    forfeited_free: int = attrs.field(default=0, validator=_whole_non_negative)
    shortfall: int = attrs.field(default=0, validator=_whole_non_negative)
    idempotency_key: str
    reason: str | None = None
    created_at: datetime

    @property
    def amount(self) -> int:
        """The signed total of the entry."""
        return self.free_part + self.purchased_part

    @property
    def balance_after(self) -> int:
        return self.purchased_after + self.free_remaining_after


@attrs.frozen(kw_only=True)
class Balance:
    """The balance view of PRODUCT.md §8.8."""

    daily_free_allowance: int
    daily_free_remaining: int
    daily_resets_at: datetime
    purchased: int

    @property
    def total(self) -> int:
        return self.daily_free_remaining + self.purchased


def daily_free_key(user: UserId, day: date) -> str:
    """The key of a day's `daily_free` entry: one per user and UTC day."""
    return f"daily_free:{user}:{day.isoformat()}"


def welcome_key(user: UserId) -> str:
    """The key of the welcome grant: once per user."""
    return f"grant:welcome:{user}"


def purchase_key(order_id: str) -> str:
    """The key of a paid order's credit: once per order."""
    return f"purchase:polar:{order_id}"


def refund_key(spend_id: LedgerEntryId) -> str:
    """The key of a spend's refund: at most once per spend."""
    return f"refund:{spend_id}"


def clawback_key(order_id: str, refunded_amount: int) -> str:
    """The key of one refund delivery's clawback (the refunded total so far)."""
    return f"clawback:polar:{order_id}:{refunded_amount}"


@attrs.frozen(kw_only=True)
class Posting:
    """What one entry needs beyond its parts: identity, time and description."""

    id: LedgerEntryId
    key: str
    at: datetime
    operation: str | None = None
    reference: Reference | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class Account:
    """A user's two buckets, derived from their entries, and the rules for the next entry.

    `free_remaining` belongs to `free_day`, the last UTC day that was opened with its
    `daily_free` entry (or written on at all while the allowance is 0); on any later day
    the stored value has expired. Every method is pure: it returns the new account and the
    entry to append. Open the day with `daily_free` first when `needs_daily_free` says so.
    """

    user_id: UserId
    free_day: date | None = None
    free_remaining: int = 0
    purchased: int = 0

    def day_of(self, at: datetime) -> date:
        """The UTC day an entry at `at` belongs to (never before an already opened day)."""
        today = utc_day(at)
        return today if self.free_day is None else max(today, self.free_day)

    def free_on(self, day: date) -> int:
        """Free tokens left on `day` if it was opened; 0 before that."""
        return self.free_remaining if self.free_day is not None and self.free_day >= day else 0

    def balance(self, at: datetime, allowance: TokenAmount) -> Balance:
        """The view at `at`: an unopened day shows the whole allowance, as §8.1 says."""
        day = self.day_of(at)
        opened = self.free_day is not None and self.free_day >= day
        return Balance(
            daily_free_allowance=allowance.value,
            daily_free_remaining=self.free_remaining if opened else allowance.value,
            daily_resets_at=next_utc_midnight(at),
            purchased=self.purchased,
        )

    def available(self, at: datetime, allowance: TokenAmount) -> int:
        return self.balance(at, allowance).total

    def needs_daily_free(self, at: datetime, allowance: TokenAmount) -> bool:
        day = self.day_of(at)
        return allowance.value > 0 and (self.free_day is None or self.free_day < day)

    def daily_free(
        self, allowance: TokenAmount, *, at: datetime, entry_id: LedgerEntryId
    ) -> tuple[Account, LedgerEntry]:
        """Open the UTC day of `at` with its allowance; yesterday's remainder expires."""
        day = self.day_of(at)
        posting = Posting(id=entry_id, key=daily_free_key(self.user_id, day), at=at)
        return self._post(EntryKind.DAILY_FREE, posting, free_before=0, free_part=allowance.value)

    def spend(self, cost: TokenAmount, posting: Posting) -> tuple[Account, LedgerEntry]:
        """Take `cost`, free tokens first, then purchased ones (one spend may split).

        Raises:
            InsufficientTokensError: both buckets together hold less than `cost`.
        """
        free = self.free_on(self.day_of(posting.at))
        available = free + self.purchased
        if available < cost.value:
            raise InsufficientTokensError(required=cost.value, available=available)
        from_free = min(free, cost.value)
        return self._post(
            EntryKind.SPEND,
            posting,
            free_before=free,
            free_part=-from_free,
            purchased_part=from_free - cost.value,
        )

    def credit(
        self, kind: EntryKind, tokens: TokenAmount, posting: Posting
    ) -> tuple[Account, LedgerEntry]:
        """Add non-expiring tokens (a `grant` or a `purchase`) to the purchased bucket."""
        if kind not in {EntryKind.GRANT, EntryKind.PURCHASE}:
            msg = f"{kind} is not a credit"
            raise ValueError(msg)
        free = self.free_on(self.day_of(posting.at))
        return self._post(kind, posting, free_before=free, purchased_part=tokens.value)

    def refund(self, spend: LedgerEntry, posting: Posting) -> tuple[Account, LedgerEntry]:
        """Give each part of `spend` back to its bucket.

        The free part comes back only on the spend's own UTC day; later it is forfeited,
        because that day's allowance is gone (§8.4).
        """
        if spend.kind is not EntryKind.SPEND or spend.user_id != self.user_id:
            msg = f"{spend.id} is not a spend of {self.user_id}"
            raise ValueError(msg)
        day = self.day_of(posting.at)
        taken_free = -spend.free_part
        free_back = taken_free if utc_day(spend.created_at) == day else 0
        posting = attrs.evolve(
            posting,
            operation=spend.operation,
            reference=spend.reference,
        )
        return self._post(
            EntryKind.REFUND,
            posting,
            free_before=self.free_on(day),
            free_part=free_back,
            purchased_part=-spend.purchased_part,
            refund_of=spend.id,
            forfeited_free=taken_free - free_back,
        )

    def claw_back(self, tokens: TokenAmount, posting: Posting) -> tuple[Account, LedgerEntry]:
        """Take `tokens` back from the purchased bucket, never below zero.

        What cannot be taken is recorded as the entry's `shortfall`.
        """
        taken = min(tokens.value, self.purchased)
        free = self.free_on(self.day_of(posting.at))
        return self._post(
            EntryKind.CLAWBACK,
            posting,
            free_before=free,
            purchased_part=-taken,
            shortfall=tokens.value - taken,
        )

    def admits(self, entry: LedgerEntry) -> bool:
        """Whether `entry` follows from this account, so appending it cannot skip a change."""
        if self.purchased + entry.purchased_part != entry.purchased_after:
            return False
        if entry.kind is EntryKind.DAILY_FREE:
            opened = self.free_day is not None and self.free_day >= utc_day(entry.created_at)
            return not opened and entry.free_part == entry.free_remaining_after
        before = self.free_on(self.day_of(entry.created_at))
        return before + entry.free_part == entry.free_remaining_after

    def apply(self, entry: LedgerEntry) -> Account:
        """The account right after a stored `entry` (how adapters fold entries)."""
        return attrs.evolve(
            self,
            free_day=self.day_of(entry.created_at),
            free_remaining=entry.free_remaining_after,
            purchased=entry.purchased_after,
        )

    def _post(  # noqa: PLR0913 - the parts of one entry
        self,
        kind: EntryKind,
        posting: Posting,
        *,
        free_before: int,
        free_part: int = 0,
        purchased_part: int = 0,
        refund_of: LedgerEntryId | None = None,
        forfeited_free: int = 0,
        shortfall: int = 0,
    ) -> tuple[Account, LedgerEntry]:
        entry = LedgerEntry(
            id=posting.id,
            user_id=self.user_id,
            kind=kind,
            free_part=free_part,
            purchased_part=purchased_part,
            purchased_after=self.purchased + purchased_part,
            free_remaining_after=free_before + free_part,
            operation=posting.operation,
            reference=posting.reference,
            refund_of=refund_of,
            forfeited_free=forfeited_free,
            shortfall=shortfall,
            idempotency_key=posting.key,
            reason=posting.reason,
            created_at=posting.at,
        )
        return self.apply(entry), entry
