"""The caller's balance and ledger, and the public price list."""

from __future__ import annotations

from litestar import Controller, get

from mynth_core.identity import Principal
from mynth_core.ledger.services import GetBalance, LedgerPolicy, ListLedger
from mynth_core.pagination import PageRequest
from mynth_core.pricing import PriceTable
from mynth_core.users import ProvisionUser
from mynth_http.controllers.personas import Cursor, Limit
from mynth_http.di import Injected
from mynth_http.problems import problem_responses
from mynth_http.schemas.economy import LedgerPageOut, MeOut, PricingOut


class MeController(Controller):
    """`/v1/me`: who the caller is and what they can spend."""

    path = "/v1/me"
    tags = ["me"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", operation_id="GetMe", responses=problem_responses(401), summary="Me and my balance")
    async def get_me(
        self,
        principal: Injected[Principal],
        provision_user: Injected[ProvisionUser],
        get_balance: Injected[GetBalance],
    ) -> MeOut:
        user = await provision_user(principal)  # already provisioned: served from memory
        return MeOut.of(user, await get_balance(principal.user_id))

    @get(
        "/ledger",
        operation_id="ListLedgerEntries",
        responses=problem_responses(401, 422),
        summary="My ledger entries, newest first",
    )
    async def list_ledger(
        self,
        principal: Injected[Principal],
        list_ledger: Injected[ListLedger],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> LedgerPageOut:
        page = await list_ledger(principal.user_id, PageRequest.parse(limit, cursor))
        return LedgerPageOut.of(page)


class PricingController(Controller):
    """`/v1/pricing`: anonymous, the same table every charge uses."""

    path = "/v1/pricing"
    tags = ["pricing"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", operation_id="GetPricing", summary="Every price and the token packs")
    async def get_pricing(
        self, price_table: Injected[PriceTable], ledger_policy: Injected[LedgerPolicy]
    ) -> PricingOut:
        return PricingOut.of(price_table, ledger_policy)
