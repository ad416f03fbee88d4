"""Token packs (PRODUCT §8.7) and the catalogue that links them to a payment provider's products."""

from __future__ import annotations

from typing import Final, NewType

import attrs

PackId = NewType("PackId", str)  # pack_100, pack_500, ...


@attrs.frozen
class Price:
    """An amount in the currency's minor unit (cents) and an ISO 4217 code, lower case."""

    amount_cents: int = attrs.field(validator=attrs.validators.ge(0))
    currency: str = "usd"


@attrs.frozen
class TokenPack:
    """A number of purchased tokens sold at one price."""

    id: PackId
    tokens: int = attrs.field(validator=attrs.validators.gt(0))
    price: Price


DEFAULT_PACKS: Final = (
    TokenPack(PackId("pack_100"), 100, Price(149)),
    TokenPack(PackId("pack_500"), 500, Price(699)),
    TokenPack(PackId("pack_1000"), 1000, Price(999)),
)


def _unique_ids(
    _instance: object,
    _attribute: attrs.Attribute[tuple[TokenPack, ...]],
    packs: tuple[TokenPack, ...],
) -> None:
    ids = [pack.id for pack in packs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"pack ids must be unique, got {ids}")


@attrs.frozen
class PackCatalogue:
    """The packs on sale and, per pack, the payment provider's product id (from configuration).

    A pack without a product id is listed but cannot be bought.
    """

    packs: tuple[TokenPack, ...] = attrs.field(default=DEFAULT_PACKS, validator=_unique_ids)
    products: tuple[tuple[PackId, str], ...] = ()  # (pack id, provider product id)

    def get(self, pack_id: str) -> TokenPack | None:
        """The pack called `pack_id`, if it is on sale."""
        return next((pack for pack in self.packs if pack.id == pack_id), None)

    def product_id(self, pack_id: str) -> str | None:
        """The provider's product id for `pack_id`, if one is configured."""
        return next((product for pid, product in self.products if pid == pack_id), None)

    def by_product(self, product_id: str) -> TokenPack | None:
        """The pack sold as the provider's `product_id`, if any."""
        pack_id = next((pid for pid, product in self.products if product == product_id), None)
        return None if pack_id is None else self.get(pack_id)
