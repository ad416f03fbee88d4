"""Wire shapes of the token economy: the caller, their balance and ledger, and the prices."""

from __future__ import annotations

from typing import Literal

import msgspec

from mynth_core.ledger.model import Balance, LedgerEntry
from mynth_core.ledger.services import LedgerPolicy
from mynth_core.pagination import Page
from mynth_core.pricing import Pack, PriceTable
from mynth_core.users import User
from mynth_http.schemas.common import Timestamp, rfc3339

EntryKindOut = Literal["daily_free", "grant", "purchase", "spend", "refund", "clawback"]


class BalanceOut(msgspec.Struct, kw_only=True):
    """Today's free tokens and the purchased (non-expiring) ones."""

    daily_free_allowance: int
    daily_free_remaining: int
    daily_resets_at: Timestamp
    purchased: int
    total: int

    @classmethod
    def of(cls, balance: Balance) -> BalanceOut:
        return cls(
            daily_free_allowance=balance.daily_free_allowance,
            daily_free_remaining=balance.daily_free_remaining,
            daily_resets_at=rfc3339(balance.daily_resets_at),
            purchased=balance.purchased,
            total=balance.total,
        )


class MeOut(msgspec.Struct, kw_only=True):
    """The caller: their own id (the identity provider's) and profile, with the balance."""

    id: str
    username: str | None
    display_name: str | None
    image_url: str | None
    balance: BalanceOut

    @classmethod
    def of(cls, user: User, balance: Balance) -> MeOut:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            image_url=user.image_url,
            balance=BalanceOut.of(balance),
        )


class ReferenceOut(msgspec.Struct, kw_only=True):
    """What an entry is about (persona, version, chat, message, image job, order)."""

    type: str
    id: str


class LedgerEntryOut(msgspec.Struct, kw_only=True):
    """One ledger line; the idempotency key stays internal."""

    id: str
    kind: EntryKindOut
    amount: int
    free_part: int
    purchased_part: int
    balance_after: int
    operation: str | None
    reference: ReferenceOut | None
    refund_of: str | None
    forfeited_free: int
    shortfall: int
    reason: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerEntryOut:
        ref = entry.reference
        return cls(
            id=entry.id,
            kind=entry.kind.value,
            amount=entry.amount,
            free_part=entry.free_part,
            purchased_part=entry.purchased_part,
            balance_after=entry.balance_after,
            operation=entry.operation,
            reference=ReferenceOut(type=ref.type, id=ref.id) if ref else None,
            refund_of=entry.refund_of,
            forfeited_free=entry.forfeited_free,
            shortfall=entry.shortfall,
            reason=entry.reason,
            created_at=rfc3339(entry.created_at),
        )


class LedgerPageOut(msgspec.Struct, kw_only=True):
    """A page of ledger entries, newest first."""

    items: list[LedgerEntryOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[LedgerEntry]) -> LedgerPageOut:
        return cls(items=[LedgerEntryOut.of(e) for e in page.items], next_cursor=page.next_cursor)


class PriceOut(msgspec.Struct, kw_only=True):
    """A price in the currency's minor unit."""

    amount_cents: int
    currency: str


class PackOut(msgspec.Struct, kw_only=True):
    """A token pack for sale."""

    id: str
    tokens: int
    price: PriceOut

    @classmethod
    def of(cls, pack: Pack) -> PackOut:
        price = PriceOut(amount_cents=pack.price.amount_cents, currency=pack.price.currency)
        return cls(id=pack.id, tokens=pack.tokens.value, price=price)


class ChatCostOut(msgspec.Struct, kw_only=True):
    """A chat reply's cost in each mode."""

    roleplay: int
    story: int


class ChatModelPriceOut(msgspec.Struct, kw_only=True):
    """A chat model's reply prices."""

    id: str
    cost: ChatCostOut
    default: bool


class PricingOut(msgspec.Struct, kw_only=True):
    """Every price: flat operations, image tiers and models, chat models, token packs."""

    daily_free_allowance: int
    welcome_grant: int
    operations: dict[str, int]
    image_tiers: dict[str, int]
    image_models: dict[str, int]
    chat_models: list[ChatModelPriceOut]
    packs: list[PackOut]

    @classmethod
    def of(cls, prices: PriceTable, policy: LedgerPolicy) -> PricingOut:
        return cls(
            daily_free_allowance=policy.daily_free_allowance.value,
            welcome_grant=policy.welcome_grant.value,
            operations={op.value: cost.value for op, cost in prices.operations},
            image_tiers={tier.value: cost.value for tier, cost in prices.image_tiers},
            image_models={model: cost.value for model, cost in prices.image_models},
            chat_models=[
                ChatModelPriceOut(
                    id=model,
                    cost=ChatCostOut(roleplay=price.roleplay.value, story=price.story.value),
                    default=model == prices.default_chat_model,
                )
                for model, price in prices.chat_models
            ],
            packs=[PackOut.of(pack) for pack in prices.packs],
        )
